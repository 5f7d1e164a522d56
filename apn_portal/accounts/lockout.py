"""When sign-in locks out, and what a locked-out sign-in gets: a page on the site and the admin, JSON on the
API."""

import datetime
import math

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone


class AddressLockoutHandler(AxesDatabaseHandler):
    """django-axes' lockout per username and address, and also per address alone, at a higher limit
    (SIGN_IN_ADDRESS_FAILURE_LIMIT): one address trying a password on many accounts fails once per account,
    so the pairs alone never lock it. axes holds one limit for all its lockout parameters, hence a handler:
    an address over its own limit counts as locked like a pair at AXES_FAILURE_LIMIT, through the same
    cool-off, response and records."""

    def get_failures(self, request, credentials=None) -> int:
        failures = super().get_failures(request, credentials)
        request.apn_address_locked_out = False
        if not settings.AXES_COOLOFF_TIME:
            return failures
        address_failures = (
            AccessAttempt.objects.filter(
                ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
            ).aggregate(total=Sum("failures_since_start"))["total"]
            or 0
        )
        if address_failures >= settings.SIGN_IN_ADDRESS_FAILURE_LIMIT:
            request.apn_address_locked_out = True
            return max(failures, get_failure_limit(request, credentials))
        return failures


def seconds_until_unlocked(request, cool_off: datetime.timedelta) -> int:
    """The cool-off left, in whole seconds. A lockout ends `cool_off` after the last failure django-axes
    recorded, and it records every attempt made during one, this one included
    (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so each attempt restarts it."""
    now = timezone.now()
    ends = (getattr(request, "axes_attempt_time", None) or now) + cool_off
    return max(math.ceil((ends - now).total_seconds()), 0)


def lockout_response(request, original_response=None, credentials=None):
    cool_off = get_cool_off(request)
    status = settings.AXES_HTTP_RESPONSE_CODE
    address_locked_out = getattr(request, "apn_address_locked_out", False)
    if request.path.startswith("/api/"):
        detail = (
            "Too many failed sign-ins from your network"
            if address_locked_out
            else "Too many failed sign-ins for this account from your network"
        )
        if not cool_off:  # locked out until an administrator unlocks it
            return JsonResponse({"detail": f"{detail}; try again later."}, status=status)
        seconds = seconds_until_unlocked(request, cool_off)
        minutes = round(seconds / 60)
        detail += f"; try again in {minutes} minutes." if minutes else "; try again in a minute."
        # As every other 429 of the API (its throttles') says when to retry.
        return JsonResponse({"detail": detail}, status=status, headers={"Retry-After": str(seconds)})
    context = {
        "address_locked_out": address_locked_out,
        "address_failure_limit": settings.SIGN_IN_ADDRESS_FAILURE_LIMIT,
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "cooloff_timedelta": cool_off,
    }
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, context, status=status)
