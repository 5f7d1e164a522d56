"""Filters of the support API lists: natural keys, states and `updated_since` on every one."""

import django_filters

from apn_portal.api.filters import UpdatedSinceFilterSet
from support.choices import CaseStatus, CaseType, Severity, TamCoverage
from support.models import CaseReply, SupportCase, SupportPlan, SupportSubscription


class SupportPlanFilterSet(UpdatedSinceFilterSet):
    tam_coverage = django_filters.ChoiceFilter(choices=TamCoverage.choices)
    offered_on = django_filters.DateFilter(
        method="filter_offered_on", label="Only plans that can be subscribed to on this day (YYYY-MM-DD)."
    )

    class Meta:
        model = SupportPlan
        fields = ["tam_coverage"]

    def filter_offered_on(self, queryset, name, value):
        from support.selectors import plans_offered

        return queryset.filter(pk__in=plans_offered(value).values("pk"))


class SupportSubscriptionFilterSet(UpdatedSinceFilterSet):
    customer = django_filters.CharFilter(field_name="customer__slug", label="The customer's slug.")
    account = django_filters.CharFilter(field_name="account__account_id", label="The 12-digit account id.")
    plan = django_filters.CharFilter(field_name="plan__slug", label="The plan's slug.")
    current = django_filters.BooleanFilter(
        field_name="ended_at", lookup_expr="isnull", label="Only subscriptions that have not ended."
    )

    class Meta:
        model = SupportSubscription
        fields = ["customer", "account", "plan", "current"]


class SupportCaseFilterSet(UpdatedSinceFilterSet):
    customer = django_filters.CharFilter(field_name="customer__slug", label="The customer's slug.")
    account = django_filters.CharFilter(field_name="account__account_id", label="The 12-digit account id.")
    status = django_filters.MultipleChoiceFilter(choices=CaseStatus.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    case_type = django_filters.ChoiceFilter(choices=CaseType.choices)
    breached = django_filters.BooleanFilter(
        field_name="breached_at", lookup_expr="isnull", exclude=True, label="Only cases that breached (true)."
    )

    class Meta:
        model = SupportCase
        fields = ["customer", "account", "status", "severity", "case_type", "breached"]


class CaseReplyFilterSet(UpdatedSinceFilterSet):
    """A case's replies (`/support-cases/{id}/replies/`): the case is the natural key, in the URL."""

    class Meta:
        model = CaseReply
        fields = []
