"""The partners list searched by words answers as Find-a-Partner's page does: the same partners for the
same words, typos included, at a bounded cost."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from partners.search import MAX_RADIUS_KM, WORDS_MAX_LENGTH
from tests.api.conftest import api_client
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cobalt():
    PartnerFactory(name="Other Ltd", description="Nothing here.")
    return PartnerFactory(name="Cobalt Falcon Cloud", description="Kubernetes migration experts.")


def _api_names(query: str, **params) -> list[str]:
    response = api_client().get("/api/v1/partners/", {"q": query, **params})
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


# Two letters swapped in a name, a letter missing from a name typed whole, a word cut short.
@pytest.mark.parametrize("query", ["Cobatl", "Cobalt Falcn Cloud", "migr kubernetes"])
def test_words_with_a_typo_find_the_partner_the_page_finds(cobalt, query):
    page = Client().get("/partners/", {"q": query})
    assert [row.name for row in page.context["page"].rows] == ["Cobalt Falcon Cloud"]
    assert _api_names(query) == ["Cobalt Falcon Cloud"]


def test_pages_of_a_search_that_needed_typo_tolerance_follow_on(cobalt):
    PartnerFactory(name="Cobalt Falcon Data", description="")
    first = api_client().get("/api/v1/partners/", {"q": "Cobatl", "page_size": 1}).json()
    second = api_client().get("/api/v1/partners/", {"q": "Cobatl", "page_size": 1, "page": 2}).json()
    assert first["count"] == second["count"] == 2
    assert {first["results"][0]["name"], second["results"][0]["name"]} == {
        "Cobalt Falcon Cloud",
        "Cobalt Falcon Data",
    }
    assert api_client().get("/api/v1/partners/", {"q": "Cobatl", "page": 3}).status_code == 404
    assert api_client().get("/api/v1/partners/", {"q": "zzqxw", "page": 2}).status_code == 404
    nothing = api_client().get("/api/v1/partners/", {"q": "zzqxw"}).json()
    assert (nothing["count"], nothing["results"]) == (0, [])


def _queries(query: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api_client().get("/api/v1/partners/", {"q": query, "page_size": 50})
    assert response.status_code == 200
    return len(captured)


def test_words_that_match_as_typed_cost_no_retry_and_typos_a_bounded_one(cobalt):
    as_typed = _queries("cobalt")
    PartnerFactory.create_batch(30, name="Cobalt Clone", description="")
    assert _queries("cobalt") == as_typed  # the same however many match
    # After a change: the first day an entry goes stale 1, filter vocabulary 4; then the search 1, the
    # page's partners 1.
    assert as_typed <= 7
    # Each level of tolerance is one more search: at most two.
    assert _queries("Cobatl") <= as_typed + 2
    assert _queries("zzqxw") <= as_typed + 2


# Where the page falls back with a note, the API names the parameter it cannot use.
@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"sort": "distance"}, "sort"),
        ({"sort": "distance", "q": "cobalt"}, "sort"),
        ({"sort": "distance", "ordering": "name"}, "sort"),
        ({"sort": "relevance"}, "sort"),
        ({"sort": "relevance", "q": "!!!"}, "sort"),
        ({"lat": "10"}, "lng"),
        ({"lng": "10", "radius": "50"}, "lat"),
        ({"radius": "50"}, "radius"),
    ],
)
def test_a_parameter_the_page_would_leave_out_is_a_400_naming_it(cobalt, params, parameter):
    response = api_client().get("/api/v1/partners/", params)
    assert response.status_code == 400, response.content
    assert list(response.json()) == [parameter]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "distance", "lat": "51.5", "lng": "-0.12"},
        {"sort": "relevance", "q": "cobalt"},
        {"sort": "name"},
        {"lat": "51.5", "lng": "-0.12", "radius": "50"},
    ],
)
def test_a_sort_or_place_that_applies_is_answered(cobalt, params):
    assert api_client().get("/api/v1/partners/", params).status_code == 200


def test_a_bad_latitude_is_named_alone_not_the_sort_that_needed_it(cobalt):
    response = api_client().get("/api/v1/partners/", {"sort": "distance", "lat": "abc", "lng": "0"})
    assert response.status_code == 400
    assert list(response.json()) == ["lat"]


# The page leaves such a value out and says so; the API runs nothing, so it says only what is wrong.
@pytest.mark.parametrize(
    ("parameter", "what"),
    [
        ("tier", "tier"),
        ("type", "partner type"),
        ("program", "program"),
        ("industry", "industry"),
        ("use_case", "use case"),
        ("country", "country code"),
    ],
)
def test_an_unknown_filter_value_is_a_400_that_does_not_claim_it_was_left_out(cobalt, parameter, what):
    response = api_client().get("/api/v1/partners/", {parameter: "bogus"})

    assert response.status_code == 400, response.content
    value = "BOGUS" if parameter == "country" else "bogus"
    assert response.json() == {parameter: [f"There is no {what} “{value}”."]}


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ({"lat": "abc", "lng": "0"}, {"lat": ["The latitude must be a number from -90 to 90."]}),
        ({"lat": "0", "lng": "200"}, {"lng": ["The longitude must be from -180 to 180."]}),
        ({"lat": "0"}, {"lng": ["A place needs both a latitude (lat) and a longitude (lng)."]}),
        ({"radius": "50"}, {"radius": ["A radius needs a place (lat and lng)."]}),
        (
            {"lat": "0", "lng": "0", "radius": "0"},
            {"radius": [f"The radius must be from 1 to {MAX_RADIUS_KM} km."]},
        ),
        ({"sort": "bogus"}, {"sort": ["There is no order “bogus”."]}),
        (
            {"q": "w" * (WORDS_MAX_LENGTH + 1)},
            {"q": [f"Search words are limited to {WORDS_MAX_LENGTH} characters."]},
        ),
    ],
)
def test_a_bad_place_order_or_words_is_a_400_that_does_not_claim_what_the_page_does_instead(
    cobalt, query, answer
):
    response = api_client().get("/api/v1/partners/", query)

    assert response.status_code == 400, response.content
    assert response.json() == answer
