"""API resources for customers, accounts, engagements, engagement partners and access grants. Thin: each
says what a user sees (`scope_queryset`, from engagements.selectors), what its serializer reads, and which
service performs each write. The services decide who may write; a refusal is a 403 with their message."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied

from apn_portal.accounts.choices import StaffRole
from apn_portal.api.viewsets import CursorListMixin, PortalModelViewSet
from apn_portal.exceptions import DomainError
from engagements import filtersets, selectors, services
from engagements.api import serializers
from engagements.models import AccessGrant, AwsAccount, Customer, Engagement, EngagementPartner

CREATE_AND_READ = ["get", "post", "head", "options"]


class EngagementsViewSet(PortalModelViewSet):
    http_method_names = CREATE_AND_READ
    # Any path segment reaches the view, so a malformed id is a JSON 404 like a missing one.
    lookup_value_regex = "[^/]+"

    def can_change(self, obj, user) -> bool:
        # The services check who may change what, with a message saying why not (403).
        return True


class CustomerViewSet(EngagementsViewSet):
    """Customer organisations and the provider's people who look after them (Account Manager, Solutions
    Architect, TAM), addressed by `slug`. Each user sees the customers they work with. An Account Manager
    or a superuser registers one (POST)."""

    queryset = Customer.objects.all()
    serializer_class = serializers.CustomerSerializer
    lookup_field = "slug"
    select_related = ("account_manager", "solutions_architect", "tam")
    filterset_class = filtersets.CustomerFilterSet
    ordering_fields = ["name", "updated_at", "id"]
    ordering = ["name", "id"]

    def scope_queryset(self, queryset, user):
        return queryset.filter(pk__in=selectors.customers_visible_to(user).values("pk"))

    def create(self, request, *args, **kwargs):
        # Before reading the body, so nobody else learns which staff usernames exist.
        if not (request.user.is_superuser or request.user.has_role(StaffRole.ACCOUNT_MANAGER)):
            raise PermissionDenied("Only an Account Manager or a superuser registers customers.")
        return super().create(request, *args, **kwargs)

    def create_object(self, data, user):
        return services.customer_create(user=user, **data)


class AwsAccountViewSet(CursorListMixin, EngagementsViewSet):
    """A customer's AWS accounts, each under its management account when it has one. The customer sees
    all of its own, a partner only those it holds a live access grant to, and the provider's staff those of
    the customers they look after. POST registers one of the customer's accounts."""

    queryset = AwsAccount.objects.all()
    serializer_class = serializers.AwsAccountSerializer
    select_related = ("customer", "management_account", "reseller")
    filterset_class = filtersets.AwsAccountFilterSet
    cursor_ordering_fields = ("id", "account_id", "updated_at")

    def scope_queryset(self, queryset, user):
        visible = queryset.filter(pk__in=selectors.accounts_visible_to(user).values("pk"))
        return selectors.accounts_with_management_visibility(visible, user)

    def create_object(self, data, user):
        return services.aws_account_create(user=user, **data)


def _with_what_is_shown(queryset, user):
    # Why each contract ended is read as /engagement-partners/ reads it, in the same one query.
    current = EngagementPartner.objects.filter(replaced_by__isnull=True).select_related("partner")
    return queryset.prefetch_related(
        "stage_events",
        Prefetch(
            "engagement_partners",
            queryset=selectors.with_ended_reason_shown_to(user, current),
            to_attr="current_partners",
        ),
    )


def engagement_as_read(engagement: Engagement, user) -> Engagement:
    """The engagement as a GET of /api/v1/engagements/{id}/ reads it, for another resource's action that
    starts one (a contact request's `engagement/`), so both answer with the same fields."""
    visible = selectors.engagements_visible_to(user).values("pk")
    shown = Engagement.objects.filter(pk=engagement.pk, pk__in=visible).select_related("customer")
    return _with_what_is_shown(shown, user).first() or engagement


class EngagementViewSet(EngagementsViewSet):
    """Engagements: a customer's project, with its stage on the five-step journey, its status and the
    partners on it. POST starts one (the customer's staff, or the provider's staff who look after the
    customer); the actions below move it on."""

    queryset = Engagement.objects.all()
    serializer_class = serializers.EngagementSerializer
    select_related = ("customer",)
    filterset_class = filtersets.EngagementFilterSet
    ordering_fields = ["created_at", "updated_at", "title", "id"]
    ordering = ["-created_at", "-id"]

    def scope_queryset(self, queryset, user):
        return queryset.filter(pk__in=selectors.engagements_visible_to(user).values("pk"))

    def annotate_queryset(self, queryset):
        return _with_what_is_shown(queryset, self.request.user)

    def create_object(self, data, user):
        return services.engagement_create(user=user, **data)

    @extend_schema(
        summary="Advance to the next stage",
        description="Record that the engagement reached the next step of the five-step journey. Steps are "
        "taken in order: naming a later one is refused with what comes next.",
        request=serializers.StageAdvanceSerializer,
        responses=serializers.EngagementSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def advance(self, request, pk=None):
        engagement = self.get_object()
        payload = self.action_payload(serializers.StageAdvanceSerializer, request)
        try:
            services.engagement_stage_advance(
                user=request.user,
                engagement=engagement,
                to_stage=payload.get("stage"),
                reached_on=payload.get("reached_on"),
                note=payload["note"],
            )
        except DomainError as error:
            if error.field == "to_stage":
                error.field = "stage"  # the body's name for it
            raise
        return self.action_response(serializers.EngagementSerializer, engagement)

    @extend_schema(
        summary="Complete the engagement",
        description="Close it; the consulting partner that led it gets an unvalidated customer reference.",
        request=serializers.CompleteSerializer,
        responses=serializers.EngagementSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def complete(self, request, pk=None):
        engagement = self.get_object()
        services.engagement_complete(
            user=request.user,
            engagement=engagement,
            **self.action_payload(serializers.CompleteSerializer, request),
        )
        return self.action_response(serializers.EngagementSerializer, engagement)

    @extend_schema(
        summary="Start, hold, resume or cancel",
        description="Cancelling needs a reason, ends every partner's contract still running and revokes "
        "every partner's access under the engagement. While a contract runs, cancelling is for the "
        "customer's access administrators (and superusers), as ending one contract is: 403 for anybody else.",
        request=serializers.StatusChangeSerializer,
        responses=serializers.EngagementSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def status(self, request, pk=None):
        engagement = self.get_object()
        services.engagement_status_change(
            user=request.user,
            engagement=engagement,
            **self.action_payload(serializers.StatusChangeSerializer, request),
        )
        return self.action_response(serializers.EngagementSerializer, engagement)


class EngagementPartnerViewSet(EngagementsViewSet):
    """The partners on an engagement, each in a role under a contract with its first and last day. POST
    puts a partner on an engagement (whoever plans it: the customer's own people, the Account Manager,
    Solutions Architect or TAM looking after the customer, a superuser); `replace/` hands the work to
    another partner and `end/` ends the contract early without one (the customer's access administrators
    and superusers)."""

    queryset = EngagementPartner.objects.all()
    serializer_class = serializers.EngagementPartnerSerializer
    select_related = ("engagement", "partner")
    filterset_class = filtersets.EngagementPartnerFilterSet
    ordering_fields = ["contract_start", "contract_end", "updated_at", "id"]
    ordering = ["id"]

    def scope_queryset(self, queryset, user):
        return queryset.filter(pk__in=selectors.engagement_partners_visible_to(user).values("pk"))

    def annotate_queryset(self, queryset):
        return selectors.with_ended_reason_shown_to(self.request.user, queryset)

    def create_object(self, data, user):
        return services.engagement_partner_add(user=user, **data)

    @extend_schema(
        summary="Replace the partner",
        description="Another company won the work: in one transaction the old contract ends today, every "
        "grant the old partner holds under it is revoked with the reason, and the new partner takes the "
        "same role. Returns the new partner's engagement.",
        request=serializers.ReplaceSerializer,
        responses={201: serializers.EngagementPartnerSerializer},
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def replace(self, request, pk=None):
        engaged = self.get_object()
        new = services.engagement_partner_replace(
            user=request.user,
            engagement_partner=engaged,
            **self.action_payload(serializers.ReplaceSerializer, request),
        )
        return self.action_response(serializers.EngagementPartnerSerializer, new, status.HTTP_201_CREATED)

    @extend_schema(
        summary="End the contract early",
        description="The customer ends the partner's contract without naming a successor (it takes the work "
        "in house, or another partner already on the role takes it over): in one transaction the contract "
        "ends today in the customer's time zone (one not started yet ends before it starts), every grant "
        "the partner holds under it is revoked with the reason, and the partner is told. For the customer's "
        "access administrators. 409 for a contract already ended or replaced, or under a cancelled "
        "engagement. Returns the ended contract.",
        request=serializers.RevokeReasonSerializer,
        responses=serializers.EngagementPartnerSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def end(self, request, pk=None):
        engaged = self.get_object()
        ended = services.engagement_partner_end(
            user=request.user,
            engagement_partner=engaged,
            **self.action_payload(serializers.RevokeReasonSerializer, request),
        )
        return self.action_response(serializers.EngagementPartnerSerializer, ended)


class AccessGrantViewSet(CursorListMixin, EngagementsViewSet):
    """A partner's access, in a role, to one of the customer's AWS accounts under the partner's contract
    on an engagement; `state` says whether it is live, expired or revoked. POST grants one, `revoke/` cuts
    it short."""

    queryset = AccessGrant.objects.all()
    serializer_class = serializers.AccessGrantSerializer
    select_related = (
        "account__customer",
        "engagement_partner__partner",
        "granted_by",
        "revoked_by",
    )
    filterset_class = filtersets.AccessGrantFilterSet
    cursor_ordering_fields = ("id", "granted_at", "updated_at")

    def scope_queryset(self, queryset, user):
        return queryset.filter(pk__in=selectors.access_grants_visible_to(user).values("pk"))

    def create_object(self, data, user):
        return services.access_grant_create(user=user, **data)

    @extend_schema(
        summary="Revoke the grant",
        description="The partner loses the role at once; the reason is recorded. For the customer's access "
        "administrators and the provider's staff who look after the customer.",
        request=serializers.RevokeReasonSerializer,
        responses=serializers.AccessGrantSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def revoke(self, request, pk=None):
        grant = self.get_object()
        services.access_grant_revoke(
            user=request.user, grant=grant, **self.action_payload(serializers.RevokeReasonSerializer, request)
        )
        return self.action_response(serializers.AccessGrantSerializer, grant)
