"""
What calls were for. A usage record points at its subject (a conversation, a
generation, a job) through a content type, so the ledger knows no feature;
this module groups records by subject and names them.

A subject model may define ``usage_label()`` (how its owner sees it; the
admin sees ``str()``, which must not carry content) and ``get_absolute_url()``.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, F, Q, QuerySet, Sum
from django.urls import NoReverseMatch, reverse

from .models import UsageRecord


@dataclass
class SubjectUsage:
    subject_type_id: int | None
    subject_id: int | None
    subject: Any
    calls: int
    tokens: int
    spend: Decimal | None
    unpriced: int
    # Calls whose tokens the site counted itself.
    estimated: int = 0

    @property
    def exists(self) -> bool:
        return self.subject is not None

    @property
    def owner_label(self) -> str:
        label = getattr(self.subject, "usage_label", None)
        return str(label() if callable(label) else self.subject)

    @property
    def owner_url(self) -> str:
        url = getattr(self.subject, "get_absolute_url", None)
        return str(url()) if callable(url) else ""

    @property
    def admin_url(self) -> str:
        if self.subject is None:
            return ""
        meta = self.subject._meta
        try:
            return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[self.subject.pk])
        except NoReverseMatch:
            return ""


def costliest(records: QuerySet[UsageRecord], limit: int = 10) -> list[SubjectUsage]:
    """The subjects of ``records`` that cost the most (tokens break ties), each loaded once per type."""
    rows = list(
        records.filter(subject_id__isnull=False)
        .values("subject_type_id", "subject_id")
        .annotate(
            call_count=Count("pk"),
            tokens=Sum("total_tokens"),
            spend=Sum("cost"),
            unpriced=Count("pk", filter=Q(cost__isnull=True)),
            estimated=Count("pk", filter=Q(estimated=True)),
        )
        .order_by(F("spend").desc(nulls_last=True), F("tokens").desc(nulls_last=True))[:limit]
    )
    ids_by_type: dict[int, list[int]] = {}
    for row in rows:
        if row["subject_type_id"] is not None and row["subject_id"] is not None:
            ids_by_type.setdefault(row["subject_type_id"], []).append(row["subject_id"])
    loaded: dict[tuple[int | None, int | None], Any] = {}
    for type_id, ids in ids_by_type.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        if model is None:  # its app was removed
            continue
        for pk, obj in model._default_manager.in_bulk(ids).items():
            loaded[type_id, pk] = obj
    return [
        SubjectUsage(
            subject_type_id=row["subject_type_id"],
            subject_id=row["subject_id"],
            subject=loaded.get((row["subject_type_id"], row["subject_id"])),
            calls=row["call_count"],
            tokens=row["tokens"] or 0,
            spend=None if row["unpriced"] == row["call_count"] else row["spend"],
            unpriced=row["unpriced"],
            estimated=row["estimated"],
        )
        for row in rows
    ]
