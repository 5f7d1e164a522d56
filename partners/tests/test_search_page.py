"""The search page as a customer meets it: without JavaScript, with htmx, accessible, no CDN."""

import re

import pytest

from partners.tests.search_helpers import SEARCH_URL, search
from tests.factories import (
    ApprovedEnrollmentFactory,
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    UseCaseFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner():
    partner = PartnerFactory(name="Lantern Works", description="Data lakes.")
    partner.industries.add(IndustryFactory(name="Retail", slug="retail"))
    partner.use_cases.add(UseCaseFactory(name="Data lakes", slug="data-lakes"))
    OfficeFactory(partner=partner, country="NL", city="Utrecht", latitude=52.09, longitude=5.12)
    ApprovedEnrollmentFactory(partner=partner)
    return partner


def test_without_javascript_the_page_is_a_get_form_with_every_filter(client, partner):
    body = search(client).content.decode()
    assert '<form id="partner-search"' in body and 'method="get"' in body and 'action="/partners/"' in body
    for name in (
        "q",
        "type",
        "tier",
        "program",
        "industry",
        "use_case",
        "country",
        "lat",
        "lng",
        "radius",
        "sort",
    ):
        assert f'name="{name}"' in body, name
    assert 'type="submit"' in body
    assert f'href="/partners/{partner.slug}/"' in body


def test_every_control_has_a_label_and_every_facet_a_legend(client, partner):
    body = search(client, industry="retail").content.decode()
    ids = re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', body)
    assert ids
    for control_id in ids:
        assert f'for="{control_id}"' in body, control_id
    assert body.count("<fieldset") == body.count("<legend")
    assert 'id="f-industry-retail" checked' in body


def test_an_htmx_request_gets_only_the_results_region_and_a_status_to_announce(client, partner):
    response = client.get(SEARCH_URL, {"industry": "retail"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="search-region"')
    assert 'hx-swap-oob="innerHTML"' in body and "1 partner found" in body
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(client, partner):
    response = client.get(SEARCH_URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()


def test_the_form_updates_in_place_and_the_address_follows(client, partner):
    body = search(client).content.decode()
    assert 'hx-get="/partners/"' in body
    assert 'hx-target="#search-region"' in body
    assert 'hx-push-url="true"' in body


def test_scripts_and_styles_come_from_the_portal_itself(client, partner):
    body = search(client).content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', body)
    assert "/static/js/htmx.min.js" in sources
    assert all(source.startswith("/static/") for source in sources), sources


def test_links_on_the_page_carry_the_search_as_understood(client, partner):
    PartnerFactory.create_batch(25, description="")
    body = search(client, tier="bogus", sort="name").content.decode()
    assert 'href="/partners/?sort=name&amp;page=2"' in body
    assert "bogus" not in re.sub(r'<ul class="messages.*?</ul>', "", body, flags=re.S)


def test_links_keep_the_place_as_precisely_as_it_was_given(client, partner):
    for nearby in PartnerFactory.create_batch(25, description=""):  # two pages of results
        nearby.offices.create(country="US", city="San Francisco", latitude=37.775, longitude=-122.4194)

    body = search(client, lat="37.77493", lng="-122.41941612", radius="10.123456789", sort="name")

    page_two = "lat=37.77493&amp;lng=-122.41941612&amp;radius=10.123456789&amp;sort=name&amp;page=2"
    assert page_two in body.content.decode()


@pytest.mark.parametrize("htmx", [False, True], ids=["page load", "in-place update"])
def test_each_page_of_results_has_its_own_title(client, htmx):
    """Each page has its own address and history entry: its title tells it apart in history, tabs and a
    screen reader's first words, as the portal's other paginated lists do."""
    PartnerFactory.create_batch(21, description="Kubernetes platforms.")  # a page and one more partner
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    def title(**params) -> str:
        body = client.get(SEARCH_URL, {"q": "kubernetes", **params}, **headers).content.decode()
        return " ".join(re.search(r"<title>(.*?)</title>", body, flags=re.S).group(1).split())

    assert title() == "Find a partner: kubernetes · APN Portal"
    assert title(page=2) == "Find a partner: kubernetes (page 2) · APN Portal"
    assert (
        title(page=9) == "Find a partner: kubernetes (page 2) · APN Portal"
    )  # past the end: the last is shown


def test_head_gets_the_page_headers_as_get_does(client, partner):
    # Uptime monitors (UptimeRobot's default), link checkers and proxies send HEAD in place of GET.
    response = client.head(SEARCH_URL, {"q": "data lakes"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert client.put(SEARCH_URL).status_code == 405
