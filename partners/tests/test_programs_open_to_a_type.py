"""`GET /api/v1/programs/?partner_type=technology` lists the programs a technology partner can join: those
of its type and those open to both types (a blank `partner_type`, as the schema says). It listed only the
former, and the blank value cannot be asked for (`?partner_type=` is a 400), so no filter listed them."""

import pytest

from partners.choices import PartnerType
from tests.api.conftest import api_client
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def programs():
    ProgramFactory(slug="open-to-both", partner_type="")
    ProgramFactory(slug="consulting-only", partner_type=PartnerType.CONSULTING)
    ProgramFactory(slug="technology-only", partner_type=PartnerType.TECHNOLOGY)


def listed(**params) -> dict[str, str]:
    response = api_client().get("/api/v1/programs/", {"page_size": 100, **params})
    assert response.status_code == 200, response.content
    return {row["slug"]: row["partner_type"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    ("partner_type", "joinable", "closed"),
    [
        ("technology", {"open-to-both", "technology-only"}, "consulting-only"),
        ("consulting", {"open-to-both", "consulting-only"}, "technology-only"),
    ],
)
def test_a_type_lists_the_programs_open_to_it(programs, partner_type, joinable, closed):
    found = listed(partner_type=partner_type)

    assert joinable <= set(found)
    assert closed not in found
    assert set(found.values()) <= {partner_type, ""}  # the seeded programs too


def test_the_filter_says_so_in_the_schema():
    schema = api_client().get("/api/v1/schema/", {"format": "json"}).json()
    [parameter] = [
        p for p in schema["paths"]["/api/v1/programs/"]["get"]["parameters"] if p["name"] == "partner_type"
    ]

    assert parameter["description"].startswith("Programs open to partners of this type: ")
    assert "open to both types" in parameter["description"]
