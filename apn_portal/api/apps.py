from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "apn_portal.api"
    label = "api"
    verbose_name = "REST API"
