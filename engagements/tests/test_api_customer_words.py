"""`GET /api/v1/customers/?q=` finds the customers whose name holds every word given, in any order and any
case, as its schema says ("Words in the name"): two of a name's words that are not side by side in it
found nothing, the whole of `q` being looked for as one piece of text."""

import pytest

from tests.api.conftest import api_client
from tests.factories import CustomerFactory, SuperUserFactory

pytestmark = pytest.mark.django_db


def found(q: str) -> list[str]:
    response = api_client(SuperUserFactory()).get("/api/v1/customers/", {"q": q, "ordering": "name"})
    assert response.status_code == 200, response.content
    return [row["slug"] for row in response.json()["results"]]


@pytest.fixture
def customers():
    CustomerFactory(name="Contoso Ministry of Transport", slug="contoso-transport")
    CustomerFactory(name="Contoso Energy", slug="contoso-energy")
    CustomerFactory(name="Fabrikam Transport Ltd", slug="fabrikam-transport")


@pytest.mark.parametrize(
    "q",
    ["Contoso Transport", "transport contoso", "  CONTOSO \t transport ", "contoso ministry of transport"],
)
def test_every_word_of_q_must_be_in_the_name_wherever_it_is(customers, q):
    assert found(q) == ["contoso-transport"]


def test_one_word_still_finds_every_name_holding_it(customers):
    assert found("transport") == ["contoso-transport", "fabrikam-transport"]
    assert found("Contos") == ["contoso-energy", "contoso-transport"]


def test_a_word_not_in_the_name_leaves_it_out(customers):
    assert found("Contoso Fabrikam") == []
