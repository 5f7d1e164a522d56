"""An integrator trades a password for its token; repeated failures lock it out, as on the site."""

import datetime

import pytest
import time_machine
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


def test_one_address_trying_many_accounts_is_locked_out_whatever_the_account(settings):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 4
    PartnerUserFactory(username="crm-sync")
    client = APIClient()
    for number in range(4):
        client.post(URL, {"username": f"guess{number}", "password": "guess-again-123"}, format="json")

    response = client.post(URL, {"username": "crm-sync", "password": PASSWORD}, format="json")

    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many failed sign-ins from your network; try again in")
    assert int(response["Retry-After"]) > 0
    assert not Token.objects.filter(user__username="crm-sync").exists()


def _fail(client, times):
    for _ in range(times):
        response = client.post(URL, {"username": "crm-sync", "password": "guess-again-123"}, format="json")
    return response


def test_a_locked_out_sign_in_says_in_retry_after_how_many_seconds_to_wait(settings):
    """docs/api.md: over a limit "you get 429 with Retry-After in seconds", as a throttle's 429 has it."""
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = 0.25  # hours
    PartnerUserFactory(username="crm-sync")

    response = _fail(APIClient(), 3)

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "try again in 15 minutes" in response.json()["detail"]


@pytest.mark.parametrize(("after_retry_after", "status"), [(-1, 429), (1, 200)])
def test_retry_after_is_when_the_lockout_ends(settings, after_retry_after, status):
    """Each attempt during a lockout restarts its cool-off (axes records it): asked 10 minutes into a
    30-minute lockout, Retry-After is the 30 minutes from then: the right password works a second after
    it, not a second before (one sign-in only each time: any attempt during the lockout restarts it)."""
    settings.AXES_FAILURE_LIMIT = 2
    PartnerUserFactory(username="crm-sync")
    client = APIClient()
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        assert _fail(client, 2).status_code == 429
    asked = start + datetime.timedelta(minutes=10)
    with time_machine.travel(asked, tick=False):
        retry_after = _fail(client, 1)["Retry-After"]
    assert retry_after == "1800"

    then = asked + datetime.timedelta(seconds=int(retry_after) + after_retry_after)
    with time_machine.travel(then, tick=False):
        response = client.post(URL, {"username": "crm-sync", "password": PASSWORD}, format="json")

    assert response.status_code == status


def test_the_schema_gives_the_lockouts_429_its_error_body_and_retry_after():
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()
    locked_out = schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]["429"]

    assert locked_out["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert locked_out["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert "locked out" in locked_out["description"]
