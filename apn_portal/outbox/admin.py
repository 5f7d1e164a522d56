from django.contrib import admin

from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_message_bodies


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["subject", "recipients", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["subject", "dedupe_key"]
    readonly_fields = [*(field.name for field in OutboxMessage._meta.fields), "text"]
    show_full_result_count = False
    date_hierarchy = "created_at"

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
