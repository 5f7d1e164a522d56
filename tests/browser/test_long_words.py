"""Every page of the site fits the narrowest screen (WCAG's reflow width, 320 px) whatever people wrote:
a name, title, description, message or note holding one "word" wider than the screen (an address, a URL,
an IAM role name) breaks instead of making the whole page scroll sideways. And only such a word breaks:
on a wide screen no word of the pages is split across two lines.

The demo data (with every text people type made such a word, for the narrow screen) is crawled as each
kind of user sees it: one page of each kind (by URL name) reached by links from the user's start page."""

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import CharField, TextField, Value
from django.db.models.functions import Cast, Concat, Left
from django.urls import Resolver404, resolve

from engagements.models import (
    AccessGrant,
    AwsAccount,
    Customer,
    Engagement,
    EngagementPartner,
    EngagementStageEvent,
    TeamMember,
)
from partners.models import ContactRequest, CustomerReference, Office, Partner, StaffMember, TierChange
from support.models import CaseReply, SupportCase
from tests.browser.conftest import NARROWEST, OVERFLOW
from tests.factories import ContactRequestFactory

User = get_user_model()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# 80 characters and not one place a line may break at.
LONG_WORD = "northwind.procurement@northwindtradersinternationalholdingsgroup.example.com/abc"
# Text ending past the screen's right edge, unless a box that fits the screen scrolls or clips it (a wide
# table in its scrolling box): with the element holding it, to say where.
TEXT_PAST_THE_RIGHT_EDGE = """() => {
  const past = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const scrolledWithin = (element) => {
    for (let e = element; e && e !== document.body; e = e.parentElement) {
      const overflow = getComputedStyle(e).overflowX;
      if (overflow !== "visible" && e.getBoundingClientRect().right <= innerWidth + 0.5) return true;
    }
    return false;
  };
  for (let node; (node = walker.nextNode()); ) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const box = range.getBoundingClientRect();
    if (box.width && box.right > innerWidth + 0.5 && !scrolledWithin(node.parentElement)) {
      past.push(`${node.parentElement.tagName.toLowerCase()}.${node.parentElement.className}: ` +
                node.textContent.trim().slice(0, 30));
    }
  }
  return past;
}"""

# What people type, by model: each becomes the long word (with the row's id, where values are unique).
WRITTEN = {
    Partner: ["name", "description", "website"],
    Office: ["city"],
    StaffMember: ["full_name"],
    CustomerReference: ["customer_name", "summary", "services_used"],
    TierChange: ["reason"],
    ContactRequest: ["name", "company", "message"],
    Customer: ["name"],
    AwsAccount: ["name"],
    Engagement: ["title", "workload", "description"],
    EngagementStageEvent: ["note"],
    EngagementPartner: ["territory", "business_function"],
    TeamMember: ["name", "note"],
    SupportCase: ["subject", "description"],
    CaseReply: ["body"],
}


def _written_as_long_words():
    for model, names in WRITTEN.items():
        for name in names:
            field = model._meta.get_field(name)
            assert isinstance(field, CharField | TextField), field
            if name == "website":
                value = Value(f"https://{LONG_WORD}")
            else:
                value = Concat(Value(LONG_WORD), Cast("pk", CharField()), output_field=CharField())
            model.objects.exclude(**{name: ""}).update(**{name: Left(value, field.max_length or 1000)})
    for grant in AccessGrant.objects.select_related("account"):
        role_name = f"{LONG_WORD.replace('.', '').replace('@', '').replace('/', '')}{grant.pk}"[-64:]
        AccessGrant.objects.filter(pk=grant.pk).update(
            role_name=role_name, role_arn=f"arn:aws:iam::{grant.account.account_id}:role/{role_name}"
        )


@pytest.fixture
def demo():
    call_command("seed_demo", partners=12, no_progress=True, verbosity=0)
    ContactRequestFactory(partner=User.objects.get(username="partner").partner)  # a lead to open


@pytest.fixture
def demo_in_long_words(demo):
    _written_as_long_words()


def _one_page_of_each_kind(page, base: str, start: str, within: tuple[str, ...]) -> dict[str, str]:
    """Crawl from `start` by links under `within`: {URL name: the first path seen of it}."""
    seen, queue = {}, [start]
    while queue:
        path = queue.pop(0)
        try:
            name = resolve(path).url_name
        except Resolver404:
            continue
        if name in seen:
            continue
        seen[name] = path
        page.goto(f"{base}{path}", wait_until="load")
        for href in page.eval_on_selector_all("a[href]", "links => links.map(link => link.href)"):
            link = urlsplit(href)
            if f"{link.scheme}://{link.netloc}" == base and link.path.startswith(within):
                queue.append(link.path)
    return seen


def _pages_wider_than_the_screen(page, base, pages) -> dict[str, object]:
    wider = {}
    for path in pages.values():
        page.goto(f"{base}{path}", wait_until="load")
        overflow, past = page.evaluate(OVERFLOW), page.evaluate(TEXT_PAST_THE_RIGHT_EDGE)
        if overflow > 0 or past:
            wider[path] = (overflow, past[:3])
    return wider


def _signed_in(browser, base, username, password, viewport=NARROWEST):
    page = browser.new_page(viewport=viewport)
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


# Each kind of user: where the crawl starts, the paths it follows, and the kinds of page it must reach.
CRAWLS = [
    (None, None, "/partners/", ("/partners/",), {"search", "profile"}),
    (
        "customer",
        "apn-demo-customer-2026",
        "/my/engagements/",
        ("/my/", "/partners/"),
        {"engagement-detail", "case-detail", "access", "access-revoke", "organisation"},
    ),
    (
        "partner",
        "apn-demo-partner-2026",
        "/my/",
        ("/my/",),
        {"scorecard", "lead-detail", "profile", "reference-edit", "engagement-detail", "grants"},
    ),
    (
        "am",
        "apn-demo-am-2026",
        "/my/customers/",
        ("/my/",),
        {"customer-detail", "engagement-detail", "case-detail", "access-revoke"},
    ),
    # A Cloud Support Engineer has no customers, engagements or accounts of their own: every case is theirs.
    ("support", "apn-demo-support-2026", "/my/support/", ("/my/",), {"home", "case-list", "case-detail"}),
]
CRAWLED = ("username", "password", "start", "within", "must_reach")


def _crawled_pages(browser, base, username, password, start, within, must_reach, viewport):
    if username is None:
        page = browser.new_page(viewport=viewport)
    else:
        page = _signed_in(browser, base, username, password, viewport)
    pages = _one_page_of_each_kind(page, base, start, within)
    assert set(pages) >= must_reach, pages
    return page, pages


@pytest.mark.parametrize(CRAWLED, CRAWLS)
def test_every_page_fits_the_narrowest_screen_whatever_people_wrote(
    plain_http_live_server,
    plain_http,
    demo_in_long_words,
    browser,
    username,
    password,
    start,
    within,
    must_reach,
):
    base = plain_http_live_server.url
    page, pages = _crawled_pages(browser, base, username, password, start, within, must_reach, NARROWEST)

    assert _pages_wider_than_the_screen(page, base, pages) == {}


WIDE_SCREEN = {"width": 1280, "height": 900}
# Every word (letters and digits between spaces and hyphens, where lines may break) in the page's main
# content that is laid out on more than one line, but in an IAM role's ARN, which may break anywhere by
# design, or in what is hidden from people (the contact form's trap for bots).
WORDS_SPLIT = """() => {
  const split = [], walker = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    if (node.parentElement.closest(".arn, [aria-hidden='true']")) continue;
    for (const word of node.textContent.matchAll(/[^\\s-]+/g)) {
      const range = document.createRange();
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      const boxes = [...range.getClientRects()].filter(box => box.width > 0);
      const lines = new Set(boxes.map(box => Math.round(box.top)));
      if (lines.size > 1) split.push(`${node.parentElement.tagName.toLowerCase()}: ${word[0]}`);
    }
  }
  return split;
}"""


@pytest.mark.parametrize(CRAWLED, CRAWLS)
def test_on_a_wide_screen_no_word_is_split(
    plain_http_live_server, plain_http, demo, browser, username, password, start, within, must_reach
):
    base = plain_http_live_server.url
    page, pages = _crawled_pages(browser, base, username, password, start, within, must_reach, WIDE_SCREEN)

    split = {}
    for path in pages.values():
        page.goto(f"{base}{path}", wait_until="load")
        if words := page.evaluate(WORDS_SPLIT):
            split[path] = words[:3]
    assert split == {}
