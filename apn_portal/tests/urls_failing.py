"""The portal's addresses plus some that fail as no view should, to see what people are shown then."""

import psycopg
from django.db import OperationalError
from django.urls import path

from apn_portal.urls import handler500, urlpatterns  # noqa: F401  (Django reads handler500 from here)


def _fails(request):
    raise RuntimeError("A fault nobody foresaw")


def _deadlocked(request):
    # As Django raises what PostgreSQL answers when it breaks a deadlock by rolling this request back.
    raise OperationalError("deadlock detected") from psycopg.errors.DeadlockDetected("deadlock detected")


urlpatterns = [
    path("failing/", _fails),
    path("deadlocked/", _deadlocked),
    path("api/v1/failing/", _fails),
    *urlpatterns,
]
