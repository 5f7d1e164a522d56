"""Filters of the partner API's lists: natural keys and dates, plus `updated_since` on every one.

The partners list uses Find-a-Partner's own FilterSet (partners.filtersets), so the page and the API
take the same filter names with the same meaning.
"""

import django_filters

from apn_portal.api.filters import DateTimeFilter, IdFilter, UpdatedSinceFilterSet
from partners.choices import CertificationLevel, ContactRequestStatus, EnrollmentStatus, PartnerType
from partners.filtersets import LOCATION_FILTERS, PartnerFilterSet
from partners.models import (
    Certification,
    ContactRequest,
    CustomerReference,
    PartnerSearchEntry,
    Program,
    ProgramEnrollment,
    StaffMember,
    Tier,
    TierChange,
)
from partners.search import SortOrder, sort_applies
from partners.selectors import programs_open_to


def _partner_slug(field_name: str = "partner__slug"):
    return django_filters.CharFilter(field_name=field_name, label="The partner's slug.")


class TierFilterSet(UpdatedSinceFilterSet):
    class Meta:
        model = Tier
        fields = ["partner_type"]


class ProgramFilterSet(UpdatedSinceFilterSet):
    partner_type = django_filters.ChoiceFilter(
        choices=PartnerType.choices,
        method="filter_partner_type",
        label="Programs open to partners of this type: those of this type and those open to both types "
        "(a blank `partner_type`).",
    )

    class Meta:
        model = Program
        fields = ["kind", "competency_category", "partner_type", "audit_required"]

    def filter_partner_type(self, queryset, name, value):
        return programs_open_to(value, queryset)


class TierChangeFilterSet(UpdatedSinceFilterSet):
    partner = _partner_slug()
    changed_after = DateTimeFilter(field_name="changed_at", lookup_expr="gte")
    changed_before = DateTimeFilter(field_name="changed_at", lookup_expr="lt")

    class Meta:
        model = TierChange
        fields = ["partner", "source"]


class EnrollmentFilterSet(UpdatedSinceFilterSet):
    partner = _partner_slug()
    program = django_filters.CharFilter(field_name="program__slug", label="The program's slug.")
    status = django_filters.MultipleChoiceFilter(choices=EnrollmentStatus.choices)
    expires_before = django_filters.DateFilter(field_name="expires_on", lookup_expr="lte")
    expires_after = django_filters.DateFilter(field_name="expires_on", lookup_expr="gte")

    class Meta:
        model = ProgramEnrollment
        fields = ["partner", "program", "status"]


class StaffMemberFilterSet(UpdatedSinceFilterSet):
    partner = _partner_slug()
    email = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = StaffMember
        fields = ["partner", "email"]


class CertificationFilterSet(UpdatedSinceFilterSet):
    partner = _partner_slug("staff_member__partner__slug")
    level = django_filters.MultipleChoiceFilter(choices=CertificationLevel.choices)
    expires_before = django_filters.DateFilter(
        field_name="expires_on", lookup_expr="lte", label="Expires on or before this date."
    )
    expires_after = django_filters.DateFilter(
        field_name="expires_on", lookup_expr="gte", label="Expires on or after this date."
    )
    earned_after = django_filters.DateFilter(field_name="earned_on", lookup_expr="gte")
    staff_member = IdFilter(field_name="staff_member_id", label="The staff member's id.")

    class Meta:
        model = Certification
        fields = ["partner", "staff_member", "level", "credential_id"]


class CustomerReferenceFilterSet(UpdatedSinceFilterSet):
    partner = _partner_slug()
    launched_after = django_filters.DateFilter(field_name="launched_on", lookup_expr="gte")
    launched_before = django_filters.DateFilter(field_name="launched_on", lookup_expr="lte")

    class Meta:
        model = CustomerReference
        fields = ["partner", "is_validated", "is_public"]


class ContactRequestFilterSet(UpdatedSinceFilterSet):
    partner = _partner_slug()
    status = django_filters.MultipleChoiceFilter(choices=ContactRequestStatus.choices)
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ContactRequest
        fields = ["partner", "status"]


class PartnerApiFilterSet(UpdatedSinceFilterSet, PartnerFilterSet):
    """Find-a-Partner's filters and sort (`q`, `type`, `tier`, `program`, `industry`, `use_case`,
    `country`, `lat`/`lng`/`radius`, `sort`) plus `updated_since`. Unlike the page, which leaves out a
    value it cannot use and says so, the API answers 400 naming the parameter."""

    updated_since = DateTimeFilter(
        method="filter_updated_since",
        label="Only partners changed at or after this time (ISO 8601; UTC unless a zone is given).",
    )

    class Meta(PartnerFilterSet.Meta):
        pass

    def is_valid(self):
        valid = super().is_valid()
        sort = self.form.cleaned_data.get("sort")
        # The page uses its usual order instead (with a note); an integrator would not notice, so say so.
        # Only when the words and the place were read without error: else those are the mistake.
        read = sort and not any(self.form.has_error(name) for name in ("q", *LOCATION_FILTERS))
        if read and not sort_applies(sort, has_words=bool(self.words), has_near=bool(self.near)):
            needs = "search words (q)" if sort == SortOrder.RELEVANCE else "a place (lat and lng)"
            self.form.add_error("sort", f"The order “{sort}” needs {needs}.")
            valid = False
        return valid

    def filter_queryset(self, queryset, *, exclude=()):
        # With `?ordering=` the API orders by that column, so the search's sort columns are not needed.
        if self.data.get("ordering"):
            exclude = (*exclude, "sort")
        return super().filter_queryset(queryset, exclude=exclude)

    def filter_updated_since(self, queryset, name, value):
        # The FilterSet filters partners or their search entries (see partners.search).
        field = "partner__updated_at" if queryset.model is PartnerSearchEntry else "updated_at"
        return queryset.filter(**{f"{field}__gte": value})
