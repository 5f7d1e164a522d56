"""The page for a form that failed Django's CSRF check, in the portal's layout rather than Django's bare
one: the customer whose contact request was refused is told what happened and how to send it again."""

from django.middleware.csrf import REASON_NO_CSRF_COOKIE, REASON_NO_REFERER
from django.shortcuts import render


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW. Rendered with the request, unlike Django's own, so the header says who is signed
    in (the check fails after signing in or out in another tab) and the page sets a new CSRF cookie."""
    context = {"no_cookie": reason == REASON_NO_CSRF_COOKIE, "no_referer": reason == REASON_NO_REFERER}
    return render(request, "403_csrf.html", context, status=403)
