"""An enrollment whose partner fell below the program's minimum tier says in the API the day the scheduled
check revokes it, the day the partner's warning email names, to those who see the partner's private
records alone."""

import datetime
import re

import pytest
from django.core import mail

from apn_portal.outbox.services import outbox_flush
from partners.services import partner_tier_change
from tests.api.conftest import api_client
from tests.checks import check_run_on, on
from tests.factories import (
    ApprovedEnrollmentFactory,
    CustomerUserFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramFactory,
    SuperUserFactory,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

START = datetime.date(2026, 3, 2)
DEMOTED_ON = datetime.date(2026, 3, 10)


@pytest.fixture
def zephyr():
    with on(START):
        return PartnerFactory(name="Zephyr", slug="zephyr", tier=tier(slug="select"), pdm=PdmFactory())


def approve(partner, slug="migration"):  # migration needs the Select tier
    with on(START):
        return ApprovedEnrollmentFactory(
            partner=partner, program=program(slug), approved_on=START, expires_on=datetime.date(2029, 3, 1)
        )


def demote(partner):
    with on(DEMOTED_ON):
        partner_tier_change(
            partner=partner, to_tier=tier(slug="registered"), reason="Gaps.", user=partner.pdm
        )


def read(user, url):
    with on(DEMOTED_ON):
        response = api_client(user).get(url)
    assert response.status_code == 200, response.content
    return response.json()


def test_an_enrollment_below_its_minimum_tier_says_the_day_the_warning_email_names(zephyr):
    own = PartnerUserFactory(partner=zephyr)
    enrollment = approve(zephyr)
    demote(zephyr)
    check_run_on("program_renewal", DEMOTED_ON)
    with on(DEMOTED_ON):
        mail.outbox.clear()
        outbox_flush()
    (warning,) = [m for m in mail.outbox if "needs the Select tier" in m.subject]
    named = re.search(r"revoked on (\d+ \w+ \d{4})", " ".join(warning.body.split())).group(1)
    due = DEMOTED_ON + datetime.timedelta(days=tier(slug="select").grace_period_days)
    assert named == f"{due.day} {due:%b %Y}"

    for user in (own, zephyr.pdm, PdmFactory(), SuperUserFactory()):
        one = read(user, f"/api/v1/enrollments/{enrollment.pk}/")
        [listed] = read(user, "/api/v1/enrollments/?partner=zephyr")["results"]
        assert one["status"] == "approved"
        assert one["revocation_due_on"] == listed["revocation_due_on"] == due.isoformat(), user


def test_an_enrollment_whose_partner_holds_the_minimum_tier_is_due_no_revocation(zephyr):
    enrollment = approve(zephyr)
    with on(START):
        no_minimum = ApprovedEnrollmentFactory(
            partner=PartnerFactory(), program=ProgramFactory(partner_type="", minimum_tier=None)
        )

    assert read(zephyr.pdm, f"/api/v1/enrollments/{enrollment.pk}/")["revocation_due_on"] is None
    rows = read(SuperUserFactory(), "/api/v1/enrollments/")["results"]
    due = {row["id"]: row["revocation_due_on"] for row in rows}
    assert due[enrollment.pk] is None and due[no_minimum.pk] is None


def test_the_day_is_not_shown_to_the_public_nor_to_another_organisation(zephyr):
    enrollment = approve(zephyr)
    demote(zephyr)
    for user in (None, PartnerUserFactory(partner=PartnerFactory()), CustomerUserFactory()):
        one = read(user, f"/api/v1/enrollments/{enrollment.pk}/")  # approved: public on its profile
        [listed] = read(user, "/api/v1/enrollments/?partner=zephyr")["results"]
        assert one["revocation_due_on"] is None and listed["revocation_due_on"] is None, user


def test_a_patch_may_send_the_day_back_as_read_but_not_set_it(zephyr):
    enrollment = approve(zephyr)
    demote(zephyr)
    url = f"/api/v1/enrollments/{enrollment.pk}/"
    as_read = read(zephyr.pdm, url)
    with on(DEMOTED_ON):
        client = api_client(zephyr.pdm)
        sent_back = client.patch(url, {"revocation_due_on": as_read["revocation_due_on"]}, format="json")
        changed = client.patch(url, {"revocation_due_on": "2030-01-01"}, format="json")
    assert sent_back.status_code == 200, sent_back.content
    assert changed.status_code == 400
    assert "revocation_due_on" in changed.json()


def test_an_enrollment_that_expires_before_the_revocation_day_is_due_no_revocation(zephyr):
    # Revoked a grace period after the fall, on 8 Jun 2026, it would be; it expires first, on 1 May, and
    # its partner, below the minimum tier, cannot renew it: the check never revokes it.
    due = DEMOTED_ON + datetime.timedelta(days=tier(slug="select").grace_period_days)
    with on(START):
        expires_first = ApprovedEnrollmentFactory(
            partner=zephyr,
            program=program("migration"),
            approved_on=START,
            expires_on=datetime.date(2026, 5, 1),
        )
        revoked_first = ApprovedEnrollmentFactory(
            partner=zephyr, program=program("databases"), approved_on=START, expires_on=due
        )
    demote(zephyr)

    for user in (PartnerUserFactory(partner=zephyr), zephyr.pdm, SuperUserFactory()):
        one = read(user, f"/api/v1/enrollments/{expires_first.pk}/")
        listed = {row["id"]: row for row in read(user, "/api/v1/enrollments/?partner=zephyr")["results"]}
        assert one["expires_on"] == "2026-05-01"
        assert one["revocation_due_on"] is None and listed[expires_first.pk]["revocation_due_on"] is None, (
            user
        )
        # Expiring on the revocation day, it is revoked that day, before it expires.
        assert listed[revoked_first.pk]["revocation_due_on"] == due.isoformat(), user
