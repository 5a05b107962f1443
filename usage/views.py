from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest

from . import charts, daily, quotas, subjects
from .models import UsageRecord

# The Usage page looks back this many days.
USAGE_DAYS = 30


@login_required
@require_GET
def usage_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    status = quotas.status_for(request.user)
    days = daily.daily(request.user, USAGE_DAYS)
    since = quotas.midnight(days[0]["day"])
    context = {
        "quota": status,
        "days": days,
        "totals": daily.sum_days(days),
        "token_chart": charts.stacked_daily(
            [d["day"] for d in days], [(_("tokens"), [d["tokens"] for d in days])], unit=_("tokens")
        ),
        "cost_chart": charts.stacked_daily(
            [d["day"] for d in days],
            [(_("cost"), [d["cost"] for d in days])],
            unit=settings.USAGE_CURRENCY,
            format_value=lambda value: f"{value:g}",
        ),
        "costliest": subjects.costliest(UsageRecord.objects.filter(user=request.user, created_at__gte=since)),
        "usage_days": USAGE_DAYS,
    }
    return render(request, "usage/usage.html", context)
