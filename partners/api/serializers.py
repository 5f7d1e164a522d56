"""The API's representation of the partner domain. Serializers check the shape of the input; what a
write means (who may, what else changes) is decided by the services the views call."""

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apn_portal.api.serializers import (
    FastRowsMixin,
    KnownFieldsOnlyMixin,
    MultilineCharField,
    ReadOnlyFieldsKeptMixin,
    WholeNumberIdField,
    read_only_slug,
    read_only_username,
    sent_as_read,
)
from apn_portal.dates import validate_plausible_date
from apn_portal.exceptions import DomainError
from apn_portal.forms import REASON_MAX_LENGTH
from partners.choices import AuditResult, CompetencyCategory, PartnerType
from partners.models import (
    Certification,
    ConsultingCategory,
    ContactRequest,
    CustomerReference,
    Industry,
    Office,
    Partner,
    Program,
    ProgramEnrollment,
    StaffMember,
    Tier,
    TierChange,
    TierRequirement,
    UseCase,
)
from partners.selectors import TierEvaluation, TierOutlook, enrollments_revocation_due
from partners.selectors_visibility import partners_visible_to, private_to_partner, sees_private_records_of
from partners.services import contact_request_country

TIMESTAMPS = ("created_at", "updated_at")


def optional_choice(choices, **kwargs) -> serializers.ChoiceField:
    """A read-only choice that may be empty (""): declared, since DRF drops `allow_blank` from read-only
    model fields and the schema would then forbid the empty value the API sends."""
    return serializers.ChoiceField(choices=choices, allow_blank=True, read_only=True, **kwargs)


class VisiblePartnerField(serializers.SlugRelatedField):
    """A partner named by its slug, among those the requesting user can see."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "slug")
        super().__init__(**kwargs)

    def get_queryset(self):
        return partners_visible_to(self.context["request"].user)


# A record's owner (`owner_field`) is chosen when it is created. An update may send it again as it is (a
# client writing back what it read), but changing it is refused naming the field, as changing a partner's
# type is: silently keeping the old owner would let the client believe the record moved. (A comment: a
# docstring would be published as the description of the resources using it.)
class OwnerFixedAfterCreationMixin(ReadOnlyFieldsKeptMixin):
    owner_field: str
    owner_refusal: str  # what to do instead, after "... cannot change after creation; "

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            # Not looked up on an update: compared as sent with what a read shows (ReadOnlyFieldsKeptMixin).
            fields[self.owner_field].read_only = True
        return fields

    def read_only_message(self, name: str) -> str:
        if name == self.owner_field:
            what = self.Meta.model._meta.get_field(name).verbose_name
            return f"The {what} cannot change after creation; {self.owner_refusal}"
        return super().read_only_message(name)


class TierBriefSerializer(FastRowsMixin, serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "slug", "name", "rank"]
        read_only_fields = fields


class TierRequirementSerializer(serializers.ModelSerializer):
    description = serializers.CharField(source="get_metric_display", read_only=True)

    class Meta:
        model = TierRequirement
        fields = ["metric", "description", "minimum"]
        read_only_fields = fields


class TierSerializer(serializers.ModelSerializer):
    requirements = TierRequirementSerializer(many=True, read_only=True)

    class Meta:
        model = Tier
        fields = [
            "id",
            "partner_type",
            "slug",
            "name",
            "rank",
            "description",
            "grace_period_days",
            "requirements",
            *TIMESTAMPS,
        ]
        read_only_fields = fields


class PrefetchedListSerializer(serializers.ListSerializer):
    """A nested list that reads what a view loaded into `<name>_prefetched` (model instances, or rows
    already in their API shape as dicts), else the relation itself."""

    def get_attribute(self, instance):
        prefetched = getattr(instance, f"{self.source}_prefetched", None)
        return prefetched if prefetched is not None else super().get_attribute(instance)

    def to_representation(self, data):
        if isinstance(data, list):
            return [item if isinstance(item, dict) else self.child.to_representation(item) for item in data]
        return super().to_representation(data)


class OfficeSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code", read_only=True)

    class Meta:
        model = Office
        fields = ["country", "city", "latitude", "longitude", "is_headquarters"]
        read_only_fields = fields
        list_serializer_class = PrefetchedListSerializer


class PrefetchedSlugsField(serializers.ManyRelatedField):
    """The slugs of a partner's tags. Reads the list a view loaded into `<name>_prefetched` (the slugs
    themselves, or tag instances), else the relation itself."""

    def get_attribute(self, instance):
        prefetched = getattr(instance, f"{self.source}_prefetched", None)
        return prefetched if prefetched is not None else super().get_attribute(instance)

    def to_representation(self, iterable):
        return [
            item if isinstance(item, str) else self.child_relation.to_representation(item)
            for item in iterable
        ]

    def to_internal_value(self, data):
        # DRF reads any iterable but a string: an object's keys would become the slugs ({} none at all).
        if isinstance(data, Mapping):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


def _tag_slugs(model) -> PrefetchedSlugsField:
    return PrefetchedSlugsField(
        child_relation=serializers.SlugRelatedField(slug_field="slug", queryset=model.objects.all()),
        required=False,
    )


class PartnerSerializer(ReadOnlyFieldsKeptMixin, FastRowsMixin, serializers.ModelSerializer):
    tier = TierBriefSerializer(read_only=True)
    categories = _tag_slugs(ConsultingCategory)
    industries = _tag_slugs(Industry)
    use_cases = _tag_slugs(UseCase)
    offices = OfficeSerializer(many=True, read_only=True)
    logo = serializers.ImageField(read_only=True, use_url=True)

    class Meta:
        model = Partner
        fields = [
            "id",
            "slug",
            "name",
            "partner_type",
            "tier",
            "categories",
            "description",
            "website",
            "logo",
            "industries",
            "use_cases",
            "offices",
            "is_published",
            *TIMESTAMPS,
        ]
        read_only_fields = ["id", "tier", "offices", "logo", *TIMESTAMPS]
        # Uniqueness is checked by the service (with the model's own message), not twice here.
        extra_kwargs = {"slug": {"validators": []}}

    read_only_messages = {
        "offices": "A partner's offices are kept on its admin page, not by an update.",
        "logo": "A partner's logo is uploaded on its profile page or its admin page, not by an update.",
    }

    def read_only_message(self, name: str) -> str:
        if name == "tier":
            return (
                "A partner's tier is not changed by an edit: change it with a tier change (POST "
                f"/api/v1/partners/{self.instance.slug}/tier-change/, with the reason), or recompute it "
                f"from its evidence (POST /api/v1/partners/{self.instance.slug}/recompute-tier/)."
            )
        return super().read_only_message(name)


class ShortfallSerializer(serializers.Serializer):
    metric = serializers.CharField()
    required = serializers.IntegerField()
    actual = serializers.IntegerField()
    missing = serializers.IntegerField()
    message = serializers.CharField()


class TierEvaluationSerializer(serializers.Serializer):
    current_tier = TierBriefSerializer(source="evaluation.current_tier")
    qualified_tier = TierBriefSerializer(source="evaluation.qualified_tier")
    next_tier = TierBriefSerializer(source="evaluation.next_tier", allow_null=True)
    meets_current_tier = serializers.BooleanField(source="evaluation.meets_current_tier")
    qualifies_for_more = serializers.BooleanField(source="evaluation.qualifies_for_more")
    metrics = serializers.DictField(source="evaluation.metrics", child=serializers.IntegerField())
    current_tier_shortfalls = ShortfallSerializer(source="evaluation.current_tier_shortfalls", many=True)
    next_tier_shortfalls = ShortfallSerializer(source="evaluation.next_tier_shortfalls", many=True)
    grace_started_on = serializers.DateField(
        source="outlook.grace_started_on",
        allow_null=True,
        help_text="The day the scheduled check found the partner short of its tier and started its grace "
        "period; null when it is not in one.",
    )
    grace_ends_on = serializers.DateField(
        source="outlook.grace_ends_on",
        allow_null=True,
        help_text="The day the grace period ends, as the scorecard and the grace email give it: the "
        "scheduled check demotes the partner that day if it is still short of its tier. Null when it is not "
        "in a grace period.",
    )
    at_risk_from = serializers.DateField(
        source="outlook.at_risk_from",
        allow_null=True,
        help_text="While the partner meets its tier: the first day it falls short of it unless something "
        "expiring is renewed, as its scorecard says. Null when nothing that holds its tier up can lapse, "
        "or when it is short of its tier already.",
    )


@dataclass(frozen=True)
class EvaluationRead:
    """What a partner's evaluation answers: its TierEvaluation, and what its scorecard warns of."""

    evaluation: TierEvaluation
    outlook: TierOutlook


class TierChangeSerializer(serializers.ModelSerializer):
    partner = read_only_slug()
    from_tier = TierBriefSerializer(read_only=True, allow_null=True)
    to_tier = TierBriefSerializer(read_only=True)
    changed_by = read_only_username(
        allow_null=True,
        help_text="Who made the change (username): null for the scheduled check's, or once that user is "
        "deleted.",
    )

    class Meta:
        model = TierChange
        fields = [
            "id",
            "partner",
            "from_tier",
            "to_tier",
            "reason",
            "source",
            "changed_by",
            "changed_at",
            *TIMESTAMPS,
        ]
        read_only_fields = fields


class TierChangeRequestSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    to_tier = WholeNumberIdField(queryset=Tier.objects.all(), help_text="The tier's id.")
    reason = MultilineCharField(max_length=REASON_MAX_LENGTH)


class PartnerTypeChangeRequestSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    partner_type = serializers.ChoiceField(
        choices=PartnerType.choices, help_text="The partner's correct type; its tier moves to that ladder."
    )
    reason = MultilineCharField(max_length=REASON_MAX_LENGTH)


class TierRecomputeResultSerializer(serializers.Serializer):
    changed = serializers.BooleanField()
    tier_change = TierChangeSerializer(allow_null=True)


class ProgramSerializer(serializers.ModelSerializer):
    minimum_tier = TierBriefSerializer(read_only=True, allow_null=True)
    competency_category = optional_choice(CompetencyCategory.choices, help_text="Competencies only.")
    partner_type = optional_choice(PartnerType.choices, help_text="Empty: open to both types.")

    class Meta:
        model = Program
        fields = [
            "id",
            "slug",
            "name",
            "kind",
            "competency_category",
            "partner_type",
            "description",
            "audit_required",
            "minimum_tier",
            "validity_months",
            "qualifies_for_tier",
            *TIMESTAMPS,
        ]
        read_only_fields = fields


class EnrollmentListSerializer(serializers.ListSerializer):
    """A page of enrollments reads the day each is to be revoked in one query for the whole page."""

    def to_representation(self, data):
        enrollments = list(data.all() if hasattr(data, "all") else data)
        seen = [e for e in enrollments if self.child.sees_revocation_of(e)]
        self.child.revocation_due = enrollments_revocation_due(seen, timezone.localdate())
        try:
            return super().to_representation(enrollments)
        finally:
            self.child.revocation_due = None


class EnrollmentSerializer(KnownFieldsOnlyMixin, serializers.ModelSerializer):
    """Creating one is applying (its day and audit, if given, are the PDM's to record); a PATCH corrects
    its application date or records its audit (`enrollment_update`); its status, approval and expiry
    change only through its actions. A field sent that the write would not take is refused naming it,
    never dropped: a client must not believe it set a status, an expiry or a passed audit it did not."""

    partner = VisiblePartnerField()
    program = serializers.SlugRelatedField(slug_field="slug", queryset=Program.objects.all())
    audit_result = serializers.ChoiceField(
        choices=AuditResult.choices,
        allow_blank=True,
        required=False,
        help_text="Empty until an audit has a result; a result needs the audit's date.",
    )
    revocation_due_on = serializers.SerializerMethodField(
        help_text="The day the scheduled check revokes this approved enrollment because its partner is "
        "below the program's minimum tier, unless it holds that tier again by then (the day the partner's "
        "warning email names); null when its tier is not below the minimum, or when the enrollment expires "
        "before that day (it then expires on its expires_on: below the minimum tier it cannot be renewed). "
        "Given to the partner's own staff and the provider's staff; null for anybody else."
    )
    # {enrollment id: its countdown}, while a list of them is read (EnrollmentListSerializer).
    revocation_due = None

    # Why a field is not written, said to the client who sent it.
    NOT_WRITTEN = {
        "status": "The status changes through the enrollment's actions: start-review, schedule-audit, "
        "approve, renew and revoke.",
        "approved_on": "Set by approving or renewing the enrollment.",
        "expires_on": "Set by approving or renewing the enrollment, by the program's validity.",
        "status_reason": "Set when the enrollment is revoked (its reason) or expires.",
        "partner": "The partner cannot change after creation; apply for the other partner instead.",
        "program": "The program cannot change after creation; apply to the other program instead.",
        "revocation_due_on": "Follows the partner's tier and the program's minimum tier.",
    }

    class Meta:
        model = ProgramEnrollment
        fields = [
            "id",
            "partner",
            "program",
            "status",
            "applied_on",
            "audit_date",
            "audit_result",
            "approved_on",
            "expires_on",
            "status_reason",
            "revocation_due_on",
            *TIMESTAMPS,
        ]
        read_only_fields = ["id", "status", "approved_on", "expires_on", "status_reason", *TIMESTAMPS]
        list_serializer_class = EnrollmentListSerializer
        extra_kwargs = {
            "applied_on": {"validators": [validate_plausible_date]},
            "audit_date": {"validators": [validate_plausible_date]},
            "expires_on": {
                "help_text": "The last day of the approved term. A revoked or expired enrollment keeps the "
                "one of the term it ended: it is in force only while its status is approved."
            },
        }
        # A second live enrollment is the service's conflict (409), not a shape error.
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            # Not looked up on an update: compared as sent with what a read shows (to_internal_value).
            fields["partner"].read_only = fields["program"].read_only = True
        return fields

    def _refused(self, data) -> dict[str, list[str]]:
        refused = super()._refused(data)  # the names an enrollment does not have
        if hasattr(data, "keys"):
            refused.update({name: [message] for name in data if (message := self._not_written(name, data))})
        return refused

    def _not_written(self, name: str, data) -> str | None:
        field = self.fields.get(name)
        if field is None or not field.read_only:
            return None
        # An update may send a value again as it is (a client writing back what it read).
        if self.instance is not None and sent_as_read(field, self.instance, data[name]):
            return None
        return self.NOT_WRITTEN.get(name, "Set by the portal.")

    def sees_revocation_of(self, enrollment: ProgramEnrollment) -> bool:
        # When its partner fell below the minimum is its private tier history: the partner's own staff and
        # the provider's staff read it, as a webhook's (sent to them alone) does; the public does not.
        request = self.context.get("request")
        return request is None or sees_private_records_of(request.user, enrollment.partner_id)

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_revocation_due_on(self, enrollment: ProgramEnrollment) -> str | None:
        if not self.sees_revocation_of(enrollment):
            return None
        due = self.revocation_due
        if due is None:  # one enrollment, read alone
            due = enrollments_revocation_due([enrollment], timezone.localdate())
        short = due.get(enrollment.pk)
        return None if short is None or short.revoke_on is None else short.revoke_on.isoformat()


class EnrollmentApproveSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    approved_on = serializers.DateField(
        required=False, help_text="Default: today.", validators=[validate_plausible_date]
    )


class EnrollmentScheduleAuditSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    audit_date = serializers.DateField(
        help_text="The day the third-party audit is to be held: today or later.",
        validators=[validate_plausible_date],
    )


class EnrollmentRenewSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    audit_date = serializers.DateField(
        required=False,
        help_text="The new audit's date, if it is not recorded on the enrollment yet (then with its result).",
        validators=[validate_plausible_date],
    )
    audit_result = serializers.ChoiceField(
        choices=AuditResult.choices,
        required=False,
        help_text="The new audit's result: a renewal stands on a passed audit.",
    )


class ReasonSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    reason = MultilineCharField(max_length=REASON_MAX_LENGTH)


class StaffMemberSerializer(OwnerFixedAfterCreationMixin, serializers.ModelSerializer):
    partner = VisiblePartnerField()
    owner_field = "partner"
    owner_refusal = "add the person again to the other partner."

    class Meta:
        model = StaffMember
        fields = ["id", "partner", "full_name", "email", "job_title", *TIMESTAMPS]
        read_only_fields = ["id", *TIMESTAMPS]
        validators = []


class CertificationSerializer(OwnerFixedAfterCreationMixin, FastRowsMixin, serializers.ModelSerializer):
    staff_member = WholeNumberIdField(queryset=StaffMember.objects.none())
    partner = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()
    owner_field = "staff_member"
    owner_refusal = "record the certification again for the other staff member."
    read_only_messages = {
        "partner": "The partner of the certification's staff member, who cannot change after creation.",
        "is_active": "Follows earned_on and expires_on: change those.",
    }

    class Meta:
        model = Certification
        fields = [
            "id",
            "staff_member",
            "partner",
            "name",
            "level",
            "credential_id",
            "earned_on",
            "expires_on",
            "is_active",
            *TIMESTAMPS,
        ]
        read_only_fields = ["id", "partner", *TIMESTAMPS]
        extra_kwargs = {
            "expires_on": {"required": False, "help_text": "Default: three years after earned_on."},
            "credential_id": {"validators": []},
        }
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["staff_member"].queryset = private_to_partner(
                StaffMember.objects.all(), request.user, "partner"
            )
        return fields

    @extend_schema_field(serializers.CharField(help_text="The slug of the staff member's partner."))
    def get_partner(self, certification) -> str:
        # Lists annotate the slug (see CertificationViewSet): no partner instance per row.
        slug = getattr(certification, "partner_slug", None)
        return slug if slug is not None else certification.staff_member.partner.slug

    @extend_schema_field(serializers.BooleanField(help_text="Counts today: earned and not yet expired."))
    def get_is_active(self, certification) -> bool:
        if "today" not in self.context:  # once per response, not once per row
            self.context["today"] = timezone.localdate()
        today = self.context["today"]
        return certification.earned_on <= today <= certification.expires_on


class CustomerReferenceSerializer(OwnerFixedAfterCreationMixin, serializers.ModelSerializer):
    partner = VisiblePartnerField()
    owner_field = "partner"
    owner_refusal = "register the reference again for the other partner."

    class Meta:
        model = CustomerReference
        fields = [
            "id",
            "partner",
            "customer_name",
            "summary",
            "services_used",
            "launched_on",
            "is_public",
            "is_validated",
            "validated_at",
            *TIMESTAMPS,
        ]
        read_only_fields = ["id", "validated_at", *TIMESTAMPS]


# In the schema a two-letter code rather than an enum of every country, listed again in each description.
@extend_schema_field({"type": "string", "pattern": "^[A-Za-z]{2}$", "example": "DE"})
class CountryCodeField(serializers.CharField):
    """A country by its ISO 3166-1 alpha-2 code, in any case: which codes are countries, and the message for
    any other, are the service's (`contact_request_country`), asked here so that the answer lists this error
    beside the others."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "ISO 3166-1 alpha-2 code, e.g. DE.")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return contact_request_country(super().to_internal_value(data))
        except DomainError as error:
            raise serializers.ValidationError(error.message) from None


class ContactRequestSerializer(KnownFieldsOnlyMixin, serializers.ModelSerializer):
    partner = serializers.SlugRelatedField(
        slug_field="slug", queryset=Partner.objects.filter(is_published=True)
    )
    country = CountryCodeField()

    class Meta:
        model = ContactRequest
        fields = [
            "reference",
            "partner",
            "name",
            "email",
            "company",
            "country",
            "message",
            "project_size",
            "timeline",
            "status",
            "decline_reason",
            "responded_at",
            *TIMESTAMPS,
        ]
        read_only_fields = ["reference", "status", "decline_reason", "responded_at", *TIMESTAMPS]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["country"] = instance.country.code
        return data
