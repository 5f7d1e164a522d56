"""Queueing tasks after a commit (the outbox's emails, the webhooks' deliveries), with a process-wide pause
while the broker cannot be reached.

What is queued here is already stored, pending, in the database, and a sweep (every minute, from beat)
finds it whether or not its task was queued: a publish that fails loses nothing, it only waits for the
sweep. A publish to a broker that is down or hung waits out its timeout first (5 s on Redis, see
CELERY_BROKER_TRANSPORT_OPTIONS); paid once per row, an admin action over a few dozen rows would outlive
gunicorn's time limit after its changes were committed. So after one publish fails, this process queues
nothing for BROKER_PAUSE_SECONDS (leaving it all to the sweeps, with one warning in the log), then tries
the broker again (apn_portal.breaker). Kept in the process, not in the cache: the cache is usually the
same Redis.

Only for tasks with a sweep behind them: a publish skipped here is never retried by anything else.
"""

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from apn_portal.breaker import Breaker

logger = logging.getLogger(__name__)

_breaker = Breaker()


def broker_paused() -> bool:
    """Whether a publish failed in this process within the last BROKER_PAUSE_SECONDS."""
    return _breaker.tripped()


def broker_pause_end() -> None:
    """Try the broker again at the next publish (tests start each with it reachable)."""
    _breaker.reset()


def task_publish(
    task, args: tuple = (), *, countdown: float | None = None, unsent: str, plural: bool = False
) -> bool:
    """Queue `task` with `args` (after `countdown` seconds). Returns whether it was queued.

    Not queued when the publish fails: the broker is then left alone for BROKER_PAUSE_SECONDS, and one
    warning says so, naming `unsent`, what the sweep will send instead ("outbox message 12", or "40 webhook
    deliveries" with `plural`). Nor while it is left alone (logged at debug level only). A caller queueing
    several stops at the first False: the rest would not be queued either. A task out of time
    (SoftTimeLimitExceeded) ends rather than going on.
    """
    if broker_paused():
        logger.debug("Not queued while the broker is unreachable: %s; the sweep sends it", unsent)
        return False
    try:
        task.apply_async(args, countdown=countdown)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        _breaker.trip(settings.BROKER_PAUSE_SECONDS)
        logger.warning(
            "Could not queue %s; the sweep will send %s (nothing more is queued from this process for %s s)",
            unsent,
            "them" if plural else "it",
            settings.BROKER_PAUSE_SECONDS,
            exc_info=True,
        )
        return False
    return True
