"""Filters of the engagements API lists: natural keys, states and `updated_since` on every one."""

import django_filters

from apn_portal.api.filters import DateTimeFilter, IdFilter, UpdatedSinceFilterSet, WordsFilter
from engagements.choices import (
    AccessGrantState,
    AccessScope,
    AgreementType,
    EngagementStage,
    EngagementStatus,
    PartnerRole,
    ProcurementModel,
)
from engagements.models import AccessGrant, AwsAccount, Customer, Engagement, EngagementPartner
from engagements.selectors import access_grants_in_state, accounts_visible_to


class CustomerFilterSet(UpdatedSinceFilterSet):
    agreement = django_filters.ChoiceFilter(choices=AgreementType.choices)
    q = WordsFilter(field_name="name", label="Words in the name: each one in it, in any order and any case.")

    class Meta:
        model = Customer
        fields = ["agreement"]


class AwsAccountFilterSet(UpdatedSinceFilterSet):
    customer = django_filters.CharFilter(field_name="customer__slug", label="The customer's slug.")
    account_id = django_filters.CharFilter(label="The 12-digit account id.")
    management_account = django_filters.CharFilter(
        method="filter_management_account", label="Members of this management account (its id)."
    )

    class Meta:
        model = AwsAccount
        fields = ["customer", "account_id", "management_account", "consolidated_billing", "paid_by"]

    def filter_management_account(self, queryset, name, value):
        # Only a management account the user may see: a partner cannot confirm a guessed id by filtering.
        visible = accounts_visible_to(self.request.user).filter(account_id=value)
        return queryset.filter(management_account__in=visible.values("pk"))


class EngagementFilterSet(UpdatedSinceFilterSet):
    customer = django_filters.CharFilter(field_name="customer__slug", label="The customer's slug.")
    status = django_filters.MultipleChoiceFilter(choices=EngagementStatus.choices)
    stage = django_filters.MultipleChoiceFilter(choices=EngagementStage.choices)
    procurement_model = django_filters.ChoiceFilter(choices=ProcurementModel.choices)

    class Meta:
        model = Engagement
        fields = ["customer", "status", "stage", "procurement_model"]


class EngagementPartnerFilterSet(UpdatedSinceFilterSet):
    engagement = IdFilter(field_name="engagement_id")
    partner = django_filters.CharFilter(field_name="partner__slug", label="The partner's slug.")
    role = django_filters.ChoiceFilter(choices=PartnerRole.choices)
    current = django_filters.BooleanFilter(
        field_name="replaced_by",
        lookup_expr="isnull",
        label="Only contracts not taken over by another partner.",
    )

    class Meta:
        model = EngagementPartner
        fields = ["engagement", "partner", "role", "current"]


class AccessGrantFilterSet(UpdatedSinceFilterSet):
    account = django_filters.CharFilter(field_name="account__account_id", label="The 12-digit account id.")
    customer = django_filters.CharFilter(field_name="account__customer__slug", label="The customer's slug.")
    partner = django_filters.CharFilter(
        field_name="engagement_partner__partner__slug", label="The partner's slug."
    )
    engagement = IdFilter(field_name="engagement_partner__engagement_id")
    scope = django_filters.ChoiceFilter(choices=AccessScope.choices)
    state = django_filters.ChoiceFilter(
        choices=AccessGrantState.choices,
        method="filter_state",
        label="live; expired (ran out: its end or its contract's last day passed, before the hourly check "
        "records it and after); revoked (cut short by a person, who and why recorded).",
    )
    expires_before = DateTimeFilter(
        field_name="expires_at", lookup_expr="lte", label="Only grants ending at or before this time."
    )
    expires_after = DateTimeFilter(
        field_name="expires_at", lookup_expr="gte", label="Only grants ending at or after this time."
    )

    class Meta:
        model = AccessGrant
        fields = ["account", "customer", "partner", "engagement", "scope", "mfa_required", "state"]

    def filter_state(self, queryset, name, value):
        return access_grants_in_state(queryset, value)
