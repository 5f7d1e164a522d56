"""Receivers of other apps' signals that concern this app's records."""

from engagements.models import AccessGrant, AwsAccount, Engagement, EngagementPartner
from partners.signals import partner_slug_changed


def _partner_slug_changed(sender, partner_id: int, at, **kwargs) -> None:
    """The records whose API representation shows the partner's slug changed with it (integrators sync on
    `updated_at`): one UPDATE per table, sending no signal and writing no history row."""
    for records in (
        EngagementPartner.objects.filter(partner_id=partner_id),
        AccessGrant.objects.filter(engagement_partner__partner_id=partner_id),
        # An engagement lists its current partners (those not replaced).
        Engagement.objects.filter(
            pk__in=EngagementPartner.objects.filter(partner_id=partner_id, replaced_by__isnull=True).values(
                "engagement_id"
            )
        ),
        AwsAccount.objects.filter(reseller_id=partner_id),
    ):
        records.update(updated_at=at)


def connect() -> None:
    partner_slug_changed.connect(_partner_slug_changed, dispatch_uid="engagements.partner_slug_changed")
