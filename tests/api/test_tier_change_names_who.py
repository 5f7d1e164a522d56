"""A tier change names who made it, by username, as the other records naming a person do: in the API, in
the partner.tier_changed webhook's payload, and in a sync once that person's username changes."""

import pytest
from django.utils import timezone

from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_endpoint_create
from tests.api.conftest import api_client
from tests.factories import PartnerFactory, PartnerUserFactory, PdmFactory, tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def promoted():
    """A partner its PDM (pdm-petra) promoted to Select through the API, its integrator subscribed."""
    partner = PartnerFactory(slug="acme", tier=tier(slug="registered"), pdm=PdmFactory(username="pdm-petra"))
    integrator = PartnerUserFactory(partner=partner, username="acme-integrator")
    webhook_endpoint_create(
        user=integrator,
        url="http://127.0.0.1:8151/hook",
        events=["partner.tier_changed"],
        secret="s3cret-for-tests-0123456789",
    )
    response = api_client(partner.pdm).post(
        "/api/v1/partners/acme/tier-change/",
        {"to_tier": tier(slug="select").pk, "reason": "Audit passed."},
        format="json",
    )
    assert response.status_code == 201, response.content
    return partner, integrator, response.json()


def test_a_tier_change_names_who_made_it_in_the_api_and_its_webhook(promoted):
    _, integrator, created = promoted

    assert created["changed_by"] == "pdm-petra"
    shown = api_client(integrator).get(f"/api/v1/tier-changes/{created['id']}/")
    assert shown.status_code == 200, shown.content
    assert shown.json()["changed_by"] == "pdm-petra"
    (delivery,) = WebhookDelivery.objects.filter(event="partner.tier_changed")
    assert delivery.payload["data"]["changed_by"] == "pdm-petra"


def test_a_new_username_reaches_a_sync_of_the_tier_changes_it_made(promoted):
    partner, integrator, created = promoted
    since = timezone.now()

    partner.pdm.username = "pdm-petra-jones"
    partner.pdm.save()

    response = api_client(integrator).get("/api/v1/tier-changes/", {"updated_since": since.isoformat()})
    assert response.status_code == 200, response.content
    assert [(row["id"], row["changed_by"]) for row in response.json()["results"]] == [
        (created["id"], "pdm-petra-jones")
    ]
