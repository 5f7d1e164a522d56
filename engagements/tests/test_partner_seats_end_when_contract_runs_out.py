"""A contract that simply runs out (its last day passes, nothing is written) ends its partner's people's
team seats too, as one ended early does: the hourly check access_grant_expiry ends them on the contract's
last day, once that day is over in the customer's time zone. Before, the customer's and the other partners'
pages went on listing "Olga Operator, Managed-service operator (Old MSP)" as a current member, though Old
MSP no longer saw the engagement."""

import datetime

import pytest

from engagements import services
from engagements.choices import TeamRole
from engagements.models import TeamMember
from engagements.tests.test_partner_seats_end_with_contract import _msp, _team_lines_of
from tests.checks import check_run_on, on
from tests.factories import (
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerUserFactory,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
LAST_DAY = datetime.date(2026, 12, 10)


@pytest.fixture
def operated():
    """Zeta's operations in Los Angeles: Old MSP's operator on the team until its contract's last day,
    10 Dec 2026; New MSP runs the US beside it, in the same role, until next year."""
    with on(LAST_DAY - 60 * DAY):
        customer = CustomerFactory(name="Zeta plc", time_zone="America/Los_Angeles")
        admin = CustomerUserFactory(customer=customer, access_admin=True, first_name="Ada", last_name="Admin")
        engagement = EngagementFactory(customer=customer, title="Zeta operations")
        old, new = _msp("Old MSP", "old-msp"), _msp("New MSP", "new-msp")
        contract = EngagementPartnerFactory(
            engagement=engagement,
            partner=old,
            role="managed_service",
            contract_start=LAST_DAY - 100 * DAY,
            contract_end=LAST_DAY,
        )
        EngagementPartnerFactory(
            engagement=engagement,
            partner=new,
            role="managed_service",
            contract_start=LAST_DAY - 100 * DAY,
            contract_end=LAST_DAY + 300 * DAY,
        )
        operator = PartnerUserFactory(partner=old, first_name="Olga", last_name="Operator")
        new_user = PartnerUserFactory(partner=new, first_name="Nina", last_name="Newman")
        for role, member in ((TeamRole.MANAGED_SERVICE_OPERATOR, operator), (TeamRole.CUSTOMER_IT, admin)):
            services.team_member_add(
                user=admin, engagement=engagement, role=role, member=member, joined_on=LAST_DAY - 50 * DAY
            )
    return engagement, admin, contract, operator, new_user


def test_the_seats_end_on_the_last_day_once_it_is_over_in_the_customer_s_time_zone(operated):
    engagement, admin, _, operator, new_user = operated
    # 02:00 UTC on 11 Dec is still 10 Dec in Los Angeles: the contract's last day is not over there.
    check_run_on("access_grant_expiry", LAST_DAY + DAY)
    seat = TeamMember.objects.get(user=operator)
    assert seat.left_on is None

    run = check_run_on("access_grant_expiry", LAST_DAY + 2 * DAY)

    assert run.changed["team_seats_ended"] == 1
    expected = [
        "Ada Admin, Customer IT",
        "Olga Operator, Managed-service operator (Old MSP) left 10 Dec 2026",
    ]
    with on(LAST_DAY + 2 * DAY):
        assert sorted(_team_lines_of(admin, engagement)) == expected
        assert sorted(_team_lines_of(new_user, engagement)) == expected
    seat.refresh_from_db()
    assert seat.left_on == LAST_DAY
    assert seat.history.first().history_user is None
    assert seat.history.first().history_change_reason == "Old MSP's contract ran out"


def test_running_again_changes_nothing(operated):
    _, _, _, operator, _ = operated
    check_run_on("access_grant_expiry", LAST_DAY + 2 * DAY)
    seat = TeamMember.objects.get(user=operator)
    versions, updated_at = seat.history.count(), seat.updated_at

    run = check_run_on("access_grant_expiry", LAST_DAY + 3 * DAY)

    seat.refresh_from_db()
    assert "team_seats_ended" not in run.changed
    assert (seat.history.count(), seat.updated_at, seat.left_on) == (versions, updated_at, LAST_DAY)


def test_a_check_that_missed_days_ends_the_seat_on_the_last_day_all_the_same(operated):
    _, _, _, operator, _ = operated

    check_run_on("access_grant_expiry", LAST_DAY + 20 * DAY)

    assert TeamMember.objects.get(user=operator).left_on == LAST_DAY


def test_a_partner_still_under_another_contract_there_keeps_its_people_s_seats(operated):
    engagement, _, contract, operator, _ = operated
    EngagementPartnerFactory(
        engagement=engagement,
        partner=contract.partner,
        role="reseller",
        contract_start=LAST_DAY - 100 * DAY,
        contract_end=LAST_DAY + 50 * DAY,
    )

    check_run_on("access_grant_expiry", LAST_DAY + 20 * DAY)
    assert TeamMember.objects.get(user=operator).left_on is None

    # Once that one runs out too, they leave on its last day.
    check_run_on("access_grant_expiry", LAST_DAY + 52 * DAY)
    assert TeamMember.objects.get(user=operator).left_on == LAST_DAY + 50 * DAY
