"""An admin list cannot be filtered by a secret: every provider staff role may view the users, and a list
that answers whether a user's API token starts with "a", then "ab", ... gives the whole token away, one
character at a time (and with it the API as that user, a superuser's included). Nor by a webhook's
signing secret. Django refuses such a filter with a 400, as it does the password."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from apn_portal.webhooks.services import webhook_endpoint_create
from tests.factories import PdmFactory, SuperUserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "lookup",
    [
        "auth_token__key__startswith",
        "auth_token__key__gt",
        "auth_token__startswith",
        "auth_token",
        "auth_token__key__regex",
        "password__startswith",
    ],
)
def test_the_user_list_cannot_be_filtered_by_an_api_token(client, lookup):
    boss = SuperUserFactory(username="boss")
    key = Token.objects.create(user=boss).key
    client.force_login(PdmFactory())

    response = client.get(reverse("admin:accounts_user_changelist"), {lookup: key[:1], "q": "boss"})

    assert response.status_code == 400


def test_the_user_list_still_filters_by_what_it_offers(client):
    client.force_login(PdmFactory())
    response = client.get(reverse("admin:accounts_user_changelist"), {"is_staff__exact": "1"})
    assert response.status_code == 200


def test_the_webhook_endpoint_list_cannot_be_filtered_by_its_signing_secret(client):
    superuser = SuperUserFactory()
    endpoint = webhook_endpoint_create(
        user=superuser, url="http://localhost:8152/x", events=["partner.tier_changed"]
    )
    client.force_login(superuser)

    response = client.get(
        reverse("admin:webhooks_webhookendpoint_changelist"), {"secret__startswith": endpoint.secret[:1]}
    )

    assert response.status_code == 400
