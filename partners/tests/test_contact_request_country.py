"""A contact request's country is an ISO 3166-1 alpha-2 code: anything else is refused by name, on the API
as on the page, and never stored as some other country."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apn_portal.exceptions import DomainError
from partners.models import ContactRequest
from partners.services import contact_request_create
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

# Superscript and Arabic-Indic digits, which int() fails on or reads as 12; a numeric code ("12" is
# Algeria's) and an alpha-3 one, which django_countries would turn into a country; codes of no country.
NOT_A_COUNTRY = ["\u00b2", "\u0661\u0662", "12", "DEU", "ZZ", "d\u00e9", "D"]


@pytest.fixture
def partner():
    return PartnerFactory(slug="acme-cloud")


def body(partner, country):
    return {
        "partner": partner.slug,
        "name": "Jane Doe",
        "email": "jane@bigcorp.example",
        "company": "BigCorp",
        "country": country,
        "message": "We want to move our data centre to the cloud.",
    }


def api_post(partner, country):
    client = APIClient()
    client.raise_request_exception = False
    return client.post("/api/v1/contact-requests/", body(partner, country), format="json")


@pytest.mark.parametrize("country", NOT_A_COUNTRY)
def test_the_api_refuses_a_country_that_is_not_an_alpha2_code_by_name(partner, country):
    response = api_post(partner, country)

    assert response.status_code == 400
    [message] = response.json()["country"]
    assert "ISO 3166-1 alpha-2 code" in message
    assert not ContactRequest.objects.exists()


def test_the_api_lists_a_bad_country_beside_the_other_bad_fields(partner):
    client = APIClient()
    response = client.post(
        "/api/v1/contact-requests/", body(partner, "12") | {"email": "not-an-email"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"country", "email"}


@pytest.mark.parametrize("country", ["DE", "de", " gb "])
def test_the_api_takes_an_alpha2_code_in_any_case(partner, country):
    response = api_post(partner, country)

    assert response.status_code == 201, response.content
    assert response.json()["country"] == country.strip().upper()
    assert ContactRequest.objects.get().country.code == country.strip().upper()


def test_the_api_schema_asks_for_a_two_letter_code(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for component in ("ContactRequestRequest", "ContactRequest"):
        country = schema["components"]["schemas"][component]["properties"]["country"]
        assert (country["type"], country["pattern"]) == ("string", "^[A-Za-z]{2}$")
        assert "alpha-2" in country["description"]


@pytest.mark.parametrize("country", NOT_A_COUNTRY)
def test_the_contact_form_refuses_it_too(client, partner, country):
    data = {key: value for key, value in body(partner, country).items() if key != "partner"}
    response = client.post(reverse("partners:contact", args=[partner.slug]), data)

    assert response.status_code == 400
    assert "Choose a country from the list." in response.content.decode()
    assert not ContactRequest.objects.exists()


@pytest.mark.parametrize("country", NOT_A_COUNTRY)
def test_the_service_refuses_it_whoever_calls_it(partner, country):
    with pytest.raises(DomainError) as refusal:
        contact_request_create(partner=partner, data=body(partner, country))

    assert refusal.value.field == "country"
    assert "ISO 3166-1 alpha-2 code" in refusal.value.message
    assert not ContactRequest.objects.exists()
