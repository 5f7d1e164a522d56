"""access_grant_expiry: access ends on time. A grant past its expiry is revoked with the reason (its
partner's contract ended, or it simply expired), and the customer and the partner are told.

A grant never outlives its partner's contract: access_grant_create caps it at the contract's end, and
on PostgreSQL a trigger refuses a grant past the contract or a contract cut short under a live grant
(migration engagements 0002). So a grant's `expires_at` is when its access ends, whichever came first,
and a grant past it is already not live (engagements.selectors.live_grants); revoking it records when
and why, and tells both sides. It runs hourly: access ends at a moment, not on a day.
"""

import datetime
import zoneinfo

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from apn_portal.checks.registry import scheduled_check
from apn_portal.checks.results import CheckResult, batched, plural
from apn_portal.outbox.services import OutboxEmail, outbox_email_enqueue_many
from engagements import events
from engagements.models import AccessGrant, Customer, access_deadline
from partners.checks.contacts import partner_contacts

BATCH = 500
CHANGE_REASON = "By the scheduled check access_grant_expiry"


def _reason(grant: AccessGrant, noticed_by: str) -> str:
    engaged = grant.engagement_partner
    zone = engaged.engagement.customer.time_zone
    if grant.expires_at == access_deadline(engaged.contract_end, zone):
        return (
            f"{engaged.partner.name}'s contract on {engaged.engagement.title} ended on "
            f"{engaged.contract_end:%d %b %Y}, and the access with it ({noticed_by})."
        )
    local = timezone.localtime(grant.expires_at, timezone=zoneinfo.ZoneInfo(zone))
    return f"Expired on {local:%d %b %Y %H:%M} ({local.tzname()}) ({noticed_by})."


def access_grants_end_expired(
    grants: QuerySet[AccessGrant], *, noticed_by: str = "scheduled check", change_reason: str = CHANGE_REASON
) -> tuple[list[AccessGrant], int]:
    """Revoke those of `grants` that are past their expiry and not revoked yet: dated when the access
    ended, with the reason, in their history, announced by webhook, and the customer and the partner
    told by email. Locks them first: call it inside a transaction (the check's, or a service's).
    Returns the grants revoked and how many emails were queued."""
    now = timezone.now()
    ended = list(
        grants.filter(revoked_at__isnull=True, expires_at__lte=now)
        .select_for_update(of=("self",))
        .select_related(
            "account__customer", "engagement_partner__partner", "engagement_partner__engagement__customer"
        )
        .order_by("pk")
    )
    if not ended:
        return [], 0
    for grant in ended:
        grant.revoked_at = grant.expires_at  # when the access ended, not when it was noticed
        grant.revoked_by = None  # nobody revoked it: it ended, as a tier change by the check has no user
        grant.revocation_reason = _reason(grant, noticed_by)
        grant.updated_at = now
    AccessGrant.objects.bulk_update(ended, ["revoked_at", "revoked_by", "revocation_reason", "updated_at"])
    AccessGrant.history.bulk_history_create(
        ended, update=True, default_change_reason=change_reason, default_date=now
    )
    events.access_grants_revoked(ended)
    return ended, _tell(ended)


@scheduled_check(
    "access_grant_expiry",
    order=40,
    description="Access grants past their expiry or their contract's end revoked; customer and partner told.",
)
def access_grant_expiry_check(*, today: datetime.date) -> CheckResult:
    result = CheckResult()
    ended = AccessGrant.objects.filter(revoked_at__isnull=True, expires_at__lte=timezone.now())
    revoked: list[AccessGrant] = []
    emails = 0
    for ids in batched(ended.order_by("pk").values_list("pk", flat=True), BATCH):
        batch, told = access_grants_end_expired(AccessGrant.objects.filter(pk__in=ids))
        revoked.extend(batch)
        emails += told
    result.add("grants_revoked", len(revoked))
    result.add("emails", emails)
    if revoked:
        customers = len({grant.account.customer_id for grant in revoked})
        result.note(
            f"Revoked {plural(len(revoked), 'access grant')} that expired or whose contract ended, "
            f"for {plural(customers, 'customer')}."
        )
    return result


def _customer_recipients(customer_ids) -> dict[int, list[str]]:
    """A customer's access administrators (active, with an address); failing that, its active staff."""
    User = get_user_model()
    admins: dict[int, list[str]] = {}
    through = Customer.access_administrators.through
    for customer_id, email in (
        through.objects.filter(customer_id__in=customer_ids, user__is_active=True)
        .exclude(user__email="")
        .values_list("customer_id", "user__email")
    ):
        admins.setdefault(customer_id, []).append(email)
    staff: dict[int, list[str]] = {}
    for customer_id, email in (
        User.objects.filter(customer_id__in=customer_ids, is_active=True)
        .exclude(email="")
        .values_list("customer_id", "email")
    ):
        staff.setdefault(customer_id, []).append(email)
    return {
        customer_id: admins.get(customer_id) or staff.get(customer_id, []) for customer_id in customer_ids
    }


def _tell(grants: list[AccessGrant]) -> int:
    if not grants:
        return 0
    customers = _customer_recipients({grant.account.customer_id for grant in grants})
    partners = partner_contacts({grant.engagement_partner.partner_id for grant in grants})
    emails = []
    for grant in grants:
        context = {
            "grant": grant,
            "customer": grant.account.customer,
            "partner": grant.engagement_partner.partner,
        }
        subject = (
            f"Access ended: {grant.engagement_partner.partner.name} on account {grant.account.account_id} "
            f"({grant.role_name})"
        )
        emails.append(
            OutboxEmail(
                dedupe_key=f"grant-revoked:{grant.pk}:customer",
                to=customers[grant.account.customer_id],
                subject=subject,
                template="emails/checks/access_grant_revoked_customer",
                context=context,
            )
        )
        emails.append(
            OutboxEmail(
                dedupe_key=f"grant-revoked:{grant.pk}:partner",
                to=partners[grant.engagement_partner.partner_id].staff_or_pdm,
                subject=subject,
                template="emails/checks/access_grant_revoked_partner",
                context=context,
            )
        )
    return len(outbox_email_enqueue_many(emails))
