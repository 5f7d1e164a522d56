"""Provider staff roles as Django groups, each with the admin permissions its job needs."""

from django.contrib.auth.models import Group, Permission

from apn_portal.accounts.choices import StaffRole

# app label -> actions on every model of that app; anything not listed is view-only for the role or absent.
ROLE_PERMISSIONS = {
    StaffRole.PDM: {"partners": ("view", "add", "change", "delete"), "accounts": ("view",)},
    StaffRole.ACCOUNT_MANAGER: {"partners": ("view",)},
    StaffRole.SOLUTIONS_ARCHITECT: {"partners": ("view",)},
    StaffRole.TAM: {"partners": ("view",)},
}


def roles_sync(**kwargs):
    """Create each role's group and give it its permissions. Safe to run after every migrate."""
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = Permission.objects.none()
        for app_label, actions in grants.items():
            wanted = wanted | Permission.objects.filter(
                content_type__app_label=app_label, codename__regex=rf"^({'|'.join(actions)})_"
            )
        group.permissions.add(*wanted)
