"""A seat on a customer's team added at the moment the user admin takes its role from the person: the two
wait on each other on the person's row, so whichever comes second sees the first. Added first, the seat is
ended with the person's others when the role goes; otherwise the add finds them without the role. Never a
seat left open that says the person is still on the team while its role is gone."""

import threading

import pytest
from django.test import Client
from django.urls import reverse

from apn_portal.accounts.choices import StaffRole
from engagements import services
from engagements.choices import TeamRole
from engagements.models import TeamMember
from tests.admin_forms import user_change_data
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    EngagementFactory,
    SolutionsArchitectFactory,
    SuperUserFactory,
)
from tests.locks import in_a_thread, sessions_waiting_for_locks, wait_for


@pytest.mark.django_db(transaction=True)
def test_a_seat_added_while_its_role_is_taken_is_ended_with_the_role(monkeypatch):
    customer = CustomerFactory(name="Acme", slug="acme", account_manager=AccountManagerFactory())
    engagement = EngagementFactory(customer=customer, title="Data lake")
    member = SolutionsArchitectFactory(username="seated", first_name="Sam", last_name="Seat")
    taking_data = user_change_data(
        member,
        groups=[g.pk for g in member.groups.exclude(name=StaffRole.SOLUTIONS_ARCHITECT.value)],
    )
    admin = Client()
    admin.force_login(SuperUserFactory())

    # The add has found Sam a Solutions Architect; it pauses before saving the seat.
    checked, go_on = threading.Event(), threading.Event()
    check = services.team_member_add_check

    def check_then_pause(**kwargs):
        check(**kwargs)
        checked.set()
        go_on.wait(20)

    monkeypatch.setattr(services, "team_member_add_check", check_then_pause)
    outcome = {}
    adding = in_a_thread(
        outcome,
        "adding",
        lambda: services.team_member_add(
            user=customer.account_manager,
            engagement=engagement,
            role=TeamRole.SOLUTIONS_ARCHITECT,
            member=member,
        ),
    )
    assert checked.wait(20)
    taking = in_a_thread(
        outcome,
        "taking",
        lambda: admin.post(reverse("admin:accounts_user_change", args=[member.pk]), taking_data).status_code,
    )
    # Sam's row is held until the add commits.
    wait_for(lambda: "taking" in outcome or "taking error" in outcome or sessions_waiting_for_locks() == 1)
    go_on.set()
    adding.join(timeout=30)
    taking.join(timeout=30)

    assert "adding error" not in outcome and "taking error" not in outcome, outcome
    assert outcome["taking"] == 302
    assert not member.groups.filter(name=StaffRole.SOLUTIONS_ARCHITECT.value).exists()
    seat = TeamMember.objects.get(user=member)
    assert seat.left_on == customer.local_today()
    assert seat.history.first().history_change_reason == (
        "Sam Seat is no longer one of the provider's Solutions Architects"
    )
