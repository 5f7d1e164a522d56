"""The registry of scheduled checks: a name, the service function that runs it, and what it is for.

A check is declared once, in its app's `checks` module (found by ChecksConfig.ready()):

    @scheduled_check("support_sla", description="Cases past their first-response deadline are breached.")
    def support_sla_check(*, today: datetime.date) -> CheckResult: ...

That one declaration gives it `manage.py run_checks support_sla`, a Celery task `checks.support_sla`
and its runs in the admin; its time of day is an entry in settings.CELERY_BEAT_SCHEDULE (a test checks
that every registered check has one). The function takes `today`, the day it runs as, and returns a
CheckResult: what it changed, counted and in words. It runs inside one transaction that holds the
check's lock (apn_portal.checks.services.check_run), so it opens none of its own for the whole run.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from apn_portal.checks.results import CheckResult

CheckFunction = Callable[..., CheckResult]


@dataclass(frozen=True)
class ScheduledCheck:
    name: str
    function: CheckFunction
    description: str
    # Safe to run twice (or to have redelivered after a worker died mid-run): its task acks late.
    idempotent: bool = True
    # Where `run_checks` (with no names) runs it: a check that builds on another's result comes after it.
    order: int = 100

    # What people read (the dashboard); `name` is what commands and tasks are called by.
    label: str = ""
    # A template reads it; calling it would run the check.
    do_not_call_in_templates = True

    def __post_init__(self):
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").capitalize())

    @property
    def task_name(self) -> str:
        return f"checks.{self.name}"

    def __call__(self, *, today: datetime.date) -> CheckResult:
        return self.function(today=today)


_checks: dict[str, ScheduledCheck] = {}


def scheduled_check(
    name: str, *, description: str, label: str = "", idempotent: bool = True, order: int = 100
):
    """Declare a service function as the scheduled check `name` (see the module's docstring); `label`, if
    its name said plainly is not enough ("Support SLA")."""

    def decorator(function: CheckFunction) -> CheckFunction:
        register(
            ScheduledCheck(
                name=name,
                function=function,
                description=description,
                label=label,
                idempotent=idempotent,
                order=order,
            )
        )
        return function

    return decorator


def register(check: ScheduledCheck) -> None:
    known = _checks.get(check.name)
    if known is not None and known.function is not check.function:
        raise ImproperlyConfigured(f"Two scheduled checks are named {check.name!r}.")
    _checks[check.name] = check
    from apn_portal.checks.tasks import check_task

    check_task(check)


def registered_checks() -> list[ScheduledCheck]:
    return sorted(_checks.values(), key=lambda check: (check.order, check.name))


def get_check(name: str) -> ScheduledCheck:
    try:
        return _checks[name]
    except KeyError:
        known = ", ".join(sorted(_checks)) or "none"
        raise KeyError(f"There is no scheduled check named {name!r} (known: {known}).") from None
