"""One Celery task per registered check (`checks.<name>`, no arguments), and a catch-up of missed runs.

The tasks carry no ids or dates: a check works out from the database and today's date what to do, so a
task that is retried, redelivered or fired twice by beat does the same thing.
"""

import logging

from celery import shared_task
from celery.signals import beat_init
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError

logger = logging.getLogger(__name__)

# Worth retrying: the database or the broker was unreachable, a connection dropped, a deadlock or a
# serialization failure (both OperationalError). Anything else is a bug or bad data: retrying repeats it.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerOperationalError, ConnectionError, TimeoutError)

# Below the broker's visibility timeout (settings: 2 hours), so a message is never handed to a second
# worker while the first still runs it. The longest check takes about a minute on 100,000 partners.
SOFT_TIME_LIMIT = 50 * 60
TIME_LIMIT = 60 * 60
# A run whose worker process died is sent again after this (its own retries use retry_backoff instead).
WORKER_LOST_RETRY_SECONDS = 15

_tasks = {}


def check_task(check):
    """The Celery task that runs `check` on schedule (created once per check, when it is registered)."""
    if check.name in _tasks:
        return _tasks[check.name]

    def run(self):
        from apn_portal.checks.models import CheckTrigger
        from apn_portal.checks.services import check_run

        return check_run(check.name, trigger=CheckTrigger.SCHEDULE).status

    run.__name__ = run.__qualname__ = f"check_{check.name}"
    run.__doc__ = check.description
    task = shared_task(
        bind=True,
        name=check.task_name,
        ignore_result=True,
        # Acknowledged after the run, and sent again (after WORKER_LOST_RETRY_SECONDS) if the process
        # running it dies, killed or out of memory: only for checks that are safe to run twice. Counted
        # as a retry, so a check that kills its worker every time stops after max_retries rather than
        # looping; the requeue is only the fallback for a retry that could not be sent.
        acks_late=check.idempotent,
        retry_on_worker_lost=check.idempotent,
        reject_on_worker_lost=check.idempotent,
        default_retry_delay=WORKER_LOST_RETRY_SECONDS,
        autoretry_for=TRANSIENT_ERRORS,
        retry_backoff=60,
        retry_backoff_max=30 * 60,
        retry_jitter=True,
        max_retries=5,
        soft_time_limit=SOFT_TIME_LIMIT,
        time_limit=TIME_LIMIT,
    )(run)
    _tasks[check.name] = task
    return task


@shared_task(name="checks.catch_up", ignore_result=True)
def checks_catch_up(failed_again: bool = False) -> list[str]:
    """Queue every check whose scheduled run was missed (apn_portal.checks.selectors.checks_overdue): a
    portal that was off at the scheduled hour (the embedded default on a laptop), or whose broker was down
    then, still runs each check soon after. Every quarter of an hour, and when beat starts, when a check
    whose last run failed runs again too."""
    from apn_portal.checks.registry import get_check
    from apn_portal.checks.selectors import checks_overdue

    due = checks_overdue(failed_again=failed_again)
    for name in due:
        check_task(get_check(name)).delay()
    if due:
        logger.info("Catching up on scheduled checks: %s", ", ".join(due))
    return due


@beat_init.connect(dispatch_uid="apn_portal.checks.catch_up_on_beat_start")
def _catch_up_when_beat_starts(sender=None, **kwargs):
    try:
        checks_catch_up.delay(failed_again=True)
    except Exception:  # the broker is down: the daily schedule runs the checks anyway
        logger.warning("Could not queue the checks' catch-up at beat start", exc_info=True)
