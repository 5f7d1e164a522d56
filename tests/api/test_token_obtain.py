"""An integrator trades a password for its token; repeated failures lock it out, as on the site."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import PASSWORD, PartnerUserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/token/"


def test_the_right_password_gives_the_users_token_and_the_token_works():
    user = PartnerUserFactory(username="crm-sync")

    response = APIClient().post(URL, {"username": "crm-sync", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=user).key}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/v1/contact-requests/").status_code == 200


def test_a_wrong_password_is_a_401_with_a_message_and_a_missing_field_a_400():
    PartnerUserFactory(username="crm-sync")

    wrong = APIClient().post(URL, {"username": "crm-sync", "password": "not-the-password"}, format="json")
    missing = APIClient().post(URL, {"username": "crm-sync"}, format="json")

    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Wrong username or password."}
    assert missing.status_code == 400
    assert "password" in missing.json()


def test_after_five_failures_even_the_right_password_is_locked_out(settings):
    settings.AXES_FAILURE_LIMIT = 5
    PartnerUserFactory(username="crm-sync")
    client = APIClient()
    for _ in range(5):
        client.post(URL, {"username": "crm-sync", "password": "guess-again-123"}, format="json")

    response = client.post(URL, {"username": "crm-sync", "password": PASSWORD}, format="json")

    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Too many failed sign-ins for this account")
    assert not Token.objects.filter(user__username="crm-sync").exists()
