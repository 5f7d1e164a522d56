"""The partner's programs page (/my/programs/): every enrollment of its own, applications and ended ones too,
with what the PDM decided and why; the public profile and the scorecard show only the approved ones."""

import datetime
import re
from html import unescape

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.outbox.services import outbox_flush
from partners.choices import AuditResult, EnrollmentStatus
from partners.services import enrollment_revoke, partner_tier_change
from tests.checks import check_run_on, on
from tests.factories import (
    ApprovedEnrollmentFactory,
    CustomerUserFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    StaffUserFactory,
    program,
    tier,
)

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def days(n):
    return today() + datetime.timedelta(days=n)


def text_of(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def rows_of(response) -> list[str]:
    """Each enrollment's row of the table, as read."""
    body = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), flags=re.S).group(1)
    return [text_of_html(row) for row in re.findall(r"<tr\b.*?</tr>", body, flags=re.S)]


def text_of_html(html: str) -> str:
    # A tag is a space, but not before the comma a browser shows right after a date's <time>.
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()).replace(" ,", ",")


@pytest.fixture
def acme():
    return PartnerFactory(name="Acme Cloud", slug="acme-cloud")


@pytest.fixture
def acme_client(client, acme):
    client.force_login(PartnerUserFactory(partner=acme))
    return client


def test_every_enrollment_shows_its_status_dates_and_reason(acme_client, acme):
    ProgramEnrollmentFactory(partner=acme, program=program("devops"), applied_on=days(-3))
    ProgramEnrollmentFactory(
        partner=acme, program=program("security"), status=EnrollmentStatus.UNDER_REVIEW, applied_on=days(-10)
    )
    ProgramEnrollmentFactory(
        partner=acme,
        program=program("data-analytics"),
        status=EnrollmentStatus.AUDIT_SCHEDULED,
        applied_on=days(-20),
        audit_date=days(14),
    )
    ApprovedEnrollmentFactory(
        partner=acme,
        program=program("migration"),
        applied_on=days(-60),
        audit_date=days(-45),
        audit_result=AuditResult.PASSED,
        approved_on=days(-40),
        expires_on=days(300),
    )
    ProgramEnrollmentFactory(
        partner=acme,
        program=program("databases"),
        status=EnrollmentStatus.REVOKED,
        applied_on=days(-100),
        status_reason="Two of the four customer references could not be confirmed.",
    )
    ProgramEnrollmentFactory(
        partner=acme,
        program=program("containers"),
        status=EnrollmentStatus.REVOKED,
        applied_on=days(-500),
        approved_on=days(-400),
        expires_on=days(700),
        status_reason="The partner no longer runs the service.",
    )

    response = acme_client.get(reverse("my:programs"))

    assert response.status_code == 200
    rows = rows_of(response)
    assert len(rows) == 6
    assert rows[0].startswith("DevOps Competency") and "Applied" in rows[0]
    assert f"Applied {days(-3):%-d %b %Y}" in rows[0]
    assert "Required, not scheduled yet" in rows[0]  # DevOps asks for an audit
    assert "Under review" in rows[1]
    assert f"Audit scheduled for {days(14):%-d %b %Y}" in rows[2]
    assert "Approved" in rows[3]
    assert f"{days(-45):%-d %b %Y}, passed" in rows[3]
    assert f"Approved {days(-40):%-d %b %Y}, valid until {days(300):%-d %b %Y}" in rows[3]
    # A refused application and a revoked approval both end, each with the PDM's reason.
    assert "Not accepted" in rows[4]
    assert "Two of the four customer references could not be confirmed." in rows[4]
    assert "Revoked" in rows[5] and "The partner no longer runs the service." in rows[5]


def test_an_ended_enrollment_is_not_said_valid_until_the_end_of_the_term_it_lost(acme_client, acme):
    acme.pdm = PdmFactory()
    acme.save()
    revoked = ApprovedEnrollmentFactory(
        partner=acme, program=program("security"), approved_on=days(-40), expires_on=days(300)
    )
    enrollment_revoke(enrollment=revoked, user=acme.pdm, reason="Audit evidence withdrawn by the auditor.")
    ProgramEnrollmentFactory(
        partner=acme,
        program=program("migration"),
        status=EnrollmentStatus.EXPIRED,
        approved_on=days(-400),
        expires_on=days(-35),
        status_reason="Expired: not renewed in time.",
    )
    # Past its expiry but not yet expired by the night's check.
    ApprovedEnrollmentFactory(
        partner=acme, program=program("databases"), approved_on=days(-400), expires_on=days(-1)
    )

    rows = {row.split(" Competency")[0]: row for row in rows_of(acme_client.get(reverse("my:programs")))}

    assert f"Approved {days(-40):%-d %b %Y}, revoked on {today():%-d %b %Y}" in rows["Security"]
    assert "Audit evidence withdrawn by the auditor." in rows["Security"]
    assert f"{days(-400):%-d %b %Y}, expired on {days(-35):%-d %b %Y}" in rows["Migration"]
    assert f"{days(-400):%-d %b %Y}, expired on {days(-1):%-d %b %Y}" in rows["Database Service"]
    assert not [name for name, row in rows.items() if "valid until" in row]


def test_a_refused_application_says_when_it_was_refused(acme_client, acme):
    acme.pdm = PdmFactory()
    acme.save()
    application = ProgramEnrollmentFactory(
        partner=acme, program=program("security"), status=EnrollmentStatus.UNDER_REVIEW, applied_on=days(-30)
    )
    enrollment_revoke(enrollment=application, user=acme.pdm, reason="No security references yet.")

    [row] = rows_of(acme_client.get(reverse("my:programs")))

    assert f"Not accepted {days(-30):%-d %b %Y}" in row  # its status, then the day it was applied for
    assert f"Refused on {today():%-d %b %Y}" in row
    assert "No security references yet." in row


def test_an_approval_its_tier_no_longer_supports_says_the_day_it_is_revoked_as_the_warning_email_does(
    client, acme
):
    # Migration needs the Select tier; the scheduled check revokes it a grace period after the partner
    # fell below, and its email names that day. The page said only "valid until 1 Mar 2029".
    start, demoted_on = datetime.date(2026, 3, 2), datetime.date(2026, 3, 10)
    until = datetime.date(2029, 3, 1)
    open_to_every_tier = program("security")
    open_to_every_tier.minimum_tier = None
    open_to_every_tier.save()
    with on(start):
        acme.tier, acme.pdm = tier(slug="select"), PdmFactory()
        acme.save()
        ApprovedEnrollmentFactory(
            partner=acme, program=program("migration"), approved_on=start, expires_on=until
        )
        ApprovedEnrollmentFactory(
            partner=acme, program=open_to_every_tier, approved_on=start, expires_on=until
        )
    with on(demoted_on):
        partner_tier_change(partner=acme, to_tier=tier(slug="registered"), reason="Gaps.", user=acme.pdm)
    check_run_on("program_renewal", demoted_on)
    with on(demoted_on):
        outbox_flush()
    warnings = [m for m in mail.outbox if "needs the Select tier" in m.subject]
    [named] = {re.search(r"revoked on (\d+ \w+ \d{4})", " ".join(m.body.split())).group(1) for m in warnings}

    client.force_login(PartnerUserFactory(partner=acme))
    with on(demoted_on + datetime.timedelta(days=1)):
        rows = {row.split(" Competency")[0]: row for row in rows_of(client.get(reverse("my:programs")))}

    assert f"Revoked on {named} unless Acme Cloud holds Select again by then" in rows["Migration"]
    assert "valid until 1 Mar 2029" in rows["Migration"]
    assert "Revoked on" not in rows["Security"]


def test_an_approval_that_expires_before_its_revocation_day_says_it_expires_and_cannot_be_renewed(
    client, acme
):
    # Below Select from 10 Mar, it would be revoked on 8 Jun; it expires first, on 1 May, and cannot be
    # renewed below the program's minimum tier. The page said "Revoked on 8 Jun 2026".
    start, demoted_on = datetime.date(2026, 3, 2), datetime.date(2026, 3, 10)
    with on(start):
        acme.tier, acme.pdm = tier(slug="select"), PdmFactory()
        acme.save()
        ApprovedEnrollmentFactory(
            partner=acme,
            program=program("migration"),
            approved_on=start,
            expires_on=datetime.date(2026, 5, 1),
        )
    with on(demoted_on):
        partner_tier_change(partner=acme, to_tier=tier(slug="registered"), reason="Gaps.", user=acme.pdm)

    client.force_login(PartnerUserFactory(partner=acme))
    with on(demoted_on + datetime.timedelta(days=1)):
        [row] = rows_of(client.get(reverse("my:programs")))

    assert "Revoked on" not in row and "8 Jun 2026" not in row
    assert "valid until 1 May 2026" in row
    assert "It cannot be renewed unless Acme Cloud holds Select again by then" in row


def test_a_revocation_day_that_has_come_is_not_offered_as_a_deadline_still_to_meet(client, acme):
    # The check revokes it on its next run (missed a night, or not yet run that day); the page said
    # "Revoked on 8 Jun 2026 unless Acme Cloud holds Select again by then" two days after 8 Jun.
    start, demoted_on = datetime.date(2026, 3, 2), datetime.date(2026, 3, 10)
    with on(start):
        acme.tier, acme.pdm = tier(slug="select"), PdmFactory()
        acme.save()
        ApprovedEnrollmentFactory(
            partner=acme,
            program=program("migration"),
            approved_on=start,
            expires_on=datetime.date(2029, 3, 1),
        )
    with on(demoted_on):
        partner_tier_change(partner=acme, to_tier=tier(slug="registered"), reason="Gaps.", user=acme.pdm)
    due = demoted_on + datetime.timedelta(days=tier(slug="select").grace_period_days)

    client.force_login(PartnerUserFactory(partner=acme))
    with on(due - datetime.timedelta(days=1)):
        [before] = rows_of(client.get(reverse("my:programs")))
    with on(due + datetime.timedelta(days=2)):
        [after] = rows_of(client.get(reverse("my:programs")))

    assert f"Revoked on {due:%-d %b %Y} unless Acme Cloud holds Select again by then" in before
    assert "again by then" not in after
    assert f"Due to be revoked: Acme Cloud did not hold Select again by {due:%-d %b %Y}" in after
    assert "the scheduled check revokes it on its next run" in after


def test_a_failed_audit_is_shown_with_its_date(acme_client, acme):
    ProgramEnrollmentFactory(
        partner=acme,
        program=program("security"),
        status=EnrollmentStatus.AUDIT_SCHEDULED,
        audit_date=days(-2),
        audit_result=AuditResult.FAILED,
    )

    (row,) = rows_of(acme_client.get(reverse("my:programs")))

    assert f"Audit failed on {days(-2):%-d %b %Y}" in row
    assert f"{days(-2):%-d %b %Y}, failed" in row


def test_live_enrollments_come_first_then_ended_ones_newest_first_within_each(acme_client, acme):
    ProgramEnrollmentFactory(
        partner=acme,
        program=program("migration"),
        status=EnrollmentStatus.EXPIRED,
        applied_on=days(-30),
        approved_on=days(-25),
        expires_on=days(-1),
        status_reason="Expired: not renewed in time.",
    )
    ProgramEnrollmentFactory(partner=acme, program=program("security"), applied_on=days(-200))
    ProgramEnrollmentFactory(
        partner=acme, program=program("devops"), status=EnrollmentStatus.REVOKED, applied_on=days(-5)
    )
    ApprovedEnrollmentFactory(partner=acme, program=program("databases"), applied_on=days(-100))
    # Past its expiry but not yet expired by the night's check: it has ended all the same.
    ApprovedEnrollmentFactory(
        partner=acme,
        program=program("containers"),
        applied_on=days(-2),
        approved_on=days(-400),
        expires_on=days(-1),
    )

    rows = rows_of(acme_client.get(reverse("my:programs")))

    names = [row.split(" Competency")[0] for row in rows]
    assert names == ["Database Service", "Security", "Container Service", "DevOps", "Migration"]
    assert rows[2].startswith("Container Service Competency Expired")
    assert "Expired: not renewed in time." in rows[4]


def test_a_partner_without_enrollments_is_told_how_to_apply(acme_client, acme):
    page = text_of(acme_client.get(reverse("my:programs")))

    assert "No program enrollments yet." in page


def test_a_partners_staff_never_see_another_partners_enrollments(acme_client, acme):
    globex = PartnerFactory(name="Globex Systems")
    ProgramEnrollmentFactory(
        partner=globex,
        program=program("security"),
        status=EnrollmentStatus.REVOKED,
        status_reason="Globex's secret reason.",
    )
    ApprovedEnrollmentFactory(partner=globex, program=program("devops"))
    ApprovedEnrollmentFactory(partner=acme, program=program("migration"))

    response = acme_client.get(reverse("my:programs"))

    rows = rows_of(response)
    assert len(rows) == 1 and rows[0].startswith("Migration Competency")
    assert "Globex" not in text_of(response)


def test_the_page_reads_in_a_constant_number_of_queries(acme_client, acme):
    ApprovedEnrollmentFactory(partner=acme, program=program("migration"))
    with CaptureQueriesContext(connection) as one:
        assert acme_client.get(reverse("my:programs")).status_code == 200

    for slug in ("security", "devops", "data-analytics", "databases", "containers"):
        ProgramEnrollmentFactory(
            partner=acme, program=program(slug), status=EnrollmentStatus.REVOKED, status_reason="No."
        )
        ProgramEnrollmentFactory(partner=acme, program=program(slug), status=EnrollmentStatus.UNDER_REVIEW)
    with CaptureQueriesContext(connection) as eleven:
        assert len(rows_of(acme_client.get(reverse("my:programs")))) == 11

    assert len(eleven) == len(one)


@pytest.mark.parametrize(
    "make_user, direction",
    [
        pytest.param(CustomerUserFactory, "engagements:organisation", id="customer"),
        pytest.param(lambda: StaffUserFactory(roles=[StaffRole.PDM]), "admin:index", id="pdm"),
    ],
)
def test_people_who_are_not_a_partners_staff_are_refused_with_a_direction(client, make_user, direction):
    client.force_login(make_user())

    response = client.get(reverse("my:programs"))

    assert response.status_code == 403
    assert "This page is for a partner's staff" in text_of(response)
    assert reverse(direction) in response.content.decode()


def test_the_scorecard_and_the_navigation_link_to_the_page(acme_client, acme):
    html = acme_client.get(reverse("my:scorecard")).content.decode()

    outlook = html[html.index('id="outlook-heading"') :]
    assert f'href="{reverse("my:programs")}"' in outlook
    nav = re.search(r'<nav class="partner-area__nav".*?</nav>', html, flags=re.S).group(0)
    assert f'href="{reverse("my:programs")}"' in nav

    page = acme_client.get(reverse("my:programs")).content.decode()
    assert f'href="{reverse("my:programs")}" aria-current="page"' in page
