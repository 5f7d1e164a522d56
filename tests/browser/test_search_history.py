"""Back and Forward on Find-a-Partner: the search box says what the address (and so the results) searches
for, and the next filter ticked keeps those words, no more and no fewer. The box stands outside the part
htmx swaps and restores, so it would otherwise keep whatever was typed last, or the words the page was
first opened with."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.factories import IndustryFactory, PartnerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def network():
    retail = IndustryFactory(name="Retail", slug="retail")
    healthcare = IndustryFactory(name="Healthcare", slug="healthcare")
    for name, industry in [
        ("Acme Cloud", retail),
        ("Globex Cloud", healthcare),
        ("Initech Data", retail),
        ("Umbrella Data", healthcare),
    ]:
        PartnerFactory(name=name, description="Services for shops and hospitals.").industries.set([industry])


def _tick(page, industry):
    page.locator("#facet-industry").get_by_text(industry).click()


def test_back_and_forward_keep_the_search_box_in_step_with_the_results(
    plain_http_live_server, plain_http, network
):
    base_url = plain_http_live_server.url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            words = page.get_by_label("Search partners")
            results = page.locator(".partner-list")

            # Typed words, then a filter; Back returns to the words alone.
            page.goto(f"{base_url}/partners/")
            words.fill("cloud")
            expect(page).to_have_url(re.compile(r"\?q=cloud$"))
            expect(results).not_to_contain_text("Initech Data")
            _tick(page, "Retail")
            expect(page).to_have_url(re.compile(r"industry=retail"))
            expect(results).not_to_contain_text("Globex Cloud")

            page.go_back()
            expect(page).to_have_url(re.compile(r"\?q=cloud$"))
            expect(results).to_contain_text("Globex Cloud")
            expect(words).to_have_value("cloud")

            # The next filter searches the same words.
            _tick(page, "Healthcare")
            expect(page).to_have_url(re.compile(r"q=cloud.*industry=healthcare"))
            expect(results).to_contain_text("Globex Cloud")
            expect(results).not_to_contain_text("Umbrella Data")

            page.go_back()
            page.go_back()
            expect(page).to_have_url(re.compile(r"/partners/$"))
            expect(words).to_have_value("")
            page.go_forward()
            expect(page).to_have_url(re.compile(r"\?q=cloud$"))
            expect(words).to_have_value("cloud")

            # Words removed by their chip, then a filter; Back returns to the filter without the words.
            page.goto(f"{base_url}/partners/?q=cloud&industry=retail")
            page.locator(".chip", has_text="Words").click()
            expect(page).to_have_url(re.compile(r"\?industry=retail$"))
            expect(words).to_have_value("")
            _tick(page, "Healthcare")
            expect(page).to_have_url(re.compile(r"industry=retail&industry=healthcare"))

            page.go_back()
            expect(page).to_have_url(re.compile(r"\?industry=retail$"))
            expect(results).to_contain_text("Initech Data")
            expect(words).to_have_value("")

            # The next filter does not bring the removed words back.
            _tick(page, "Healthcare")
            expect(page).to_have_url(re.compile(r"industry=retail&industry=healthcare"))
            expect(page).not_to_have_url(re.compile(r"q=cloud"))
            expect(results).to_contain_text("Umbrella Data")

            page.go_back()
            page.go_back()
            expect(page).to_have_url(re.compile(r"\?q=cloud&industry=retail$"))
            expect(words).to_have_value("cloud")
        finally:
            browser.close()


def _search_in_place(page, times):
    """As many searches as htmx keeps pages for Back (ten), and one more: each a new address."""
    words = page.get_by_label("Search partners")
    for i in range(times):
        words.fill(f"cloud{i}")
        expect(page).to_have_url(re.compile(rf"q=cloud{i}(&|$)"))


def _fail_history_restores(how):
    def answer(route):
        if route.request.headers.get("hx-history-restore-request") != "true":
            route.continue_()
        elif how == "offline":
            route.abort("internetdisconnected")
        else:
            route.fulfill(status=500, content_type="text/html", body="<h1>Server Error (500)</h1>")

    return answer


@pytest.mark.parametrize("how", ["offline", "server error"])
def test_back_past_the_kept_pages_when_the_page_cannot_be_had_says_so_and_the_retry_searches_the_address(
    plain_http_live_server, plain_http, network, browser, how
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{plain_http_live_server.url}/partners/?industry=retail", wait_until="networkidle")
    _search_in_place(page, 11)
    # Then other words, and Retail unticked: the boxes the page is left with are not Retail's.
    page.get_by_label("Search partners").fill("cloud")
    expect(page).to_have_url(re.compile(r"\?q=cloud&industry=retail$"))
    _tick(page, "Retail")
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))
    expect(page.locator(".partner-list")).to_contain_text("Globex Cloud")
    history_restores = re.compile(r".*/partners/.*")
    page.route(history_restores, _fail_history_restores(how))

    page.evaluate("history.go(-13)")  # back to Retail, which htmx no longer keeps: it asks the server
    expect(page).to_have_url(re.compile(r"\?industry=retail$"))

    # The results are still those of the last search, not of the address: said, as any failed search is.
    expect(page.locator("#search-failed")).to_contain_text("These results are not updated")
    expect(page.locator("#search-status")).to_have_text(
        "The search could not be done; check your connection and try again."
    )
    # The search box and the filters say what the address searches for, as the results will once it is
    # done: not the words and boxes of the page left.
    expect(page.get_by_label("Search partners")).to_have_value("")
    expect(page.locator("#facet-industry").get_by_label("Retail")).to_be_checked()
    expect(page.locator("#facet-industry").get_by_label("Healthcare")).not_to_be_checked()
    page.unroute(history_restores)
    # The retry is sent (not taken for the search the address says is shown), and it is the address's.
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#search-failed")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"\?industry=retail$"))
    results = page.locator(".partner-list")
    expect(results).to_contain_text("Initech Data")
    expect(results).not_to_contain_text("Globex Cloud")


def test_a_retry_after_back_failed_searches_what_the_address_says_even_without_a_box_for_it(
    plain_http_live_server, plain_http, network, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    address = f"{plain_http_live_server.url}/partners/?industry=healthcare&sort=name"
    page.goto(address, wait_until="networkidle")
    page.locator("#facet-industry").get_by_label("Healthcare").uncheck()
    expect(page).to_have_url(re.compile(r"\?sort=name$"))
    # Words no partner has: the page left has no Industries box at all, Healthcare's included.
    words = page.get_by_label("Search partners")
    for i in range(11):
        words.fill(f"nowhere{i}")
        expect(page).to_have_url(re.compile(rf"q=nowhere{i}&sort=name$"))
    expect(page.locator("#facet-industry")).to_contain_text("None among these results")
    history_restores = re.compile(r".*/partners/.*")
    page.route(history_restores, _fail_history_restores("offline"))

    page.evaluate("history.go(-12)")
    expect(page).to_have_url(re.compile(r"\?industry=healthcare&sort=name$"))
    expect(page.locator("#search-failed")).to_be_visible()
    expect(words).to_have_value("")
    expect(page.get_by_label("Sort by")).to_have_value("name")
    page.unroute(history_restores)
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#search-failed")).to_have_count(0)
    expect(page.locator(".partner-list")).to_contain_text("Umbrella Data")
    assert parse_qs(urlsplit(page.url).query) == {"industry": ["healthcare"], "sort": ["name"]}
    expect(page.locator("#facet-industry").get_by_label("Healthcare")).to_be_checked()


def test_back_and_forward_say_the_count_of_the_results_they_bring_back(
    plain_http_live_server, plain_http, network, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{plain_http_live_server.url}/partners/?industry=retail", wait_until="networkidle")
    status = page.locator("#search-status")
    searches = re.compile(r".*/partners/\?.*")
    page.route(searches, lambda route: route.abort("internetdisconnected"))  # the connection drops
    _tick(page, "Healthcare")
    expect(status).to_have_text("The search could not be done; check your connection and try again.")
    page.unroute(searches)  # back on line
    _tick(page, "Retail")  # untick: Healthcare alone
    expect(page).to_have_url(re.compile(r"\?industry=healthcare$"))
    expect(status).to_have_text("2 partners found")

    # Back brings Retail's results, from before the search that failed: what is said is their count, not
    # the failure.
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?industry=retail$"))
    expect(status).to_have_text("2 partners")
    expect(page.locator("#search-failed")).to_have_count(0)
    expect(page.locator(".fap-results")).not_to_have_attribute("aria-busy", "true")

    page.get_by_label("Search partners").fill("initech")
    expect(page).to_have_url(re.compile(r"q=initech"))
    expect(status).to_have_text("1 partner found")
    page.go_back()
    expect(status).to_have_text("2 partners")
    page.go_forward()
    expect(status).to_have_text("1 partner")


def _chips(page):
    """The filters in use, by their labels."""
    return page.locator(".fap-active .chip > span:first-child")


@pytest.mark.parametrize("how", ["offline", "server error"])
def test_after_back_failed_the_filters_in_use_and_the_counts_of_the_page_left_are_not_shown(
    plain_http_live_server, plain_http, network, browser, how
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{plain_http_live_server.url}/partners/?industry=retail", wait_until="networkidle")
    _search_in_place(page, 11)
    page.get_by_label("Search partners").fill("cloud")
    expect(page).to_have_url(re.compile(r"\?q=cloud&industry=retail$"))
    _tick(page, "Retail")
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))
    # The page left: its words as the one filter in use, and what ticking each industry would find.
    expect(_chips(page)).to_have_text(["Words: cloud"])
    counts = page.locator("#facet-industry .facet__count")
    expect(counts.first).to_be_visible()
    history_restores = re.compile(r".*/partners/.*")
    page.route(history_restores, _fail_history_restores(how))

    page.evaluate("history.go(-13)")  # back to Retail, which htmx no longer keeps
    expect(page).to_have_url(re.compile(r"\?industry=retail$"))
    expect(page.locator("#search-failed")).to_contain_text("These results are not updated")
    # The page left's filters in use ("Words: cloud") and the counts beside the boxes, of its results,
    # would contradict the boxes and the address: not shown.
    expect(page.locator(".fap-active")).to_be_hidden()
    expect(counts).to_have_count(2)
    for i in range(2):
        expect(counts.nth(i)).to_be_hidden()
    page.unroute(history_restores)

    # The address's search, sent again: its own filters in use, and counts.
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#search-failed")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"\?industry=retail$"))
    expect(_chips(page)).to_have_text(["Industries: Retail"])
    expect(counts.first).to_be_visible()


def test_after_back_failed_the_filters_button_does_not_count_the_page_lefts_filters(
    plain_http_live_server, plain_http, network, browser
):
    page = browser.new_page(viewport={"width": 375, "height": 740})  # a phone: the filters fold away
    page.goto(f"{plain_http_live_server.url}/partners/?sort=name", wait_until="networkidle")
    _search_in_place(page, 11)
    page.get_by_label("Search partners").fill("cloud")
    expect(page).to_have_url(re.compile(r"\?q=cloud&sort=name$"))
    page.locator("#filters-toggle").click()
    _tick(page, "Healthcare")
    expect(page).to_have_url(re.compile(r"\?q=cloud&industry=healthcare&sort=name$"))
    expect(page.locator("#filters-toggle")).to_have_text("Filters (2 in use)")
    history_restores = re.compile(r".*/partners/.*")
    page.route(history_restores, _fail_history_restores("offline"))

    page.evaluate("history.go(-13)")
    expect(page).to_have_url(re.compile(r"\?sort=name$"))
    expect(page.locator("#search-failed")).to_be_visible()
    expect(page.locator(".fap-active")).to_be_hidden()
    expect(page.locator("#filters-toggle")).to_have_text("Filters", use_inner_text=True)
    expect(page.get_by_role("button", name="Apply filters")).to_be_visible()


def test_forward_again_to_the_page_left_after_back_failed_brings_it_back_as_it_was(
    plain_http_live_server, plain_http, network, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    address = f"{plain_http_live_server.url}/partners/?industry=healthcare&sort=name"
    page.goto(address, wait_until="networkidle")
    page.locator("#facet-industry").get_by_label("Healthcare").uncheck()
    expect(page).to_have_url(re.compile(r"\?sort=name$"))
    # Words no partner has: the page left has no Industries box, so Back puts Healthcare in a hidden field.
    words = page.get_by_label("Search partners")
    for i in range(11):
        words.fill(f"nowhere{i}")
        expect(page).to_have_url(re.compile(rf"q=nowhere{i}&sort=name$"))
    history_restores = re.compile(r".*/partners/.*")
    page.route(history_restores, _fail_history_restores("offline"))
    page.evaluate("history.go(-12)")
    expect(page).to_have_url(re.compile(r"\?industry=healthcare&sort=name$"))
    expect(page.locator("#search-failed")).to_be_visible()
    page.unroute(history_restores)

    # Forward again, back on line, to the page left: its results, and what it says of them, as they were.
    page.evaluate("history.go(12)")
    expect(page).to_have_url(re.compile(r"\?q=nowhere10&sort=name$"))
    expect(page.locator("#search-failed")).to_have_count(0)
    expect(_chips(page)).to_have_text(["Words: nowhere10"])
    expect(page.locator(".fap-active")).to_be_visible()
    # The next search is the words typed, with no Healthcare that neither a box nor a chip shows.
    words.fill("cloud")
    expect(page).to_have_url(re.compile(r"\?q=cloud"))
    assert parse_qs(urlsplit(page.url).query) == {"q": ["cloud"], "sort": ["name"]}
    expect(page.locator(".partner-list")).to_contain_text("Acme Cloud")
    expect(_chips(page)).to_have_text(["Words: cloud"])


def test_after_back_failed_the_window_title_names_the_search_of_the_address(
    plain_http_live_server, plain_http, network, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{plain_http_live_server.url}/partners/?q=data", wait_until="networkidle")
    expect(page).to_have_title("Find a partner: data · APN Portal")
    _search_in_place(page, 11)
    page.get_by_label("Search partners").fill("cloud")
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))
    expect(page).to_have_title("Find a partner: cloud · APN Portal")
    history_restores = re.compile(r".*/partners/.*")
    page.route(history_restores, _fail_history_restores("server error"))

    page.evaluate("history.go(-12)")  # back to "data", which htmx no longer keeps
    expect(page).to_have_url(re.compile(r"\?q=data$"))
    expect(page.locator("#search-failed")).to_be_visible()
    # The tab and the history list name the words of the address and of the search box, not those left.
    expect(page.get_by_label("Search partners")).to_have_value("data")
    expect(page).to_have_title("Find a partner: data · APN Portal")
    page.unroute(history_restores)

    page.evaluate("history.go(12)")  # Forward, back on line, to the page left
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))
    expect(page).to_have_title("Find a partner: cloud · APN Portal")
    page.evaluate("history.go(-12)")  # "data" again, from the server this time
    expect(page).to_have_url(re.compile(r"\?q=data$"))
    expect(page.locator("#search-failed")).to_have_count(0)
    expect(page).to_have_title("Find a partner: data · APN Portal")


def test_back_from_a_profile_after_a_search_failed_shows_the_boxes_of_the_address(
    plain_http_live_server, plain_http, network, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{plain_http_live_server.url}/partners/?q=cloud", wait_until="networkidle")
    searches = re.compile(r".*/partners/\?.*")
    page.route(searches, lambda route: route.fulfill(status=500, body="Server Error (500)"))
    _tick(page, "Retail")  # the search fails: Retail ticked over the results of the words alone
    page.get_by_label("Sort by").select_option("name")
    expect(page.locator("#search-failed")).to_be_visible()
    page.unroute(searches)
    page.get_by_role("link", name="Globex Cloud").first.click()
    expect(page).to_have_url(re.compile(r"/partners/[^/?]+/$"))

    page.go_back()  # the page is loaded again, for its address: the browser does not tick its boxes again
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))
    expect(page.locator(".partner-list")).to_contain_text("Globex Cloud")
    expect(_chips(page)).to_have_text(["Words: cloud"])
    expect(page.locator("#facet-industry").get_by_label("Retail")).not_to_be_checked()
    expect(page.get_by_label("Sort by")).to_have_value("")
    # The next filter searches the words and itself alone.
    _tick(page, "Healthcare")
    expect(page.locator(".partner-list")).not_to_contain_text("Acme Cloud")
    assert parse_qs(urlsplit(page.url).query) == {"q": ["cloud"], "industry": ["healthcare"]}


def test_back_to_results_with_a_note_says_the_note_with_their_count(
    plain_http_live_server, plain_http, network, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{plain_http_live_server.url}/partners/?page=abc", wait_until="networkidle")
    note = "That page number is not one we have, so the first page is shown."
    expect(page.locator(".fap-notes")).to_have_text(note)
    status = page.locator("#search-status")
    page.get_by_label("Search partners").fill("cloud")
    expect(page).to_have_url(re.compile(r"\?q=cloud$"))
    expect(status).to_have_text("2 partners found")

    # Back: the note changes what the results mean, and is said with their count, as a search says it.
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?page=abc$"))
    expect(page.locator(".fap-notes")).to_have_text(note)
    expect(status).to_have_text(f"4 partners. {note}")
    page.go_forward()
    expect(status).to_have_text("2 partners")
