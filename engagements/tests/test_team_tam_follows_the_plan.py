"""A team's Technical Account Manager is the customer's TAM, the one its support plans designate
(team_member_add_check), and membership opens the customer's records to them. So the seat follows the
designation after joining too: when the plan changes to one without a designated TAM, the subscription
ends, another TAM is named, or the TAM stops being one of the provider's TAMs, the former TAM leaves the
customer's teams (their row keeps the day they left, and its history says why) and no longer reads the
customer's records; a TAM named instead takes the seat on the open engagements. Run again, it changes
nothing."""

import datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from engagements import selectors, services
from engagements.choices import TeamRole
from engagements.models import TeamMember
from support import services as support_services
from support.models import SupportSubscription
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    QualifiedTamFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def tara():
    return QualifiedTamFactory(username="tam-tara", first_name="Tara", last_name="Quinn")


@pytest.fixture
def tom():
    return QualifiedTamFactory(username="tam-tom", first_name="Tom", last_name="Reyes")


@pytest.fixture
def customer(tara):
    """Acme on Enterprise with Tara as its designated TAM."""
    customer = CustomerFactory(name="Acme", account_manager=AccountManagerFactory())
    support_services.support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tara
    )
    customer.refresh_from_db()
    assert customer.tam == tara
    return customer


@pytest.fixture
def engagement(customer, tara):
    """An open engagement with Tara on its team as TAM."""
    engagement = EngagementFactory(customer=customer, title="Data lake")
    services.team_member_add(
        user=customer.account_manager,
        engagement=engagement,
        role=TeamRole.TAM,
        member=tara,
        joined_on=customer.local_today() - datetime.timedelta(days=30),
    )
    return engagement


def _tam_seats(engagement):
    return list(
        TeamMember.objects.filter(engagement=engagement, role=TeamRole.TAM)
        .order_by("pk")
        .values_list("user__username", "left_on")
    )


def _shut_out(client, tam, customer, engagement) -> None:
    """What the former TAM notices: the customer and its engagement are no longer theirs to read."""
    assert customer not in selectors.customers_visible_to(tam)
    assert not selectors.engagements_visible_to(tam).filter(pk=engagement.pk).exists()
    client.force_login(tam)
    assert client.get(reverse("engagements:engagement-detail", args=[engagement.pk])).status_code == 404
    assert client.get(reverse("engagements:customer-detail", args=[customer.slug])).status_code == 404
    api = APIClient()
    api.force_authenticate(tam)
    assert api.get(f"/api/v1/customers/{customer.slug}/").status_code == 404
    assert api.get(f"/api/v1/engagements/{engagement.pk}/").status_code == 404


def test_a_downgrade_to_a_plan_without_a_tam_takes_the_tam_off_the_team(client, customer, engagement, tara):
    support_services.support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("business")
    )

    assert _tam_seats(engagement) == [("tam-tara", customer.local_today())]
    _shut_out(client, tara, customer, engagement)
    # The customer reads that its TAM left the team, on the day its plan changed.
    client.force_login(CustomerUserFactory(customer=customer))
    page = client.get(reverse("engagements:engagement-detail", args=[engagement.pk])).content.decode()
    assert f"left {customer.local_today():%-d %b %Y}" in page
    seat = TeamMember.objects.get(engagement=engagement, user=tara)
    latest = seat.history.order_by("-history_date", "-history_id").first()
    assert latest.left_on == customer.local_today()
    assert "no longer Acme's designated TAM" in latest.history_change_reason


def test_ending_the_subscription_takes_the_tam_off_the_team(client, customer, engagement, tara):
    current = SupportSubscription.objects.get(customer=customer, ended_at__isnull=True)

    support_services.support_subscription_end(user=customer.account_manager, subscription=current)

    assert _tam_seats(engagement) == [("tam-tara", customer.local_today())]
    _shut_out(client, tara, customer, engagement)


def test_naming_another_tam_hands_the_seat_over(client, customer, engagement, tara, tom):
    services.customer_assign_staff(user=customer.account_manager, customer=customer, field="tam", member=tom)

    today = customer.local_today()
    assert _tam_seats(engagement) == [("tam-tara", today), ("tam-tom", None)]
    handed = TeamMember.objects.get(engagement=engagement, user=tom)
    assert handed.joined_on == today
    assert "Tara Quinn" in handed.note
    _shut_out(client, tara, customer, engagement)
    assert engagement in selectors.engagements_visible_to(tom)


def test_a_closed_engagement_keeps_its_team_but_not_the_former_tams_access(
    client, customer, engagement, tara, tom
):
    services.engagement_complete(user=customer.account_manager, engagement=engagement)

    support_services.support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tom
    )

    # The record of who worked on the finished project stays; Tom did not, so he does not join it.
    assert _tam_seats(engagement) == [("tam-tara", customer.local_today())]
    _shut_out(client, tara, customer, engagement)


def test_following_again_changes_nothing(customer, engagement, tara, tom):
    support_services.support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tom
    )
    seats = list(TeamMember.objects.filter(engagement=engagement).values_list("pk", "user", "left_on"))
    history = TeamMember.history.count()

    assert services.team_tams_follow([customer.pk]) == (0, 0)

    assert (
        list(TeamMember.objects.filter(engagement=engagement).values_list("pk", "user", "left_on")) == seats
    )
    assert TeamMember.history.count() == history


def test_the_other_roles_on_the_team_stay(customer, engagement, tara):
    manager = customer.account_manager
    services.team_member_add(
        user=manager, engagement=engagement, role=TeamRole.ACCOUNT_MANAGER, member=manager
    )

    support_services.support_subscription_change(
        user=manager, customer=customer, plan=support_plan("business")
    )

    assert TeamMember.objects.get(engagement=engagement, user=manager).left_on is None


def test_an_account_plans_tam_keeps_the_seat_while_the_customers_changes(customer, engagement, tara, tom):
    """Any TAM the customer's plans designate may hold the seat (team_member_add_check): one an account's
    own plan designates stays while the customer-wide plan changes."""
    from tests.factories import AwsAccountFactory

    account = AwsAccountFactory(customer=customer)
    support_services.support_subscription_change(
        user=customer.account_manager,
        customer=customer,
        account=account,
        plan=support_plan("enterprise"),
        tam=tara,
    )

    support_services.support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tom
    )

    assert _tam_seats(engagement) == [("tam-tara", None)]


def test_the_number_of_queries_does_not_grow_with_the_teams(
    customer, engagement, tara, tom, django_assert_max_num_queries
):
    for n in range(6):
        other = EngagementFactory(customer=customer, title=f"Other {n}")
        services.team_member_add(
            user=customer.account_manager, engagement=other, role=TeamRole.TAM, member=tara
        )
    SupportSubscription.objects.filter(customer=customer, ended_at__isnull=True).update(tam=tom)
    from engagements.models import Customer

    Customer.objects.filter(pk=customer.pk).update(tam=tom)

    with django_assert_max_num_queries(12):
        assert services.team_tams_follow([customer.pk]) == (7, 7)


def test_a_tam_whose_role_the_admin_takes_leaves_the_teams(client, customer, tom):
    """A TAM seat from before the rule (no plan designates Tom): taking his TAM role in the user admin ends
    it, as the seat would otherwise open the customer's records to somebody who is no TAM at all, and the
    customer's TAM takes it over."""
    from apn_portal.accounts.choices import StaffRole
    from tests.admin_forms import user_change_data
    from tests.factories import SuperUserFactory

    engagement = EngagementFactory(customer=customer)
    TeamMember.objects.create(engagement=engagement, user=tom, role=TeamRole.TAM)
    client.force_login(SuperUserFactory())
    groups = [group.pk for group in tom.groups.exclude(name=StaffRole.TAM.value)]

    response = client.post(
        reverse("admin:accounts_user_change", args=[tom.pk]), user_change_data(tom, groups=groups)
    )

    assert response.status_code == 302
    # Tara, whom Acme's plan designates, takes the seat over.
    assert _tam_seats(engagement) == [("tam-tom", customer.local_today()), ("tam-tara", None)]
    client.logout()
    _shut_out(client, tom, customer, engagement)
