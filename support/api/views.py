"""API resources for support plans (public, read-only), subscriptions and cases with their replies. Thin:
each says what a user sees (`scope_queryset`, from support.selectors), what its serializer reads, and
which service performs each write. The services decide who may write; a refusal is a 403 with their
message, and another organisation's record is a 404."""

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apn_portal.api.pagination import OldestFirstCursorPagination
from apn_portal.api.viewsets import CursorListMixin, PortalModelViewSet, PortalReadOnlyViewSet
from support import filtersets, selectors, services
from support.api import serializers
from support.models import PlanResponseTarget, SupportCase, SupportPlan, SupportSubscription

CREATE_AND_READ = ["get", "post", "head", "options"]
PUBLIC_READ = frozenset({"list", "retrieve"})


class SupportPlanViewSet(PortalReadOnlyViewSet):
    """The support plans with their features and first-response targets: public, like the price list."""

    queryset = SupportPlan.objects.all()
    serializer_class = serializers.SupportPlanSerializer
    lookup_field = "slug"
    public_actions = PUBLIC_READ
    select_related = ("successor",)
    prefetch_related = (
        Prefetch("response_targets", queryset=PlanResponseTarget.objects.order_by("-minutes", "id")),
    )
    filterset_class = filtersets.SupportPlanFilterSet
    ordering_fields = ["rank", "name", "updated_at", "id"]
    ordering = ["rank", "id"]

    def scope_queryset(self, queryset, user):
        return queryset


class SupportViewSet(PortalModelViewSet):
    http_method_names = CREATE_AND_READ

    def can_change(self, obj, user) -> bool:
        # The services check who may change what, with a message saying why not (403).
        return True


class SupportSubscriptionViewSet(CursorListMixin, SupportViewSet):
    """Who is on which plan, from when to when: a change of plan is a new subscription (POST), which ends
    the current one of the same customer or account."""

    queryset = SupportSubscription.objects.all()
    serializer_class = serializers.SupportSubscriptionSerializer
    select_related = ("customer", "account", "plan__successor", "tam", "support_partner", "changed_by")
    filterset_class = filtersets.SupportSubscriptionFilterSet
    cursor_ordering_fields = ("id", "started_at", "updated_at")

    def scope_queryset(self, queryset, user):
        return queryset.filter(pk__in=selectors.subscriptions_visible_to(user).values("pk"))

    def create_object(self, data, user):
        return services.support_subscription_change(user=user, **data)

    @extend_schema(
        summary="End the subscription",
        description="From now the customer is on Basic (an account, on its customer's plan).",
        request=serializers.SubscriptionEndSerializer,
        responses=serializers.SupportSubscriptionSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def end(self, request, pk=None):
        subscription = self.get_object()
        services.support_subscription_end(
            user=request.user,
            subscription=subscription,
            **self.action_payload(serializers.SubscriptionEndSerializer, request),
        )
        return self.action_response(serializers.SupportSubscriptionSerializer, subscription)


class SupportCaseViewSet(CursorListMixin, SupportViewSet):
    """Support cases. Opening one (POST) computes its first-response deadline from the plan; the severity
    must be one the plan answers."""

    queryset = SupportCase.objects.all()
    serializer_class = serializers.SupportCaseSerializer
    select_related = (
        "customer",
        "account",
        "plan",
        "opened_by",
        "opened_by_partner",
        "handling_partner",
        "first_responder",
    )
    filterset_class = filtersets.SupportCaseFilterSet
    # Never a column that may be null (a case without a target has no deadline): a cursor cannot step
    # past a null, so a walk would skip those rows.
    cursor_ordering_fields = ("id", "opened_at", "updated_at")

    def scope_queryset(self, queryset, user):
        return queryset.filter(pk__in=selectors.cases_visible_to(user).values("pk"))

    def create_object(self, data, user):
        return services.support_case_open(user=user, **data)

    @extend_schema(
        methods=["get"],
        summary="The case's replies",
        description="Oldest first (`ordering=-created_at`: newest first), paged by cursor like the other "
        "growing lists: follow `next` until it is null. A reply added during the walk comes at its end.",
        responses=serializers.CaseReplySerializer(many=True),
        filters=False,
        parameters=[
            OpenApiParameter(
                "updated_since",
                OpenApiTypes.DATETIME,
                description=filtersets.CaseReplyFilterSet.base_filters["updated_since"].label,
            )
        ],
    )
    @extend_schema(
        methods=["post"],
        summary="Reply",
        description="Support's first reply (the provider's, or the reselling partner's while it handles "
        "the case) is the case's first response.",
        request=serializers.CaseReplySerializer,
        responses={201: serializers.CaseReplySerializer},
        filters=False,
    )
    @action(
        detail=True, methods=["get", "post"], pagination_class=OldestFirstCursorPagination, filter_backends=[]
    )
    def replies(self, request, pk=None):
        case = self.get_object()
        if request.method == "GET":
            # Not through filter_backends: those filter the case get_object() finds too.
            replies = filtersets.CaseReplyFilterSet(
                request.query_params, queryset=selectors.case_replies(case), request=request
            )
            if not replies.is_valid():
                raise ValidationError(replies.errors)
            page = self.paginate_queryset(replies.qs)
            return self.get_paginated_response(serializers.CaseReplySerializer(page, many=True).data)
        payload = self.action_payload(serializers.CaseReplySerializer, request)
        reply = services.support_case_reply(user=request.user, case=case, body=payload["body"])
        return Response(serializers.CaseReplySerializer(reply).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change the status",
        description="Support moves a case to in progress, waiting on customer or resolved; the requester "
        "resolves or closes it.",
        request=serializers.CaseStatusSerializer,
        responses=serializers.SupportCaseSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def status(self, request, pk=None):
        case = self.get_object()
        services.support_case_status_change(
            user=request.user, case=case, **self.action_payload(serializers.CaseStatusSerializer, request)
        )
        return self.action_response(serializers.SupportCaseSerializer, case)

    @extend_schema(
        summary="Pass on to the provider",
        description="For the reselling partner that handles the case (partner-led support).",
        request=None,
        responses=serializers.SupportCaseSerializer,
        filters=False,
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def escalate(self, request, pk=None):
        case = self.get_object()
        self.action_takes_no_fields(request)
        services.support_case_escalate(user=request.user, case=case)
        return self.action_response(serializers.SupportCaseSerializer, case)
