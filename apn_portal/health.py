"""Liveness and readiness probes for load balancers and orchestrators."""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure means "not ready"
        logger.exception("Readiness check: the database does not answer.")
        return False
    return True


def _check_broker() -> bool:
    from apn_portal.celery import app

    try:
        # Celery snapshots its configuration on first use; reading the setting here keeps the probe on the
        # broker the settings name now (tests point it elsewhere).
        with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        logger.exception("Readiness check: the broker does not answer.")
        return False
    return True


@never_cache
@require_GET
def readyz(request):
    # Anyone may ask, so the answer names the failing check and nothing more: the exception's text (host
    # names, addresses, ports, user names) goes to the log, for the operator.
    checks = {"database": _check_database()}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _check_broker()
    ready = all(checks.values())
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {name: ("ok" if passed else "failed") for name, passed in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)
