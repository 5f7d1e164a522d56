"""Running the scheduled checks in tests: on a given day, at the hour beat runs them."""

import datetime

import time_machine

from apn_portal.checks.models import CheckRun, CheckRunStatus
from apn_portal.checks.services import check_run


def on(day: datetime.date):
    """The clock stopped at 02:00 UTC on `day`, when the nightly checks run."""
    return time_machine.travel(
        datetime.datetime.combine(day, datetime.time(2, 0), tzinfo=datetime.UTC), tick=False
    )


def check_run_on(name: str, day: datetime.date) -> CheckRun:
    """Run the check `name` on `day`, and insist that it succeeded."""
    with on(day):
        run = check_run(name)
    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    return run
