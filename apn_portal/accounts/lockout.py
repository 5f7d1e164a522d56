"""What a locked-out sign-in gets: a page on the site and the admin, JSON on the API."""

import datetime
import math

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone


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
    if request.path.startswith("/api/"):
        detail = "Too many failed sign-ins for this account from your network"
        if not cool_off:  # locked out until an administrator unlocks it
            return JsonResponse({"detail": f"{detail}; try again later."}, status=status)
        seconds = seconds_until_unlocked(request, cool_off)
        minutes = round(seconds / 60)
        detail += f"; try again in {minutes} minutes." if minutes else "; try again in a minute."
        # As every other 429 of the API (its throttles') says when to retry.
        return JsonResponse({"detail": detail}, status=status, headers={"Retry-After": str(seconds)})
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "cooloff_timedelta": cool_off,
    }
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, context, status=status)
