"""Receivers of other apps' signals that concern this app's records, and what a support plan's new slug
or retirement means for the records that show it.

Integrators sync on `updated_at` (`updated_since`): a record whose API representation names a partner, a
customer or a plan by its slug, or a person by username, changes when that slug or username does, and a
current subscription when its plan's retirement (`moves_to`) does. Each receiver is one UPDATE per table,
in the transaction of the change, sending no signal and writing no history row, as partners.signals does
for a partner's slug."""

from django.db.models import Q
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from apn_portal.signals import stored_values, stored_values_remember
from engagements.signals import customer_slug_changed, username_changed
from partners.signals import partner_slug_changed
from support.models import CaseReply, SupportCase, SupportPlan, SupportSubscription

DISPATCH_PREFIX = "support."


def _partner_slug_changed(sender, partner_id: int, at, **kwargs) -> None:
    """Subscriptions and cases show their partners' slugs."""
    SupportSubscription.objects.filter(support_partner_id=partner_id).update(updated_at=at)
    SupportCase.objects.filter(Q(opened_by_partner_id=partner_id) | Q(handling_partner_id=partner_id)).update(
        updated_at=at
    )


def _customer_slug_changed(sender, customer_id: int, at, **kwargs) -> None:
    """Subscriptions and cases show their customer's slug."""
    SupportSubscription.objects.filter(customer_id=customer_id).update(updated_at=at)
    SupportCase.objects.filter(customer_id=customer_id).update(updated_at=at)


def _username_changed(sender, user_id: int, at, **kwargs) -> None:
    """Subscriptions show their TAM and who last changed them, cases who opened them and who answered
    first, by username. A case's replies name their authors too, but are read only through their case
    (`/support-cases/{id}/replies/`): its `updated_at` is what tells a sync to read them again."""
    SupportSubscription.objects.filter(Q(tam_id=user_id) | Q(changed_by_id=user_id)).update(updated_at=at)
    # One statement, each part on its own index (an OR with a reply subquery would scan every case).
    naming = (
        SupportCase.objects.filter(opened_by_id=user_id)
        .values("pk")
        .order_by()
        .union(
            SupportCase.objects.filter(first_responder_id=user_id).values("pk").order_by(),
            CaseReply.objects.filter(author_id=user_id).values("case_id").order_by(),
        )
    )
    SupportCase.objects.filter(pk__in=naming).update(updated_at=at)


# What of a plan other records show: subscriptions, cases and successors name it by slug, and a current
# subscription shows where and when its plan retires (`moves_to`, support.selectors.plan_move).
PLAN_SHOWN = ("slug", "retires_on", "successor_id")


def _plan_saving(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    # The stored values, read on an edit that may change them: creating plans costs nothing.
    stored_values_remember(sender, instance, PLAN_SHOWN, raw, update_fields)


def _plan_saved(sender, instance, raw=False, **kwargs) -> None:
    previous = None if raw else stored_values(instance, PLAN_SHOWN)
    if previous is None:
        return
    now = timezone.now()
    if previous["slug"] != instance.slug:
        # The plans retiring in its favour name it as their `successor`.
        SupportPlan.objects.filter(successor_id=instance.pk).update(updated_at=now)
        # A subscription names its plan, and a current one on a plan retiring in its favour names it where
        # it `moves_to`.
        SupportSubscription.objects.filter(
            Q(plan_id=instance.pk) | Q(ended_at__isnull=True, plan__successor_id=instance.pk)
        ).update(updated_at=now)
        SupportCase.objects.filter(plan_id=instance.pk).update(updated_at=now)
    elif (previous["retires_on"], previous["successor_id"]) != (instance.retires_on, instance.successor_id):
        # Where and when the current subscriptions on the plan move (an ended one shows no `moves_to`).
        SupportSubscription.objects.filter(plan_id=instance.pk, ended_at__isnull=True).update(updated_at=now)


def connect() -> None:
    partner_slug_changed.connect(_partner_slug_changed, dispatch_uid=DISPATCH_PREFIX + "partner_slug_changed")
    customer_slug_changed.connect(
        _customer_slug_changed, dispatch_uid=DISPATCH_PREFIX + "customer_slug_changed"
    )
    username_changed.connect(_username_changed, dispatch_uid=DISPATCH_PREFIX + "username_changed")
    pre_save.connect(_plan_saving, sender=SupportPlan, dispatch_uid=DISPATCH_PREFIX + "plan-saving")
    post_save.connect(_plan_saved, sender=SupportPlan, dispatch_uid=DISPATCH_PREFIX + "plan-saved")
