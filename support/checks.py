"""support_sla: a case whose first-response deadline passed without a response is marked breached, and
whoever answers it is told once (the support desk, SUPPORT_TEAM_EMAIL, when nobody who answers it has an
email address); support_plan_retirement: subscriptions on a retired plan move to its
successor, on each customer's own retirement day.

support_sla runs every five minutes, since the tightest target is 15 minutes. It is set-based: the due
cases are locked in batches and each batch is marked with one UPDATE. A reply takes the same row lock
(support.services.support_case_reply), so a case answered while the check runs is either answered
before the check reads it (and is left alone; a late answer was then marked breached by the reply
itself, with the same email and event) or after it was marked (the breach stands, as it should: the
answer came late). Running it twice marks nothing twice, and the emails carry a dedupe key.

tam_qualification: a designated TAM must hold a qualifying certification (support.selectors.tam_problem),
which is checked when they are named and guarded while they are; but certifications expire on their own.
30 and 7 days before a TAM's last qualifying certification ends, the TAM and the Account Manager of each
customer whose plans designate them are told (the support desk, SUPPORT_TEAM_EMAIL, when neither has an
address), and once more when it has ended. The subscription is left
as it is: only the Account Manager names another TAM. One email per TAM, customer and threshold, keyed
by the last qualifying day, so a renewal followed by a later expiry warns again, and a rerun sends nothing.
"""

import datetime

from django.urls import reverse
from django.utils import timezone

from apn_portal.checks.registry import scheduled_check
from apn_portal.checks.results import CheckResult, batched
from apn_portal.outbox.services import OutboxEmail, outbox_email_enqueue_many
from apn_portal.text import plural
from support import selectors
from support.models import SupportCase
from support.services import (
    or_support_desk,
    support_cases_mark_breached,
    support_desk,
    support_subscriptions_move_retired,
)

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


# Days before a TAM's last qualifying day that the TAM and the Account Manager are warned.
TAM_WARNING_DAYS = (30, 7)
LAPSED = "lapsed"


@scheduled_check(
    "tam_qualification",
    label="TAM qualification",
    order=58,  # after support_plan_retirement, which may move a plan to one without a TAM
    description="Designated TAMs whose qualifying certification expires within 30 or 7 days, or has expired: "
    "the TAM and the customer's Account Manager told, once each.",
)
def tam_qualification_check(*, today: datetime.date) -> CheckResult:
    result = CheckResult()
    notices = selectors.tam_qualification_notices(today, max(TAM_WARNING_DAYS))
    if not notices:
        return result
    change_path = reverse("admin:support_supportsubscription_add")
    emails = []
    for notice in notices:
        due = _tam_notice_due(notice.qualified_until, today)
        emails.append(
            (
                due,
                OutboxEmail(
                    dedupe_key=(
                        f"tam-qualification:{notice.tam_id}:{notice.customer_id}:"
                        f"{notice.qualified_until.isoformat() if notice.qualified_until else 'none'}:{due}"
                    ),
                    to=or_support_desk([notice.tam_email, notice.account_manager_email]),
                    otherwise_to=support_desk(),
                    subject=_tam_subject(notice, due),
                    template=f"emails/support/tam_qualification_{'lapsed' if due == LAPSED else 'expiring'}",
                    context=_tam_context(notice, due, today, change_path),
                ),
            )
        )
    stored = outbox_email_enqueue_many([email for _, email in emails])
    nobody = 0
    for due, email in emails:
        if email.dedupe_key in stored:
            result.add("lapsed_emails" if due == LAPSED else "warning_emails")
        elif not any(email.to):
            nobody += 1
    if result.count("warning_emails"):
        result.note(
            f"Warned of {plural(result.count('warning_emails'), 'TAM qualification')} ending within "
            f"{max(TAM_WARNING_DAYS)} days (one email per TAM and customer)."
        )
    if result.count("lapsed_emails"):
        result.note(
            f"Told of {plural(result.count('lapsed_emails'), 'designated TAM')} no longer qualified "
            "(one email per TAM and customer)."
        )
    if nobody:
        # Noted, not counted: nothing was sent, and the next run will find it just the same.
        result.note(
            f"{plural(nobody, 'TAM designation')} had nobody to tell (no active TAM or Account Manager "
            "with an email address, and no SUPPORT_TEAM_EMAIL)."
        )
    return result


def _tam_notice_due(qualified_until: datetime.date | None, today: datetime.date) -> str:
    """The notice due today: the tightest warning threshold the last qualifying day is within, or LAPSED
    once it has passed. A run that missed days sends the one now due only."""
    if qualified_until is None or qualified_until < today:
        return LAPSED
    days_left = (qualified_until - today).days
    return str(min(days for days in TAM_WARNING_DAYS if days_left <= days))


def _day(day: datetime.date) -> str:
    return f"{day.day} {day:%b %Y}"


def _plans_text(plans: list[str]) -> str:
    return plans[0] if len(plans) == 1 else ", ".join(plans[:-1]) + " and " + plans[-1]


def _tam_subject(notice, due: str) -> str:
    if due == LAPSED:
        return f"{notice.tam_name} no longer qualifies as {notice.customer_name}'s TAM: name another TAM"
    return f"{notice.tam_name} qualifies as {notice.customer_name}'s TAM until {_day(notice.qualified_until)}"


def _tam_context(notice, due: str, today: datetime.date, change_path: str) -> dict:
    until = notice.qualified_until
    context = {
        "tam_name": notice.tam_name,
        "customer_name": notice.customer_name,
        "plans": _plans_text(notice.plans),
        "plan_count": len(notice.plans),
        "change_path": change_path,
    }
    if due == LAPSED:
        context["since"] = _day(until + datetime.timedelta(days=1)) if until else ""
    else:
        days_left = (until - today).days
        context["until"] = _day(until)
        context["days_left"] = "today is the last day" if days_left == 0 else f"in {plural(days_left, 'day')}"
    return context
