"""Pauses of the calls the workers make to a server that cannot be reached (the mail server, a webhook
receiver): one failure to connect pauses every call to it, on every worker, for a while, so the workers
the scheduled checks share are not held waiting out a timeout call after call. Kept in the shared cache
(Redis in production) as the moment the pause ends, compared with the clock, not left to the cache's
expiry alone."""

import datetime
import logging

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)


def pause_start(key: str, duration: datetime.timedelta) -> None:
    try:
        cache.set(f"pause:{key}", timezone.now() + duration, timeout=duration.total_seconds())
    except Exception:  # the cache is down: the calls go on as if nothing were known
        logger.warning("Could not pause %s", key, exc_info=True)


def is_paused(key: str) -> bool:
    try:
        until = cache.get(f"pause:{key}")
    except Exception:
        logger.warning("Could not read whether %s is paused", key, exc_info=True)
        return False
    return until is not None and until > timezone.now()
