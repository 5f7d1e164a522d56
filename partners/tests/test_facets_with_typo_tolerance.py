"""Find-a-Partner's facet counts agree with what choosing an option finds, typo tolerance included: the
words alone decide whether typos are tolerated, and every filter (a facet, a place) only narrows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from partners.choices import PartnerType
from partners.tests.search_helpers import facet, names, notes, search, total
from tests.api.conftest import api_client
from tests.factories import IndustryFactory, OfficeFactory, PartnerFactory

pytestmark = pytest.mark.django_db

LONDON = (51.5074, -0.1278)
SYDNEY = (-33.8688, 151.2093)
TYPO_NOTE = "as typed"
FACET_NAMES = ("type", "tier", "program", "industry", "use_case", "country")


@pytest.fixture
def healthcare():
    return IndustryFactory(name="Healthcare", slug="healthcare")


@pytest.fixture
def nimbus(healthcare):
    """A consulting partner named as searched, in London, and a technology partner whose name is a typo
    away from it, in Sydney, in the healthcare industry."""
    cloud = PartnerFactory(name="Nimbus Cloud", description="Cloud consulting.")
    OfficeFactory(partner=cloud, country="GB", latitude=LONDON[0], longitude=LONDON[1])
    data = PartnerFactory(name="Nimubs Data", description="Data tools.", partner_type=PartnerType.TECHNOLOGY)
    data.industries.add(healthcare)
    OfficeFactory(partner=data, country="AU", city="Sydney", latitude=SYDNEY[0], longitude=SYDNEY[1])
    PartnerFactory(name="Other Ltd", description="Nothing alike.", partner_type=PartnerType.TECHNOLOGY)
    return cloud, data


def _api(**params) -> dict:
    response = api_client().get("/api/v1/partners/", params)
    assert response.status_code == 200, response.content
    return response.json()


def _assert_every_option_finds_its_count(client, **params):
    """Choosing any option of any facet (alone in its facet) finds as many partners as the page showed
    beside it, on the page and in the API."""
    shown = search(client, **params)
    checked = 0
    for name in FACET_NAMES:
        for value, count in facet(shown, name).items():
            chosen = {**params, name: value}
            assert total(search(client, **chosen)) == count, (name, value)
            assert _api(**chosen)["count"] == count, (name, value)
            checked += 1
    assert checked


def test_a_facet_count_of_zero_finds_nobody_when_the_words_match_as_typed(client, nimbus):
    shown = search(client, q="nimbus")
    assert names(shown) == ["Nimbus Cloud"]
    assert facet(shown, "type") == {"consulting": 1, "technology": 0}

    chosen = search(client, q="nimbus", type="technology")
    assert total(chosen) == 0
    assert not any(TYPO_NOTE in note for note in notes(chosen))
    # The way out leads back to what the words find as typed.
    loosenings = {item["label"]: item["count"] for item in chosen.context["loosenings"]}
    assert loosenings["partner type"] == 1
    assert names(search(client, q="nimbus")) == ["Nimbus Cloud"]


def test_every_option_finds_what_its_count_says(client, nimbus):
    _assert_every_option_finds_its_count(client, q="nimbus")
    _assert_every_option_finds_its_count(client, q="nimbus", country="AU")
    _assert_every_option_finds_its_count(client, q="nimbsu")  # a typo: tolerated for counts and results


def test_words_that_match_nothing_as_typed_are_tolerated_in_counts_and_results_alike(client, nimbus):
    PartnerFactory(name="Nimbus Labs", description="", partner_type=PartnerType.TECHNOLOGY)
    shown = search(client, q="nimbsu")
    assert sorted(names(shown)) == ["Nimbus Cloud", "Nimbus Labs"]
    assert facet(shown, "type") == {"consulting": 1, "technology": 1}

    chosen = search(client, q="nimbsu", type="technology")
    assert names(chosen) == ["Nimbus Labs"]
    assert any(TYPO_NOTE in note for note in notes(chosen))


def test_several_filters_never_switch_typo_tolerance_on(client, nimbus):
    # Nimubs Data is the only technology partner in healthcare, but "nimbus" finds Nimbus Cloud as typed.
    assert total(search(client, q="nimbus", type="technology", industry="healthcare")) == 0
    assert total(search(client, q="nimbus", type="technology", country="AU")) == 0


def test_a_place_never_switches_typo_tolerance_on(client, nimbus):
    near_sydney = {"lat": SYDNEY[0], "lng": SYDNEY[1], "radius": 50}
    chosen = search(client, q="nimbus", **near_sydney)
    assert total(chosen) == 0
    loosenings = {item["label"]: item["count"] for item in chosen.context["loosenings"]}
    # Dropping the place finds what it says.
    assert loosenings["distance limit"] == total(search(client, q="nimbus")) == 1


def test_the_api_list_narrows_with_filters_as_the_page_does(nimbus):
    assert [row["name"] for row in _api(q="nimbus")["results"]] == ["Nimbus Cloud"]
    assert _api(q="nimbus", type="technology")["results"] == []
    assert _api(q="nimbus", type="technology", ordering="name")["results"] == []
    assert _api(q="nimbus", lat=SYDNEY[0], lng=SYDNEY[1], radius=50)["results"] == []
    assert _api(q="nimbus", updated_since="2000-01-01T00:00:00Z")["count"] == 1
    # Words that find nothing as typed are still tolerated, filter or not.
    assert [row["name"] for row in _api(q="nimbsu", type="consulting")["results"]] == ["Nimbus Cloud"]
    assert [row["name"] for row in _api(q="nimbsu", country="GB", ordering="name")["results"]] == [
        "Nimbus Cloud"
    ]


def _queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        search(client, **params)
    return len(captured)


def test_typo_tolerance_with_filters_costs_one_statement_at_most(client, nimbus):
    search(client)  # the vocabulary and the day's refresh, read once
    as_typed = _queries(client, q="nimbus")
    assert _queries(client, q="nimbus", country="GB") == as_typed
    typo = _queries(client, q="nimbsu")
    # One facet: its count without the filter says what the words alone find, so nothing more to ask.
    assert _queries(client, q="nimbsu", country="GB") == typo
    # Two: one small statement says how far the words alone stretch.
    assert _queries(client, q="nimbsu", country="GB", type="consulting") <= typo + 1
