"""Production keeps the cache in the Redis that is also the broker. While it is down, a customer's contact
request is still stored and confirmed, and Find-a-Partner and the profiles still answer from the
database; while it is up, the throttle still limits each address."""

import pytest
from django.test import Client
from django.urls import reverse

from partners.models import ContactRequest
from partners.tests.search_helpers import facet, names, search, total
from partners.tests.test_contact_submitted_twice import profile_token, send
from tests.factories import PartnerFactory, PartnerUserFactory, tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner():
    partner = PartnerFactory(name="Acme Cloud", slug="acme-cloud", tier=tier(slug="premier"))
    PartnerUserFactory(partner=partner, email="sales@acme.example")
    PartnerFactory(name="Beta Hosting", slug="beta-hosting")
    return partner


def test_a_contact_request_sent_while_redis_is_down_is_stored_and_confirmed(client, partner, redis_down):
    token = profile_token(client, partner)

    response = send(client, partner, token)

    assert response.status_code == 303
    lead = ContactRequest.objects.get()
    assert lead.partner == partner
    assert response["Location"] == reverse("partners:contact-sent", args=[lead.reference])
    confirmation = client.get(response["Location"])
    assert confirmation.status_code == 200
    assert lead.reference in confirmation.content.decode()


def test_the_same_address_may_keep_sending_while_redis_is_down(partner, redis_down):
    # The throttle cannot count, so it lets requests through rather than losing customers' leads.
    for number in range(7):
        response = send(Client(), partner, message=f"Request number {number} while Redis is down.")
        assert response.status_code == 303
    assert ContactRequest.objects.count() == 7


def test_find_a_partner_and_profiles_answer_from_the_database_while_redis_is_down(
    client, partner, redis_down
):
    response = search(client)
    assert names(response) == ["Acme Cloud", "Beta Hosting"]
    assert total(response) == 2
    assert facet(response, "tier")["premier"] == 1

    assert names(search(client, tier="premier")) == ["Acme Cloud"]

    profile = client.get(reverse("partners:profile", args=[partner.slug]))
    assert profile.status_code == 200
    assert "Acme Cloud" in profile.content.decode()


def test_with_redis_up_the_throttle_still_limits_an_address(partner, redis_up):
    for number in range(5):
        response = send(Client(), partner, message=f"Request number {number}, one after another.")
        assert response.status_code == 303

    refused = send(Client(), partner, message="One request too many from this address.")

    assert refused.status_code == 429
    assert ContactRequest.objects.count() == 5
    # Another address still may.
    assert send(Client(), partner, ip="198.51.100.9").status_code == 303
