"""A webhook endpoint's history in the admin: who pointed an integrator's events at another URL, or
replaced its signing secret, whether in the admin or over the API; the secret itself is never copied
into the history."""

import pytest
from django.urls import reverse

from apn_portal.webhooks.models import WebhookEndpoint
from apn_portal.webhooks.services import webhook_endpoint_create
from tests.admin_history import changes_shown, history_page
from tests.api.conftest import api_client
from tests.factories import PartnerUserFactory, SuperUserFactory

pytestmark = pytest.mark.django_db

HOOK = "http://localhost:9000/hook"


@pytest.fixture
def superuser(client):
    user = SuperUserFactory(first_name="Sam", last_name="Superuser")
    client.force_login(user)
    return user


def test_an_endpoints_url_changed_in_the_admin_shows_in_its_history_with_who(client, superuser):
    owner = PartnerUserFactory()
    endpoint = webhook_endpoint_create(user=owner, url=HOOK, events=["partner.tier_changed"])

    response = client.post(
        reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
        {
            "url": "http://localhost:9000/elsewhere",
            "events": ["partner.tier_changed"],
            "secret": endpoint.secret,  # as the change form shows it
            "description": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302

    response = history_page(client, endpoint)
    assert (superuser, "URL", HOOK, "http://localhost:9000/elsewhere") in changes_shown(response)
    assert "Sam Superuser" in response.content.decode()
    assert endpoint.history.earliest("history_date").history_user == owner


def test_an_endpoint_registered_in_the_admin_for_someone_is_recorded_as_registered_by_the_admin(
    client, superuser
):
    owner = PartnerUserFactory()
    response = client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {
            "owner": owner.pk,
            "url": HOOK,
            "events": ["partner.tier_changed"],
            "secret": "s3cret-0123456789abcdef",
            "is_active": "on",
        },
    )
    assert response.status_code == 302

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.owner == owner
    assert [(v.history_type, v.history_user) for v in endpoint.history.all()] == [("+", superuser)]


def test_an_endpoint_changed_and_deleted_over_the_api_is_recorded_with_who(client, superuser):
    owner = PartnerUserFactory()
    api = api_client(owner)
    created = api.post(
        "/api/v1/webhook-endpoints/", {"url": HOOK, "events": ["partner.tier_changed"]}, format="json"
    )
    assert created.status_code == 201, created.content
    endpoint = WebhookEndpoint.objects.get()
    changed = api.patch(
        f"/api/v1/webhook-endpoints/{endpoint.pk}/",
        {"url": "http://localhost:9000/elsewhere", "secret": "a-new-secret-0123456789"},
        format="json",
    )
    assert changed.status_code == 200, changed.content

    response = history_page(client, endpoint)
    assert (owner, "URL", HOOK, "http://localhost:9000/elsewhere") in changes_shown(response)
    # That the secret was replaced, and by whom, without the secret itself.
    page = response.content.decode()
    assert "Signing secret replaced" in page
    assert "a-new-secret-0123456789" not in page
    assert not hasattr(WebhookEndpoint.history.model, "secret")

    assert api.delete(f"/api/v1/webhook-endpoints/{endpoint.pk}/").status_code == 204
    latest = WebhookEndpoint.history.filter(id=endpoint.pk).latest("history_date")
    assert (latest.history_type, latest.history_user) == ("-", owner)
