"""Reads about users: whether one is signed in, and which parts of the site are their own."""

from dataclasses import dataclass

from apn_portal.accounts.choices import StaffRole
from apn_portal.pages import audience_of


def pdms():
    """The provider's current Partner Development Managers (User.is_pdm): not somebody who left the
    provider, lost the role or was deactivated, though still in the PDM group."""
    from apn_portal.accounts.models import User, role_holders_condition

    return User.objects.filter(role_holders_condition(StaffRole.PDM))


def role_names_loaded(users):
    """Read the role (group) names of all `users` in one query, into the cache User.has_role reads, so a
    loop asking each of them about their roles costs that one query, however many they are (none when
    every one's are cached already); returns `users`. Whoever they are, so the cost does not depend on
    who is among them."""
    from apn_portal.accounts.models import User

    pending = [user for user in users if not hasattr(user, "_role_names")]
    if not pending:
        return users
    names = {user.pk: set() for user in pending}
    memberships = User.groups.through.objects.filter(user_id__in=names).values_list("user_id", "group__name")
    for user_id, name in memberships:
        names[user_id].add(name)
    for user in pending:
        user._role_names = set(names[user.pk])
    return users


def user_is_signed_in(user) -> bool:
    """A real, active account: anonymous visitors and deactivated users are neither."""
    return bool(user and user.is_authenticated and user.is_active)


@dataclass(frozen=True)
class HomeArea:
    """A part of the signed-in site that is the user's own: where the header and the home page lead."""

    label: str
    url_name: str
    description: str


PARTNER_AREA = HomeArea(
    "Partner area",
    "my:scorecard",
    "Your tier scorecard, contact requests, engagements, support cases and public profile.",
)
CUSTOMER_AREA = HomeArea(
    "My organisation",
    "engagements:organisation",
    "Your accounts and engagements, who can access the accounts, and support.",
)
CUSTOMERS_AREA = HomeArea(
    "My customers", "engagements:customers", "The customers assigned to you, their engagements and support."
)
SUPPORT_CASES_AREA = HomeArea(
    "Support cases", "support:case-list", "The support cases waiting for an answer."
)
DASHBOARD_AREA = HomeArea(
    "Network dashboard",
    "pdm:dashboard",
    "The partner network at a glance: tiers, programs and certifications.",
)
# Provider staff whose work is with the customers assigned to them.
CUSTOMER_FACING_ROLES = (StaffRole.ACCOUNT_MANAGER, StaffRole.SOLUTIONS_ARCHITECT, StaffRole.TAM)


def home_areas_of(user) -> list[HomeArea]:
    """The areas of the site that are this user's own, by whom they work for and, at the provider, by
    their roles; none for an anonymous visitor. Every one opens for the user (the pages check the same
    audiences and roles)."""
    if not user_is_signed_in(user):
        return []
    audience = audience_of(user)
    if audience == "partner":
        return [PARTNER_AREA]
    if audience == "customer":
        return [CUSTOMER_AREA]
    if audience != "provider":
        return []
    areas = []
    if user.is_superuser or any(user.has_role(role) for role in CUSTOMER_FACING_ROLES):
        areas.append(CUSTOMERS_AREA)
    if user.has_role(StaffRole.SUPPORT_ENGINEER):
        areas.append(SUPPORT_CASES_AREA)
    if user.is_superuser or user.is_pdm:
        areas.append(DASHBOARD_AREA)
    # Provider staff without a role still have the provider's area, which starts with their customers.
    return areas or [CUSTOMERS_AREA]
