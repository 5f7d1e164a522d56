"""Reads about the checks' runs."""

import datetime

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


def checks_due_today(today: datetime.date | None = None) -> list[str]:
    """Registered checks with no successful run today, for a catch-up when beat starts."""
    today = today or timezone.localdate()
    start = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    done = set(
        CheckRun.objects.filter(status=CheckRunStatus.SUCCEEDED, started_at__gte=start).values_list(
            "name", flat=True
        )
    )
    return [check.name for check in registered_checks() if check.name not in done]
