from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django.db.models import Q
from rest_framework.authtoken.models import Token

from apn_portal.accounts.choices import StaffRole


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
            models.CheckConstraint(
                condition=(Q(partner__isnull=True) & Q(customer__isnull=True)) | Q(is_staff=False),
                name="user_staff_has_no_organisation",
                violation_error_message=(
                    "Provider staff cannot also belong to a partner or customer organisation."
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
        # set_password() keeps the new raw password in _password until the save (Django's own hash
        # upgrade on sign-in clears it first): a new password, by whatever path (the change form, a reset
        # link, the admin, code), also ends the API tokens issued with the old one, which would otherwise
        # keep working for whoever learnt the password the user is replacing.
        password_changed = self._password is not None and not self._state.adding
        with transaction.atomic():
            super().save(*args, **kwargs)
            if password_changed:
                Token.objects.filter(user=self).delete()

    @property
    def is_provider_staff(self) -> bool:
        return self.is_staff and self.partner_id is None and self.customer_id is None

    def has_role(self, role: StaffRole) -> bool:
        if not self.is_provider_staff:
            return False
        # Group names are cached per request on the instance, so checking several roles costs one query.
        if not hasattr(self, "_role_names"):
            self._role_names = set(self.groups.values_list("name", flat=True))
        return role.value in self._role_names

    @property
    def is_pdm(self) -> bool:
        return self.has_role(StaffRole.PDM)
