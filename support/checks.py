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

from django.utils import timezone

from apn_portal.checks.registry import scheduled_check
from apn_portal.checks.results import CheckResult, batched, plural
from support import selectors
from support.models import SupportCase
from support.services import support_cases_mark_breached, support_subscriptions_move_retired

BATCH = 500


@scheduled_check(
    "support_sla",
    label="Support SLA",
    order=60,
    description="Support cases past their first-response deadline without a response marked breached; "
    "their TAM, support staff or reselling partner told.",
)
def support_sla_check(*, today: datetime.date) -> CheckResult:
    result = CheckResult()
    now = timezone.now()
    cases: list[SupportCase] = []
    emails = webhook_events = 0
    due = selectors.breached_cases(now).order_by("pk").values_list("pk", flat=True)
    for ids in batched(due, BATCH):
        marked, batch_emails, batch_events = support_cases_mark_breached(
            SupportCase.objects.filter(pk__in=ids), now
        )
        cases.extend(marked)
        emails += batch_emails
        webhook_events += batch_events
    if not cases:
        return result
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
