"""Contact requests behind a reverse proxy (PROXY_COUNT=1) that does not always know the client's address:
it writes `unknown` or `unix:` in X-Forwarded-For. The lead is kept all the same, stored without an
address, and the throttle still tells known addresses apart."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from partners.models import ContactRequest
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # PROXY_COUNT=1


@pytest.fixture
def partner():
    return PartnerFactory(name="Acme Cloud", slug="acme-cloud")


def request_data(**overrides):
    return {
        "name": "Jane Doe",
        "email": "jane@bigcorp.example",
        "company": "BigCorp",
        "country": "DE",
        "message": "We want to move our data centre to the cloud by next spring.",
        **overrides,
    }


def post(client, partner, forwarded_for, **overrides):
    return client.post(
        reverse("partners:contact", args=[partner.slug]),
        request_data(**overrides),
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


@pytest.mark.parametrize(
    "forwarded_for", ["1.2.3.4, unknown", "unknown", "unix:", "1.2.3.4, 203.0.113.7:51234", "fe80::1%eth0"]
)
def test_a_request_whose_address_the_proxy_did_not_know_is_kept_without_one(client, partner, forwarded_for):
    response = post(client, partner, forwarded_for)

    assert response.status_code == 303
    lead = ContactRequest.objects.get()
    assert (lead.partner, lead.submitted_from_ip) == (partner, None)


def test_the_address_the_proxy_saw_is_stored(client, partner):
    assert post(client, partner, "1.2.3.4, 203.0.113.7").status_code == 303

    assert ContactRequest.objects.get().submitted_from_ip == "203.0.113.7"


def test_the_throttle_still_tells_the_addresses_the_proxy_saw_apart(client, partner):
    for number in range(5):
        assert (
            post(
                client, partner, "203.0.113.7", message=f"Request {number} about our data centre."
            ).status_code
            == 303
        )

    refused = post(client, partner, "203.0.113.7", message="A sixth request, typed with care.")

    assert refused.status_code == 429
    assert "Please wait ten minutes" in refused.content.decode()
    assert post(client, partner, "198.51.100.9").status_code == 303  # another client of the same proxy
    assert ContactRequest.objects.count() == 6


def test_a_request_sent_through_the_api_is_kept_too(partner):
    response = APIClient().post(
        "/api/v1/contact-requests/",
        {**request_data(), "partner": partner.slug},
        format="json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="1.2.3.4, unknown",
    )

    assert response.status_code == 201, response.content
    assert ContactRequest.objects.get().submitted_from_ip is None
