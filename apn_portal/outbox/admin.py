from django.contrib import admin, messages

from apn_portal.admin import AdminInputMixin
from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_message_bodies, outbox_messages_resend

_BODY_FIELDS = ("body_text", "body_html", "context")


@admin.register(OutboxMessage)
class OutboxMessageAdmin(AdminInputMixin, admin.ModelAdmin):
    list_display = ["subject", "recipients", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["subject", "dedupe_key"]
    readonly_fields = [*(field.name for field in OutboxMessage._meta.fields), "text"]
    show_full_result_count = False
    date_hierarchy = "created_at"
    actions = ["send_again"]

    @admin.display(description="to")
    def recipients(self, obj):
        return ", ".join(obj.to)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and obj.is_confidential:
            return [name for name in fields if name not in _BODY_FIELDS]
        return fields

    @admin.display(description="text as sent (or to be sent)")
    def text(self, obj):
        if obj.is_confidential:
            return "Not shown: it holds a link that signs its reader in (a password reset)."
        # A message rendered when it is sent has no stored body until then.
        try:
            return outbox_message_bodies(obj)[0]
        except Exception as exc:  # a broken template must not break the page that shows the message
            return f"Cannot be rendered: {type(exc).__name__}: {exc}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    # The record of what was sent: a row deleted frees its dedupe key, and the next run of the check that
    # queued it (checks are safe to run twice, by that key) would send the same email again.
    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("send_again", None)
        return actions

    @admin.action(description="Send the selected failed emails again")
    def send_again(self, request, queryset):
        sent_again = outbox_messages_resend(messages=queryset, user=request.user)
        skipped = queryset.count() - sent_again
        self.message_user(request, f"{sent_again} email(s) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} not failed, left as they are.", messages.WARNING)
