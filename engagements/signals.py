"""Receivers of other apps' signals that concern this app's records, and what a customer's new slug or
a user's new username means for the records that show it.

Integrators sync on `updated_at` (`updated_since`): a record whose API representation names a partner or
a customer by its slug, or a person by username, changes when that slug or username does. Each receiver
is one UPDATE per table, in the transaction of the rename, sending no signal and writing no history row,
as partners.signals does for a partner's slug.

A customer reference's deletion is the exception: the engagement recording it is saved, with its version,
since its history shows which reference it records and who took it away."""

from django.db import connection
from django.db.models import Q
from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import Signal
from django.utils import timezone

from apn_portal.accounts.models import User
from apn_portal.signals import stored_values_changed, stored_values_remember
from engagements.models import AccessGrant, AwsAccount, Customer, Engagement, EngagementPartner
from partners.models import CustomerReference
from partners.signals import partner_slug_changed

DISPATCH_PREFIX = "engagements."

# Sent in the rename's transaction when a customer's slug changes, with `customer_id` and `at`: the apps
# built on this one (support) move the `updated_at` of their records that show the slug.
customer_slug_changed = Signal()

# Sent in the rename's transaction when a user's username changes, with `user_id` and `at`: the apps built
# on this one (support) move the `updated_at` of their records that show the username.
username_changed = Signal()


def _partner_slug_changed(sender, partner_id: int, at, **kwargs) -> None:
    """The records whose API representation shows the partner's slug changed with it."""
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


def _customer_saving(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    # The stored slug, read on an edit that may change it: creating customers costs nothing.
    stored_values_remember(sender, instance, ("slug",), raw, update_fields)


def _customer_saved(sender, instance, raw=False, **kwargs) -> None:
    if raw or not stored_values_changed(instance, ("slug",)):
        return
    # What engagements.api.serializers shows the customer's slug in (`customer`); an engagement partner
    # names only its engagement, by id.
    now = timezone.now()
    for records in (
        Engagement.objects.filter(customer_id=instance.pk),
        AwsAccount.objects.filter(customer_id=instance.pk),
        AccessGrant.objects.filter(account__customer_id=instance.pk),
    ):
        records.update(updated_at=now)
    customer_slug_changed.send(sender=Customer, customer_id=instance.pk, at=now)


def _user_saving(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    # The stored username, read on an edit that may change it: a sign-in saves only `last_login`, and
    # creating users costs nothing.
    stored_values_remember(sender, instance, ("username",), raw, update_fields)
    if connection.in_atomic_block and stored_values_changed(instance, ("username",)):
        # The customers _user_saved updates, locked before the user's own row is: out of a transaction
        # each statement commits on its own, and holds nothing.
        from engagements.services import customers_lock_naming_users  # services build on these signals

        customers_lock_naming_users([instance.pk])


def _user_saved(sender, instance, raw=False, **kwargs) -> None:
    if raw or not stored_values_changed(instance, ("username",)):
        return
    # What engagements.api.serializers shows a username in: one statement per table, whichever of its
    # columns name the person.
    now = timezone.now()
    user = instance.pk
    Customer.objects.filter(
        Q(account_manager_id=user) | Q(solutions_architect_id=user) | Q(tam_id=user)
    ).update(updated_at=now)
    AccessGrant.objects.filter(Q(granted_by_id=user) | Q(revoked_by_id=user)).update(updated_at=now)
    username_changed.send(sender=User, user_id=user, at=now)


def _reference_deleting(sender, instance, **kwargs) -> None:
    """A customer reference that a completed engagement records, being deleted (its partner withdrawing it,
    an admin deleting it, a cascade): the engagement records none from then on. Its column is emptied here,
    with a save, before Django's SET NULL would do it with a plain UPDATE that writes no version: the
    engagement's history says who deleted it (reference_delete's user, else the request's) and why,
    rather than pinning it on the next person to edit the engagement; and integrators syncing on
    `updated_since` see the engagement changed."""
    engagements = Engagement.objects.select_for_update(of=("self",)).filter(customer_reference_id=instance.pk)
    for engagement in engagements:
        engagement.customer_reference = None
        if hasattr(instance, "_history_user"):
            engagement._history_user = instance._history_user
        engagement._change_reason = f"Its customer reference ({instance.customer_name}) was deleted"[:100]
        engagement.save(update_fields=["customer_reference", "updated_at"])


def connect() -> None:
    partner_slug_changed.connect(_partner_slug_changed, dispatch_uid=DISPATCH_PREFIX + "partner_slug_changed")
    pre_save.connect(_customer_saving, sender=Customer, dispatch_uid=DISPATCH_PREFIX + "customer-saving")
    post_save.connect(_customer_saved, sender=Customer, dispatch_uid=DISPATCH_PREFIX + "customer-saved")
    pre_save.connect(_user_saving, sender=User, dispatch_uid=DISPATCH_PREFIX + "user-saving")
    post_save.connect(_user_saved, sender=User, dispatch_uid=DISPATCH_PREFIX + "user-saved")
    pre_delete.connect(
        _reference_deleting, sender=CustomerReference, dispatch_uid=DISPATCH_PREFIX + "reference-deleting"
    )
