from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support plans and cases"

    def ready(self):
        from support.reference_data import support_plans_ensure

        post_migrate.connect(support_plans_ensure, sender=self, dispatch_uid="support.reference_data")

        from support import signals

        signals.connect()
