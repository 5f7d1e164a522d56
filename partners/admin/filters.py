"""Changelist filters. Filters over a partner's related rows use EXISTS subqueries, never joins, so the
list needs no DISTINCT and its ordering keeps walking an index on large tables."""

import datetime

from django.conf import settings
from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_countries import countries

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User
from apn_portal.http import whole_number
from partners.choices import EnrollmentStatus
from partners.models import Office, Partner, Program
from partners.selectors import (
    active_certifications,
    active_enrollments,
    expiry_window_end,
    office_country_codes,
)


def _expiring_soon_until() -> datetime.date:
    # "Expiring soon" is an expiry before it (`expires_on__lt`); falling short on it is within the
    # window (`at_risk_from__lte`).
    return expiry_window_end(timezone.localdate())


class PdmFilter(admin.SimpleListFilter):
    title = "PDM"
    parameter_name = "pdm"

    def lookups(self, request, model_admin):
        choices = [("mine", "My partners")] if request.user.is_pdm else []
        choices.append(("none", "Unassigned"))
        pdms = User.objects.filter(groups__name=StaffRole.PDM.value).order_by("first_name", "last_name", "pk")
        choices += [(str(user.pk), str(user)) for user in pdms]
        return choices

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine":
            return queryset.filter(pdm=request.user)
        if value == "none":
            return queryset.filter(pdm__isnull=True)
        pdm_id = whole_number(value)
        if pdm_id is not None:
            return queryset.filter(pdm_id=pdm_id)
        return queryset


class HeldProgramFilter(admin.SimpleListFilter):
    title = "program held"
    parameter_name = "program"

    def lookups(self, request, model_admin):
        return list(Program.objects.order_by("name").values_list("slug", "name"))

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        held = active_enrollments().filter(partner=OuterRef("pk"), program__slug=self.value())
        return queryset.filter(Exists(held))


class OfficeCountryFilter(admin.SimpleListFilter):
    """The countries partners have offices in (not all the world's)."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        return sorted(((code, countries.name(code)) for code in office_country_codes()), key=lambda c: c[1])

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if queryset.model is Office:
            return queryset.filter(country=self.value())
        return queryset.filter(Exists(Office.objects.filter(partner=OuterRef("pk"), country=self.value())))


class ExpiringSoonFilter(admin.SimpleListFilter):
    """Partners with a certification that counts today and stops counting within the warning window."""

    title = "certifications expiring"
    parameter_name = "expiring"

    def lookups(self, request, model_admin):
        return [("soon", f"In the next {settings.PARTNER_EXPIRING_SOON_DAYS} days")]

    def queryset(self, request, queryset):
        if self.value() != "soon":
            return queryset
        expiring = active_certifications().filter(
            staff_member__partner=OuterRef("pk"), expires_on__lt=_expiring_soon_until()
        )
        return queryset.filter(Exists(expiring))


class TierHealthFilter(admin.SimpleListFilter):
    """What the scheduled tier check found: partners short of their tier, soon short, or ready for more."""

    title = "tier health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [
            ("grace", "Short of its tier (in its grace period)"),
            ("at_risk", f"Falls short within {settings.PARTNER_EXPIRING_SOON_DAYS} days"),
            ("promotable", "Qualifies for a higher tier"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "grace":
            return queryset.filter(grace_ends_on__isnull=False)
        if self.value() == "at_risk":
            return queryset.filter(at_risk_from__lte=_expiring_soon_until())
        if self.value() == "promotable":
            return queryset.filter(qualifies_for_tier__isnull=False)
        return queryset


def taxonomy_filter(field_name: str, title: str) -> type[admin.SimpleListFilter]:
    """A filter on one of the partner's tag lists (categories, industries, use cases)."""
    field = Partner._meta.get_field(field_name)
    through = field.remote_field.through
    target = field.m2m_reverse_field_name()

    class TaxonomyFilter(admin.SimpleListFilter):
        parameter_name = field_name

        def lookups(self, request, model_admin):
            return list(field.related_model.objects.order_by("name").values_list("slug", "name"))

        def queryset(self, request, queryset):
            if not self.value():
                return queryset
            tagged = through.objects.filter(partner_id=OuterRef("pk"), **{f"{target}__slug": self.value()})
            return queryset.filter(Exists(tagged))

    TaxonomyFilter.title = title
    TaxonomyFilter.__name__ = f"{field_name.title().replace('_', '')}Filter"
    return TaxonomyFilter


class CertificationExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [
            ("active", "Counting today"),
            ("soon", f"Expiring in the next {settings.PARTNER_EXPIRING_SOON_DAYS} days"),
            ("expired", "Expired"),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "active":
            return queryset.filter(earned_on__lte=today, expires_on__gte=today)
        if self.value() == "soon":
            return queryset.filter(expires_on__gte=today, expires_on__lt=_expiring_soon_until())
        if self.value() == "expired":
            return queryset.filter(expires_on__lt=today)
        return queryset


class EnrollmentExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [
            ("soon", f"Approved, expiring in the next {settings.PARTNER_EXPIRING_SOON_DAYS} days"),
            ("overdue", "Approved, past its expiry date"),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        approved = queryset.filter(status=EnrollmentStatus.APPROVED)
        if self.value() == "soon":
            return approved.filter(expires_on__gte=today, expires_on__lt=_expiring_soon_until())
        if self.value() == "overdue":
            return approved.filter(expires_on__lt=today)
        return queryset
