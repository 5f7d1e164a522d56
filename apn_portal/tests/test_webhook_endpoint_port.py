"""A webhook endpoint kept in the admin is refused a port no request can reach, as over the API."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from apn_portal.webhooks.models import WebhookEndpoint
from tests.factories import SuperUserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("port", ["99999", "0"])
def test_an_endpoint_with_an_impossible_port_is_refused_beside_its_url(client, port):
    superuser = SuperUserFactory()
    client.force_login(superuser)

    response = client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {
            "owner": superuser.pk,
            "url": f"http://localhost:{port}/hook",
            "events": ["partner.tier_changed"],
            "secret": "a-secret",
            "description": "",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assertContains(response, "port must be a number from 1 to 65535")
    assert not WebhookEndpoint.objects.exists()
