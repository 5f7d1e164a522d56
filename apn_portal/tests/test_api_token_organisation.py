"""An API token acts for one organisation and only within it: moving its user to another organisation, or
in or out of the provider's staff, ends it, however the user is saved (the admin, a service, the shell)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.admin_forms import user_change_data
from tests.factories import (
    PASSWORD,
    AwsAccountFactory,
    ContactRequestFactory,
    CustomerFactory,
    PartnerFactory,
    SuperUserFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def token_for(user):
    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def api_get(token, url):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api.get(url)


@pytest.fixture
def alpha():
    return PartnerFactory(slug="alpha")


@pytest.fixture
def bravo():
    partner = PartnerFactory(slug="bravo")
    ContactRequestFactory(partner=partner)
    return partner


@pytest.fixture
def customer():
    customer = CustomerFactory(slug="acme")
    AwsAccountFactory(customer=customer)
    return customer


# (what the user was, what they become): each a dict of the user's fields, the organisations named by
# fixture.
MOVES = {
    "partner to another partner": ({"partner": "alpha"}, {"partner": "bravo"}),
    "partner to customer": ({"partner": "alpha"}, {"partner": None, "customer": "customer"}),
    "customer to partner": ({"customer": "customer"}, {"customer": None, "partner": "bravo"}),
    "partner to provider staff": ({"partner": "alpha"}, {"partner": None, "is_staff": True}),
    "provider staff to partner": ({"is_staff": True}, {"is_staff": False, "partner": "bravo"}),
    "partner to no organisation": ({"partner": "alpha"}, {"partner": None}),
    "provider staff to superuser": ({"is_staff": True}, {"is_superuser": True}),
    "superuser to provider staff": ({"is_staff": True, "is_superuser": True}, {"is_superuser": False}),
}


def _resolve(fields, organisations):
    return {name: organisations.get(value, value) for name, value in fields.items()}


@pytest.mark.parametrize(("before", "after"), MOVES.values(), ids=MOVES.keys())
def test_moving_a_user_ends_their_token_and_a_new_one_acts_for_where_they_are_now(
    alpha, bravo, customer, before, after
):
    organisations = {"alpha": alpha, "bravo": bravo, "customer": customer}
    user = UserFactory(username="pat", **_resolve(before, organisations))
    old_token = token_for(user)
    assert api_get(old_token, "/api/v1/contact-requests/").status_code == 200

    for name, value in _resolve(after, organisations).items():
        setattr(user, name, value)
    user.save()

    assert api_get(old_token, "/api/v1/contact-requests/").status_code == 401
    assert api_get(old_token, "/api/v1/aws-accounts/").status_code == 401
    new_token = token_for(user)
    assert new_token != old_token
    assert api_get(new_token, "/api/v1/contact-requests/").status_code == 200


def test_a_save_naming_only_the_organisation_also_ends_the_token(alpha, bravo):
    user = UserFactory(username="pat", partner=alpha)
    token = token_for(user)

    user.partner = bravo
    user.save(update_fields=["partner"])

    response = api_get(token, "/api/v1/contact-requests/")
    assert response.status_code == 401, [row["partner"] for row in response.json()["results"]]


def test_moving_a_user_to_another_partner_in_the_admin_ends_their_token(client, alpha, bravo):
    user = UserFactory(username="pat", partner=alpha)
    token = token_for(user)

    client.force_login(SuperUserFactory())
    response = client.post(
        reverse("admin:accounts_user_change", args=[user.pk]), user_change_data(user, partner=bravo.pk)
    )
    assert response.status_code == 302, response.content.decode()

    response = api_get(token, "/api/v1/contact-requests/")
    assert response.status_code == 401, [row["partner"] for row in response.json()["results"]]


def test_saving_a_user_in_the_admin_without_moving_them_keeps_their_token(client, alpha):
    user = UserFactory(username="pat", partner=alpha)
    token = token_for(user)

    client.force_login(SuperUserFactory())
    response = client.post(
        reverse("admin:accounts_user_change", args=[user.pk]), user_change_data(user, first_name="Patricia")
    )
    assert response.status_code == 302, response.content.decode()

    assert api_get(token, "/api/v1/contact-requests/").status_code == 200


def test_other_changes_keep_the_token(alpha):
    user = UserFactory(username="pat", partner=alpha)
    token = token_for(user)

    user.first_name = "Patricia"
    user.email = "patricia@example.com"
    user.save()
    user.partner = alpha  # the same organisation, set again
    user.save(update_fields=["partner", "first_name"])

    assert api_get(token, "/api/v1/contact-requests/").status_code == 200
