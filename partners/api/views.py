"""The partner domain's API resources. Thin: each says what a user sees (`scope_queryset`), what its
serializer reads, and which service performs each write."""

from django.contrib.postgres.aggregates import JSONBAgg
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import Count, F, JSONField, OuterRef, Prefetch, Subquery, Value, Window
from django.db.models.functions import Coalesce, JSONObject
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from apn_portal.api.filters import UniqueOrderingFilter
from apn_portal.api.pagination import CountedWithPagePaginator
from apn_portal.api.throttling import ContactRequestThrottle
from apn_portal.api.viewsets import CursorListMixin, PortalModelViewSet, PortalReadOnlyViewSet
from apn_portal.exceptions import GoneError
from apn_portal.http import client_address
from engagements.api import serializers as engagement_serializers
from engagements.api.views import engagement_as_read
from engagements.services import engagement_create_from_contact_request
from partners import services, services_records
from partners.api import filters, serializers
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
    UseCase,
)
from partners.search_index import partner_search_entries_bring_up_to_date, search_index_available
from partners.search_results import search_tolerating_typos
from partners.selectors import tier_evaluate, tier_outlook
from partners.selectors_visibility import (
    enrollments_visible_to,
    partners_visible_to,
    private_to_partner,
    references_visible_to,
    search_entries_visible_to,
    sees_private_records_of,
)

PUBLIC_READ = frozenset({"list", "retrieve"})
TAGS = (("categories", ConsultingCategory), ("industries", Industry), ("use_cases", UseCase))
CERTIFICATION_LIST_COLUMNS = (
    "id",
    "staff_member_id",
    "partner_slug",
    "name",
    "level",
    "credential_id",
    "earned_on",
    "expires_on",
    "created_at",
    "updated_at",
)
NO_PUT = ["get", "post", "patch", "delete", "head", "options"]


def _values_parameter(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "array", "items": {"type": "string"}},
        description=f"{what}; repeat the parameter for several (any of them matches).",
        style="form",
        explode=True,
    )


@extend_schema_view(
    list=extend_schema(
        summary="Partners",
        description="Published partners (and, signed in, those you may see) with Find-a-Partner's filters "
        "and sort, the same names as /partners/.",
        parameters=[
            _values_parameter("tier", "Tier slug, e.g. `advanced`"),
            _values_parameter("program", "Program slug (approved, unexpired)"),
            _values_parameter("industry", "Industry slug"),
            _values_parameter("use_case", "Use case slug"),
            _values_parameter("country", "ISO country code of an office, e.g. `DE`"),
        ],
    ),
)
class PartnerViewSet(PortalModelViewSet):
    """Partners: the companies in the network, addressed by `slug`, with their type, tier, offices and
    tags. Published partners are public; signed in, you also see your own partner (the provider's staff,
    every partner). A PDM or a superuser adds one (POST); the partner's PDM or a superuser changes it (PUT,
    PATCH)."""

    queryset = Partner.objects.all()
    serializer_class = serializers.PartnerSerializer
    lookup_field = "slug"
    public_actions = PUBLIC_READ
    select_related = ("tier",)
    filterset_class = filters.PartnerApiFilterSet
    # Columns with an index, so any of them pages 100,000 partners quickly; without `ordering`, the
    # list comes in Find-a-Partner's order (`sort`).
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def scope_queryset(self, queryset, user):
        return partners_visible_to(user, queryset)

    def annotate_queryset(self, queryset):
        """Each partner's tags and offices in the partner's own row (PostgreSQL arrays): one query for a
        page, and no model instance per tag. Elsewhere, prefetched into plain lists."""
        if connection.vendor != "postgresql":
            return queryset.prefetch_related(
                *(Prefetch(name, model.objects.all(), to_attr=f"{name}_prefetched") for name, model in TAGS),
                Prefetch("offices", Office.objects.all(), to_attr="offices_prefetched"),
            )
        tag_slugs = {
            f"{name}_prefetched": ArraySubquery(
                getattr(Partner, name)
                .through.objects.filter(partner_id=OuterRef("pk"))
                .order_by(f"{model._meta.model_name}__slug")
                .values(f"{model._meta.model_name}__slug")
            )
            for name, model in TAGS
        }
        # The offices as one JSON array per partner: parsed once per row, not once per office.
        offices = (
            Office.objects.filter(partner_id=OuterRef("pk"))
            .values("partner_id")
            .annotate(
                json=JSONBAgg(
                    JSONObject(
                        country="country",
                        city="city",
                        latitude="latitude",
                        longitude="longitude",
                        is_headquarters="is_headquarters",
                    ),
                    order_by=Office._meta.ordering,
                )
            )
            .values("json")
        )
        no_offices = Value([], output_field=JSONField())
        return queryset.annotate(
            **tag_slugs, offices_prefetched=Coalesce(Subquery(offices, output_field=JSONField()), no_offices)
        )

    def list(self, request, *args, **kwargs):
        if not search_index_available():
            # The embedded default reads the partner tables, tolerating no typos, as the page does there.
            return super().list(request, *args, **kwargs)
        # Its filters read the search entries whatever the order: none may still hold what expired.
        partner_search_entries_bring_up_to_date()
        ordered = "ordering" in request.query_params
        # With `?ordering=` the partners are read in that order, else the search entries in Find-a-Partner's.
        base = self.get_queryset() if ordered else search_entries_visible_to(request.user)
        filterset = self.filterset_class(request.query_params, queryset=base, request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page_of = self._page_of_partners if ordered else self._page_of_entries
        # Words that find nothing as typed are tried again tolerating typos, as the page does, whatever
        # the order; the words alone decide it, so a filter only ever narrows.
        page = search_tolerating_typos(filterset, base, lambda: page_of(filterset), found=self._found)
        if page is None:
            if self.paginator.walked_by_cursor:  # what the walk had yet to read went meanwhile
                return self.get_paginated_response([])
            # Past the end of no results, however tolerant of typos: the paginator's own refusal.
            raise self._past_the_end
        if not ordered:
            partners = {partner.pk: partner for partner in self.get_queryset().filter(pk__in=page)}
            page = [partners[pk] for pk in page if pk in partners]
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def _page_of_entries(self, filterset) -> "list[int] | None":
        """Find-a-Partner's own order, read as the page reads it: the ids of the page's partners, from the
        search entries (whose indexes serve that order)."""
        # Not filterset.qs: it keeps the first queryset it made, blind to a raised typo tolerance.
        entries = filterset.filter_queryset(filterset.queryset.all())
        if filterset.words:
            # Ranking by the words reads every match: the page's query counts them as well.
            self.paginator.django_paginator_class = CountedWithPagePaginator
            page = entries.annotate(matches=Window(Count("*"))).values_list("partner_id", "matches")
        else:
            page = entries.values_list("partner_id", flat=True)
        return self._page_unless_past_no_results(page, entries)

    def _page_of_partners(self, filterset) -> "list[Partner] | None":
        """The page's partners in `?ordering=`'s order, ending with the unique id."""
        partners = filterset.filter_queryset(filterset.queryset.all())
        return self._page_unless_past_no_results(
            UniqueOrderingFilter().filter_queryset(self.request, partners, self), partners
        )

    def _page_unless_past_no_results(self, page, results):
        """`page` paginated; None for a page past the end of no results at all, which more typo
        tolerance may yet fill."""
        try:
            rows = self.paginate_queryset(page)
        except NotFound as refusal:
            if results.exists():  # past the end of results there are
                raise
            self._past_the_end = refusal  # what list() answers if more typo tolerance finds none either
            return None
        if not rows and self.paginator.walked_by_cursor and not results.exists():
            return None  # a cursor's page: the words find nothing at all (at this typo tolerance)
        return rows

    def _found(self, page) -> bool:
        """Whether the words found partners: a page of them, or (past a cursor, where the rows left to
        read may have gone meanwhile) any at all, so a walk does not stretch its words further."""
        return bool(page) or (page is not None and self.paginator.walked_by_cursor)

    def create_object(self, data, user):
        return services_records.partner_create(user=user, **data)

    def update_object(self, instance, data, user):
        return services_records.partner_update(partner=instance, user=user, **data)

    def partner_of(self, obj):
        return obj

    @extend_schema(
        summary="Tier evaluation",
        description="Which tier the partner's evidence qualifies it for today, and what the next tier "
        "lacks; as its scorecard, the grace period it is in (short of its tier) or the day it is at risk "
        "from (meeting it). For the partner's own staff and the provider's staff.",
        responses=serializers.TierEvaluationSerializer,
        filters=False,
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def evaluation(self, request, slug=None):
        partner = self.get_object()
        if not sees_private_records_of(request.user, partner.pk):
            raise NotFound()
        today = timezone.localdate()
        evaluation = tier_evaluate(partner, on=today)
        read = serializers.EvaluationRead(evaluation, tier_outlook(partner, evaluation, today))
        return Response(serializers.TierEvaluationSerializer(read).data)

    @extend_schema(
        summary="Change the partner's tier",
        description="Promote or demote the partner, recording why. For its PDM or a superuser.",
        request=serializers.TierChangeRequestSerializer,
        responses={201: serializers.TierChangeSerializer},
        filters=False,
    )
    @action(detail=True, methods=["post"], url_path="tier-change", pagination_class=None, filter_backends=[])
    def tier_change(self, request, slug=None):
        partner = self.get_object()
        payload = self.action_payload(serializers.TierChangeRequestSerializer, request)
        change = services.partner_tier_change(partner=partner, user=request.user, **payload)
        return Response(serializers.TierChangeSerializer(change).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Correct the partner's type",
        description="Make the partner the other type (consulting or technology), on the tier its evidence "
        "earns on that type's ladder (else its entry tier), recorded as a tier change with the reason. "
        "Refused, naming what stands in the way, while the partner holds programs, consulting categories "
        "or engagement roles the new type may not. For its PDM or a superuser.",
        request=serializers.PartnerTypeChangeRequestSerializer,
        responses={200: serializers.PartnerSerializer},
        filters=False,
    )
    @action(detail=True, methods=["post"], url_path="type-change", pagination_class=None, filter_backends=[])
    def type_change(self, request, slug=None):
        partner = self.get_object()
        payload = self.action_payload(serializers.PartnerTypeChangeRequestSerializer, request)
        services.partner_type_change(partner=partner, user=request.user, **payload)
        return self.action_response(serializers.PartnerSerializer, partner)

    @extend_schema(
        summary="Recompute the partner's tier",
        description="Set the partner to the tier its evidence qualifies it for now.",
        request=None,
        responses={200: serializers.TierRecomputeResultSerializer},
        filters=False,
    )
    @action(
        detail=True, methods=["post"], url_path="recompute-tier", pagination_class=None, filter_backends=[]
    )
    def recompute_tier(self, request, slug=None):
        partner = self.get_object()
        self.action_takes_no_fields(request)
        change = services.partner_tier_recompute(partner=partner, user=request.user)
        data = {"changed": change is not None, "tier_change": change}
        return Response(serializers.TierRecomputeResultSerializer(data).data)


class TierViewSet(PortalReadOnlyViewSet):
    """The tiers of each partner type's ladder, in rank order, with what a partner needs to hold each.
    Public."""

    queryset = Tier.objects.all()
    serializer_class = serializers.TierSerializer
    public_actions = PUBLIC_READ
    prefetch_related = ("requirements",)
    filterset_class = filters.TierFilterSet
    ordering_fields = ["partner_type", "rank", "name", "updated_at", "id"]
    ordering = ["partner_type", "rank", "id"]

    def scope_queryset(self, queryset, user):
        return queryset


class TierChangeViewSet(CursorListMixin, PortalReadOnlyViewSet):
    """Partners' moves from one tier to another (promotions, demotions, type corrections): when, from and
    to which tier, by whom or by which check, and why. For the partner's own staff and the provider's
    staff."""

    queryset = TierChange.objects.all()
    serializer_class = serializers.TierChangeSerializer
    select_related = ("partner", "from_tier", "to_tier", "changed_by")
    filterset_class = filters.TierChangeFilterSet
    cursor_ordering_fields = ("id", "changed_at", "updated_at")

    def scope_queryset(self, queryset, user):
        return private_to_partner(queryset, user)


class ProgramViewSet(PortalReadOnlyViewSet):
    """The programs partners enroll in, addressed by `slug`, with the minimum tier each needs and how long
    an approval lasts. Public."""

    queryset = Program.objects.all()
    serializer_class = serializers.ProgramSerializer
    lookup_field = "slug"
    public_actions = PUBLIC_READ
    select_related = ("minimum_tier",)
    filterset_class = filters.ProgramFilterSet
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]

    def scope_queryset(self, queryset, user):
        return queryset


class EnrollmentViewSet(PortalModelViewSet):
    """Applications to programs and their lifecycle. Creating one is applying."""

    queryset = ProgramEnrollment.objects.all()
    serializer_class = serializers.EnrollmentSerializer
    public_actions = PUBLIC_READ
    select_related = ("partner", "program")
    filterset_class = filters.EnrollmentFilterSet
    ordering_fields = ["applied_on", "expires_on", "updated_at", "id"]
    ordering = ["id"]
    # A PATCH records the audit or corrects the application's day; an enrollment is never replaced whole,
    # and one in force is revoked with a reason, not deleted.
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scope_queryset(self, queryset, user):
        return enrollments_visible_to(user, queryset)

    def create_object(self, data, user):
        return services_records.enrollment_apply(user=user, **data)

    def update_object(self, instance, data, user):
        return services_records.enrollment_update(enrollment=instance, user=user, **data)

    def locked_version(self, instance):
        # Its partner's row first, as every write of an enrollment takes them.
        try:
            return services.enrollment_lock(instance).updated_at
        except GoneError:
            return None

    @extend_schema(
        summary="Start reviewing an application",
        description="Applied becomes under review. 409 when it is not applied for (any more).",
        request=None,
        responses=serializers.EnrollmentSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], url_path="start-review", pagination_class=None, filter_backends=[])
    def start_review(self, request, pk=None):
        enrollment = self.get_object()
        self.action_takes_no_fields(request)
        reviewed = services.enrollment_start_review(enrollment=enrollment, user=request.user)
        return Response(
            serializers.EnrollmentSerializer(reviewed, context=self.get_serializer_context()).data
        )

    @extend_schema(
        summary="Schedule an application's audit",
        description="For a program that requires an audit: applied or under review becomes audit "
        "scheduled, on `audit_date` (today or later). Once held, the audit's date and result are recorded "
        "with a PATCH, and the enrollment approved. 400 for a date in the past or a program that needs no "
        "audit; 409 for an enrollment whose audit is already scheduled or passed, or that is approved or "
        "has ended.",
        request=serializers.EnrollmentScheduleAuditSerializer,
        responses=serializers.EnrollmentSerializer,
        filters=False,
    )
    @action(
        detail=True, methods=["post"], url_path="schedule-audit", pagination_class=None, filter_backends=[]
    )
    def schedule_audit(self, request, pk=None):
        enrollment = self.get_object()
        payload = self.action_payload(serializers.EnrollmentScheduleAuditSerializer, request)
        scheduled = services.enrollment_schedule_audit(enrollment=enrollment, user=request.user, **payload)
        return Response(
            serializers.EnrollmentSerializer(scheduled, context=self.get_serializer_context()).data
        )

    @extend_schema(
        summary="Renew an approved enrollment",
        description="Approved again today for the program's validity, on a new passed audit: sent here "
        "(`audit_date` with `audit_result`), or recorded on the enrollment before. 400 for an audit that "
        "failed, is missing or is not newer than the approval; 409 for an enrollment that is not approved "
        "or has ended.",
        request=serializers.EnrollmentRenewSerializer,
        responses=serializers.EnrollmentSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def renew(self, request, pk=None):
        enrollment = self.get_object()
        payload = self.action_payload(serializers.EnrollmentRenewSerializer, request)
        renewed = services.enrollment_renew(enrollment=enrollment, user=request.user, **payload)
        return Response(serializers.EnrollmentSerializer(renewed, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Approve an enrollment",
        description="Approved on `approved_on` (default today) until the program's `validity_months` "
        "later. Needs the program's minimum tier and, for a program that requires an audit, a passed "
        "audit. 400 for an approval day that is not allowed; 409 for an enrollment already approved "
        "(renew it instead) or ended.",
        request=serializers.EnrollmentApproveSerializer,
        responses=serializers.EnrollmentSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def approve(self, request, pk=None):
        enrollment = self.get_object()
        payload = self.action_payload(serializers.EnrollmentApproveSerializer, request)
        approved = services.enrollment_approve(enrollment=enrollment, user=request.user, **payload)
        return Response(
            serializers.EnrollmentSerializer(approved, context=self.get_serializer_context()).data
        )

    @extend_schema(
        summary="Revoke an enrollment",
        description="End the enrollment, whatever its stage (an application turned down, or an approval "
        "withdrawn), with the `reason` its `status_reason` then gives; the partner's staff are told why. "
        "409 for an enrollment that has already ended.",
        request=serializers.ReasonSerializer,
        responses=serializers.EnrollmentSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def revoke(self, request, pk=None):
        enrollment = self.get_object()
        payload = self.action_payload(serializers.ReasonSerializer, request)
        revoked = services.enrollment_revoke(enrollment=enrollment, user=request.user, **payload)
        return Response(serializers.EnrollmentSerializer(revoked, context=self.get_serializer_context()).data)


@extend_schema_view(
    destroy=extend_schema(
        description="Remove the person and, with them, every one of their certifications, which then no "
        "longer count toward the partner's tier. For the partner's PDM or a superuser."
    )
)
class StaffMemberViewSet(PortalModelViewSet):
    """A partner's people, whose certifications count toward its tier. For the partner's own staff and
    the provider's staff to read; the partner's PDM or a superuser adds, corrects and removes them."""

    queryset = StaffMember.objects.all()
    serializer_class = serializers.StaffMemberSerializer
    select_related = ("partner",)
    filterset_class = filters.StaffMemberFilterSet
    ordering_fields = ["full_name", "updated_at", "id"]
    ordering = ["id"]
    http_method_names = NO_PUT

    def scope_queryset(self, queryset, user):
        return private_to_partner(queryset, user)

    def create_object(self, data, user):
        return services_records.staff_member_create(user=user, **data)

    def update_object(self, instance, data, user):
        return services_records.staff_member_update(member=instance, user=user, **data)

    def delete_object(self, instance, user):
        services_records.staff_member_delete(member=instance, user=user)


@extend_schema_view(
    destroy=extend_schema(
        description="Remove the certification: it no longer counts toward the partner's tier. Nothing else "
        "goes with it. For the partner's PDM or a superuser."
    )
)
class CertificationViewSet(CursorListMixin, PortalModelViewSet):
    """The AWS certifications of a partner's people, with the day each was earned and the day it expires;
    those in force count toward the partner's tier. For the partner's own staff and the provider's staff to
    read; the partner's PDM or a superuser records, corrects and removes them."""

    queryset = Certification.objects.all()
    serializer_class = serializers.CertificationSerializer
    filterset_class = filters.CertificationFilterSet
    http_method_names = NO_PUT

    def scope_queryset(self, queryset, user):
        return private_to_partner(queryset, user, "staff_member__partner")

    def annotate_queryset(self, queryset):
        queryset = queryset.annotate(partner_slug=F("staff_member__partner__slug"))
        if self.action == "list":
            # Rows as named tuples of exactly the columns the list shows: a walk of a million rows
            # builds no model instance (and reads no partner) per row.
            return queryset.values_list(*CERTIFICATION_LIST_COLUMNS, named=True)
        return queryset

    def partner_of(self, obj):
        return obj.staff_member.partner

    def create_object(self, data, user):
        return services_records.certification_create(user=user, **data)

    def update_object(self, instance, data, user):
        return services_records.certification_update(certification=instance, user=user, **data)

    def delete_object(self, instance, user):
        services_records.certification_delete(certification=instance, user=user)


@extend_schema_view(
    destroy=extend_schema(
        description="Withdraw the reference: one that counted toward the partner's tier (or showed on "
        "its public profile) no longer does. Nothing else goes with it. The partner's own staff withdraw "
        "theirs until the PDM validates it; the partner's PDM or a superuser, any."
    )
)
class CustomerReferenceViewSet(PortalModelViewSet):
    """Customer projects a partner delivered. Validated, for a launched project, one counts toward the
    partner's tier, and anybody sees it when the partner is published and made it public (`is_public`);
    the partner's own staff see all of theirs. They register, correct and withdraw their own until the PDM
    validates one (`is_validated`, the PDM's alone); from then on, only the PDM changes it."""

    queryset = CustomerReference.objects.all()
    serializer_class = serializers.CustomerReferenceSerializer
    public_actions = PUBLIC_READ
    select_related = ("partner",)
    filterset_class = filters.CustomerReferenceFilterSet
    ordering_fields = ["launched_on", "updated_at", "id"]
    ordering = ["id"]
    http_method_names = NO_PUT

    def scope_queryset(self, queryset, user):
        return references_visible_to(user, queryset)

    def can_change(self, obj, user) -> bool:
        # The partner's own staff keep its references too, until validated: the service says when not.
        return super().can_change(obj, user) or (
            user.partner_id is not None and user.partner_id == obj.partner_id
        )

    def _set_validated(self, reference, validated, user):
        if validated is not None:
            services.customer_reference_set_validated(reference=reference, validated=validated, user=user)

    def create_object(self, data, user):
        validated = data.pop("is_validated", None)
        reference = services_records.reference_create(user=user, **data)
        self._set_validated(reference, validated, user)
        return reference

    def update_object(self, instance, data, user):
        validated = data.pop("is_validated", None)
        reference = services_records.reference_update(reference=instance, user=user, **data)
        self._set_validated(reference, validated, user)
        return reference

    def delete_object(self, instance, user):
        services_records.reference_delete(reference=instance, user=user)


class ContactRequestViewSet(CursorListMixin, PortalModelViewSet):
    """Leads. Anyone may send one to a published partner (throttled per IP address); only the
    partner's own staff (and the provider's staff) read them, and the partner's staff answer them."""

    queryset = ContactRequest.objects.all()
    serializer_class = serializers.ContactRequestSerializer
    lookup_field = "reference"
    public_actions = frozenset({"create"})
    select_related = ("partner",)
    filterset_class = filters.ContactRequestFilterSet
    cursor_ordering_fields = ("id", "created_at", "updated_at")
    http_method_names = ["get", "post", "head", "options"]

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.action == "create":
            throttles.append(ContactRequestThrottle())
        return throttles

    def scope_queryset(self, queryset, user):
        return private_to_partner(queryset, user)

    def can_change(self, obj, user) -> bool:
        return user.partner_id is not None and user.partner_id == obj.partner_id

    def create_object(self, data, user):
        partner = data.pop("partner")
        return services.contact_request_create(partner=partner, data=data, ip=client_address(self.request))

    @extend_schema(
        summary="Accept a contact request",
        description="Your partner takes the lead on and will get in touch with the customer. For the "
        "partner's own staff; 409 for a lead already answered.",
        request=None,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def accept(self, request, reference=None):
        lead = self.get_object()
        self.action_takes_no_fields(request)
        lead = services.contact_request_accept(contact_request=lead, user=request.user)
        return Response(self.get_serializer(lead).data)

    @extend_schema(
        summary="Decline a contact request",
        description="Your partner turns the lead down, saying why (`reason`). For the partner's own staff; "
        "409 for a lead already answered.",
        request=serializers.ReasonSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def decline(self, request, reference=None):
        lead = self.get_object()
        payload = self.action_payload(serializers.ReasonSerializer, request)
        declined = services.contact_request_decline(contact_request=lead, user=request.user, **payload)
        return Response(self.get_serializer(declined).data)

    @extend_schema(
        summary="Start an engagement from a contact request",
        description="The lead becomes an engagement for a new customer named after its company, led by "
        "your partner as consulting lead under the contract dates given; the person who wrote joins its "
        "team, and a new lead is accepted with it. Its description is the one you send (everyone on the "
        "engagement reads it), never the lead's message. 409 when the lead is already an engagement or "
        "was declined.",
        request=engagement_serializers.LeadEngagementSerializer,
        responses={201: engagement_serializers.EngagementSerializer},
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def engagement(self, request, reference=None):
        lead = self.get_object()
        payload = self.action_payload(engagement_serializers.LeadEngagementSerializer, request)
        started = engagement_create_from_contact_request(user=request.user, contact_request=lead, **payload)
        return Response(
            engagement_serializers.EngagementSerializer(
                engagement_as_read(started, request.user), context=self.get_serializer_context()
            ).data,
            status=status.HTTP_201_CREATED,
        )
