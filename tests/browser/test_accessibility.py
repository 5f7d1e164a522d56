"""What keyboard, screen-reader and phone users meet, in headless Debian chromium: focus after the results
change in place, focus order on a phone, a refused value said aloud, a sign-in error announced, no page
wider than a phone, and no asset from another host."""

import itertools
import re
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from partners.choices import TierChangeSource
from partners.models import TierChange
from support.services import support_case_open
from tests.browser.conftest import NARROWEST, OVERFLOW, PHONE
from tests.factories import (
    PASSWORD,
    AccessGrantFactory,
    AwsAccountFactory,
    ContactRequestFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    IndustryFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    SupportSubscriptionFactory,
    support_plan,
    tier,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_partners():
    retail = IndustryFactory(name="Retail", slug="retail")
    PartnerFactory(name="Acme Cloud", description="Kubernetes for shops.").industries.set([retail])
    PartnerFactory(name="Globex Systems", description="Kubernetes for hospitals.")


@pytest.fixture
def customer_with_a_grant():
    admin = CustomerUserFactory(username="it-lead", access_admin=True)
    engaged = EngagementPartnerFactory(engagement=EngagementFactory(customer=admin.customer))
    AccessGrantFactory(engagement_partner=engaged)


# Django refuses the ORM while Playwright's event loop runs: the data comes from fixtures set up first.


def test_removing_a_filter_by_keyboard_keeps_the_user_at_the_results_and_the_search_box_true(
    plain_http_live_server, plain_http, two_partners, browser
):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/?q=kubernetes&industry=retail")
    expect(page.locator(".partner-list")).not_to_contain_text("Globex Systems")

    page.get_by_role("link", name="Words: kubernetes (remove this filter)").focus()
    page.keyboard.press("Enter")

    expect(page).not_to_have_url(re.compile(r"[?&]q="))
    expect(page.locator("#results-heading")).to_be_focused()
    expect(page.get_by_label("Search partners")).to_have_value("")
    # The next filter ticked searches what the page now shows, not the words just removed.
    page.locator("#facet-industry").get_by_text("Retail").click()  # untick it
    expect(page.locator(".partner-list")).to_contain_text("Globex Systems")
    expect(page).not_to_have_url(re.compile(r"[?&]q="))


def test_applying_the_filters_by_keyboard_puts_the_user_at_the_new_results(
    plain_http_live_server, plain_http, two_partners, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{plain_http_live_server.url}/partners/?q=kubernetes")
    expect(page.locator(".partner-list")).to_contain_text("Globex Systems")

    # The button is replaced with the results: focus goes to their heading, not back to the top of the page.
    page.get_by_label("Radius (km)").fill("250")
    page.get_by_role("button", name="Apply filters").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]radius=250"))
    expect(page.locator("#results-heading")).to_be_focused()

    # A change made in place keeps focus where it was made: the box ticked, the order chosen.
    retail = page.get_by_role("checkbox", name=re.compile(r"^Retail"))
    retail.focus()
    page.keyboard.press("Space")
    expect(page.locator(".partner-list")).not_to_contain_text("Globex Systems")
    expect(page.get_by_role("checkbox", name=re.compile(r"^Retail"))).to_be_focused()
    page.get_by_label("Sort by").focus()
    page.keyboard.press("ArrowDown")
    expect(page).to_have_url(re.compile(r"[?&]sort="))
    expect(page.get_by_label("Sort by")).to_be_focused()


def test_a_place_the_browser_refuses_is_said_beside_the_field(
    plain_http_live_server, plain_http, two_partners, browser
):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/")
    latitude = page.locator("#id_lat")

    latitude.fill("95")
    page.get_by_label("Search partners").focus()  # tabbed on: the change is sent as the field is left
    latitude.dispatch_event("change")

    expect(latitude).to_be_focused()  # reportValidity() puts focus on the field and shows why
    assert latitude.evaluate("field => field.validationMessage")


def test_a_place_typed_field_by_field_searches_once_it_is_whole_and_keeps_what_was_typed(
    plain_http_live_server, plain_http, two_partners, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{plain_http_live_server.url}/partners/", wait_until="networkidle")

    page.locator("#id_lat").focus()
    page.keyboard.type("48.1")
    page.keyboard.press("Tab")  # on to the longitude: half a place is not searched for
    page.keyboard.type("11.6")
    page.keyboard.press("Tab")

    expect(page).to_have_url(re.compile(r"[?&]lat=48.1&lng=11.6"))
    expect(page.locator("#id_lat")).to_have_value("48.1")
    expect(page.locator("#id_lng")).to_have_value("11.6")
    expect(page.locator("#id_radius")).to_be_focused()


def test_emptying_both_coordinates_searches_everywhere_again(
    plain_http_live_server, plain_http, two_partners, browser
):
    # A place searched with a radius ("Use my location" fills in 100 km): both coordinates emptied.
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(
        f"{plain_http_live_server.url}/partners/?lat=48.1&lng=11.6&radius=100", wait_until="networkidle"
    )

    page.locator("#id_lat").fill("")
    page.keyboard.press("Tab")
    page.locator("#id_lng").fill("")
    page.keyboard.press("Tab")

    expect(page).not_to_have_url(re.compile(r"[?&](lat|lng|radius)="))
    expect(page.locator("#id_radius")).to_have_value("")
    expect(page.locator(".partner-list")).to_contain_text("Globex Systems")


@pytest.mark.parametrize("scripts", [True, False], ids=["with JavaScript", "without JavaScript"])
def test_half_a_place_applied_is_kept_and_the_missing_half_is_said_beside_its_field(
    plain_http_live_server, plain_http, two_partners, browser, scripts
):
    context = browser.new_context(java_script_enabled=scripts, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/", wait_until="networkidle")

    page.get_by_label("Latitude").fill("48.1")
    page.get_by_role("button", name="Apply filters").click()

    expect(page).to_have_url(re.compile(r"[?&]lat=48.1"))
    expect(page.get_by_label("Latitude")).to_have_value("48.1")
    longitude = page.get_by_label("Longitude")
    expect(longitude).to_have_attribute("aria-invalid", "true")
    error = page.locator(f"#{longitude.get_attribute('aria-describedby').split()[-1]}")
    expect(error).to_contain_text("A place needs both a latitude (lat) and a longitude (lng)")


def test_on_a_phone_the_filters_button_keeps_focus_when_the_typed_words_search_comes_back(
    plain_http_live_server, plain_http, two_partners, browser
):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{plain_http_live_server.url}/partners/", wait_until="networkidle")

    page.get_by_label("Search partners").focus()
    page.keyboard.type("kubernetes")
    page.keyboard.press("Tab")  # the Search button
    page.keyboard.press("Tab")  # the Filters button, before the words' search (sent 500 ms on) is back

    expect(page.locator("#search-status")).to_contain_text("2 partners found")
    expect(page.get_by_role("button", name=re.compile(r"^Filters"))).to_be_focused()


def test_a_search_that_could_not_be_sent_is_said(plain_http_live_server, plain_http, two_partners, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{plain_http_live_server.url}/partners/?q=kubernetes", wait_until="networkidle")
    page.route(
        "**/partners/**",
        lambda route: (
            route.abort("internetdisconnected")
            if route.request.headers.get("hx-request")
            else route.continue_()
        ),
    )

    page.get_by_role("checkbox", name=re.compile(r"^Retail")).check()

    expect(page.locator("#search-status")).to_have_text(
        "The search could not be done; check your connection and try again."
    )
    expect(page.locator("#search-failed")).to_contain_text("These results are not updated")


LONDON = {"latitude": 51.5072, "longitude": -0.1276}


def test_a_location_refused_is_said_and_focus_stays_on_the_button(
    plain_http_live_server, plain_http, two_partners, browser
):
    page = browser.new_context(geolocation=LONDON, permissions=[]).new_page()  # the visitor says no
    page.goto(f"{plain_http_live_server.url}/partners/?q=kubernetes", wait_until="networkidle")
    locate = page.get_by_role("button", name="Use my location")

    locate.focus()
    page.keyboard.press("Enter")

    expect(page.locator("#search-status")).to_contain_text("Your location is not available")
    button = page.locator("[data-locate]")
    expect(button).to_have_text("Location unavailable: type the coordinates")
    expect(button).to_be_focused()


def test_a_search_near_my_location_that_fails_leaves_the_button_ready_to_try_again(
    plain_http_live_server, plain_http, two_partners, browser
):
    page = browser.new_context(geolocation=LONDON, permissions=["geolocation"]).new_page()
    page.goto(f"{plain_http_live_server.url}/partners/?q=kubernetes", wait_until="networkidle")
    page.route(
        "**/partners/**",
        lambda route: (
            route.abort("internetdisconnected")
            if route.request.headers.get("hx-request")
            else route.continue_()
        ),
    )
    locate = page.get_by_role("button", name="Use my location")

    locate.focus()
    page.keyboard.press("Enter")

    expect(page.locator("#search-failed")).to_contain_text("These results are not updated")
    expect(page.locator("#search-status")).to_have_text(
        "The search could not be done; check your connection and try again."
    )
    expect(locate).to_be_enabled()
    expect(locate).not_to_have_attribute("aria-disabled", "true")
    expect(locate).to_be_focused()
    expect(page.get_by_label("Latitude")).to_have_value("51.5072")

    page.unroute("**/partners/**")  # back on line: the same button tries again
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"lat=51.5072&lng=-0.1276&radius=100"))
    expect(page.locator("#search-failed")).to_have_count(0)
    expect(page.locator("#results-heading")).to_be_focused()


def _tab_through_the_search(page, presses=14):
    """Where each Tab from the search box puts focus: its element's top on the page, in order."""
    page.get_by_label("Search partners").focus()
    tops = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement; if (!e.closest('main')) return null;"
            " return [e.outerHTML.slice(0, 80), e.getBoundingClientRect().top + window.scrollY]; }"
        )
        if focused is None:  # past the results, into the footer
            break
        tops.append(focused)
    return tops


@pytest.mark.parametrize("scripts", [True, False], ids=["with JavaScript", "without JavaScript"])
def test_on_a_phone_keyboard_focus_moves_down_the_search_page_as_it_is_seen(
    plain_http_live_server, plain_http, two_partners, browser, scripts
):
    page = browser.new_context(viewport=PHONE, java_script_enabled=scripts).new_page()
    page.goto(f"{plain_http_live_server.url}/partners/?q=kubernetes")

    tops = _tab_through_the_search(page, presses=40)

    assert any("partner" in html for html, _ in tops)  # it reached the results
    moves_up = [(before, after) for before, after in itertools.pairwise(tops) if after[1] < before[1] - 1]
    assert not moves_up, f"focus jumped back up the page: {moves_up}"


def test_on_a_phone_the_filters_fold_above_the_results_and_stay_open_while_used(
    plain_http_live_server, plain_http, two_partners, browser
):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{plain_http_live_server.url}/partners/?q=kubernetes")
    filters = page.get_by_role("button", name="Filters (1 in use)", exact=True)  # the words
    retail = page.locator("#facet-industry").get_by_text("Retail")
    expect(filters).to_have_attribute("aria-expanded", "false")
    expect(retail).to_be_hidden()
    assert filters.bounding_box()["y"] < page.locator("#results-heading").bounding_box()["y"]

    filters.press("Enter")
    expect(filters).to_have_attribute("aria-expanded", "true")
    retail.click()

    expect(page.locator(".partner-list")).not_to_contain_text("Globex Systems")
    # The filters were replaced with the results: they are still open, and say what is in use.
    filters = page.get_by_role("button", name="Filters (2 in use)", exact=True)
    expect(filters).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#facet-industry").get_by_text("Retail")).to_be_visible()


def test_on_a_wide_screen_the_filters_are_always_shown(
    plain_http_live_server, plain_http, two_partners, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{plain_http_live_server.url}/partners/?q=kubernetes")

    expect(page.locator("#facet-industry").get_by_text("Retail")).to_be_visible()
    expect(page.get_by_role("heading", name="Filter partners")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Filters"))).to_have_count(0)


def test_a_wrong_password_is_announced(plain_http_live_server, plain_http, browser):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("correct username and password")


@pytest.fixture
def acme():
    PartnerFactory(name="Acme Cloud", slug="acme")


def test_a_refused_contact_request_is_announced(plain_http_live_server, plain_http, acme, browser):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/acme/")
    page.get_by_label("Your name").fill("Jane Doe")
    page.get_by_label("Work email").fill("jane@bigcorp.example")
    page.get_by_label("Company").fill("BigCorp")
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("How can this partner help?").fill("Hi")  # too short to say anything
    page.get_by_role("button", name="Send request").click()

    # The error summary is read out first, and the title says the page is not the one just left.
    expect(page.get_by_role("alert")).to_be_focused()
    expect(page.get_by_role("alert")).to_contain_text("Please correct this field:")
    expect(page).to_have_title(re.compile(r"^Error: Contact Acme Cloud"))


def test_the_access_page_fits_a_phone(plain_http_live_server, plain_http, customer_with_a_grant, browser):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{plain_http_live_server.url}/my/access/")
    page.get_by_label("Username").fill("it-lead")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Revoke").first).to_be_attached()
    page.wait_for_load_state("load")  # the style sheets too, or the width measured is the unstyled page's

    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")

    assert overflow <= 0


# A common phone today (390 CSS px): wider than PHONE, and still far narrower than a nine-column table.
A_PHONE = {"width": 390, "height": 844}


def test_on_a_phone_a_grants_revoke_button_is_on_screen_and_works(
    plain_http_live_server, plain_http, customer_with_a_grant, browser
):
    page = browser.new_page(viewport=A_PHONE)
    page.goto(f"{plain_http_live_server.url}/accounts/login/?next=/my/access/")
    page.get_by_label("Username").fill("it-lead")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    revoke = page.get_by_role("link", name=re.compile(r"^Revoke"))
    expect(revoke).to_be_attached()
    page.wait_for_load_state("load")

    # Found by looking down the page, not by discovering that the table scrolls sideways: measured before
    # anything scrolls (a click would scroll the table's box to the button first).
    box = revoke.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= A_PHONE["width"], box
    assert page.evaluate("[scrollX, document.querySelector('.table-scroll').scrollLeft]") == [0, 0]
    revoke.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("access?")
    page.get_by_label("Why is the access revoked?").fill("The contract ended.")
    page.get_by_role("button", name="Revoke access").click()
    expect(page.get_by_text("No partner holds access to your accounts now.")).to_be_visible()


@pytest.fixture
def a_lead_from_a_long_address():
    partner = PartnerFactory(name="Acme Cloud", slug="acme")
    PartnerUserFactory(partner=partner, username="ann")
    # An ordinary corporate address, 49 characters.
    return ContactRequestFactory(
        partner=partner, email="alexandra.konstantinopoulou@northwind-traders.com"
    ).reference


def test_find_a_partner_fits_the_narrowest_screen(plain_http_live_server, plain_http, two_partners, browser):
    page = browser.new_page(viewport=NARROWEST)
    page.goto(f"{plain_http_live_server.url}/partners/?q=kubernetes", wait_until="load")
    expect(page.locator(".partner-list")).to_contain_text("Globex Systems")

    assert page.evaluate(OVERFLOW) <= 0
    sort = page.get_by_label("Sort by").bounding_box()
    assert sort["x"] + sort["width"] <= NARROWEST["width"]


def test_a_lead_fits_the_narrowest_screen(
    plain_http_live_server, plain_http, a_lead_from_a_long_address, browser
):
    reference = a_lead_from_a_long_address
    page = browser.new_page(viewport=NARROWEST)
    page.goto(f"{plain_http_live_server.url}/accounts/login/?next=/my/leads/{reference}/")
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    page.wait_for_load_state("load")

    assert page.evaluate(OVERFLOW) <= 0
    email = page.get_by_role("link", name="alexandra.konstantinopoulou@northwind-traders.com").bounding_box()
    assert email["x"] + email["width"] <= NARROWEST["width"]


@pytest.fixture
def pdm():
    PdmFactory(username="pdm-on-the-road")
    # A row in the dashboard's widest table, whose six columns are wider than a phone.
    TierChange.objects.create(
        partner=PartnerFactory(name="Blue Harbor Cloud S.A. de C.V."),
        from_tier=tier(slug="registered"),
        to_tier=tier(slug="select"),
        reason="Qualified for this tier when the partner network was loaded.",
        source=TierChangeSource.SCHEDULED_CHECK,
        changed_at=timezone.now(),
    )


def test_the_pdm_dashboard_fits_a_phone(plain_http_live_server, plain_http, pdm, browser):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{plain_http_live_server.url}/accounts/login/?next=/pdm/")
    page.get_by_label("Username").fill("pdm-on-the-road")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Scheduled checks")).to_be_attached()
    page.wait_for_load_state("load")

    assert page.evaluate(OVERFLOW) <= 0
    # The table scrolls in its own box instead, which the keyboard can reach and scroll.
    changes = page.get_by_role("region", name="Recent tier changes")
    expect(changes).to_contain_text("Blue Harbor Cloud")
    assert changes.evaluate("box => box.scrollWidth > box.clientWidth")
    changes.focus()
    page.keyboard.press("ArrowRight")
    expect(changes).not_to_have_js_property("scrollLeft", 0)


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_the_api_docs_ask_nothing_of_another_host(plain_http_live_server, plain_http, browser, path):
    page = browser.new_page()
    requested, blocked = [], set()
    page.on("request", lambda request: requested.append(request.url))
    # What the page's Content-Security-Policy stops never leaves the browser.
    page.on("requestfailed", lambda request: request.failure == "csp" and blocked.add(request.url))
    page.goto(f"{plain_http_live_server.url}{path}", wait_until="networkidle")

    sent = {urlsplit(url).hostname for url in requested if url.startswith("http") and url not in blocked}
    assert sent == {urlsplit(plain_http_live_server.url).hostname}


# What people write, as one word wider than a phone: an address ------------------------------------------

LONG_ADDRESS = "https://www.acmecloudconsulting.example/en/services/cloud-migration/case-studies"
TEXT_PAST_THE_RIGHT_EDGE = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), past = [];
  for (let node; (node = walker.nextNode()); ) {
    const range = document.createRange();
    range.selectNodeContents(node);
    if (range.getBoundingClientRect().right > innerWidth) past.push(node.textContent.trim().slice(0, 40));
  }
  return past;
}"""


@pytest.fixture(params=["website", "description"])
def partner_with_a_long_address(request):
    if request.param == "website":
        PartnerFactory(
            name="Acme Cloud", slug="acme", website=LONG_ADDRESS, description="Kubernetes migrations."
        )
    else:
        PartnerFactory(name="Acme Cloud", slug="acme", description=f"Kubernetes migrations: {LONG_ADDRESS}")


@pytest.mark.parametrize("path", ["/partners/acme/", "/partners/?q=kubernetes"])
def test_a_partner_quoting_a_long_address_fits_a_phone(
    plain_http_live_server, plain_http, partner_with_a_long_address, browser, path
):
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{plain_http_live_server.url}{path}", wait_until="load")
    expect(page.get_by_text("Acme Cloud").first).to_be_visible()

    assert page.evaluate(OVERFLOW) <= 0
    assert page.evaluate(TEXT_PAST_THE_RIGHT_EDGE) == []


@pytest.fixture
def a_case_quoting_a_console_address():
    customer = CustomerFactory()
    user = CustomerUserFactory(customer=customer, username="it-lead")
    account = AwsAccountFactory(customer=customer)
    SupportSubscriptionFactory(customer=customer, plan=support_plan("business"))
    # What a customer pastes into a case: the console address of the failing log group.
    address = (
        "https://console.aws.example/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/"
        "$252Faws$252Flambda$252Fcheckout-service/log-events$3FfilterPattern$3DERROR"
    )
    return support_case_open(
        user=user,
        account=account,
        subject="Checkout errors since this morning",
        description=f"The errors are here: {address}",
        severity="general_guidance",
    ).pk


def test_a_support_case_quoting_a_console_address_fits_a_phone(
    plain_http_live_server, plain_http, a_case_quoting_a_console_address, browser
):
    page = browser.new_page(viewport=PHONE)
    page.goto(
        f"{plain_http_live_server.url}/accounts/login/?next=/my/support/cases/{a_case_quoting_a_console_address}/"
    )
    page.get_by_label("Username").fill("it-lead")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Checkout errors")
    page.wait_for_load_state("load")

    assert page.evaluate(OVERFLOW) <= 0
    assert page.evaluate(TEXT_PAST_THE_RIGHT_EDGE) == []
