"""The portal's addresses plus some that fail as no view should, to see what people are shown then."""

import psycopg
from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import HttpResponse
from django.urls import path

# Django reads the handlers from here.
from apn_portal.urls import handler400, handler403, handler500, urlpatterns  # noqa: F401


def _fails(request):
    raise RuntimeError("A fault nobody foresaw")


def _forbidden(request):
    # As a middleware or a view outside DRF refuses.
    raise PermissionDenied("Only the provider's staff may do that.")


def _reads_the_body(request):
    # As a middleware or a view outside DRF reads a form.
    return HttpResponse(str(len(request.POST)))


def _deadlocked(request):
    # As Django raises what PostgreSQL answers when it breaks a deadlock by rolling this request back.
    raise OperationalError("deadlock detected") from psycopg.errors.DeadlockDetected("deadlock detected")


urlpatterns = [
    path("failing/", _fails),
    path("deadlocked/", _deadlocked),
    path("api/v1/failing/", _fails),
    path("forbidden/", _forbidden),
    path("api/v1/forbidden/", _forbidden),
    path("api/v1/reads-the-body/", _reads_the_body),
    *urlpatterns,
]
