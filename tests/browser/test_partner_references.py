"""A partner's staff member registers a customer reference from the partner area and finds it waiting for
the PDM; headless Debian chromium, driven by Playwright, against a live server."""

import datetime
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from partners.models import CustomerReference
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, OVERFLOW
from tests.factories import PASSWORD, CustomerReferenceFactory, PartnerFactory, PartnerUserFactory, PdmFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_partner_registers_a_reference_and_sees_it_wait_for_validation(plain_http_live_server, plain_http):
    assert Path(CHROMIUM).exists(), f"Install Debian's chromium (apt-get install chromium): no {CHROMIUM}"
    acme = PartnerFactory(name="Acme Cloud", slug="acme-cloud", pdm=PdmFactory())
    PartnerUserFactory(partner=acme, username="ann")
    launched = timezone.localdate() - datetime.timedelta(days=40)

    # Django's ORM refuses to run while Playwright's event loop is active: data is made above, checked after.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{plain_http_live_server.url}/my/")
            page.get_by_label("Username").fill("ann")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()

            page.get_by_role("navigation", name="Your area").get_by_role(
                "link", name="Customer references"
            ).click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Customer references")
            page.get_by_role("link", name="Register a reference").click()

            page.get_by_label("Customer", exact=False).first.fill("BigCorp")
            page.get_by_role("button", name="Send for validation").click()
            expect(page.locator(".form-errors")).to_contain_text("Say what you built")
            expect(page.get_by_label("Customer", exact=False).first).to_have_value("BigCorp")

            page.get_by_label("What you built for them").fill("Moved the web shop to containers.")
            page.get_by_label("Services used").fill("ECS, RDS")
            page.get_by_label("Launched on").fill(launched.isoformat())
            page.get_by_label("Public: customers may see it on our profile once it is validated").check()
            page.get_by_role("button", name="Send for validation").click()

            expect(page.locator(".messages")).to_contain_text("Your reference for BigCorp was sent to")
            row = page.get_by_role("row", name="BigCorp")
            expect(row).to_contain_text("Waiting for validation")
            expect(row).to_contain_text("Once validated")

            # Corrected while it waits: the form starts from what is stored, the launch day included.
            row.get_by_role("link", name="BigCorp").click()
            expect(page.get_by_label("Launched on")).to_have_value(launched.isoformat())
            page.get_by_label("Customer", exact=False).first.fill("BigCorp Retail")
            page.get_by_role("button", name="Save").click()
            expect(page.locator(".messages")).to_contain_text("Your reference for BigCorp Retail was saved.")
        finally:
            browser.close()

    reference = CustomerReference.objects.get()
    assert (reference.partner_id, reference.customer_name, reference.launched_on, reference.is_validated) == (
        acme.pk,
        "BigCorp Retail",
        launched,
        False,
    )


# A common phone today (390 CSS px), far narrower than the references' five columns.
A_PHONE = {"width": 390, "height": 844}


@pytest.fixture
def partner_with_references():
    acme = PartnerFactory(name="Acme Cloud", slug="acme-cloud", pdm=PdmFactory())
    PartnerUserFactory(partner=acme, username="ann")
    CustomerReferenceFactory(partner=acme, customer_name="Northwind Traders")
    CustomerReferenceFactory(
        partner=acme,
        customer_name="BigCorp Retail",
        summary="Moved the web shop, its order history and its nightly stock reports to containers.",
        services_used="Amazon ECS, Amazon RDS for PostgreSQL, Amazon CloudFront, AWS Database Migration",
        is_validated=False,
        validated_at=None,
    )


def test_on_a_phone_a_reference_waiting_for_validation_can_be_corrected_without_scrolling_sideways(
    plain_http_live_server, plain_http, partner_with_references, browser
):
    page = browser.new_page(viewport=A_PHONE)
    page.goto(f"{plain_http_live_server.url}/accounts/login/?next=/my/references/")
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    row = page.get_by_role("row", name="BigCorp Retail")
    correct = row.get_by_role("link", name="BigCorp Retail")
    expect(correct).to_be_attached()
    page.wait_for_load_state("load")  # the style sheets too, or the width measured is the unstyled page's

    # Everything in the row, its correction link and whether it is public too, is found by reading down the
    # page: measured before anything scrolls (a click would scroll the table's box to the link first).
    assert page.evaluate(OVERFLOW) <= 0
    for part in (correct, row.get_by_text("Once validated")):
        box = part.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= A_PHONE["width"], box
    assert page.evaluate(
        "[...document.querySelectorAll('.table-scroll')].every(b => b.scrollWidth <= b.clientWidth)"
    )
    correct.click()
    expect(page.get_by_label("Customer", exact=False).first).to_have_value("BigCorp Retail")
