"""support_sla: a case whose first-response deadline passed without a response is marked breached, and
whoever answers it is told once; support_plan_retirement: subscriptions on a retired plan move to its
successor.

support_sla runs every five minutes, since the tightest target is 15 minutes. It is set-based: the due
cases are locked in batches and each batch is marked with one UPDATE. A reply takes the same row lock
(support.services.support_case_reply), so a case answered while the check runs is either answered
before the check reads it (and is left alone) or after it was marked (the breach stands, as it should:
the answer came late). Running it twice marks nothing twice, and the emails carry a dedupe key.
"""

import datetime

from django.db.models import F
from django.utils import timezone

from apn_portal.checks.registry import scheduled_check
from apn_portal.checks.results import CheckResult, batched, plural
from apn_portal.outbox.services import OutboxEmail, outbox_email_enqueue_many
from apn_portal.webhooks.choices import WebhookEvent
from apn_portal.webhooks.services import webhook_events_emit_many
from partners.checks.contacts import partner_contacts
from support import selectors
from support.choices import ACTIVE_CASE_STATUSES
from support.models import SupportCase
from support.services import support_subscriptions_move_retired

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
    cases = list(
        SupportCase.objects.filter(pk__in=marked)
        .select_related(
            "customer__tam",
            "account",
            "plan",
            "subscription__tam",
            "handling_partner",
            "opened_by",
            "opened_by_partner",
        )
        .order_by("pk")
    )
    result.add("cases_breached", len(cases))
    result.add("emails", _tell(cases))
    result.add("webhook_events", _emit(cases))
    customers = len({case.customer_id for case in cases})
    result.note(
        f"Marked {plural(len(cases), 'support case')} of {plural(customers, 'customer')} as past "
        "their first-response deadline."
    )
    return result


def _tell(cases: list[SupportCase]) -> int:
    """One email per case, to whoever answers it: the reselling partner while it handles the case, else
    the customer's designated TAM, else the provider's Cloud Support Engineers."""
    partners = partner_contacts({case.handling_partner_id for case in cases if case.with_partner})
    engineers = None
    emails = []
    for case in cases:
        if case.with_partner:
            to = partners[case.handling_partner_id].staff_or_pdm
        else:
            tam = selectors.tam_of(case.customer, case.subscription)
            if tam is not None and tam.is_active and tam.email:
                to = [tam.email]
            else:
                if engineers is None:
                    engineers = list(
                        selectors.support_engineers().exclude(email="").values_list("email", flat=True)
                    )
                to = engineers
        emails.append(
            OutboxEmail(
                dedupe_key=f"support-case-breached:{case.pk}",
                to=to,
                subject=f"Past its response deadline: case #{case.pk} ({case.get_severity_display()}) "
                f"for {case.customer.name}",
                template="emails/support/case_breached",
                context={
                    "case": case,
                    "due_local": case.customer.local_time(case.first_response_due_at),
                    "time_zone": case.customer.time_zone,
                },
            )
        )
    return len(outbox_email_enqueue_many(emails))


def _emit(cases: list[SupportCase]) -> int:
    """One `support_case.breached` event per case; returns how many went to at least one endpoint."""
    from support.api.serializers import SupportCaseSerializer

    data = SupportCaseSerializer(cases, many=True).data
    deliveries = webhook_events_emit_many(
        event=WebhookEvent.SUPPORT_CASE_BREACHED,
        items=[(case.handling_partner, item) for case, item in zip(cases, data, strict=True)],
        records=cases,
        visible_to=selectors.cases_visible_to,
    )
    return len({delivery.event_id for delivery in deliveries})


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
