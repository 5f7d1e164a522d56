from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_delete, pre_save


class AccountsConfig(AppConfig):
    name = "apn_portal.accounts"
    label = "accounts"
    verbose_name = "People and sign-in"

    def ready(self):
        from django.contrib.auth.models import Group

        from apn_portal import settings_checks  # noqa: F401 (registers the checks of the portal's settings)
        from apn_portal.accounts.roles import role_group_keeps_its_name, role_group_stays, roles_sync

        # After every app's permissions exist, which is why this is not a data migration.
        post_migrate.connect(roles_sync, dispatch_uid="accounts.roles_sync")
        # A role is its group's name: the group is neither renamed nor deleted (roles.py).
        pre_save.connect(role_group_keeps_its_name, sender=Group, dispatch_uid="accounts.role_group_name")
        pre_delete.connect(role_group_stays, sender=Group, dispatch_uid="accounts.role_group_stays")
