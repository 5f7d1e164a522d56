"""A customer finds a partner, filters, opens its profile and sends a contact request; the partner's user
signs in and finds it in the inbox. Headless Debian chromium, driven by Playwright, against a live server.

Needs `apt-get install chromium` (Playwright's own browser download is never used).
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from partners.choices import ContactRequestStatus
from partners.models import ContactRequest
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.contact_form import contact_form_fill
from tests.factories import PASSWORD, IndustryFactory, PartnerFactory, PartnerUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def network():
    retail = IndustryFactory(name="Retail", slug="retail")
    healthcare = IndustryFactory(name="Healthcare", slug="healthcare")
    acme = PartnerFactory(
        name="Acme Cloud",
        slug="acme-cloud",
        description="Kubernetes platforms and migrations for shops and supermarkets.",
    )
    acme.industries.set([retail])
    globex = PartnerFactory(
        name="Globex Systems", slug="globex", description="Kubernetes operations for hospitals."
    )
    globex.industries.set([healthcare])
    PartnerFactory(name="Initech", slug="initech", description="Spreadsheets and reports.")
    PartnerUserFactory(partner=acme, username="ann", email="ann@acme.example")
    return acme


def test_a_customer_reaches_a_partner_and_the_partner_finds_the_request(
    plain_http_live_server, plain_http, network
):
    assert Path(CHROMIUM).exists(), (
        f"Install Debian's chromium (apt-get install chromium): {CHROMIUM} is missing"
    )

    # Django's ORM refuses to run while Playwright's event loop is active in this thread: data is made
    # above and checked after the browser closes.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            reference = _customer_sends_a_request(browser, plain_http_live_server.url)
            _partner_finds_and_accepts_it(browser, plain_http_live_server.url, reference)
        finally:
            browser.close()

    lead = ContactRequest.objects.get()
    assert (lead.reference, lead.partner.slug, lead.status) == (
        reference,
        "acme-cloud",
        ContactRequestStatus.ACCEPTED,
    )


def _customer_sends_a_request(browser, base_url) -> str:
    page = browser.new_page()
    page.goto(f"{base_url}/partners/")

    page.get_by_label("Search partners").fill("kubernetes")
    page.get_by_role("button", name="Search").click()
    results = page.locator(".partner-list")
    expect(results).to_contain_text("Acme Cloud")
    expect(results).to_contain_text("Globex Systems")
    expect(results).not_to_contain_text("Initech")

    page.locator("#facet-industry").get_by_text("Retail").click()
    expect(page).to_have_url(re.compile(r"industry=retail"))
    expect(results).to_contain_text("Acme Cloud")
    expect(results).not_to_contain_text("Globex Systems")

    results.get_by_role("link", name="Acme Cloud").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Cloud")

    form = contact_form_fill(page, "We run our shops on Kubernetes and need help.")
    form.get_by_label("Project size (optional)").select_option(label="$50k to $250k")
    form.get_by_role("button", name="Send request").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your request is on its way")
    reference = page.locator(".reference").inner_text().strip()
    assert re.fullmatch(r"CR-[A-Z0-9]{8}", reference)
    page.close()
    return reference


def _partner_finds_and_accepts_it(browser, base_url, reference) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{base_url}/my/leads/")

    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Contact requests")
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Contact request {reference}")
    expect(page.locator(".lead-message")).to_contain_text("We run our shops on Kubernetes")
    page.get_by_role("button", name="Accept").click()
    expect(page.locator(".messages")).to_contain_text(f"You accepted {reference}")
    page.close()
