"""Reads about the checks' runs."""

import datetime

from celery.schedules import maybe_schedule
from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from apn_portal.checks.models import CheckRun, CheckRunStatus
from apn_portal.checks.registry import registered_checks


def check_last_state(name: str) -> dict:
    """The state the last successful run of the check `name` left for the next one."""
    run = (
        CheckRun.objects.filter(name=name, status=CheckRunStatus.SUCCEEDED)
        .order_by("-started_at", "-id")
        .only("state")
        .first()
    )
    return run.state if run else {}


# How long after a scheduled time beat has to start the run itself: a check still without a run beyond
# it (beat, or the broker, was down at that moment) is caught up.
CATCH_UP_AFTER = datetime.timedelta(minutes=10)
# A run started longer ago than a task may run (apn_portal.checks.tasks.TIME_LIMIT) and still marked
# running has died; a younger one is under way.
RUN_UNDER_WAY_FOR_AT_MOST = datetime.timedelta(hours=1)


def checks_overdue(now: datetime.datetime | None = None, *, failed_again: bool = False) -> list[str]:
    """Registered checks whose scheduled run is more than CATCH_UP_AFTER past with no run started since:
    never run at all, or missed because beat or its broker was down at the scheduled moment (beat moves on
    to the next one). What checks.catch_up queues, in the checks' order, so a missed run happens once,
    soon after. A run under way counts; a failed one too (it retried what was transient), unless
    `failed_again` (beat starting again, as after a fix). A check not in the beat schedule is due once a
    day."""
    now = now or timezone.now()
    schedules = {
        entry["task"]: maybe_schedule(entry["schedule"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    ended = [CheckRunStatus.SUCCEEDED] if failed_again else [CheckRunStatus.SUCCEEDED, CheckRunStatus.FAILED]
    started = CheckRun.objects.filter(
        Q(status__in=ended) | Q(status=CheckRunStatus.RUNNING, started_at__gt=now - RUN_UNDER_WAY_FOR_AT_MOST)
    )
    last = dict(started.values("name").annotate(last=Max("started_at")).values_list("name", "last"))
    overdue = []
    for check in registered_checks():
        last_started = last.get(check.name)
        schedule = schedules.get(check.task_name)
        if last_started is None:
            overdue.append(check.name)
        elif schedule is None:
            if timezone.localdate(last_started) < timezone.localdate(now):
                overdue.append(check.name)
        elif -schedule.remaining_estimate(last_started) > CATCH_UP_AFTER:
            overdue.append(check.name)
    return overdue
