"""What a locked-out sign-in gets: a page on the site and the admin, JSON on the API."""

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60) if cool_off else None
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.path.startswith("/api/"):
        detail = "Too many failed sign-ins for this account from your network"
        detail += f"; try again in {minutes} minutes." if minutes else "; try again later."
        return JsonResponse({"detail": detail}, status=status)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "cooloff_timedelta": cool_off,
    }
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, context, status=status)
