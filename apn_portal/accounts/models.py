from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.models import AbstractUser
from django.db import models, router, transaction
from django.db.models import Q
from rest_framework.authtoken.models import Token

from apn_portal.accounts.choices import StaffRole

# What an API token acts within: its user's organisation, or the provider's staff (and superuser status).
TOKEN_BOUND_FIELDS = ("partner", "customer", "is_staff", "is_superuser")


def role_holders_condition(role: StaffRole) -> Q:
    """Who holds `role` now, as a condition on users, what User.has_role asks of one user: active provider
    staff (staff, in no partner's or customer's organisation) in the role's group. Somebody deactivated
    (who has left) holds no role, whatever groups they are still in."""
    return Q(
        is_active=True,
        is_staff=True,
        partner__isnull=True,
        customer__isnull=True,
        groups__name=role.value,
    )


class User(AbstractUser):
    """Somebody who signs in: a partner's or customer's staff, or the provider's own staff.

    A user belongs to at most one organisation; provider staff belong to none and hold roles (groups).
    """

    email = models.EmailField("email address", blank=True, db_index=True)
    partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text="The partner organisation this person works for, if any.",
    )
    customer = models.ForeignKey(
        "engagements.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text="The customer organisation this person works for, if any.",
    )

    class Meta:
        ordering = ["username"]
        constraints = [
            # A superuser reads and changes everything: only the provider's own people may be one.
            models.CheckConstraint(
                condition=(Q(partner__isnull=True) & Q(customer__isnull=True))
                | (Q(is_staff=False) & Q(is_superuser=False)),
                name="user_staff_has_no_organisation",
                violation_error_message=(
                    "Provider staff and superusers cannot also belong to a partner or customer organisation."
                ),
            ),
            models.CheckConstraint(
                condition=Q(partner__isnull=True) | Q(customer__isnull=True),
                name="user_at_most_one_organisation",
                violation_error_message="A person works for a partner or for a customer, not both.",
            ),
        ]

    def __str__(self):
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        # An API token acts for its user as they were when it was issued, so some changes end it, by
        # whatever path the user is saved (the admin, a service, the shell), in the same transaction:
        # - a new password (set_password() keeps the new raw password in _password until the save;
        #   Django's own hash upgrade on sign-in clears it first): the token issued with the old one would
        #   otherwise keep working for whoever learnt the password the user is replacing;
        # - a move to another organisation, or in or out of the provider's staff (TOKEN_BOUND_FIELDS above):
        #   the token was handed to the old organisation's integration, and would otherwise read the new
        #   one's private records;
        # - deactivation: it is how an operator cuts someone off (a departure, a leaked token), so the token
        #   issued before must not work again once the user is reactivated;
        # - disabling password sign-in: see _ends_api_tokens.
        with transaction.atomic():
            using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
            ends_tokens = self._ends_api_tokens(using, kwargs.get("update_fields"))
            super().save(*args, **kwargs)
            if ends_tokens:
                Token.objects.filter(user=self).delete()

    def _ends_api_tokens(self, using, update_fields) -> bool:
        """Whether this save ends the user's API tokens: read before the save, against the stored row."""
        if self._state.adding:
            return False
        saved = None if update_fields is None else set(update_fields)
        deferred = self.get_deferred_fields()

        def saves(name):
            field = self._meta.get_field(name)
            return field.attname not in deferred and (saved is None or bool(saved & {name, field.attname}))

        if self._password is not None and saves("password"):
            return True
        attnames = [self._meta.get_field(name).attname for name in TOKEN_BOUND_FIELDS if saves(name)]
        deactivates = saves("is_active") and not self.is_active
        # Disabling password sign-in (set_unusable_password(), the admin's "usable_password" off) sets no
        # new password, but ends the tokens too: it is how the password one holds is taken away.
        disables_password = saves("password") and not is_password_usable(self.password)
        if not attnames and not disables_password and not deactivates:
            return False
        columns = [
            *attnames,
            *(["password"] if disables_password else []),
            *(["is_active"] if deactivates else []),
        ]
        stored = type(self)._base_manager.using(using).filter(pk=self.pk).values(*columns).first()
        if stored is None:
            return False
        if disables_password and is_password_usable(stored["password"]):
            return True
        if deactivates and stored["is_active"]:
            return True
        return any(stored[name] != getattr(self, name) for name in attnames)

    @property
    def is_provider_staff(self) -> bool:
        return self.is_staff and self.partner_id is None and self.customer_id is None

    def has_role(self, role: StaffRole) -> bool:
        """Whether the user holds `role` now (role_holders_condition): deactivated, they hold none."""
        if not (self.is_active and self.is_provider_staff):
            return False
        # Group names are cached per request on the instance, so checking several roles costs one query.
        if not hasattr(self, "_role_names"):
            self._role_names = set(self.groups.values_list("name", flat=True))
        return role.value in self._role_names

    @property
    def is_pdm(self) -> bool:
        return self.has_role(StaffRole.PDM)
