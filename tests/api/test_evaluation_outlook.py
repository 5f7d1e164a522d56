"""A partner's evaluation says what its scorecard warns of: the grace period it is in when short of its
tier (the day it is demoted on), or the day it is at risk from, to those who see its evaluation alone."""

import datetime

import pytest
from django.test import Client

from tests.api.conftest import api_client
from tests.checks import check_run_on, on
from tests.factories import (
    CertificationFactory,
    CustomerReferenceFactory,
    CustomerUserFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffMemberFactory,
    SuperUserFactory,
    tier,
)

pytestmark = pytest.mark.django_db

START = datetime.date(2026, 3, 2)
LAPSES = datetime.date(2026, 4, 30)  # the last day one of its two foundational certifications counts
SHORT_ON = LAPSES + datetime.timedelta(days=1)
LATER = datetime.date(2029, 1, 1)


@pytest.fixture
def zephyr():
    """A Select partner with just what Select takes, one certification lapsing on LAPSES."""
    with on(START):
        partner = PartnerFactory(name="Zephyr", slug="zephyr", tier=tier(slug="select"), pdm=PdmFactory())
        for level, expires_on in (
            ("foundational", LAPSES),
            ("foundational", LATER),
            ("associate", LATER),
            ("associate", LATER),
        ):
            CertificationFactory(
                staff_member=StaffMemberFactory(partner=partner),
                level=level,
                earned_on=datetime.date(2025, 1, 1),
                expires_on=expires_on,
            )
        CustomerReferenceFactory.create_batch(3, partner=partner)
    return partner


def evaluation(user, day):
    with on(day):
        return api_client(user).get("/api/v1/partners/zephyr/evaluation/")


def test_the_evaluation_gives_the_grace_period_the_scorecard_shows(zephyr):
    check_run_on("tier_health", SHORT_ON)
    zephyr.refresh_from_db()
    grace_ends_on = SHORT_ON + datetime.timedelta(days=zephyr.tier.grace_period_days)
    own = PartnerUserFactory(partner=zephyr)
    with on(SHORT_ON):
        page = Client()
        page.force_login(own)
        assert f"Grace period until {grace_ends_on:%-d %B %Y}" in page.get("/my/").content.decode()

    for user in (own, zephyr.pdm, PdmFactory(), SuperUserFactory()):
        response = evaluation(user, SHORT_ON)
        assert response.status_code == 200, response.content
        read = response.json()
        assert read["meets_current_tier"] is False
        assert (read["grace_started_on"], read["grace_ends_on"], read["at_risk_from"]) == (
            SHORT_ON.isoformat(),
            grace_ends_on.isoformat(),
            None,
        )


def test_the_evaluation_gives_the_day_the_scorecard_says_the_tier_is_at_risk_from(zephyr):
    day = LAPSES - datetime.timedelta(days=20)
    own = PartnerUserFactory(partner=zephyr)
    with on(day):
        page = Client()
        page.force_login(own)
        assert f"at risk from {SHORT_ON:%-d %B %Y}" in page.get("/my/").content.decode()

    read = evaluation(own, day).json()

    assert read["meets_current_tier"] is True
    assert (read["grace_started_on"], read["grace_ends_on"], read["at_risk_from"]) == (
        None,
        None,
        SHORT_ON.isoformat(),
    )


def test_the_grace_period_is_not_shown_to_the_public_nor_to_another_organisation(zephyr):
    check_run_on("tier_health", SHORT_ON)
    zephyr.refresh_from_db()
    grace_ends_on = zephyr.grace_ends_on.isoformat()
    other_partner = PartnerUserFactory(partner=PartnerFactory())
    customer = CustomerUserFactory()

    for user in (None, other_partner, customer):
        assert evaluation(user, SHORT_ON).status_code in (401, 404)
        with on(SHORT_ON):
            client = api_client(user)
            shown = [
                client.get("/api/v1/partners/zephyr/").content.decode(),
                client.get("/api/v1/partners/?q=zephyr").content.decode(),
            ]
        assert not any(grace_ends_on in body or "grace" in body for body in shown), user
