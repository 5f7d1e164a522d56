"""Webhook endpoints and their delivery log in the API: each user manages the endpoints they registered."""

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.routers import SimpleRouter

from apn_portal.api.filters import IdFilter, UpdatedSinceFilterSet
from apn_portal.api.serializers import KnownFieldsOnlyMixin
from apn_portal.api.viewsets import CursorListMixin, PortalModelViewSet, PortalReadOnlyViewSet
from apn_portal.webhooks import services
from apn_portal.webhooks.choices import DeliveryStatus, WebhookEvent
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from apn_portal.webhooks.selectors import webhook_deliveries_visible_to, webhook_endpoints_visible_to


class WebhookEndpointSerializer(KnownFieldsOnlyMixin, serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1, max_length=20
    )
    secret = serializers.CharField(
        min_length=16,
        max_length=200,
        required=False,
        help_text="Signs every request (X-APN-Signature). Generated when not given.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "secret", "description", "is_active", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event",
            "event_id",
            "payload",
            "status",
            "attempts",
            "response_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointFilterSet(UpdatedSinceFilterSet):
    class Meta:
        model = WebhookEndpoint
        fields = ["is_active"]


class WebhookDeliveryFilterSet(UpdatedSinceFilterSet):
    endpoint = IdFilter(field_name="endpoint_id", label="The endpoint's id.")
    event = django_filters.ChoiceFilter(choices=WebhookEvent.choices)
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)

    class Meta:
        model = WebhookDelivery
        fields = ["endpoint", "event", "status"]


@extend_schema_view(
    destroy=extend_schema(
        description="Remove the endpoint and, with it, its whole delivery log: its deliveries leave "
        "`/webhook-deliveries/`, and those still waiting to be sent or retried are never sent. For the "
        "person who registered it (or a superuser). To stop events for a while and keep the log, PATCH "
        "`is_active` to `false` instead."
    )
)
class WebhookEndpointViewSet(PortalModelViewSet):
    """The URLs the portal POSTs the events you subscribe to, each request signed with the endpoint's
    `secret`. Each person sees and manages the endpoints they registered."""

    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    ordering_fields = ["id", "updated_at"]
    ordering = ["id"]
    filterset_class = WebhookEndpointFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scope_queryset(self, queryset, user):
        return webhook_endpoints_visible_to(user, queryset)

    def can_change(self, obj, user) -> bool:
        return user.is_superuser or obj.owner_id == user.pk

    def create_object(self, data, user):
        return services.webhook_endpoint_create(user=user, **data)

    def update_object(self, instance, data, user):
        return services.webhook_endpoint_update(endpoint=instance, user=user, **data)

    def delete_object(self, instance, user):
        services.webhook_endpoint_delete(endpoint=instance, user=user)


class WebhookDeliveryViewSet(CursorListMixin, PortalReadOnlyViewSet):
    """Each event sent, or still to be sent, to your endpoints: its payload, its status, how many attempts
    it took, your receiver's last answer and when it is tried next."""

    queryset = WebhookDelivery.objects.all()
    serializer_class = WebhookDeliverySerializer
    cursor_ordering_fields = ("id", "created_at", "updated_at")
    filterset_class = WebhookDeliveryFilterSet

    def scope_queryset(self, queryset, user):
        return webhook_deliveries_visible_to(user, queryset)


router = SimpleRouter()
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
