"""A signed-in form sent, then Back and sent again (the browser has put back what was typed), opens one
support case and adds one reply. Signed-in pages are never cached: Back fetches the form page again, with a
new submission token, while the browser restores only what was typed."""

import pytest
from playwright.sync_api import expect

from support.services import support_case_open
from tests.factories import (
    PASSWORD,
    AwsAccountFactory,
    CustomerUserFactory,
    SupportSubscriptionFactory,
    support_plan,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def case():
    """A customer on Business support, with a case already open; made before the browser starts (Django's
    ORM refuses to run while Playwright's event loop is active)."""
    user = CustomerUserFactory(username="it-lead")
    account = AwsAccountFactory(customer=user.customer, account_id="123456789012", name="prod")
    SupportSubscriptionFactory(customer=user.customer, plan=support_plan("business"))
    return support_case_open(
        user=user,
        account=account,
        subject="Backups fail",
        description="Since Monday.",
        severity="general_guidance",
    )


def _sign_in(browser, base: str, next_path: str):
    page = browser.new_page()
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.get_by_label("Username").fill("it-lead")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    return page


def test_back_and_open_the_case_again_opens_one_case(plain_http_live_server, plain_http, case, browser):
    page = _sign_in(browser, plain_http_live_server.url, "/my/support/cases/new/")
    page.get_by_label("Account").select_option(label="123456789012 · prod")
    page.get_by_label("Subject").fill("Database is slow")
    page.get_by_label("Description").fill("Since 9:00 queries take 10 s.")
    page.get_by_role("button", name="Open the case").click()
    expect(page.locator("body")).to_contain_text("is open.")
    opened = page.url

    page.go_back()
    expect(page.get_by_label("Subject")).to_have_value("Database is slow")  # put back by the browser
    page.get_by_role("button", name="Open the case").click()

    expect(page.locator("body")).to_contain_text("This case was already sent")
    assert page.url == opened
    page.goto(f"{plain_http_live_server.url}/my/support/")
    expect(page.locator("table.support-cases tbody tr", has_text="Database is slow")).to_have_count(1)


def test_back_and_send_the_reply_again_adds_one_reply(plain_http_live_server, plain_http, case, browser):
    page = _sign_in(browser, plain_http_live_server.url, f"/my/support/cases/{case.pk}/")
    page.get_by_label("Your reply").fill("Still failing.")
    page.get_by_role("button", name="Send the reply").click()
    expect(page.locator("body")).to_contain_text("Your reply was added")

    page.go_back()
    expect(page.get_by_label("Your reply")).to_have_value("Still failing.")  # put back by the browser
    page.get_by_role("button", name="Send the reply").click()

    expect(page.locator("body")).to_contain_text("This reply was already sent: it is on the case once.")
    expect(page.locator(".case-message", has_text="Still failing.")).to_have_count(1)
