"""A partner's people's seats on the project team (partner architect, managed-service operator) end with
the partner's contract: replaced, or ended with the engagement's cancellation. The replaced MSP's
operator stayed a current team member, and the customer's and the new MSP's pages went on listing
"..., Managed-service operator (Old MSP)", with no page for the customer to end that seat."""

import datetime
import re
from html import unescape

import pytest
from django.test import Client

from apn_portal.exceptions import DomainError
from engagements import services
from engagements.choices import TeamRole
from engagements.models import EngagementPartner, TeamMember
from partners.models import ConsultingCategory
from tests.factories import (
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _msp(name: str, slug: str):
    partner = PartnerFactory(name=name, slug=slug)
    partner.categories.add(ConsultingCategory.objects.get(slug="managed-service-provider"))
    return partner


def _team_lines_of(user, engagement) -> list[str]:
    """The project team's lines as `user` reads them on the engagement's page, tags dropped."""
    client = Client()
    client.force_login(user)
    page = client.get(f"/my/engagements/{engagement.pk}/")
    assert page.status_code == 200
    team = page.content.decode().split('id="team-heading"', 1)[1].split("</section>", 1)[0]
    return [" ".join(unescape(re.sub(r"<[^>]+>", "", item)).split()) for item in team.split("<li>")[1:]]


@pytest.fixture
def operated():
    """Zeta's operations: Old MSP's operator and architect on the team, beside the customer's IT lead."""
    customer = CustomerFactory(name="Zeta plc", time_zone="Asia/Tokyo")
    admin = CustomerUserFactory(customer=customer, access_admin=True, first_name="Ada", last_name="Admin")
    engagement = EngagementFactory(customer=customer, title="Zeta operations")
    old = _msp("Old MSP", "old-msp")
    today = customer.local_today()
    contract = EngagementPartnerFactory(
        engagement=engagement,
        partner=old,
        role="managed_service",
        contract_start=today - 100 * DAY,
        contract_end=today + 100 * DAY,
    )
    operator = PartnerUserFactory(partner=old, first_name="Olga", last_name="Operator")
    architect = PartnerUserFactory(partner=old, first_name="Arne", last_name="Architect")
    for role, member in (
        (TeamRole.MANAGED_SERVICE_OPERATOR, operator),
        (TeamRole.PARTNER_ARCHITECT, architect),
        (TeamRole.CUSTOMER_IT, admin),
    ):
        services.team_member_add(
            user=admin, engagement=engagement, role=role, member=member, joined_on=today - 50 * DAY
        )
    return engagement, admin, contract, operator


def test_the_replaced_msp_s_people_leave_the_team_that_day(operated):
    engagement, admin, contract, operator = operated
    new = _msp("New MSP", "new-msp")
    new_user = PartnerUserFactory(partner=new)
    today = engagement.customer.local_today()

    services.engagement_partner_replace(
        user=admin,
        engagement_partner=contract,
        new_partner=new,
        reason="Cheaper offer",
        contract_end=today + 300 * DAY,
    )

    left = f"left {today.day} {today:%b %Y}"
    expected = [
        "Ada Admin, Customer IT",
        f"Arne Architect, Partner architect (Old MSP) {left}",
        f"Olga Operator, Managed-service operator (Old MSP) {left}",
    ]
    assert sorted(_team_lines_of(admin, engagement)) == expected
    assert sorted(_team_lines_of(new_user, engagement)) == expected
    seat = TeamMember.objects.get(user=operator)
    assert seat.history.first().history_user == admin
    assert seat.history.first().history_change_reason == "Old MSP's contract was replaced"


def test_the_seats_end_with_the_engagement_s_cancellation(operated):
    engagement, admin, _, operator = operated
    today = engagement.customer.local_today()

    services.engagement_status_change(
        user=admin, engagement=engagement, status="cancelled", reason="Budget cut"
    )

    seats = TeamMember.objects.select_related("user")
    assert {seat.user.get_full_name(): seat.left_on for seat in seats} == {
        "Ada Admin": None,
        "Olga Operator": today,
        "Arne Architect": today,
    }
    seat = TeamMember.objects.get(user=operator)
    assert seat.history.first().history_change_reason == (
        "Old MSP's contract ended with the engagement's cancellation"
    )


def test_a_seat_ends_on_the_day_a_contract_already_over_ended(operated):
    engagement, admin, contract, operator = operated
    today = engagement.customer.local_today()
    EngagementPartner.objects.filter(pk=contract.pk).update(contract_end=today - 10 * DAY)

    services.engagement_partner_replace(
        user=admin,
        engagement_partner=contract,
        new_partner=_msp("New MSP", "new-msp"),
        reason="Cheaper offer",
        contract_end=today + 300 * DAY,
    )

    assert TeamMember.objects.get(user=operator).left_on == today - 10 * DAY


def test_a_partner_still_under_another_contract_there_keeps_its_people_s_seats(operated):
    engagement, admin, contract, operator = operated
    today = engagement.customer.local_today()
    EngagementPartnerFactory(
        engagement=engagement, partner=contract.partner, role="reseller", contract_end=today + 50 * DAY
    )

    services.engagement_partner_replace(
        user=admin,
        engagement_partner=contract,
        new_partner=_msp("New MSP", "new-msp"),
        reason="Cheaper offer",
        contract_end=today + 300 * DAY,
    )

    assert TeamMember.objects.get(user=operator).left_on is None


def test_nobody_of_a_partner_whose_contract_ran_out_is_seated_again(operated):
    engagement, admin, contract, _ = operated
    EngagementPartner.objects.filter(pk=contract.pk).update(
        contract_end=engagement.customer.local_today() - DAY
    )

    with pytest.raises(DomainError, match="does not work for a partner on"):
        services.team_member_add(
            user=admin,
            engagement=engagement,
            role=TeamRole.MANAGED_SERVICE_OPERATOR,
            member=PartnerUserFactory(partner=contract.partner),
        )
