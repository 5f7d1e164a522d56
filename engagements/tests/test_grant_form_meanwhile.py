"""The grant form filled in while a colleague changes what it offered: the engagement cancelled, or the
partner replaced, meanwhile. The partner is refused beside the Partner field in the service's words, which
say what happened, not Django's "Select a valid choice"; the form, shown again, offers only partners the
customer can grant access to today. Another customer's contract still reveals nothing."""

import datetime
import re

import pytest
from django.urls import reverse

from engagements import services
from engagements.models import AccessGrant
from tests.factories import CustomerUserFactory, PartnerFactory

pytestmark = pytest.mark.django_db

URL = reverse("engagements:access-grant")


def _opened_form(client, alpha) -> dict:
    """What the administrator chose on the form, opened before the colleague acted."""
    page = client.get(URL).content.decode()
    token = re.search(r'name="submission_token" value="([^"]+)"', page)[1]
    return {
        "account": alpha.management.pk,
        "engagement_partner": alpha.engaged.pk,
        "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Finance",
        "scope": "operations",
        "mfa_required": "on",
        "submission_token": token,
    }


def _partner_options(response) -> list[str]:
    select = re.search(r'<select name="engagement_partner".*?</select>', response.content.decode(), re.S)[0]
    return re.findall(r'<option value="(\d+)"', select)


def _refused_beside_the_partner(response) -> str:
    assert response.status_code == 400
    assert "Select a valid choice" not in response.content.decode()
    [error] = response.context["form"].errors["engagement_partner"]
    assert error in response.content.decode()
    return error


def test_a_partner_whose_engagement_a_colleague_cancelled_meanwhile_is_refused_in_clear_words(client, alpha):
    client.force_login(alpha.admin)
    data = _opened_form(client, alpha)
    services.engagement_status_change(
        user=CustomerUserFactory(customer=alpha.customer, access_admin=True),
        engagement=alpha.engagement,
        status="cancelled",
        reason="Budget cut",
    )

    response = client.post(URL, data)

    assert _refused_beside_the_partner(response) == "“Alpha Migration” was cancelled."
    assert str(alpha.engaged.pk) not in _partner_options(response)
    assert not AccessGrant.objects.filter(role_name="Finance").exists()


def test_a_partner_a_colleague_replaced_meanwhile_is_refused_in_clear_words(client, alpha):
    client.force_login(alpha.admin)
    data = _opened_form(client, alpha)
    colleague = CustomerUserFactory(customer=alpha.customer, access_admin=True)
    successor = services.engagement_partner_replace(
        user=colleague,
        engagement_partner=alpha.engaged,
        new_partner=PartnerFactory(name="Successor Ltd"),
        reason="Lost the tender",
        contract_end=alpha.customer.local_today() + datetime.timedelta(days=90),
    )

    response = client.post(URL, data)

    assert _refused_beside_the_partner(response) == (
        "Alpha Partners Ltd was replaced on “Alpha Migration”; grant access to the partner that took over."
    )
    assert _partner_options(response) == [str(successor.pk)]
    assert not AccessGrant.objects.filter(role_name="Finance").exists()


def test_another_customers_partner_is_still_an_invalid_choice_that_reveals_nothing(client, alpha, bravo):
    client.force_login(alpha.admin)
    data = {**_opened_form(client, alpha), "engagement_partner": bravo.engaged.pk}

    response = client.post(URL, data)

    body = response.content.decode()
    assert response.status_code == 400
    assert response.context["form"].errors["engagement_partner"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert "Bravo" not in body
    assert not AccessGrant.objects.filter(role_name="Finance").exists()
