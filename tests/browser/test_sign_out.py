"""After signing out, Back does not show the private page left behind (a lead's name, email and message):
the browser keeps no copy of a signed-in page, and one restored from its back/forward cache asks the
portal again, which sends the sign-in page."""

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.factories import PASSWORD, ContactRequestFactory, PartnerFactory, PartnerUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lead():
    acme = PartnerFactory(name="Acme Cloud")
    PartnerUserFactory(partner=acme, username="ann")
    return ContactRequestFactory(partner=acme, email="secret.buyer@bigcorp.example")


@pytest.mark.parametrize("back_forward_cache", [True, False], ids=["bfcache", "no-bfcache"])
def test_back_after_signing_out_shows_the_sign_in_page(
    plain_http_live_server, plain_http, lead, back_forward_cache
):
    assert Path(CHROMIUM).exists(), f"Install Debian's chromium (apt-get install chromium): no {CHROMIUM}"
    url = f"{plain_http_live_server.url}/my/leads/{lead.reference}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            # Playwright turns off the back/forward cache that every browser has on by default.
            ignore_default_args=["--disable-back-forward-cache"] if back_forward_cache else [],
        )
        try:
            page = browser.new_page()
            page.goto(url)
            page.get_by_label("Username").fill("ann")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(url)
            expect(page.get_by_text("secret.buyer@bigcorp.example")).to_be_visible()

            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("link", name="Sign in again")).to_be_visible()

            # A page restored from the back/forward cache fires no "load": wait for the navigation only.
            page.go_back(wait_until="commit")
            expect(page.get_by_role("button", name="Sign in")).to_be_visible()
            expect(page.get_by_text("secret.buyer@bigcorp.example")).to_have_count(0)
        finally:
            browser.close()
