"""Find-a-Partner in place (htmx): one search asked for is one request and one history entry, words typed
while results are on their way are kept with focus, and a late answer to a search left by Back changes
nothing. Each as a customer on a slow connection meets it."""

import contextlib
import re

import pytest
from django.core.signals import request_started
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.factories import IndustryFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def network():
    retail = IndustryFactory(name="Retail", slug="retail")
    for i in range(3):
        PartnerFactory(name=f"Acme Cloud {i}", description="Kubernetes for shops").industries.set([retail])
    PartnerFactory(name="Globex Data", description="Data lakes")


@pytest.fixture
def searches_received():
    seen = []

    def record(sender, environ, **kwargs):
        if environ.get("PATH_INFO") == "/partners/":
            seen.append(environ.get("QUERY_STRING", ""))

    request_started.connect(record, weak=False)
    yield seen
    request_started.disconnect(record)


def test_one_enter_in_the_search_box_sends_one_search(
    plain_http_live_server, plain_http, network, searches_received, browser
):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/")
    searches_received.clear()

    box = page.get_by_label("Search partners")
    box.click()
    box.type("cloud", delay=30)
    page.keyboard.press("Enter")  # typed and sent at once, as most people search
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))
    page.wait_for_timeout(1500)

    assert searches_received == ["q=cloud"]


def test_enter_after_the_live_results_came_does_not_make_back_a_no_op(
    plain_http_live_server, plain_http, network, browser
):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/")
    box = page.get_by_label("Search partners")
    results = page.locator(".partner-list")

    box.click()
    box.type("cloud", delay=30)
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))
    expect(results).not_to_contain_text("Globex Data")
    page.keyboard.press("Enter")
    page.wait_for_timeout(1500)

    page.go_back()  # back to every partner
    expect(page).to_have_url(re.compile(r"/partners/$"), timeout=3000)
    expect(results).to_contain_text("Globex Data")


def test_leaving_the_search_box_by_keyboard_does_not_search_again(
    plain_http_live_server, plain_http, network, searches_received, browser
):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/")
    box = page.get_by_label("Search partners")
    box.click()
    box.type("cloud", delay=30)
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))
    page.wait_for_timeout(1000)
    searches_received.clear()
    entries = page.evaluate("history.length")

    page.keyboard.press("Tab")  # on to the Search button, then the filters
    page.wait_for_timeout(1500)

    assert searches_received == []
    assert page.evaluate("history.length") == entries


@pytest.fixture
def two_pages():
    for i in range(25):  # two pages
        PartnerFactory(name=f"Acme Cloud {i}", description="Kubernetes for shops")


def test_typing_while_the_next_page_loads_keeps_the_words_and_focus(
    plain_http_live_server, plain_http, two_pages, browser
):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/?q=cloud")
    held = []
    page.route(re.compile(r".*page=2.*"), lambda route: held.append(route))  # a slow network
    page.locator(".pagination").get_by_role("link", name="Next").click()
    page.wait_for_timeout(300)
    assert held, "the page-2 request is on its way"

    box = page.get_by_label("Search partners")
    box.click()
    page.keyboard.press("End")
    page.keyboard.type(" kub", delay=30)  # the customer refines the words meanwhile
    for route in held:
        route.continue_()  # page 2 arrives
    page.wait_for_timeout(300)

    assert page.evaluate("document.activeElement.id") == "id_q"
    assert box.input_value() == "cloud kub"
    page.wait_for_timeout(1500)  # the typed words' own search
    expect(page).to_have_url(re.compile(r"q=cloud(\+|%20)kub"))


@pytest.fixture
def two_industries():
    retail = IndustryFactory(name="Retail", slug="retail")
    health = IndustryFactory(name="Healthcare", slug="healthcare")
    for i in range(6):
        partner = PartnerFactory(name=f"Acme Cloud {i}", description="Kubernetes")
        partner.industries.set([retail if i % 2 else health])
    PartnerFactory(name="Globex Data", description="Data lakes").industries.set([health])


def test_a_search_answered_after_back_leaves_the_address_and_results_agreeing(
    plain_http_live_server, plain_http, two_industries, browser
):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/")
    page.get_by_label("Search partners").fill("cloud")
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))

    held = []
    page.route(re.compile(r".*industry=retail.*"), lambda route: held.append(route))  # a slow answer
    page.locator("#facet-industry").get_by_text("Retail").click()
    page.wait_for_timeout(300)
    page.go_back()  # changed their mind: back to every partner
    expect(page).to_have_url(re.compile(r"/partners/$"))
    expect(page.locator("#results-heading")).to_contain_text("7 partners")
    for route in held:
        route.continue_()  # the old answer arrives late
    page.wait_for_timeout(1500)

    # What the page shows (every partner, empty box) is what the address says.
    expect(page.locator("#results-heading")).to_contain_text("7 partners")
    expect(page).to_have_url(re.compile(r"/partners/$"))


def test_after_a_failed_search_the_same_search_as_shown_is_sent_again(
    plain_http_live_server, plain_http, two_industries, browser
):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/?q=cloud")
    down = re.compile(r".*/partners/\?.*")
    page.route(down, lambda route: route.abort())  # the connection drops
    retail = page.locator("#facet-industry").get_by_label(re.compile("Retail"))
    retail.check()
    expect(page.locator("#search-failed")).to_be_visible()
    page.unroute(down)  # back on line

    retail.uncheck()  # the boxes say what the address says again: the results must too, from the server
    expect(page.locator("#search-failed")).to_have_count(0)
    expect(page.locator("#results-heading")).to_contain_text("6 partners")
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))


def test_a_search_on_its_way_is_shown_and_one_never_answered_is_said(
    plain_http_live_server, plain_http, two_industries, browser
):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/?q=cloud")
    results = page.locator(".fap-results")
    expect(results).to_have_css("opacity", "1")
    held = []
    page.route(re.compile(r".*industry=retail.*"), lambda route: held.append(route))  # a slow answer

    page.locator("#facet-industry").get_by_text("Retail").click()
    # The results it will replace are dimmed, and said to be busy.
    expect(results).to_have_css("opacity", "0.6")
    expect(results).to_have_attribute("aria-busy", "true")
    for route in held:
        route.continue_()
    expect(page.locator("#results-heading")).to_contain_text("3 partners")
    expect(results).to_have_css("opacity", "1")
    expect(results).not_to_have_attribute("aria-busy", "true")

    # A search the server never answers ends, and says so.
    page.route(re.compile(r".*industry=healthcare.*"), lambda route: None)  # never answered
    page.locator("#facet-industry").get_by_text("Healthcare").click()
    expect(results).to_have_attribute("aria-busy", "true")
    expect(page.locator("#search-failed")).to_contain_text("These results are not updated", timeout=20_000)
    expect(results).to_have_css("opacity", "1")
    expect(results).not_to_have_attribute("aria-busy", "true")


def _answer(routes):
    for route in routes:
        # A request the page gave up (htmx replaced it with the next one) has no answer to take.
        with contextlib.suppress(PlaywrightError):
            route.continue_()


def test_a_filter_removed_by_its_chip_while_a_box_untick_is_on_its_way_keeps_the_untick(
    plain_http_live_server, plain_http, two_industries, browser
):
    page = browser.new_page()
    page.goto(f"{plain_http_live_server.url}/partners/?q=acme&industry=retail&industry=healthcare")
    held = []
    page.route("**/partners/?*", lambda route: held.append(route))  # a slow network

    page.locator("#facet-industry").get_by_text("Retail").click()  # untick Retail
    page.wait_for_timeout(300)
    page.locator(".chip", has_text="Words").click()  # and, before the answer, drop the words
    page.wait_for_timeout(300)
    page.unroute("**/partners/?*")
    _answer(held)

    # Both changes stand: the chip did not bring Retail back.
    expect(page).to_have_url(re.compile(r"/partners/\?industry=healthcare$"))
    expect(page.locator("#results-heading")).to_contain_text("4 partners")
    expect(page.get_by_role("checkbox", name=re.compile(r"^Retail"))).not_to_be_checked()
    expect(page.get_by_label("Search partners")).to_have_value("")


def test_a_filter_chip_or_a_loosening_link_ctrl_clicked_opens_in_a_new_tab(
    plain_http_live_server, plain_http, two_industries, browser
):
    page = browser.new_page()
    context = page.context
    shown = f"{plain_http_live_server.url}/partners/?q=globex&industry=retail"
    page.goto(shown)
    expect(page.locator("#results-heading")).to_have_text("No partners found")

    for link, address in [
        (page.locator(".chip", has_text="Words"), r"/partners/\?industry=retail$"),
        (page.get_by_role("link", name="Drop the industries"), r"/partners/\?q=globex$"),
    ]:
        with context.expect_page(timeout=5000) as opened:
            link.click(modifiers=["ControlOrMeta"])
        expect(opened.value).to_have_url(re.compile(address))
        opened.value.close()
        # This tab still shows what it showed.
        expect(page).to_have_url(shown)
        expect(page.locator("#results-heading")).to_have_text("No partners found")

    # A plain click drops the filter here, in place.
    page.get_by_role("link", name="Drop the industries").click()
    expect(page).to_have_url(re.compile(r"/partners/\?q=globex$"))
    expect(page.locator("#results-heading")).to_contain_text("1 partner")
    expect(page.locator("#results-heading")).to_be_focused()
