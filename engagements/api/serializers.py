"""The API's representation of customers, accounts, engagements and access grants. Serializers check the
shape of the input and resolve references among what the requesting user may see; what a write means is
decided by the services the views call."""

import datetime

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apn_portal.accounts.models import User
from apn_portal.api.serializers import (
    NO_OFFSET,
    KnownFieldsOnlyMixin,
    MultilineCharField,
    OffsetDateTimeField,
    WholeNumberIdField,
    read_only_slug,
    read_only_username,
)
from apn_portal.dates import validate_plausible_date
from apn_portal.forms import REASON_MAX_LENGTH
from engagements import selectors
from engagements.choices import (
    AccessGrantState,
    AccessScope,
    EngagementStage,
    EngagementStatus,
    ProcurementModel,
)
from engagements.models import (
    STAGE_NOTE_MAX_LENGTH,
    AccessGrant,
    AwsAccount,
    Customer,
    Engagement,
    EngagementPartner,
    EngagementStageEvent,
)
from partners.selectors_visibility import partners_visible_to

TIMESTAMPS = ("created_at", "updated_at")


class _VisibleRelatedMixin:
    """A reference resolved among the records the requesting user may see: naming another organisation's
    record reads as 'does not exist', never as 'exists but forbidden'."""

    def __init__(self, visible, **kwargs):
        self.visible = visible
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.visible(self.context["request"].user)


@extend_schema_field(OpenApiTypes.STR)
class VisibleSlugField(_VisibleRelatedMixin, serializers.SlugRelatedField):
    pass


class VisiblePrimaryKeyField(_VisibleRelatedMixin, WholeNumberIdField):
    pass


def customer_field(**kwargs):
    return VisibleSlugField(selectors.customers_visible_to, slug_field="slug", **kwargs)


def partner_field(**kwargs):
    return VisibleSlugField(partners_visible_to, slug_field="slug", **kwargs)


def account_field(**kwargs):
    return VisibleSlugField(selectors.accounts_visible_to, slug_field="account_id", **kwargs)


def _staff_member():
    # Any of the provider's staff, those who have left too: the service (customer_people_problems) says why
    # one cannot be named (not in the role, deactivated), a 400 on the field, rather than "does not exist".
    return serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_staff=True), required=False, allow_null=True
    )


class CustomerSerializer(KnownFieldsOnlyMixin, serializers.ModelSerializer):
    account_manager = _staff_member()
    solutions_architect = _staff_member()
    tam = _staff_member()
    slug = serializers.SlugField(required=False, max_length=200)

    class Meta:
        model = Customer
        fields = [
            "id",
            "slug",
            "name",
            "agreement",
            "time_zone",
            "account_manager",
            "solutions_architect",
            "tam",
            *TIMESTAMPS,
        ]
        read_only_fields = ["id", *TIMESTAMPS]
        # The service checks the slug is free and the time zone real, with its own messages.
        extra_kwargs = {"slug": {"validators": []}, "time_zone": {"validators": []}}


class AwsAccountSerializer(KnownFieldsOnlyMixin, serializers.ModelSerializer):
    customer = customer_field()
    account_id = serializers.CharField(
        max_length=20, help_text="12 digits as text, leading zeros included (0123-4567-8901 is accepted)."
    )
    management_account = account_field(
        required=False,
        allow_null=True,
        help_text="The organisation's management account; null for a partner that may not act in it.",
    )
    reseller = partner_field(required=False, allow_null=True)

    class Meta:
        model = AwsAccount
        fields = [
            "id",
            "account_id",
            "name",
            "customer",
            "management_account",
            "consolidated_billing",
            "paid_by",
            "reseller",
            *TIMESTAMPS,
        ]
        read_only_fields = ["id", "paid_by", *TIMESTAMPS]

    def to_representation(self, account):
        data = super().to_representation(account)
        # Annotated by selectors.accounts_with_management_visibility: need to know, for partners.
        if not getattr(account, "management_account_visible", True):
            data["management_account"] = None
        return data


class StageEventSerializer(serializers.ModelSerializer):
    """One step of the journey and the day it was reached."""

    class Meta:
        model = EngagementStageEvent
        fields = ["stage", "reached_on", "note"]
        read_only_fields = fields


# How a contract ended early, read alike wherever a contract is shown (its own resource and its
# engagement's `partners`), so that neither reads a contract that never ran as a day's work. Its queryset
# annotates `ended_reason_shown` (selectors.with_ended_reason_shown_to). A comment, not a docstring: the
# schema would show a docstring as the description of both resources.
class _ContractEndingSerializer(serializers.Serializer):
    ended_reason = serializers.CharField(
        source="ended_reason_shown",
        read_only=True,
        help_text="Why the contract ended early (the partner replaced, its contract ended by the customer, "
        "or the engagement cancelled while it ran), its `contract_end` then the day it ended. Blank for the "
        "other partners on the engagement.",
    )
    ended_before_start = serializers.BooleanField(
        read_only=True,
        help_text="True when it ended (replaced, ended by the customer, or the engagement cancelled) before "
        "its first day: it never ran, though its `contract_end` is then its `contract_start`, the earliest a "
        "contract can end.",
    )
    ended_by_cancellation = serializers.BooleanField(
        read_only=True,
        help_text="True when its engagement's cancellation ended it (in force until then, its `ended_reason` "
        "the cancellation's). False otherwise: one the customer ended early or replaced, before the "
        "engagement was cancelled, has an `ended_reason` too.",
    )


class EngagedPartnerBriefSerializer(_ContractEndingSerializer, serializers.ModelSerializer):
    partner = read_only_slug()

    class Meta:
        model = EngagementPartner
        fields = [
            "id",
            "partner",
            "role",
            "contract_start",
            "contract_end",
            "ended_reason",
            "ended_before_start",
            "ended_by_cancellation",
        ]
        read_only_fields = fields


class EngagementSerializer(KnownFieldsOnlyMixin, serializers.ModelSerializer):
    customer = customer_field()
    stage = serializers.ChoiceField(
        choices=EngagementStage.choices,
        required=False,
        help_text="Where the journey starts (on create); started past its first step, the engagement is "
        "active.",
    )
    stage_events = StageEventSerializer(many=True, read_only=True)
    partners = EngagedPartnerBriefSerializer(many=True, read_only=True, source="current_partners")

    class Meta:
        model = Engagement
        fields = [
            "id",
            "customer",
            "title",
            "workload",
            "description",
            "procurement_model",
            "status",
            "stage",
            "stage_events",
            "partners",
            "completed_on",
            *TIMESTAMPS,
        ]
        read_only_fields = ["id", "status", "completed_on", *TIMESTAMPS]


class LeadEngagementSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    """What a partner says when its contact request becomes an engagement; the rest comes from the lead."""

    workload = serializers.CharField(
        max_length=200, help_text="What moves or is built, e.g. 'WordPress site'."
    )
    title = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Default: the lead's company and the workload.",
    )
    description = MultilineCharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Read by everyone on the engagement: the customer and every partner on it, now or added "
        "later. Default: empty; the lead's message (the customer's to you only) is not copied.",
    )
    procurement_model = serializers.ChoiceField(
        choices=ProcurementModel.choices, default=ProcurementModel.DIRECT
    )
    contract_start = serializers.DateField(
        validators=[validate_plausible_date], help_text="The first day of your contract."
    )
    contract_end = serializers.DateField(
        validators=[validate_plausible_date],
        help_text="Your contract's last day (inclusive); access granted ends with it.",
    )


class StageAdvanceSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=EngagementStage.choices,
        required=False,
        help_text="Optional: the step you expect comes next; refused if it is not the next one.",
    )
    reached_on = serializers.DateField(
        required=False, help_text="Default: today, in the customer's time zone."
    )
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=STAGE_NOTE_MAX_LENGTH, default=""
    )


class CompleteSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    completed_on = serializers.DateField(required=False)
    summary = MultilineCharField(required=False, allow_blank=True, max_length=REASON_MAX_LENGTH, default="")


class StatusChangeSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[
            (s.value, s.label)
            for s in (EngagementStatus.ACTIVE, EngagementStatus.ON_HOLD, EngagementStatus.CANCELLED)
        ]
    )
    reason = MultilineCharField(required=False, allow_blank=True, max_length=REASON_MAX_LENGTH, default="")


class EngagementPartnerSerializer(
    KnownFieldsOnlyMixin, _ContractEndingSerializer, serializers.ModelSerializer
):
    engagement = VisiblePrimaryKeyField(selectors.engagements_visible_to)
    partner = partner_field()
    replaced_by = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = EngagementPartner
        fields = [
            "id",
            "engagement",
            "partner",
            "role",
            "contract_start",
            "contract_end",
            "territory",
            "business_function",
            "replaced_by",
            "ended_reason",
            "ended_before_start",
            "ended_by_cancellation",
            *TIMESTAMPS,
        ]
        read_only_fields = [
            "id",
            "replaced_by",
            "ended_reason",
            "ended_before_start",
            "ended_by_cancellation",
            *TIMESTAMPS,
        ]
        validators = []  # the service answers a duplicate with 409 and says which role is taken


class ReplaceSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    new_partner = partner_field()
    reason = MultilineCharField(max_length=REASON_MAX_LENGTH)
    contract_end = serializers.DateField(validators=[validate_plausible_date])
    contract_start = serializers.DateField(
        required=False, help_text="Default: today.", validators=[validate_plausible_date]
    )


class EndOrLastDayField(OffsetDateTimeField):
    """A grant's end: a moment, or a date alone, read as the last day of access (a `datetime.date`) that the
    service ends at midnight in the customer's time zone, as the access page does. Without this, a date
    alone would pass DRF's ISO parsing as 00:00 UTC of that day, cutting the partner off a day or more
    early; a moment without its offset is refused (OffsetDateTimeField), not read as UTC, hours off the
    customer's clock."""

    default_error_messages = {
        "invalid": "Give a date and time with its offset (2026-12-31T23:59:59+01:00), or a date alone "
        "(2026-12-31) for the last day of access.",
        "no_offset": f"{NO_OFFSET[:-1]}, or a date alone (2026-12-31) for the last day of access.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                return datetime.date.fromisoformat(value)  # a date and nothing else
            except ValueError:
                pass
        return super().to_internal_value(value)


class EndOrLastDayFieldExtension(OpenApiSerializerFieldExtension):
    """The request takes a date-time or a date; a response always answers with the date-time."""

    target_class = EndOrLastDayField

    def map_serializer_field(self, auto_schema, direction):
        moment = {"type": "string", "format": "date-time"}
        if direction == "response":
            return moment
        return {"anyOf": [moment, {"type": "string", "format": "date"}]}


class AccessGrantSerializer(KnownFieldsOnlyMixin, serializers.ModelSerializer):
    account = account_field()
    engagement_partner = VisiblePrimaryKeyField(selectors.engagement_partners_visible_to)
    partner = serializers.SlugRelatedField(
        source="engagement_partner.partner", slug_field="slug", read_only=True
    )
    customer = read_only_slug(source="account.customer")
    role_name = serializers.CharField(
        required=False, max_length=64, help_text="Default: the ARN's last part."
    )
    scope = serializers.ChoiceField(choices=AccessScope.choices)
    mfa_required = serializers.BooleanField(required=False, default=True)
    expires_at = EndOrLastDayField(
        required=False,
        help_text="When the grant ends (for a revoked one, when it was to: `revoked_at` says when it did): "
        "a date and time with its offset (`2026-12-31T23:59:59+01:00`), the "
        "exact moment; or a date alone (`2026-12-31`), the last day of access, which ends at midnight in "
        "the customer's time zone, as on the access page (then recorded as `last_day`, and moved with the "
        "customer's time zone). Default and latest: the end of the partner's contract's last day.",
        validators=[validate_plausible_date],
    )
    granted_by = read_only_username()
    revoked_by = read_only_username(allow_null=True)
    is_live = serializers.SerializerMethodField()
    state = serializers.ChoiceField(
        choices=AccessGrantState.choices,
        read_only=True,
        help_text="live; expired: ran out (its end or its contract's last day passed), for good, nobody "
        "revoked it; revoked: cut short by `revoked_by`, for `revocation_reason`.",
    )

    class Meta:
        model = AccessGrant
        fields = [
            "id",
            "account",
            "customer",
            "engagement_partner",
            "partner",
            "role_name",
            "role_arn",
            "scope",
            "mfa_required",
            "granted_by",
            "granted_at",
            "expires_at",
            "last_day",
            "revoked_at",
            "revoked_by",
            "revocation_reason",
            "is_live",
            "state",
            *TIMESTAMPS,
        ]
        read_only_fields = ["id", "granted_at", "last_day", "revoked_at", "revocation_reason", *TIMESTAMPS]
        # The service checks the ARN against the account, and duplicates, with messages naming both.
        extra_kwargs = {"role_arn": {"validators": []}}
        validators = []

    def validate(self, attrs):
        end = attrs.get("expires_at")
        if isinstance(end, datetime.date) and not isinstance(end, datetime.datetime):
            attrs["last_day"] = attrs.pop("expires_at")  # the service's last day of access, as the page's
        return attrs

    def get_is_live(self, grant) -> bool:
        return grant.is_live()


class RevokeReasonSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    reason = MultilineCharField(max_length=REASON_MAX_LENGTH)
