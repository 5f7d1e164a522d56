from django.apps import AppConfig

# What a webhook delivery telling of an access grant names in its `readers` ("access-grant:ID"): it reaches
# only an endpoint whose owner may still see the grant when it is sent.
ACCESS_GRANT_READERS = "access-grant"


class EngagementsConfig(AppConfig):
    name = "engagements"
    verbose_name = "Customers and engagements"

    def ready(self):
        from engagements import signals

        signals.connect()

        from apn_portal.outbox.services import outbox_readers_register
        from engagements.selectors import access_grant_readers

        outbox_readers_register(ACCESS_GRANT_READERS, access_grant_readers)
