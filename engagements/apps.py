from django.apps import AppConfig


class EngagementsConfig(AppConfig):
    name = "engagements"
    verbose_name = "Customers and engagements"

    def ready(self):
        from engagements import signals

        signals.connect()
