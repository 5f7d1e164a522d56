from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apn_portal.accounts"
    label = "accounts"
    verbose_name = "People and sign-in"

    def ready(self):
        from apn_portal.accounts.roles import roles_sync

        # After every app's permissions exist, which is why this is not a data migration.
        post_migrate.connect(roles_sync, dispatch_uid="accounts.roles_sync")
