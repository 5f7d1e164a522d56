from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apn_portal.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
