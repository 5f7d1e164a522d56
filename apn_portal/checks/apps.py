from importlib import import_module
from importlib.util import find_spec

from django.apps import AppConfig, apps


class ChecksConfig(AppConfig):
    name = "apn_portal.checks"
    label = "checks"
    verbose_name = "Scheduled checks"

    def ready(self):
        # Each of our apps declares its scheduled checks in its own `checks` module (partners/checks,
        # engagements/checks, support/checks, ...): importing them fills the registry and creates their
        # Celery tasks. Installed libraries are left out: their `checks` modules are Django system checks.
        for app_config in apps.get_app_configs():
            if "site-packages" in app_config.path:
                continue
            module = f"{app_config.name}.checks"
            if find_spec(module) is not None:
                import_module(module)
        import_module("apn_portal.checks.tasks")
