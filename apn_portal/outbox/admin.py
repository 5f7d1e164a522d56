from django.contrib import admin, messages

from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_message_bodies, outbox_messages_resend


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
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

    @admin.display(description="text as sent (or to be sent)")
    def text(self, obj):
        # A message rendered when it is sent has no stored body until then.
        try:
            return outbox_message_bodies(obj)[0]
        except Exception as exc:  # a broken template must not break the page that shows the message
            return f"Cannot be rendered: {type(exc).__name__}: {exc}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
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
