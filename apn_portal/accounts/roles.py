"""Provider staff roles as Django groups, each with the admin permissions its job needs."""

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError, Q, QuerySet

from apn_portal.accounts.choices import StaffRole

# app label -> actions on every model of that app; anything not listed is view-only for the role or absent.
ROLE_PERMISSIONS = {
    # Check runs: the PDM dashboard links each check's latest run.
    StaffRole.PDM: {
        "partners": ("view", "add", "change", "delete"),
        "accounts": ("view",),
        "checks": ("view",),
    },
    # Which customers' records they reach is narrower still: engagements.selectors, by assignment.
    StaffRole.ACCOUNT_MANAGER: {
        "partners": ("view",),
        "engagements": ("view", "add", "change"),
        "accounts": ("view",),
        # Changes their customers' support plans (a new subscription); the plans themselves are support's.
        "support": ("view", "add"),
    },
    # Add, as the API lets them (engagements.selectors.user_can_manage_customer): the engagements and
    # accounts of the customers they look after, and what hangs under them; not customers (the admin asks
    # customer_create's rule).
    StaffRole.SOLUTIONS_ARCHITECT: {
        "partners": ("view",),
        "engagements": ("view", "add", "change"),
        "accounts": ("view",),
    },
    StaffRole.TAM: {
        "partners": ("view",),
        "engagements": ("view", "add", "change"),
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


def role_permissions(role: StaffRole) -> QuerySet[Permission]:
    """The permissions `role`'s group needs (ROLE_PERMISSIONS)."""
    wanted = Q(pk__in=[])
    for app_label, actions in ROLE_PERMISSIONS[role].items():
        wanted |= Q(content_type__app_label=app_label, codename__regex=rf"^({'|'.join(actions)})_")
    return Permission.objects.filter(wanted)


def roles_sync(**kwargs):
    """Create each role's group and give it its permissions. Safe to run after every migrate."""
    for role in ROLE_PERMISSIONS:
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.add(*role_permissions(role))


# A role is its group's name (User.has_role): renamed or deleted, every holder silently loses the role, and
# the next migrate creates the group afresh, empty. So a role group keeps its name and is never deleted,
# whoever asks (the admin says so first: accounts.admin.GroupAdmin). Its permissions may be added to; those
# the role needs stay (the admin's form; roles_sync gives them back after every migrate).


def is_role_group(group: Group) -> bool:
    return group.name in StaffRole.values


def role_group_problem(name: str) -> str:
    return (
        f"{name} is a provider staff role: its group keeps its name and is never deleted, or its staff "
        "would lose the role."
    )


def role_group_deletion_problems(groups: QuerySet[Group]) -> list[str]:
    """Why the groups of `groups` cannot be deleted together, one sentence each, or none."""
    names = groups.filter(name__in=StaffRole.values).order_by("name").values_list("name", flat=True)
    return [role_group_problem(name) for name in names]


def role_group_keeps_its_name(sender, instance: Group, raw=False, **kwargs):
    """pre_save of Group: a role group is not renamed."""
    if instance.pk is None:
        return
    stored = Group.objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    if stored in StaffRole.values and instance.name != stored:
        raise ValidationError({"name": role_group_problem(stored)})


def role_group_stays(sender, instance: Group, **kwargs):
    """pre_delete of Group (sent for a queryset's delete too): a role group is not deleted."""
    stored = Group.objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    if stored in StaffRole.values:
        raise ProtectedError(role_group_problem(stored), {instance})
