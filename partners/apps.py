from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = "Partner network"

    def ready(self):
        from partners import search_signals, signals

        signals.connect()
        search_signals.connect()

        from partners.reference_data import reference_data_ensure

        post_migrate.connect(reference_data_ensure, sender=self, dispatch_uid="partners.reference_data")
