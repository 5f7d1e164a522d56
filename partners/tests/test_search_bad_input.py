"""Bad parameters on Find-a-Partner: a page with a note (200), never an error page, never echoed raw."""

import pytest

from partners.tests.search_helpers import SEARCH_URL, names, notes, search, total
from tests.factories import OfficeFactory, PartnerFactory, tier

pytestmark = pytest.mark.django_db

MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def partners():
    premier = PartnerFactory(name="Premier One", description="", tier=tier(slug="premier"))
    OfficeFactory(partner=premier)
    PartnerFactory(name="Registered Two", description="")


def test_an_unknown_tier_is_left_out_with_a_note_and_the_known_one_kept(client, partners):
    response = search(client, tier=["premier", "diamond"])
    assert names(response) == ["Premier One"]
    assert notes(response) == ["There is no tier “diamond”, so it was left out."]
    assert "There is no tier “diamond”" in response.content.decode()


def test_a_page_that_is_not_a_number_shows_the_first_page(client, partners):
    response = search(client, page="abc")
    assert response.context["page"].number == 1
    assert total(response) == 2
    assert "first page" in notes(response)[0]


@pytest.mark.parametrize("page", ["999999", "99999999999999999999999", "-3", "0"])
def test_a_page_past_the_end_shows_the_last_page(client, partners, page):
    response = search(client, page=page)
    assert response.context["page"].number == 1
    assert total(response) == 2


def test_ten_thousand_characters_of_search_words_are_refused_with_a_note(client, partners):
    response = search(client, q="migration " * 1000)
    assert total(response) == 2
    assert notes(response) == ["Search words are limited to 200 characters, so they were left out."]


@pytest.mark.parametrize(
    ("params", "note"),
    [
        ({"lat": "91", "lng": "0"}, "latitude must be from -90 to 90"),
        ({"lat": "abc", "lng": "0"}, "latitude must be a number"),
        ({"lat": "nan", "lng": "0"}, "latitude must be a number"),
        ({"lat": "10", "lng": "inf"}, "longitude must be a number"),
        ({"lat": "10", "lng": "-181"}, "longitude must be from -180 to 180"),
        ({"lat": "10"}, "needs both a latitude (lat) and a longitude (lng)"),
        ({"lng": "10", "radius": "50"}, "needs both a latitude (lat) and a longitude (lng)"),
        ({"lat": "abc", "lng": "abc", "radius": "50"}, "A radius needs a place"),
        ({"radius": "50"}, "A radius needs a place"),
    ],
)
def test_invalid_coordinates_leave_the_distance_out_with_a_note(client, partners, params, note):
    response = search(client, **params)
    assert response.context["near"] is None
    assert total(response) == 2
    assert any(note in text for text in notes(response)), notes(response)


@pytest.mark.parametrize("radius", ["0", "1e9", "-5", "wide"])
def test_an_invalid_radius_falls_back_to_the_default_one(client, partners, radius):
    response = search(client, lat="51.5", lng="-0.12", radius=radius)
    assert response.context["near"].radius_km == 100
    assert any("radius must be" in text for text in notes(response)), notes(response)


def test_nearest_first_without_a_place_says_so(client, partners):
    response = search(client, sort="distance")
    assert response.context["page"].sort == "tier"
    assert any("needs a place" in text for text in notes(response))


def test_best_match_without_words_quietly_uses_the_usual_order(client, partners):
    response = search(client, sort="relevance")
    assert response.context["page"].sort == "tier"
    assert total(response) == 2
    assert notes(response) == []


@pytest.mark.parametrize(
    "name",
    [
        "q",
        "type",
        "tier",
        "program",
        "industry",
        "use_case",
        "country",
        "sort",
        "lat",
        "lng",
        "radius",
        "page",
    ],
)
def test_markup_in_any_parameter_is_never_echoed_unescaped(client, partners, name):
    response = client.get(SEARCH_URL, {name: MARKUP})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert" not in body
    assert "<img src=x" not in body


def test_markup_in_the_words_is_shown_escaped_in_the_box_and_the_title(client, partners):
    response = client.get(SEARCH_URL, {"q": "<b>bold</b>"})
    body = response.content.decode()
    assert "<b>bold</b>" not in body
    assert "&lt;b&gt;bold&lt;/b&gt;" in body


@pytest.mark.parametrize(
    "query_string",
    [
        "q=%00",
        "tier=%00",
        "country=%00",
        "q=a%00b",
        "lat=%00&lng=1",
        "page=%00",
        "sort=%00",
        "q=%ff%fe",
        "type=consulting&type=",
        "tier=",
        "q=" + "%22" * 50,
        "q=-",
        "q=OR+OR",
    ],
)
def test_odd_bytes_never_make_a_server_error(client, partners, query_string):
    response = client.get(f"{SEARCH_URL}?{query_string}")
    assert response.status_code == 200


def test_the_profile_of_a_slug_with_markup_is_a_plain_not_found(client):
    response = client.get("/partners/%3Cscript%3E/")
    assert response.status_code == 404


def test_a_page_number_in_unicode_digits_shows_the_first_page(client):
    response = client.get("/partners/?page=%C2%B2")  # "²"
    assert response.status_code == 200
    assert response.context["page"].number == 1
