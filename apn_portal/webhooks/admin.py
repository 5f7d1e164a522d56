from django.contrib import admin, messages

from apn_portal.admin import AdminInputMixin, LargeTableAdminMixin, selection_too_large
from apn_portal.exceptions import DomainError
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from apn_portal.webhooks.services import webhook_deliveries_retry


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AdminInputMixin, admin.ModelAdmin):
    list_display = ["url", "owner", "partner", "event_list", "is_active", "updated_at"]
    list_filter = ["is_active"]
    list_select_related = ["owner", "partner"]
    search_fields = ["url", "owner__username", "partner__name"]
    raw_id_fields = ["owner", "partner"]
    readonly_fields = ["created_at", "updated_at"]

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    """The delivery log: what was sent where, how often, and what the receiver answered."""

    list_display = [
        "event",
        "endpoint",
        "status",
        "attempts",
        "response_code",
        "created_at",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event", "created_at"]
    list_select_related = ["endpoint"]
    search_fields = ["=event_id", "endpoint__url"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    date_hierarchy = "created_at"
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Send the selected deliveries again now")
    def retry_now(self, request, queryset):
        if selection_too_large(self, request, queryset):
            return
        try:
            retry = webhook_deliveries_retry(deliveries=queryset, user=request.user)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        if retry.restarted:
            self.message_user(
                request,
                f"{retry.restarted} failed deliveries queued again now, with a fresh round of attempts.",
                messages.SUCCESS,
            )
        if retry.brought_forward:
            self.message_user(
                request,
                f"{retry.brought_forward} deliveries still being retried are sent now instead of at their "
                "next retry; their attempts so far still count.",
                messages.SUCCESS,
            )
        if retry.left_alone:
            self.message_user(
                request,
                f"{retry.left_alone} deliveries left as they are: delivered already, or being sent right "
                "now.",
                messages.WARNING,
            )
