"""Running a scheduled check: one run at a time per check, recorded in CheckRun whatever happens."""

import datetime
import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apn_portal.checks.models import CheckRun, CheckRunStatus, CheckTrigger
from apn_portal.checks.registry import get_check
from apn_portal.checks.results import CheckResult

logger = logging.getLogger(__name__)

# The first key of our advisory locks, so they never collide with another feature's (the second is the
# hash of the check's name).
ADVISORY_LOCK_NAMESPACE = 7_007


@contextmanager
def check_lock(name: str) -> Iterator[bool]:
    """Open a transaction and try to take the check's lock for it; yields whether it was taken.

    On PostgreSQL a transaction-level advisory lock: two workers, or beat firing twice, never run the
    same check at once, and the lock goes with the transaction however it ends (also through a
    transaction-pooling proxy such as pgbouncer).

    SQLite (the embedded default) has no advisory locks and needs none: a write transaction there
    takes the whole database's write lock as it begins (settings: transaction_mode IMMEDIATE), so two
    runs are serialised anyway, and the second finds nothing left to do, because every check's UPDATEs
    test their own conditions again and its emails are deduplicated by key.
    """
    with transaction.atomic():
        if connection.vendor != "postgresql":
            yield True
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [ADVISORY_LOCK_NAMESPACE, name]
            )
            (acquired,) = cursor.fetchone()
        yield acquired


def check_run(
    name: str, *, today: datetime.date | None = None, trigger: str = CheckTrigger.COMMAND
) -> CheckRun:
    """Run the check `name` now, as of `today`, in one transaction, and record the run.

    A run that finds the check already running elsewhere is recorded as skipped and changes nothing.
    An error rolls the whole run back, is recorded with its traceback, and is raised again (the task
    retries transient ones).
    """
    check = get_check(name)
    today = today or timezone.localdate()
    run = CheckRun.objects.create(name=name, trigger=trigger, started_at=timezone.now())
    result = CheckResult()
    try:
        with check_lock(name) as acquired:
            if acquired:
                _close_abandoned_runs(run)
                result = check(today=today)
                # Recorded in the run's own transaction: a run still "running" while its lock is free
                # is one whose worker died. If this fails, the run's work is rolled back with it.
                _record_end(run, status=CheckRunStatus.SUCCEEDED, result=result)
    except Exception as exc:
        _finish(
            run,
            status=CheckRunStatus.FAILED,
            result=CheckResult(),  # rolled back: nothing it counted was kept
            error="".join(traceback.format_exception(exc)).strip() or repr(exc),
        )
        raise
    if not acquired:
        _finish(run, status=CheckRunStatus.SKIPPED, result=result)
        logger.info("Check %s skipped: another run holds its lock", name)
        return run
    logger.info("Check %s: %s", name, run.summary.replace("\n", " "))
    return run


def _close_abandoned_runs(run: CheckRun) -> None:
    """Mark as failed the earlier runs of this check still recorded as running. Holding the check's lock
    proves none of them still runs: their worker stopped mid-run (killed, or the machine went down), and
    their transaction rolled back with it."""
    abandoned = CheckRun.objects.filter(
        name=run.name, status=CheckRunStatus.RUNNING, started_at__lt=run.started_at
    )
    abandoned.update(
        status=CheckRunStatus.FAILED,
        finished_at=timezone.now(),
        summary="Rolled back: nothing was changed.",
        error="The worker running this check stopped before the run finished.",
    )


def _finish(run: CheckRun, **outcome) -> None:
    """Record how a run ended, outside its transaction (failed, skipped)."""
    try:
        _record_end(run, **outcome)
    except DatabaseError:  # the database itself is what failed: the log keeps the record
        logger.exception("Could not record the end of check run %s (%s)", run.pk, run.name)


def _record_end(run: CheckRun, *, status: str, result: CheckResult, error: str = "") -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.changed = result.changed
    run.summary = (
        "Another run of this check was in progress; this one did nothing."
        if status == CheckRunStatus.SKIPPED
        else ("Rolled back: nothing was changed." if status == CheckRunStatus.FAILED else result.summary)
    )
    run.error = error
    run.state = result.state
    run.save(update_fields=["status", "finished_at", "changed", "summary", "error", "state"])
