"""Provider staff roles as Django groups, each with the admin permissions its job needs."""

from django.contrib.auth.models import Group, Permission

from apn_portal.accounts.choices import StaffRole

# app label -> actions on every model of that app; anything not listed is view-only for the role or absent.
ROLE_PERMISSIONS = {
    StaffRole.PDM: {"partners": ("view", "add", "change", "delete"), "accounts": ("view",)},
    # Which customers' records they reach is narrower still: engagements.selectors, by assignment.
    StaffRole.ACCOUNT_MANAGER: {
        "partners": ("view",),
        "engagements": ("view", "add", "change"),
        "accounts": ("view",),
        # Changes their customers' support plans (a new subscription); the plans themselves are support's.
        "support": ("view", "add"),
    },
    StaffRole.SOLUTIONS_ARCHITECT: {
        "partners": ("view",),
        "engagements": ("view", "change"),
        "accounts": ("view",),
    },
    StaffRole.TAM: {
        "partners": ("view",),
        "engagements": ("view", "change"),
        "accounts": ("view",),
        "support": ("view", "change"),
    },
    # Answers support cases; keeps the plans and the staff's certifications (support/).
    StaffRole.SUPPORT_ENGINEER: {
        "partners": ("view",),
        "engagements": ("view",),
        "accounts": ("view",),
        # Deleting is for a plan's response targets: subscriptions and cases are never deleted (admin).
        "support": ("view", "add", "change", "delete"),
    },
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
