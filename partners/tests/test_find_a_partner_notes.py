"""The notes Find-a-Partner shows above its results: each says what actually happened to the search."""

import re
from html import unescape

import pytest

from partners.tests.search_helpers import names, notes, search, total
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def test_a_match_found_by_completing_words_of_the_description_is_not_called_a_close_name(client):
    PartnerFactory(name="Zeta Ltd", description="Kubernetes migration experts for retailers.")

    response = search(client, q="migr kubernetes")

    assert names(response) == ["Zeta Ltd"]
    assert notes(response) == [
        "No partner matched every word of “migr kubernetes” as typed; these come closest."
    ]
    assert not any("name close to it" in note for note in notes(response))


def test_a_page_past_the_end_of_no_results_has_no_page_note(client):
    PartnerFactory(name="Alpha")

    response = search(client, q="zzzzqqq", page="5")

    assert total(response) == 0
    assert notes(response) == []
    assert "No partners found" in response.content.decode()


def test_a_page_past_the_end_of_some_results_still_says_so(client):
    PartnerFactory(name="Alpha")

    response = search(client, page="5")

    assert "There is only 1 page of results; this is the last." in notes(response)


def announced(client, **params) -> str:
    """What the live region says after the results change in place (an htmx request)."""
    response = client.get("/partners/", params, HTTP_HX_REQUEST="true")
    status = re.search(r'<p id="search-status"[^>]*>(.*?)</p>', response.content.decode(), flags=re.S)
    return " ".join(unescape(status.group(1)).split())


@pytest.mark.parametrize(
    ("params", "said"),
    [
        (
            {"q": "migr kubernetes"},
            "1 partner found. "
            "No partner matched every word of “migr kubernetes” as typed; these come closest.",
        ),
        (
            {"sort": "distance"},
            "1 partner found. "
            "Nearest first needs a place (a latitude and longitude), so the usual order is used.",
        ),
        ({"page": "5"}, "1 partner found. There is only 1 page of results; this is the last."),
    ],
    ids=["typos tolerated", "nearest without a place", "past the last page"],
)
def test_a_note_that_changes_what_the_results_mean_is_announced_with_the_count(client, params, said):
    """A screen-reader user hears the live region, not the notes above the results: it says both."""
    PartnerFactory(name="Zeta Ltd", description="Kubernetes migration experts for retailers.")

    assert announced(client, **params) == said


def test_without_a_note_only_the_count_is_announced(client):
    PartnerFactory(name="Zeta Ltd", description="Kubernetes migration experts for retailers.")

    assert announced(client, q="kubernetes") == "1 partner found"
    assert announced(client, q="zzzzqqq") == "No partners found"
