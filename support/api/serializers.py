"""The API's representation of support plans, subscriptions, cases and replies. Serializers check the
shape of the input and resolve references among what the requesting user may see; what a write means is
decided by the services the views call."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apn_portal.accounts.models import User
from apn_portal.api.serializers import KnownFieldsOnlyMixin, read_only_slug, read_only_username
from engagements.api.serializers import VisibleSlugField, customer_field, partner_field
from engagements.selectors import accounts_visible_to
from support import selectors
from support.choices import CaseStatus, CaseType, Severity
from support.models import CaseReply, PlanResponseTarget, SupportCase, SupportPlan, SupportSubscription

TIMESTAMPS = ("created_at", "updated_at")


class ResponseTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanResponseTarget
        fields = ["severity", "minutes"]


class SupportPlanSerializer(serializers.ModelSerializer):
    response_targets = ResponseTargetSerializer(many=True, read_only=True)
    successor = read_only_slug(allow_null=True)
    channels = serializers.ListField(child=serializers.CharField(), read_only=True)
    technical_support = serializers.SerializerMethodField()

    class Meta:
        model = SupportPlan
        fields = [
            "id",
            "slug",
            "name",
            "rank",
            "summary",
            "customer_service_24x7",
            "trusted_advisor",
            "health_dashboard",
            "health_api",
            "support_forums",
            "documentation",
            "technical_support_hours",
            "technical_support_staff",
            "channels",
            "technical_support",
            "tam_coverage",
            "response_targets",
            "available_from",
            "retires_on",
            "successor",
            *TIMESTAMPS,
        ]
        read_only_fields = fields

    def get_technical_support(self, plan) -> str:
        return selectors.technical_support_text(plan)


class PlanMoveSerializer(serializers.Serializer):
    successor = serializers.CharField(source="successor.slug", read_only=True, allow_null=True)
    on = serializers.DateField(read_only=True)


class UnresolvedUsernameField(serializers.SlugRelatedField):
    """A provider staff member named by username, passed on as the name: the service looks it up only
    after checking who asks, since an answer here would tell any signed-in user which usernames exist.
    (The queryset only describes the field: the schema reads it, nothing is looked up in it.)"""

    def __init__(self, **kwargs):
        super().__init__(slug_field="username", queryset=User.objects.filter(is_staff=True), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return data


class SupportSubscriptionSerializer(KnownFieldsOnlyMixin, serializers.ModelSerializer):
    customer = customer_field()
    account = VisibleSlugField(
        accounts_visible_to,
        slug_field="account_id",
        required=False,
        allow_null=True,
        help_text="The 12-digit account it covers; leave out for the whole customer.",
    )
    plan = serializers.SlugRelatedField(slug_field="slug", queryset=SupportPlan.objects.all())
    tam = UnresolvedUsernameField(
        required=False,
        allow_null=True,
        help_text="The designated TAM (username), for a plan that comes with one.",
    )
    support_partner = partner_field(required=False, allow_null=True)
    moves_to = serializers.SerializerMethodField()
    changed_by = read_only_username(allow_null=True)

    class Meta:
        model = SupportSubscription
        fields = [
            "id",
            "customer",
            "account",
            "plan",
            "tam_coverage",
            "tam",
            "support_partner",
            "change",
            "replaces",
            "started_at",
            "ended_at",
            "moves_to",
            "changed_by",
            "note",
            *TIMESTAMPS,
        ]
        read_only_fields = ["id", "tam_coverage", "change", "replaces", "started_at", "ended_at", *TIMESTAMPS]
        # One current subscription per customer or account: the service ends the current one first, so the
        # unique-constraint validators DRF would derive (and their "required" fields) do not apply.
        validators = []

    @extend_schema_field(PlanMoveSerializer(allow_null=True))
    def get_moves_to(self, subscription):
        """Where a current subscription goes when its plan retires, and when."""
        move = selectors.plan_move(subscription.plan) if subscription.ended_at is None else None
        return PlanMoveSerializer(move).data if move else None


class CaseReplySerializer(KnownFieldsOnlyMixin, serializers.ModelSerializer):
    author = read_only_username(allow_null=True, help_text="null for a line the portal wrote itself.")
    author_name = serializers.CharField(
        read_only=True, help_text='Who wrote it, as the case page shows it: "APN Portal" for the portal.'
    )

    class Meta:
        model = CaseReply
        fields = ["id", "author", "author_name", "side", "body", "created_at"]
        read_only_fields = ["id", "author", "author_name", "side", "created_at"]


class SupportCaseSerializer(KnownFieldsOnlyMixin, serializers.ModelSerializer):
    customer = read_only_slug()
    account = VisibleSlugField(
        selectors.accounts_named_in_new_cases,
        slug_field="account_id",
        help_text="The 12-digit account the case is about: one you may open cases on (a partner's "
        "read-only access grant opens none, a billing one account and billing cases only).",
    )
    plan = read_only_slug()
    case_type = serializers.ChoiceField(choices=CaseType.choices, default=CaseType.TECHNICAL)
    severity = serializers.ChoiceField(choices=Severity.choices)
    opened_by = read_only_username()
    opened_by_partner = read_only_slug(allow_null=True)
    handling_partner = read_only_slug(allow_null=True)
    first_responder = read_only_username(allow_null=True)

    class Meta:
        model = SupportCase
        fields = [
            "id",
            "customer",
            "account",
            "plan",
            "case_type",
            "severity",
            "subject",
            "description",
            "status",
            "opened_by",
            "opened_by_partner",
            "handling_partner",
            "escalated_at",
            "opened_at",
            "response_target_minutes",
            "business_hours_only",
            "first_response_due_at",
            "first_responded_at",
            "first_responder",
            "breached_at",
            "resolved_at",
            *TIMESTAMPS,
        ]
        read_only_fields = [
            name
            for name in fields
            if name not in ("account", "case_type", "severity", "subject", "description")
        ]


class CaseStatusSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=CaseStatus.choices)


class SubscriptionEndSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
