"""A seat on a customer's team as its Account Manager or Solutions Architect is for somebody holding that
role (team_member_add_check), and it opens the customer's records. So it opens them only while its person
holds the role: somebody whose role was taken, still active provider staff, reads nothing of the customer's
through the seat, whatever path took the role (the shell, a group edit), and taking it in the user admin
ends their seats in that role (their row keeps the day they left, its history says why), as for a TAM
(test_team_tam_follows_the_plan). A seat whose role they still hold stays."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User
from engagements import selectors, services
from engagements.choices import EngagementStatus, TeamRole
from engagements.models import Engagement, TeamMember
from tests.admin_forms import user_change_data
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    CustomerFactory,
    EngagementFactory,
    SolutionsArchitectFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db

ROLES = {
    TeamRole.ACCOUNT_MANAGER: (StaffRole.ACCOUNT_MANAGER, AccountManagerFactory),
    TeamRole.SOLUTIONS_ARCHITECT: (StaffRole.SOLUTIONS_ARCHITECT, SolutionsArchitectFactory),
}


@pytest.fixture
def engagement():
    """Acme's open engagement; Acme's own Account Manager is somebody else."""
    customer = CustomerFactory(name="Acme", slug="acme", account_manager=AccountManagerFactory())
    return EngagementFactory(customer=customer, title="Data lake")


def _seat(engagement, role: TeamRole) -> User:
    member = ROLES[role][1](username="seated", first_name="Sam", last_name="Seat")
    services.team_member_add(
        user=engagement.customer.account_manager, engagement=engagement, role=role, member=member
    )
    return member


def _reads(user, engagement) -> dict:
    """What the person notices: the customer's and the engagement's pages and API records."""
    customer = engagement.customer
    page = Client()
    page.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    return {
        "customer page": page.get(reverse("engagements:customer-detail", args=[customer.slug])).status_code,
        "engagement page": page.get(
            reverse("engagements:engagement-detail", args=[engagement.pk])
        ).status_code,
        "customer API": api.get(f"/api/v1/customers/{customer.slug}/").status_code,
        "engagement API": api.get(f"/api/v1/engagements/{engagement.pk}/").status_code,
        "grants API": len(api.get("/api/v1/access-grants/").json()["results"]),
    }


SHUT_OUT = {
    "customer page": 404,
    "engagement page": 404,
    "customer API": 404,
    "engagement API": 404,
    "grants API": 0,
}


@pytest.mark.parametrize("role", list(ROLES), ids=["AM", "SA"])
def test_a_team_seat_opens_nothing_once_its_role_is_taken(engagement, role):
    AccessGrantFactory(engagement_partner__engagement=engagement)
    member = _seat(engagement, role)
    assert _reads(member, engagement)["customer page"] == 200

    # Taken by a path that skips the admin (the shell, a group edit): the seat is still there.
    member.groups.remove(Group.objects.get(name=ROLES[role][0].value))
    member = User.objects.get(pk=member.pk)

    assert member.is_active and member.is_provider_staff
    assert _reads(member, engagement) == SHUT_OUT
    assert not selectors.customers_visible_to(member).exists()
    assert not selectors.accounts_visible_to(member).exists()


def test_taking_the_role_in_the_user_admin_ends_the_seats(engagement):
    member = _seat(engagement, TeamRole.ACCOUNT_MANAGER)
    closed = EngagementFactory(customer=engagement.customer, title="Old")
    services.team_member_add(
        user=engagement.customer.account_manager,
        engagement=closed,
        role=TeamRole.ACCOUNT_MANAGER,
        member=member,
    )
    Engagement.objects.filter(pk=closed.pk).update(status=EngagementStatus.CANCELLED)
    admin = Client()
    admin.force_login(SuperUserFactory())

    response = admin.post(
        reverse("admin:accounts_user_change", args=[member.pk]),
        user_change_data(
            member, groups=[g.pk for g in member.groups.exclude(name=StaffRole.ACCOUNT_MANAGER.value)]
        ),
    )

    assert response.status_code == 302
    today = engagement.customer.local_today()
    seats = TeamMember.objects.filter(user=member).order_by("pk")
    assert [(seat.engagement.title, seat.left_on) for seat in seats] == [
        ("Data lake", today),
        ("Old", today),
    ]
    assert seats[0].history.first().history_change_reason == (
        "Sam Seat is no longer one of the provider's Account Managers"
    )
    assert _reads(User.objects.get(pk=member.pk), engagement) == SHUT_OUT


def test_a_seat_whose_role_is_still_held_stays(engagement):
    member = AccountManagerFactory(
        username="both",
        first_name="Bo",
        last_name="Th",
        roles=[StaffRole.ACCOUNT_MANAGER, StaffRole.SOLUTIONS_ARCHITECT],
    )
    for role in ROLES:
        services.team_member_add(
            user=engagement.customer.account_manager, engagement=engagement, role=role, member=member
        )
    admin = Client()
    admin.force_login(SuperUserFactory())

    response = admin.post(
        reverse("admin:accounts_user_change", args=[member.pk]),
        user_change_data(
            member, groups=[g.pk for g in member.groups.exclude(name=StaffRole.ACCOUNT_MANAGER.value)]
        ),
    )

    assert response.status_code == 302
    assert dict(TeamMember.objects.filter(user=member).values_list("role", "left_on")) == {
        TeamRole.ACCOUNT_MANAGER: engagement.customer.local_today(),
        TeamRole.SOLUTIONS_ARCHITECT: None,
    }
    assert _reads(User.objects.get(pk=member.pk), engagement)["engagement page"] == 200


def test_the_seats_roles_are_checked_in_a_bounded_number_of_queries(
    engagement, django_assert_max_num_queries
):
    member = _seat(engagement, TeamRole.ACCOUNT_MANAGER)
    for n in range(3):
        other = EngagementFactory(customer=CustomerFactory(), title=f"Other {n}")
        services.team_member_add(
            user=SuperUserFactory(), engagement=other, role=TeamRole.ACCOUNT_MANAGER, member=member
        )
    member = User.objects.get(pk=member.pk)
    with django_assert_max_num_queries(2):  # their roles, once; the customers
        assert len(list(selectors.customers_visible_to(member))) == 4
