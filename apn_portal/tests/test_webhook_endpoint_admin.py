"""Webhook endpoints kept in the admin: registered and changed by the same rules as over the API."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from apn_portal.webhooks.models import WebhookEndpoint
from apn_portal.webhooks.services import webhook_endpoint_create
from partners.services import partner_tier_change
from tests.factories import CustomerUserFactory, PartnerUserFactory, SuperUserFactory, tier

pytestmark = pytest.mark.django_db

ADD = "admin:webhooks_webhookendpoint_add"


@pytest.fixture
def superuser(client):
    user = SuperUserFactory()
    client.force_login(user)
    return user


def form(owner, **fields):
    return {
        "owner": owner.pk,
        "url": "http://localhost:9000/hook",
        "events": ["partner.tier_changed"],
        "secret": "a-secret",
        "description": "",
        "is_active": "on",
        **fields,
    }


def test_an_endpoint_at_a_host_the_portal_does_not_call_is_refused_beside_its_url(client, superuser):
    response = client.post(reverse(ADD), form(superuser, url="http://169.254.169.254/latest/meta-data/"))

    assert response.status_code == 200
    assertContains(response, "Webhooks can only be sent to the hosts this portal allows")
    assert not WebhookEndpoint.objects.exists()


def test_events_are_chosen_from_the_known_ones_and_a_stray_value_is_refused(client, superuser):
    response = client.post(reverse(ADD), form(superuser, events="5"))

    assert response.status_code == 200
    assertContains(response, "Select a valid choice. 5 is not one of the available choices.")
    assert not WebhookEndpoint.objects.exists()
    # Nothing stored can later stop a change that raises an event.
    partner_tier_change(
        partner=PartnerUserFactory().partner, to_tier=tier(slug="select"), reason="r", user=superuser
    )


def test_an_endpoint_registered_for_a_partners_user_receives_that_partners_events_only(client, superuser):
    owner = PartnerUserFactory()

    response = client.post(reverse(ADD), form(owner))

    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.owner, endpoint.partner, endpoint.events) == (
        owner,
        owner.partner,
        ["partner.tier_changed"],
    )


def test_a_customers_user_who_is_no_access_administrator_cannot_be_given_an_endpoint(client, superuser):
    response = client.post(reverse(ADD), form(CustomerUserFactory(), events=["access_grant.revoked"]))

    assertContains(response, "Only a customer&#x27;s access administrators can register its webhooks.")
    assert not WebhookEndpoint.objects.exists()


def test_a_customers_access_administrator_is_given_an_endpoint_for_its_records_events_only(client, superuser):
    owner = CustomerUserFactory(access_admin=True)

    refused = client.post(reverse(ADD), form(owner))
    assertContains(refused, "A customer&#x27;s webhooks can only subscribe to")
    response = client.post(reverse(ADD), form(owner, events=["access_grant.revoked"]))

    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.owner, endpoint.customer, endpoint.partner) == (owner, owner.customer, None)


def test_the_partner_an_endpoint_serves_cannot_be_changed_away_from_its_owners(client, superuser):
    owner = PartnerUserFactory()
    endpoint = webhook_endpoint_create(
        user=owner, url="http://localhost:9000/hook", events=["partner.tier_changed"]
    )
    other = PartnerUserFactory()

    response = client.post(
        reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
        {**form(owner, url="http://localhost:9000/moved"), "owner": other.pk, "partner": other.partner_id},
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.owner, endpoint.partner) == (
        "http://localhost:9000/moved",
        owner,
        owner.partner,
    )
