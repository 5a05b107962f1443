"""The usage dashboard's CSV: exactly the calls its filters select, streamed row by row."""

import csv
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from .models import usage_zone

# The longest range one request may sum: bounded work, whatever is asked.
from .reports import UsageFilter

CSV_COLUMNS = [
    "time",
    "user",
    "kind",
    "model",
    "variant",
    "subject",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "units",
    "cost",
    "currency",
    "estimated",
    "succeeded",
    "duration_ms",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_lines(selection: UsageFilter) -> Iterator[str]:
    """Every record the filters select, oldest first; the cost column is empty for an unpriced call."""
    writer = csv.writer(_Echo())
    zone = usage_zone()
    yield writer.writerow(CSV_COLUMNS)
    records = (
        selection.records()
        .order_by("created_at", "pk")
        .values_list(
            "created_at",
            "user__username",
            "kind",
            "model",
            "variant",
            "subject_type__app_label",
            "subject_type__model",
            "subject_id",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "units",
            "cost",
            "estimated",
            "succeeded",
            "duration_ms",
        )
    )
    for row in records.iterator(chunk_size=2000):
        created, username, kind, model, variant, app_label, model_name, subject_id, p, c, t = row[:11]
        units, cost, estimated, ok, ms = row[11:]
        subject = f"{app_label}.{model_name}:{subject_id}" if subject_id is not None and app_label else ""
        yield writer.writerow(
            [
                created.astimezone(zone).isoformat(),
                _cell(username),
                kind,
                _cell(model),
                _cell(variant),
                subject,
                p,
                c,
                t,
                f"{units.normalize():f}",
                "" if cost is None else f"{cost:f}",
                settings.USAGE_CURRENCY,
                int(estimated),
                int(ok),
                ms,
            ]
        )
