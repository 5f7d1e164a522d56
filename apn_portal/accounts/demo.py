"""The demo's people, shared by every app's demo data: who they are, and how each is created once."""

from dataclasses import dataclass

from django.contrib.auth.models import Group

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str  # empty: a named person of the demo who does not sign in
    first_name: str
    last_name: str
    description: str


def demo_user_ensure(
    login: DemoLogin,
    *,
    role: StaffRole | None = None,
    superuser: bool = False,
    partner=None,
    customer=None,
) -> tuple[User, bool]:
    """The demo user with this username, created the first time (provider staff when it has a role or is
    a superuser); an existing user is left as it is, so seeding twice changes nothing.
    Returns (user, created)."""
    user = User.objects.filter(username=login.username).first()
    if user is not None:
        return user, False
    user = User(
        username=login.username,
        first_name=login.first_name,
        last_name=login.last_name,
        email=f"{login.username}@apn-portal.example",
        is_staff=superuser or role is not None,
        is_superuser=superuser,
        partner=partner,
        customer=customer,
    )
    if login.password:
        user.set_password(login.password)
    else:
        user.set_unusable_password()
    user.save()
    if role is not None:
        user.groups.add(Group.objects.get(name=role.value))
    return user, True
