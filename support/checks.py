"""support_sla: a case whose first-response deadline passed without a response is marked breached, and
whoever answers it is told once; support_plan_retirement: subscriptions on a retired plan move to its
successor, on each customer's own retirement day.

support_sla runs every five minutes, since the tightest target is 15 minutes. It is set-based: the due
cases are locked in batches and each batch is marked with one UPDATE. A reply takes the same row lock
(support.services.support_case_reply), so a case answered while the check runs is either answered
before the check reads it (and is left alone; a late answer was then marked breached by the reply
itself, with the same email and event) or after it was marked (the breach stands, as it should: the
answer came late). Running it twice marks nothing twice, and the emails carry a dedupe key.
"""

import datetime

from django.db.models import F
from django.utils import timezone

from apn_portal.checks.registry import scheduled_check
from apn_portal.checks.results import CheckResult, batched, plural
from support import selectors
from support.choices import ACTIVE_CASE_STATUSES
from support.models import SupportCase
from support.services import support_cases_tell_breached, support_subscriptions_move_retired

BATCH = 500


def breached_cases(now: datetime.datetime):
    """Cases still waiting for their first response after its deadline."""
    return SupportCase.objects.filter(
        first_responded_at__isnull=True,
        breached_at__isnull=True,
        first_response_due_at__lte=now,
        status__in=ACTIVE_CASE_STATUSES,
    )


@scheduled_check(
    "support_sla",
    order=60,
    description="Support cases past their first-response deadline without a response marked breached; "
    "their TAM, support staff or reselling partner told.",
)
def support_sla_check(*, today: datetime.date) -> CheckResult:
    result = CheckResult()
    now = timezone.now()
    due = breached_cases(now)
    marked: list[int] = []
    for ids in batched(due.order_by("pk").values_list("pk", flat=True), BATCH):
        # Locked and re-read: a case answered in the meantime drops out here.
        locked = list(due.select_for_update(of=("self",)).filter(pk__in=ids).values_list("pk", flat=True))
        if locked:
            # Breached when the deadline passed, whenever the check noticed (updated_at says when).
            SupportCase.objects.filter(pk__in=locked).update(
                breached_at=F("first_response_due_at"), updated_at=now
            )
            marked.extend(locked)
    if not marked:
        return result
    cases = list(selectors.breach_notice(SupportCase.objects.filter(pk__in=marked)))
    emails, webhook_events = support_cases_tell_breached(cases)
    result.add("cases_breached", len(cases))
    result.add("emails", emails)
    result.add("webhook_events", webhook_events)
    customers = len({case.customer_id for case in cases})
    result.note(
        f"Marked {plural(len(cases), 'support case')} of {plural(customers, 'customer')} as past "
        "their first-response deadline."
    )
    return result


@scheduled_check(
    "support_plan_retirement",
    order=55,
    description="Subscriptions on a retired support plan moved to its successor.",
)
def support_plan_retirement_check(*, today: datetime.date) -> CheckResult:
    result = CheckResult()
    moved = support_subscriptions_move_retired()
    result.add("subscriptions_moved", len(moved))
    if moved:
        plans = sorted({subscription.plan.name for subscription in moved})
        result.note(f"Moved {plural(len(moved), 'subscription')} from retired plans to {', '.join(plans)}.")
    return result
