"""A webhook delivery is the record of what was sent to an integrator (and, while pending or being retried,
the event still to be sent): the admin deletes none on its own, only with its endpoint, whose deletion
(its page or the list's bulk delete) lists the deliveries it takes."""

import uuid

import pytest
from django.contrib.admin import helpers
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from apn_portal.webhooks.choices import DeliveryStatus
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from apn_portal.webhooks.services import webhook_endpoint_create
from tests.factories import SuperUserFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = "admin:webhooks_webhookendpoint_changelist"
DELIVERIES = "admin:webhooks_webhookdelivery_changelist"
DENIED = "your account doesn&#x27;t have permission to delete"


@pytest.fixture
def superuser(client):
    user = SuperUserFactory()
    client.force_login(user)
    return user


def endpoint_with_delivery(owner, **fields):
    endpoint = webhook_endpoint_create(
        user=owner, url="http://localhost:9000/hook", events=["partner.tier_changed"]
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event="partner.tier_changed", event_id=uuid.uuid4(), payload={}, **fields
    )
    return endpoint, delivery


def test_a_delivery_has_no_delete_of_its_own(client, superuser):
    _, delivery = endpoint_with_delivery(superuser)
    delete_url = reverse("admin:webhooks_webhookdelivery_delete", args=[delivery.pk])

    page = client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assertNotContains(page, delete_url)
    listing = client.get(reverse(DELIVERIES))
    assertNotContains(listing, 'value="delete_selected"')

    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    client.post(
        reverse(DELIVERIES),
        {"action": "delete_selected", helpers.ACTION_CHECKBOX_NAME: [delivery.pk], "post": "yes"},
    )
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()


def test_deleting_an_endpoint_on_its_page_lists_and_takes_its_deliveries(client, superuser):
    endpoint, delivery = endpoint_with_delivery(superuser)
    delete_url = reverse("admin:webhooks_webhookendpoint_delete", args=[endpoint.pk])

    confirm = client.get(delete_url)
    assertNotContains(confirm, DENIED)
    assertContains(confirm, reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))
    assertContains(confirm, "Webhook deliveries: 1")

    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_bulk_deleting_endpoints_lists_and_takes_their_deliveries(client, superuser):
    first, _ = endpoint_with_delivery(superuser, status=DeliveryStatus.DELIVERED, delivered_at=timezone.now())
    second, _ = endpoint_with_delivery(superuser, status=DeliveryStatus.FAILED)
    selection = {"action": "delete_selected", helpers.ACTION_CHECKBOX_NAME: [first.pk, second.pk]}

    confirm = client.post(reverse(ENDPOINTS), selection)
    assertNotContains(confirm, DENIED)
    assertContains(confirm, "Webhook deliveries: 2")

    assert client.post(reverse(ENDPOINTS), {**selection, "post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()
