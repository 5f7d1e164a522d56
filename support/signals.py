"""Receivers of other apps' signals that concern this app's records."""

from django.db.models import Q

from partners.signals import partner_slug_changed
from support.models import SupportCase, SupportSubscription


def _partner_slug_changed(sender, partner_id: int, at, **kwargs) -> None:
    """Subscriptions and cases show their partners' slugs (integrators sync on `updated_at`): one UPDATE
    per table, sending no signal and writing no history row."""
    SupportSubscription.objects.filter(support_partner_id=partner_id).update(updated_at=at)
    SupportCase.objects.filter(Q(opened_by_partner_id=partner_id) | Q(handling_partner_id=partner_id)).update(
        updated_at=at
    )


def connect() -> None:
    partner_slug_changed.connect(_partner_slug_changed, dispatch_uid="support.partner_slug_changed")
