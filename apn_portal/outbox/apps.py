from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "apn_portal.outbox"
    label = "outbox"
    verbose_name = "Outgoing notifications"
