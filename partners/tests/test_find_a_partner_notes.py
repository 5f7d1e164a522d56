"""The notes Find-a-Partner shows above its results: each says what actually happened to the search."""

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
