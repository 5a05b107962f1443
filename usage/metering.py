"""
The one seam every kind of API call goes through, before and after.

Before: ``admit(user)``, inside the transaction that records the call's
start, applies the send rate (when the call is something the user sent) and
the quota, and raises ``Refused`` (429, with the seconds until it may
succeed) when the call may not start. Nothing the caller wrote survives a
refusal: the caller's transaction rolls back.

After: ``record(...)``, one usage record priced now and added to its day's
totals, whether the call succeeded, failed mid-way, was stopped or its
process died (then with what it had produced, estimated and marked so).

And when a charged piece of work ends in failure (a Midjourney task):
``refund(charge)``, once, as a record of its own.

Calls still running count against the quota at their worst case: features
say what they have in flight through ``quotas.count_in_flight``.
"""

from decimal import Decimal
from typing import Any

from accounts.models import User

from . import limits, quotas
from .models import LOOK_UP, Price, UsageRecord
from .quotas import InFlight
from .refusal import Refused

Kind = UsageRecord.Kind

__all__ = ["InFlight", "Kind", "Refused", "admit", "record", "refund"]


def admit(user: User | int, *, sent: bool = True, call: InFlight | None = None) -> None:
    """
    Inside the caller's transaction: raise ``Refused`` unless ``user`` may
    start a call now. ``sent``: the call is something the user sent (a
    message, a prompt), and counts towards the send rate. ``call``: the most
    this call may use, where it is known before it is made; then it is
    admitted only if that fits under the quota.
    """
    if sent:
        limits.count_send(user)
    quotas.admit(user, call)


def price_for(model: str, *priced_as: str, variant: str = "") -> Price | None:
    """
    The price a call is recorded at: as the server named the model, else as
    each name in ``priced_as``; None for an unpriced model.
    """
    return Price.lookup([model, *[name for name in priced_as if name != model]], variant)


def record(
    user: User | int,  # a user or their id
    *,
    kind: str,
    model: str,
    subject: Any = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    total_tokens: int | None = None,
    units: Decimal | int = 0,
    variant: str = "",
    estimated: bool = False,
    succeeded: bool = True,
    duration_ms: int = 0,
    priced_as: tuple[str, ...] = (),
    price: Price | None = LOOK_UP,
) -> UsageRecord:
    """
    One call's usage, priced now: as the server named the model (``model``),
    else as each name in ``priced_as`` (what was asked for). Call it inside
    the transaction that writes the call's outcome, so both or neither stay.
    ``price`` (from ``price_for``, looked up before that transaction) saves
    the lookup while its rows are locked.
    """
    if price is LOOK_UP:
        price = price_for(model, *priced_as, variant=variant)
    return UsageRecord.objects.record(
        price=price,
        user_id=getattr(user, "pk", user),
        kind=kind,
        model=model,
        subject=subject,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens if total_tokens is None else total_tokens,
        units=Decimal(units),
        variant=variant,
        estimated=estimated,
        succeeded=succeeded,
        duration_ms=duration_ms,
    )


def refund(charge: UsageRecord) -> UsageRecord | None:
    """
    Give back what ``charge`` cost: a record with its cost and units negated,
    on today's totals (when the refund happened). Once per charge: a second
    call returns None. Call it inside the transaction that writes the failure.
    """
    if UsageRecord.objects.filter(refund_of=charge).exists():
        return None
    return UsageRecord.objects.record(
        price=None,
        user_id=charge.user_id,
        kind=charge.kind,
        model=charge.model,
        subject_type_id=charge.subject_type_id,
        subject_id=charge.subject_id,
        units=-charge.units,
        variant=charge.variant,
        succeeded=False,
        refund_of=charge,
        cost=-(charge.cost or Decimal(0)),
    )
