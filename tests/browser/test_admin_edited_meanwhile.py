"""Two support engineers have a plan's admin page open; one shortens a first-response target and saves.
The other, saving the page she opened before, is told on the row that changed, and nothing of hers is
saved over it."""

import pytest
from playwright.sync_api import expect

from support.models import SupportPlan
from tests.factories import PASSWORD, SupportEngineerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def the_plans_page(browser, base, username, plan):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/accounts/login/?next=/admin/support/supportplan/{plan.pk}/change/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Change support plan")).to_be_visible()
    return page


def target_row(page, severity_label):
    """The first-response target row whose severity is `severity_label`."""
    return page.locator("tr.form-row").filter(
        has=page.locator("select option:checked", has_text=severity_label)
    )


@pytest.fixture
def plan():
    # Made before the browser starts: Django's ORM refuses to run beside Playwright's event loop, so what
    # was saved is read on the page, opened again.
    SupportEngineerFactory(username="eli")
    SupportEngineerFactory(username="ola")
    return SupportPlan.objects.get(slug="business")


def minutes_of(page, severity_label):
    return target_row(page, severity_label).locator("input[name$='-minutes']")


def test_the_older_page_is_refused_on_the_row_a_colleague_changed(
    plain_http_live_server, plain_http, plan, browser
):
    base = plain_http_live_server.url
    elis, olas = the_plans_page(browser, base, "eli", plan), the_plans_page(browser, base, "ola", plan)
    summary = olas.get_by_label("Summary").input_value()

    minutes_of(elis, "Production system down").fill("30")
    elis.get_by_role("button", name="Save", exact=True).click()
    expect(elis.locator(".messagelist")).to_contain_text("was changed successfully")

    olas.get_by_label("Summary").fill("Ola's wording.")
    olas.get_by_role("button", name="Save", exact=True).click()

    expect(olas.locator(".errornote")).to_be_visible()
    # Said just above the row Eli changed (Django's tabular inline shows a row's errors on a line before it).
    said = olas.locator("tr.row-form-errors")
    expect(said).to_have_text(
        "Somebody else saved a change to this first-response target after you opened this page: nothing "
        "was saved. Open the page again to see their change, then make yours."
    )
    expect(said.locator("xpath=following-sibling::tr[1]").locator("select option:checked")).to_have_text(
        "Production system down"
    )
    # Opened again, her page shows Eli's change and none of hers; her change then saves beside his.
    olas = the_plans_page(browser, base, "ola", plan)
    expect(minutes_of(olas, "Production system down")).to_have_value("30")
    expect(olas.get_by_label("Summary")).to_have_value(summary)
    olas.get_by_label("Summary").fill("Ola's wording.")
    olas.get_by_role("button", name="Save", exact=True).click()
    expect(olas.locator(".messagelist")).to_contain_text("was changed successfully")
    olas = the_plans_page(browser, base, "ola", plan)
    expect(minutes_of(olas, "Production system down")).to_have_value("30")
    expect(olas.get_by_label("Summary")).to_have_value("Ola's wording.")
