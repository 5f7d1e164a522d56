"""Liveness and readiness probes for load balancers and orchestrators."""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@never_cache
@require_safe
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
        # And within the probe's two seconds even when a Redis takes the connection and never answers.
        answer_within = {"socket_timeout": 2, "socket_connect_timeout": 2}
        url = settings.CELERY_BROKER_URL
        options = answer_within if url.startswith(("redis://", "rediss://")) else {}
        with app.connection_for_write(url=url, transport_options=options) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        logger.exception("Readiness check: the broker does not answer.")
        return False
    return True


@never_cache
@require_safe
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
