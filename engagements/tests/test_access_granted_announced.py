"""A new access grant is announced by webhook (`access_grant.created`), as its end is, so an integration
that provisions the role in its own system need not poll: once per grant, whichever way it was made, to
the partner that holds it, the customer whose account it is on and the provider's staff who look after
that customer, and to no other organisation."""

import re

import pytest
from django.db import transaction
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apn_portal.exceptions import ConflictError
from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_endpoint_create
from engagements import services
from engagements.choices import AccessScope
from engagements.models import AccessGrant

pytestmark = pytest.mark.django_db

EVENT = "access_grant.created"


def _api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _endpoint(user, event=EVENT):
    return webhook_endpoint_create(
        user=user, url="http://127.0.0.1:8151/hook", events=[event], secret="s3cret-for-tests-0123456789"
    )


@pytest.fixture
def endpoints(alpha, bravo):
    """Each organisation's endpoints for the event: its partner's, its customer's, its Account Manager's."""
    return {
        (org.customer.name, who): _endpoint(user)
        for org in (alpha, bravo)
        for who, user in (("partner", org.partner_user), ("customer", org.admin), ("am", org.account_manager))
    }


def _finance(alpha, **kwargs) -> AccessGrant:
    return services.access_grant_create(
        user=alpha.admin,
        account=alpha.management,
        engagement_partner=alpha.engaged,
        role_arn=f"arn:aws:iam::{alpha.management.account_id}:role/Finance",
        scope=AccessScope.BILLING,
        **kwargs,
    )


def _told(endpoints) -> set:
    by_pk = {endpoint.pk: key for key, endpoint in endpoints.items()}
    return {by_pk[delivery.endpoint_id] for delivery in WebhookDelivery.objects.filter(event=EVENT)}


ALPHA_ONLY = {("Alpha Customer", "partner"), ("Alpha Customer", "customer"), ("Alpha Customer", "am")}


def test_a_new_grant_is_announced_to_its_partner_its_customer_and_their_staff_alone(alpha, endpoints):
    grant = _finance(alpha)

    assert _told(endpoints) == ALPHA_ONLY  # none of Bravo's: its partner, its customer nor its AM
    deliveries = WebhookDelivery.objects.filter(event=EVENT)
    assert len({delivery.event_id for delivery in deliveries}) == 1  # one event, to each of them
    payload = deliveries[0].payload
    assert payload["event"] == EVENT
    # One grant, one representation: the event shows it as the API does, live.
    assert payload["data"] == _api(alpha.admin).get(f"/api/v1/access-grants/{grant.pk}/").json()
    assert payload["data"]["state"] == "live" and payload["data"]["partner"] == alpha.partner.slug


def test_a_customers_access_administrator_may_subscribe_to_new_grants(alpha):
    response = _api(alpha.admin).post(
        "/api/v1/webhook-endpoints/",
        {"url": "http://127.0.0.1:8151/hook", "events": [EVENT, "access_grant.revoked"]},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["events"] == [EVENT, "access_grant.revoked"]


def test_the_grant_form_sent_twice_announces_its_grant_once(client, alpha, endpoints):
    client.force_login(alpha.admin)
    page = client.get(reverse("engagements:access-grant")).content.decode()
    data = {
        "submission_token": re.search(r'name="submission_token" value="([^"]+)"', page).group(1),
        "account": alpha.management.pk,
        "engagement_partner": alpha.engaged.pk,
        "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Finance",
        "scope": "billing",
        "mfa_required": "on",
    }

    for _ in range(2):
        assert client.post(reverse("engagements:access-grant"), data).status_code == 303

    grant = AccessGrant.objects.get(role_name="Finance")
    assert sorted(_told(endpoints)) == sorted(ALPHA_ONLY)
    assert WebhookDelivery.objects.filter(event=EVENT).count() == len(ALPHA_ONLY)
    assert {d.payload["data"]["id"] for d in WebhookDelivery.objects.filter(event=EVENT)} == {grant.pk}


def test_an_api_grant_retried_with_its_idempotency_key_is_announced_once(alpha, endpoints):
    body = {
        "account": alpha.management.account_id,
        "engagement_partner": alpha.engaged.pk,
        "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Finance",
        "scope": "billing",
    }
    api = _api(alpha.admin)

    first = api.post("/api/v1/access-grants/", body, format="json", HTTP_IDEMPOTENCY_KEY="grant-1")
    again = api.post("/api/v1/access-grants/", body, format="json", HTTP_IDEMPOTENCY_KEY="grant-1")

    assert first.status_code == again.status_code == 201, again.content
    assert again.json() == first.json()
    assert WebhookDelivery.objects.filter(event=EVENT).count() == len(ALPHA_ONLY)
    assert _told(endpoints) == ALPHA_ONLY
    payload = WebhookDelivery.objects.filter(event=EVENT).first().payload
    assert payload["data"]["id"] == first.json()["id"]


def test_a_grant_rolled_back_or_refused_is_not_announced(alpha, endpoints):
    class Undone(Exception):
        pass

    with pytest.raises(Undone), transaction.atomic():
        _finance(alpha)
        raise Undone  # whatever the grant was part of failed after it: nothing of it stays

    assert not AccessGrant.objects.filter(role_name="Finance").exists()
    assert not WebhookDelivery.objects.exists()

    _finance(alpha)
    with pytest.raises(ConflictError):
        _finance(alpha)  # the role is held already
    assert WebhookDelivery.objects.filter(event=EVENT).count() == len(ALPHA_ONLY)


def test_an_endpoint_of_the_revocations_only_is_not_told_of_new_grants(alpha):
    revocations = _endpoint(alpha.partner_user, "access_grant.revoked")

    _finance(alpha)

    assert not WebhookDelivery.objects.filter(endpoint=revocations).exists()
