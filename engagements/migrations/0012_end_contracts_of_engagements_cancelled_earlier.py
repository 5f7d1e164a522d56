"""The contracts of engagements cancelled before cancelling ended them end now, as a cancellation ends them.

Until a1fe6f7 cancelling an engagement revoked its grants but left its contracts as they were: no
`ended_reason`, their original dates, so the engagement's page and the API showed a cancelled engagement's
contracts running on, and one that was to start later as work still to come (migration 0011 marked only the
contracts a cancellation had ended). Each contract of a cancelled engagement that was still running on the
day of its cancellation, not replaced and never ended, ends as services._contracts_end ends it now: its last
day becomes that day, or its first for one not started then (`ended_before_start`), and `ended_reason` the
cancellation's reason. The day is when the engagement's history first recorded it cancelled (its
`updated_at` for one cancelled without a version), in the customer's time zone; the reason is what its
grants' revocation recorded ("Engagement cancelled: ..."), else a plain statement. A contract whose last day
had passed by then keeps it, as a cancellation leaves it. Each change writes the contract a version saying
why, and moves its `updated_at` and its engagement's (which lists it) for integrators syncing with
`updated_since`; no partner is emailed this late. Contracts already ended are not looked at, so running it
again changes nothing; reversed, it leaves the contracts as they are.
"""

import zoneinfo

from django.db import migrations
from django.utils import timezone

CHUNK = 500
CANCELLED = "cancelled"
GRANT_REASON_PREFIX = "Engagement cancelled: "
UNKNOWN_REASON = "The engagement was cancelled."
CHANGE_REASON = "Ended with its engagement's cancellation, recorded on upgrade"


def _cancelled_at(History, engagements) -> dict:
    """When each engagement became cancelled: by its history, the version that first says so after one
    that did not; its `updated_at` when no version says so (a change that wrote none cancelled it)."""
    moments, previous = {}, {}
    versions = (
        History.objects.filter(id__in=[engagement.pk for engagement in engagements])
        .order_by("id", "history_date", "history_id")
        .values_list("id", "status", "history_date")
    )
    for pk, status, at in versions:
        if status == CANCELLED and previous.get(pk) != CANCELLED:
            moments[pk] = at
        previous[pk] = status
    return {
        engagement.pk: (
            moments[engagement.pk] if previous.get(engagement.pk) == CANCELLED else engagement.updated_at
        )
        for engagement in engagements
    }


def _reasons(AccessGrant, engagement_ids) -> dict:
    reasons = {}
    revoked = (
        AccessGrant.objects.filter(
            engagement_partner__engagement_id__in=engagement_ids,
            revocation_reason__startswith=GRANT_REASON_PREFIX,
        )
        .order_by("revoked_at", "pk")
        .values_list("engagement_partner__engagement_id", "revocation_reason")
    )
    for engagement_id, reason in revoked:
        reasons[engagement_id] = reason.removeprefix(GRANT_REASON_PREFIX).strip() or UNKNOWN_REASON
    return reasons


def end_contracts_of_engagements_cancelled_earlier(apps, schema_editor):
    Engagement = apps.get_model("engagements", "Engagement")
    HistoricalEngagement = apps.get_model("engagements", "HistoricalEngagement")
    EngagementPartner = apps.get_model("engagements", "EngagementPartner")
    HistoricalEngagementPartner = apps.get_model("engagements", "HistoricalEngagementPartner")
    AccessGrant = apps.get_model("engagements", "AccessGrant")
    versioned = [
        field.attname
        for field in HistoricalEngagementPartner._meta.concrete_fields
        if not field.attname.startswith("history_")
    ]
    now = timezone.now()
    # Only those with a contract never ended: once ended, a contract is not looked at again.
    open_contracts = EngagementPartner.objects.filter(replaced_by__isnull=True, ended_reason="")
    last_pk = 0
    while True:
        engagements = list(
            Engagement.objects.filter(
                status=CANCELLED, pk__gt=last_pk, pk__in=open_contracts.values("engagement_id")
            )
            .select_related("customer")
            .order_by("pk")[:CHUNK]
        )
        if not engagements:
            break
        last_pk = engagements[-1].pk
        cancelled_at = _cancelled_at(HistoricalEngagement, engagements)
        reasons = _reasons(AccessGrant, list(cancelled_at))
        zones = {
            engagement.pk: zoneinfo.ZoneInfo(engagement.customer.time_zone) for engagement in engagements
        }
        ended, versions = [], []
        # A contract under access still live would be cut short under it (the database refuses that):
        # the cancellation revoked every grant, so none is expected, and one found is left to a person.
        contracts = open_contracts.filter(engagement_id__in=list(cancelled_at)).exclude(
            pk__in=AccessGrant.objects.filter(revoked_at__isnull=True).values("engagement_partner_id")
        )
        for contract in contracts.order_by("pk"):
            day = cancelled_at[contract.engagement_id].astimezone(zones[contract.engagement_id]).date()
            if contract.contract_end < day:
                continue  # over before the cancellation, which took nothing from it
            contract.ended_before_start = day < contract.contract_start
            contract.contract_end = min(contract.contract_end, max(day, contract.contract_start))
            contract.ended_reason = reasons.get(contract.engagement_id, UNKNOWN_REASON)
            contract.updated_at = now
            ended.append(contract)
            versions.append(
                HistoricalEngagementPartner(
                    **{name: getattr(contract, name) for name in versioned},
                    history_date=now,
                    history_type="~",
                    history_change_reason=CHANGE_REASON,
                )
            )
        EngagementPartner.objects.bulk_update(
            ended, ["contract_end", "ended_reason", "ended_before_start", "updated_at"]
        )
        HistoricalEngagementPartner.objects.bulk_create(versions)
        Engagement.objects.filter(pk__in={contract.engagement_id for contract in ended}).update(
            updated_at=now
        )


class Migration(migrations.Migration):
    dependencies = [("engagements", "0011_engagement_partner_ended_before_start")]

    operations = [
        migrations.RunPython(end_contracts_of_engagements_cancelled_earlier, migrations.RunPython.noop),
    ]
