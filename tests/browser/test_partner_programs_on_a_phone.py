"""A partner's staff member reads on a phone why a program application was not accepted: the programs
page (/my/programs/) is one card per enrollment there, nothing to scroll sideways to find the reason."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from partners.choices import AuditResult, EnrollmentStatus
from tests.browser.conftest import OVERFLOW
from tests.factories import (
    PASSWORD,
    ApprovedEnrollmentFactory,
    PartnerFactory,
    PartnerUserFactory,
    ProgramEnrollmentFactory,
    program,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A common phone today (390 CSS px), far narrower than the page's six columns.
A_PHONE = {"width": 390, "height": 844}
REASON = "The third-party audit found no documented incident response for the managed accounts."


@pytest.fixture
def partner_with_enrollments():
    acme = PartnerFactory(name="Blue Harbor Cloud S.A. de C.V.", slug="blue-harbor")
    PartnerUserFactory(partner=acme, username="ann")
    today = timezone.localdate()
    ApprovedEnrollmentFactory(partner=acme, program=program("migration"))
    ProgramEnrollmentFactory(
        partner=acme,
        program=program("security"),
        status=EnrollmentStatus.REVOKED,
        audit_date=today - datetime.timedelta(days=20),
        audit_result=AuditResult.FAILED,
        status_reason=REASON,
    )


def test_on_a_phone_the_reason_an_application_was_refused_is_read_down_the_page(
    plain_http_live_server, plain_http, partner_with_enrollments, browser
):
    page = browser.new_page(viewport=A_PHONE)
    page.goto(f"{plain_http_live_server.url}/accounts/login/?next=/my/programs/")
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    reason = page.get_by_text(REASON)
    expect(reason).to_be_attached()
    page.wait_for_load_state("load")  # the style sheets too, or the width measured is the unstyled page's

    assert page.evaluate(OVERFLOW) <= 0
    box = reason.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= A_PHONE["width"], box
    assert page.evaluate(
        "[...document.querySelectorAll('.table-scroll')].every(b => b.scrollWidth <= b.clientWidth)"
    )
    expect(page.get_by_text("Not accepted")).to_be_visible()
