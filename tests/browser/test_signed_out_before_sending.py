"""A support case written in one tab while its writer signs out in another: sending it says it was not
sent and nothing was saved, and signing in again brings the form back with what was typed, for the writer
to send with one click."""

import pytest
from playwright.sync_api import expect

from tests.factories import (
    PASSWORD,
    AwsAccountFactory,
    CustomerUserFactory,
    SupportSubscriptionFactory,
    support_plan,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def customer():
    """Made before the browser starts (Django's ORM refuses to run while Playwright's event loop is
    active)."""
    user = CustomerUserFactory(username="it-lead")
    AwsAccountFactory(customer=user.customer, account_id="123456789012", name="prod")
    SupportSubscriptionFactory(customer=user.customer, plan=support_plan("business"))
    return user


def _sign_in(page):
    page.get_by_label("Username").fill("it-lead")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")


def test_a_case_sent_after_signing_out_in_another_tab_comes_back_to_send_again(
    plain_http_live_server, plain_http, customer, browser
):
    base = plain_http_live_server.url
    context = browser.new_context()
    writing = context.new_page()
    writing.goto(f"{base}/accounts/login/?next=/my/support/cases/new/")
    _sign_in(writing)
    writing.get_by_label("Account").select_option(label="123456789012 · prod")
    writing.get_by_label("Subject").fill("VPN drops every night")
    writing.get_by_label("Description").fill("At 02:00 sharp, for ten minutes.")

    other = context.new_page()
    other.goto(f"{base}/my/support/")
    other.get_by_role("button", name="Sign out").click()
    expect(other.get_by_role("link", name="Sign in again")).to_be_visible()

    writing.get_by_role("button", name="Open the case").click()
    expect(writing.locator("main")).to_contain_text(
        "You were signed out before you sent that form, so it was not sent and nothing was saved."
    )
    _sign_in(writing)

    assert writing.url == f"{base}/my/support/cases/new/"
    expect(writing.locator("main")).to_contain_text(
        "Not sent yet: you were signed out. Check and send again."
    )
    expect(writing.get_by_label("Account")).to_have_value(
        writing.get_by_label("Account")
        .locator("option", has_text="123456789012 · prod")
        .get_attribute("value")
    )
    expect(writing.get_by_label("Subject")).to_have_value("VPN drops every night")
    expect(writing.get_by_label("Description")).to_have_value("At 02:00 sharp, for ten minutes.")
    writing.get_by_role("button", name="Open the case").click()
    expect(writing.locator("body")).to_contain_text("is open.")
    expect(writing.locator("main")).to_contain_text("VPN drops every night")
