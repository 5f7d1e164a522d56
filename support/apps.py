from django.apps import AppConfig
from django.db.models.signals import post_migrate

# What a message about a support case names in its `readers` ("support-case:ID"): it reaches only those
# who may still read the case when it is sent.
CASE_READERS = "support-case"
# What the email telling a TAM they are now a customer's TAM names ("customer-tam:ID", the customer): it
# reaches them only while they still are when it is sent.
CUSTOMER_TAM_READERS = "customer-tam"


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Support plans and cases"

    def ready(self):
        from support.reference_data import support_plans_ensure

        post_migrate.connect(support_plans_ensure, sender=self, dispatch_uid="support.reference_data")

        from support import signals

        signals.connect()

        from apn_portal.outbox.services import outbox_readers_register
        from support.selectors import case_readers, customer_tam_readers

        outbox_readers_register(CASE_READERS, case_readers)
        outbox_readers_register(CUSTOMER_TAM_READERS, customer_tam_readers)
