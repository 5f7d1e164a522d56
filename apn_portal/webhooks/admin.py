from functools import partial

from django import forms
from django.contrib import admin, messages

from apn_portal.admin import (
    SET_ACTION_MAX_OBJECTS,
    AuditedAdmin,
    DeletedOnlyWithParentMixin,
    DeletedWithParentMixin,
    LargeTableAdminMixin,
    selection_too_large,
)
from apn_portal.exceptions import DomainError
from apn_portal.webhooks.choices import WebhookEvent
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from apn_portal.webhooks.services import (
    webhook_deliveries_retry,
    webhook_endpoint_create,
    webhook_endpoint_update,
)

ENDPOINT_FIELDS = ("url", "events", "secret", "description", "is_active")


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["owner", *ENDPOINT_FIELDS]
        # An address typed without its scheme is the https one, as the portal's other URL fields take it.
        field_classes = {"url": partial(forms.URLField, assume_scheme="https")}


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(DeletedWithParentMixin, AuditedAdmin):
    """Endpoints are registered and changed by the webhook services, as over the API: only allowed hosts,
    known events, and the events of the owner's own organisation (its partner or customer follows the
    owner; a customer's endpoint subscribes only to the events about its records).

    A partner's or customer's deletion takes the endpoints registered for its events, which would hear of
    none again (DeletedWithParentMixin): an endpoint still open has its owner in that organisation, whose
    people are protected from that deletion, and its owner's own deletion is refused
    (user_deletion_problems)."""

    form = WebhookEndpointForm
    list_display = ["url", "owner", "partner", "customer", "event_list", "is_active", "updated_at"]
    list_filter = ["is_active"]
    list_select_related = ["owner", "partner", "customer"]
    search_fields = ["url", "owner__username", "partner__name", "customer__name"]
    raw_id_fields = ["owner"]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["partner", "customer", "created_at", "updated_at"]
        # The service keeps an endpoint with the one who registered it.
        return ["owner", *readonly] if obj is not None else readonly

    @admin.display(description="events")
    def event_list(self, obj):
        return ", ".join(obj.events)

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in ENDPOINT_FIELDS if name in form.cleaned_data}
        if change:
            saved = webhook_endpoint_update(endpoint=obj, user=request.user, **changes)
        else:
            # Registered as its owner would register it: the owner's organisation is whose events it gets.
            saved = webhook_endpoint_create(
                user=form.cleaned_data["owner"], acting_user=request.user, **changes
            )
        # The admin goes on with the object it built (to log the change and redirect): it becomes the
        # endpoint the service saved.
        for field in WebhookEndpoint._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(DeletedOnlyWithParentMixin, LargeTableAdminMixin, admin.ModelAdmin):
    """The delivery log: what was sent where, how often, and what the receiver answered. A delivery goes
    only with its endpoint: deleted on its own, the record of what an integrator was sent would be gone,
    and a pending or retried one's event would never be delivered."""

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
        # One statement for the selection, whatever its size.
        if selection_too_large(self, request, queryset, limit=SET_ACTION_MAX_OBJECTS):
            return
        try:
            retry = webhook_deliveries_retry(deliveries=queryset, user=request.user)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        if retry.restarted:
            self.message_user(
                request,
                f"{retry.restarted} failed or not sent deliveries queued again now, with a fresh round of "
                "attempts.",
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
