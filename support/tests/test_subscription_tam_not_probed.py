"""Naming a TAM when subscribing through the API tells nobody which provider usernames exist: whoever may
not subscribe the customer gets the same answer whatever name they send, and whoever may is told, in the
same words for nobody by that name and for somebody who is not a TAM, that the name is not a TAM's."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from support.models import SupportSubscription
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/support-subscriptions/"


def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def names(tam):
    StaffUserFactory(username="secret-staff")
    return ("secret-staff", tam.username, "no-such-user")


def answers(user, customer, plan, names):
    return [
        (response.status_code, response.json())
        for response in (
            api(user).post(URL, {"customer": customer, "plan": plan, "tam": name}, format="json")
            for name in names
        )
    ]


@pytest.mark.parametrize("plan", ["enterprise", "developer"])
@pytest.mark.parametrize("customer", ["alpha-customer", "no-such-customer"])
def test_a_stranger_learns_nothing_about_usernames(stranger, alpha, names, plan, customer):
    first, *others = answers(stranger, customer, plan, names)

    assert first[0] == 400 and "tam" not in first[1]
    assert others == [first, first]


@pytest.mark.parametrize("who", ["partner_user", "staff", "admin"])
@pytest.mark.parametrize("plan", ["enterprise", "developer"])
def test_who_may_not_name_the_tam_learns_nothing_about_usernames(alpha, names, who, plan):
    first, *others = answers(getattr(alpha, who), alpha.customer.slug, plan, names)

    assert first[0] in (400, 403)
    assert others == [first, first]
    assert not SupportSubscription.objects.filter(customer=alpha.customer).exists()


def test_the_account_manager_is_told_the_name_is_not_a_tams(alpha, names, tam):
    client = api(alpha.account_manager)

    for name in ("secret-staff", "no-such-user"):
        response = client.post(
            URL, {"customer": alpha.customer.slug, "plan": "enterprise", "tam": name}, format="json"
        )
        assert response.status_code == 400, response.content
        assert response.json() == {
            "tam": [f"“{name}” is not one of the provider's Technical Account Managers."]
        }
    created = client.post(
        URL, {"customer": alpha.customer.slug, "plan": "enterprise", "tam": tam.username}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["tam"] == tam.username


@pytest.mark.parametrize("value", [123, ["tam-tara"], {"username": "tam-tara"}, True])
def test_a_tam_that_is_not_a_name_is_a_400_naming_tam(alpha, tam, value):
    response = api(alpha.account_manager).post(
        URL, {"customer": alpha.customer.slug, "plan": "enterprise", "tam": value}, format="json"
    )

    assert response.status_code == 400
    assert "tam" in response.json()
