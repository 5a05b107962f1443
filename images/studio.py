"""
The image studio's work: admit a generation, run it without the browser,
keep every image at once, record what it cost.

A generation runs in the web process that started it (``jobs.background``),
marking itself alive every few seconds. A process that dies mid-call leaves
it ``running`` and unmarked: whoever looks next settles it as interrupted,
with Retry. A paid call is never re-run by itself: only the person's Retry
starts another.
"""

import logging
import time
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from aitre.client import AitreError
from aitre.client.images import Family, family_of
from aitre.credentials import client_for, endpoint_for
from files import downloads, policy, store
from files.images import BadImage
from files.models import StoredFile
from jobs import background
from jobs.registry import Job, in_process_runs
from usage import metering
from usage.quotas import InFlight

from .models import Generation

logger = logging.getLogger(__name__)

# Generated pictures are kept at full size, up to this: the upload limit is for what goes to models.
KEPT_LONG_SIDE = 4096


def start(owner: User, model: str, prompt: str, params: dict[str, str], count: int) -> Generation:
    """Admitted by the metering seam (send rate, quota: usage.metering.Refused), then recorded as running."""
    with transaction.atomic():
        metering.admit(owner, call=_worst(model, params, count))
        return Generation.objects.create(owner=owner, model=model, prompt=prompt, params=params, count=count)


def retry(generation: Generation) -> Generation:
    """The same prompt and settings, as a new run (the failed one stays, as it was)."""
    return start(generation.owner, generation.model, generation.prompt, generation.params, generation.count)


def start_in_background(generation: Generation, user: User) -> None:
    background.start(f"generation-{generation.pk}", lambda: run(generation, user))


def run(generation: Generation, user: User) -> Generation:
    """Call the API, keep the images, write the outcome and its usage together. Never raises for the API's failures."""
    family = family_of(generation.model)
    payload: dict[str, Any] = {"model": generation.model, "prompt": generation.prompt, **generation.params}
    if family.max_n > 1 or generation.count > 1:
        payload["n"] = generation.count
    payload.update(family.fixed)
    started = time.monotonic()
    with generation.beating():
        return _call(generation, user, payload, family, started)


def _call(generation: Generation, user: User, payload: dict[str, Any], family: Family, started: float) -> Generation:
    try:
        try:
            result = client_for(user).generate_images(payload)
        except AitreError as exc:
            logger.warning("Generation %s failed: %s (%s)", generation.pk, exc.message, exc.detail)
            # A failed call is not billed: nothing is recorded.
            generation.finish(status=Generation.Status.ERROR, error=exc.message, duration_ms=_ms(started))
            return generation
        kept, problems = _keep(generation, user, result.images)
        revised = next((image.revised_prompt for image in result.images if image.revised_prompt), "")
        price = metering.price_for(generation.model, variant=family.variant(generation.params))
        with transaction.atomic():
            # The call as the API counted it; priced as what was delivered: what could not be kept is refunded.
            record = metering.record(
                user,
                kind=metering.Kind.IMAGE,
                model=generation.model,
                subject=generation,
                units=len(result.images),
                variant=family.variant(generation.params),
                prompt_tokens=result.input_tokens,
                completion_tokens=result.output_tokens,
                succeeded=bool(kept),
                duration_ms=_ms(started),
                price=price,
            )
            cost = record.cost
            if not kept:
                metering.refund(record)
                cost = Decimal(0) if cost is not None else None
            fields: dict[str, Any] = {"revised_prompt": revised, "cost": cost, "duration_ms": _ms(started)}
            if kept:
                generation.finish(status=Generation.Status.COMPLETE, error=_note(problems), **fields)
            else:
                generation.finish(
                    status=Generation.Status.ERROR,
                    error=_("The images could not be kept: %(reason)s") % {"reason": problems[0]},
                    **fields,
                )
        return generation
    except Exception:
        logger.exception("Generation %s failed unexpectedly", generation.pk)
        generation.finish(
            status=Generation.Status.ERROR, error=_("Something went wrong on the server with this generation.")
        )
        return generation


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _note(problems: list[str]) -> str:
    return _("Some images could not be kept: %(reason)s") % {"reason": problems[0]} if problems else ""


def _keep(generation: Generation, user: User, images: list[Any]) -> tuple[list[StoredFile], list[str]]:
    """Every image kept at once (a URL expires within the hour); what could not be, and why."""
    api_origin, _key = endpoint_for(user)
    limits = policy.current()
    kept, problems = [], []
    for image in images:
        try:
            data = image.data or downloads.fetch(
                image.url, max_bytes=limits.max_upload_bytes, trusted_origin=api_origin
            )
            checked = store.check_image(data, generation.model, max_long_side=KEPT_LONG_SIDE)
            kept.append(
                store.keep_image(
                    generation.owner_id,
                    checked,
                    generation.model,
                    StoredFile.Source.STUDIO,
                    model=generation.model,
                    prompt=generation.prompt,
                    origin_id=generation.pk,
                )
            )
        except downloads.DownloadRefused as exc:
            problems.append(str(exc))
        except BadImage as exc:
            problems.append(exc.reason)
    return kept, problems


def _worst(model: str, params: dict[str, str], count: int) -> InFlight:
    """A run at the images it asks for, each at its size and quality's price."""
    return InFlight(model=model, units=Decimal(count), variant=family_of(model).variant(params))


def in_flight(user_id: int) -> list[InFlight]:
    """The runs ``user_id`` has going, each at the images it asked for (registered in ImagesConfig.ready)."""
    running = [g for g in Generation.objects.filter(owner_id=user_id).running() if not g.is_stale]
    return [_worst(g.model, g.params, g.count) for g in running]


def origin_links(files: list[StoredFile]) -> dict[Any, tuple[str, str]]:
    """The studio run behind each picture (registered with files.sources); no query: the id is enough."""
    label = str(_("Image studio"))
    return {f.pk: (reverse("images:studio") + f"#g{f.origin_id}", label) for f in files if f.origin_id}


def recent_jobs(user: User, limit: int) -> list[Job]:
    """The owner's latest runs for the job centre (registered in ImagesConfig.ready)."""
    return in_process_runs(
        Generation.objects.for_user(user),
        limit,
        prefix="image",
        kind=str(_("Image studio")),
        title=lambda g: f"{g.model}: {' '.join(g.prompt.split())[:80]}",
    )
