"""The partners list searched by words and ordered by a column (`?ordering=`) finds the partners it finds
in Find-a-Partner's order: words with a typo included, at a cost that does not grow with the page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import api_client
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/partners/"


@pytest.fixture
def cobalt():
    PartnerFactory(name="Other Ltd", description="Nothing here.")
    return PartnerFactory(name="Cobalt Falcon Cloud", description="Kubernetes migration experts.")


def _names(params: dict, user=None) -> list[str]:
    response = api_client(user).get(URL, params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"])
    return [row["name"] for row in body["results"]]


# Two letters swapped in a name, a letter missing from a name typed whole, a word cut short.
@pytest.mark.parametrize("query", ["Cobatl", "Cobalt Falcn Cloud", "migr kubernetes"])
@pytest.mark.parametrize("ordering", ["name", "-updated_at", "id"])
def test_words_with_a_typo_find_the_same_partners_in_any_ordering(cobalt, query, ordering):
    assert _names({"q": query}) == ["Cobalt Falcon Cloud"]
    assert _names({"q": query, "ordering": ordering}) == ["Cobalt Falcon Cloud"]


def test_a_typo_search_is_listed_in_the_ordering_asked_for_page_by_page(cobalt):
    PartnerFactory(name="Cobalt Falcon Data", description="")
    PartnerFactory(name="Cobalt Falcon Data", description="")  # same name: `id` decides between them
    assert _names({"q": "Cobatl", "ordering": "-name"}) == [
        "Cobalt Falcon Data",
        "Cobalt Falcon Data",
        "Cobalt Falcon Cloud",
    ]
    seen = []
    for page in (1, 2, 3):
        body = api_client().get(URL, {"q": "Cobatl", "ordering": "name", "page_size": 1, "page": page}).json()
        assert body["count"] == 3
        seen += [row["slug"] for row in body["results"]]
    assert len(set(seen)) == 3
    assert api_client().get(URL, {"q": "Cobatl", "ordering": "name", "page": 2}).status_code == 404
    assert api_client().get(URL, {"q": "zzqxw", "ordering": "name", "page": 2}).status_code == 404
    nothing = api_client().get(URL, {"q": "zzqxw", "ordering": "name"}).json()
    assert (nothing["count"], nothing["results"]) == (0, [])


def test_a_typo_search_with_ordering_shows_only_partners_the_reader_may_see(cobalt):
    PartnerFactory(name="Cobalt Falcon Hidden", description="", is_published=False)
    assert _names({"q": "Cobatl", "ordering": "name"}) == ["Cobalt Falcon Cloud"]


def _queries(params: dict) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api_client().get(URL, {**params, "page_size": 50})
    assert response.status_code == 200, response.content
    return len(captured)


def test_a_typo_search_with_ordering_costs_the_same_queries_for_5_rows_as_for_50(cobalt):
    _queries({"q": "cobalt"})  # the filters' vocabulary, read once and cached
    as_typed = _queries({"q": "cobalt", "ordering": "name"})
    with_typo = _queries({"q": "Cobatl", "ordering": "name"})
    PartnerFactory.create_batch(45, name="Cobalt Clone", description="")
    assert len(_names({"q": "Cobatl", "ordering": "name", "page_size": 50})) == 46
    assert _queries({"q": "cobalt", "ordering": "name"}) == as_typed
    assert _queries({"q": "Cobatl", "ordering": "name"}) == with_typo
    # Each level of tolerance is one more search (its count and its page): at most two.
    assert with_typo <= as_typed + 4
