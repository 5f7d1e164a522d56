"""A contact request sent, then Back and "Send request" again (the browser has put back what was typed),
stores one request. Without the back-forward cache (Playwright turns it off; real browsers often skip it)
Back fetches the profile again, with a new submission token, while the browser restores what was typed."""

import pytest
from playwright.sync_api import expect, sync_playwright

from partners.models import ContactRequest
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.contact_form import contact_form_fill
from tests.factories import PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme():
    return PartnerFactory(name="Acme Cloud", slug="acme", description="Kubernetes for shops")


def test_back_and_send_again_stores_one_request(plain_http_live_server, plain_http, acme):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{plain_http_live_server.url}/partners/acme/")
            form = contact_form_fill(page, "We need help with Kubernetes please.")
            form.get_by_role("button", name="Send request").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Your request is on its way")
            first = page.locator(".reference").inner_text().strip()

            page.go_back()
            expect(page.locator("#contact").get_by_label("Your name")).to_have_value("Jane Doe")  # kept
            page.locator("#contact").get_by_role("button", name="Send request").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Your request is on its way")
            second = page.locator(".reference").inner_text().strip()
        finally:
            browser.close()

    assert second == first
    assert ContactRequest.objects.count() == 1
