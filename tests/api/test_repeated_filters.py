"""A filter that takes one value, given twice, is a 400 naming it: read as its last value, it would filter
the list otherwise than the integrator meant, with no sign of it. A filter that takes several values
(Find-a-Partner's `type`, a list's `status` or `level`) still takes each one given, and the page at
/partners/ is unchanged."""

import pytest
from django.test import Client

from partners.choices import CertificationLevel, PartnerType
from tests.api.conftest import api_client
from tests.factories import CertificationFactory, PartnerFactory, SuperUserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "name", "values"),
    [
        ("/api/v1/tiers/", "partner_type", ["consulting", "technology"]),
        ("/api/v1/certifications/", "updated_since", ["2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"]),
        ("/api/v1/certifications/", "partner", ["alpha", "alpha"]),  # the same value twice too
        ("/api/v1/partners/", "sort", ["name", "tier"]),
        ("/api/v1/partners/", "q", ["cloud", "data"]),
        ("/api/v1/support-cases/", "case_type", ["technical", "account_and_billing"]),
        ("/api/v1/access-grants/", "state", ["live", "expired"]),
    ],
)
def test_a_single_valued_filter_given_twice_is_a_400_naming_it(url, name, values):
    response = api_client(SuperUserFactory()).get(url, {name: values})
    assert response.status_code == 400, response.content
    assert response.json() == {name: [f"Give {name} once; it takes one value."]}


def test_only_the_repeat_is_named_when_a_value_is_also_wrong():
    response = api_client(SuperUserFactory()).get(
        "/api/v1/certifications/", {"updated_since": ["2024-01-01T00:00:00Z", "not a date"]}
    )
    assert response.status_code == 400
    assert response.json() == {"updated_since": ["Give updated_since once; it takes one value."]}


def test_find_a_partners_type_repeated_still_finds_either_type():
    PartnerFactory(name="Consulting Co", partner_type=PartnerType.CONSULTING)
    PartnerFactory(name="Technology Co", partner_type=PartnerType.TECHNOLOGY)
    client = api_client()
    response = client.get("/api/v1/partners/", {"type": ["consulting", "technology"], "ordering": "name"})
    assert response.status_code == 200, response.content
    assert [row["name"] for row in response.json()["results"]] == ["Consulting Co", "Technology Co"]
    one = client.get("/api/v1/partners/", {"type": "technology"}).json()
    assert [row["name"] for row in one["results"]] == ["Technology Co"]


def test_a_certifications_level_repeated_still_finds_either_level():
    associate = CertificationFactory(level=CertificationLevel.ASSOCIATE)
    professional = CertificationFactory(level=CertificationLevel.PROFESSIONAL)
    CertificationFactory(level=CertificationLevel.SPECIALTY)
    response = api_client(SuperUserFactory()).get(
        "/api/v1/certifications/", {"level": ["associate", "professional"]}
    )
    assert response.status_code == 200, response.content
    assert {row["id"] for row in response.json()["results"]} == {associate.pk, professional.pk}


def test_the_find_a_partner_page_still_takes_repeats_as_before():
    PartnerFactory(name="Consulting Co", partner_type=PartnerType.CONSULTING)
    PartnerFactory(name="Technology Co", partner_type=PartnerType.TECHNOLOGY)
    both = Client().get("/partners/", {"type": ["consulting", "technology"], "sort": "name"})
    assert [row.name for row in both.context["page"].rows] == ["Consulting Co", "Technology Co"]
    # The page forgives: a sort given twice is read as before, never a 400.
    twice = Client().get("/partners/", {"type": "technology", "sort": ["tier", "name"]})
    assert twice.status_code == 200
    assert [row.name for row in twice.context["page"].rows] == ["Technology Co"]


@pytest.mark.parametrize("url", ["/api/v1/tiers/", "/api/v1/partners/", "/api/v1/certifications/"])
def test_an_ordering_given_twice_is_a_400_naming_it(url):
    response = api_client(SuperUserFactory()).get(url, {"ordering": ["id", "-id"]})
    assert response.status_code == 400, response.content
    assert response.json() == {"ordering": ["Give ordering once; it takes one value."]}
