"""Deactivating a user ends their API token, however they are deactivated (the admin, a service, the
shell): deactivation is how an operator cuts someone off (a leaked token, a departure), so the token handed
out before must not work again once they are reactivated."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.admin_forms import user_change_data
from tests.factories import PartnerUserFactory, SuperUserFactory

pytestmark = pytest.mark.django_db


def api_status(key):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api.get("/api/v1/contact-requests/").status_code


def test_deactivation_ends_the_api_token_for_good():
    user = PartnerUserFactory()
    old_key = Token.objects.create(user=user).key
    assert api_status(old_key) == 200

    user.is_active = False
    user.save()
    assert api_status(old_key) == 401

    user.is_active = True  # rehired, or re-enabled after the incident
    user.save()
    assert api_status(old_key) == 401, "the token from before the deactivation works again"
    assert not Token.objects.filter(user=user).exists()


def test_deactivating_in_the_user_admin_ends_the_api_token(client):
    user = PartnerUserFactory()
    old_key = Token.objects.create(user=user).key
    client.force_login(SuperUserFactory())
    change = reverse("admin:accounts_user_change", args=[user.pk])

    response = client.post(change, user_change_data(user, is_active=False))
    assert response.status_code == 302, response.content.decode()
    user.refresh_from_db()
    response = client.post(change, user_change_data(user, is_active=True))
    assert response.status_code == 302, response.content.decode()

    assert api_status(old_key) == 401
    assert not Token.objects.filter(user=user).exists()


def test_saving_an_active_user_or_only_their_other_fields_keeps_the_token():
    user = PartnerUserFactory()
    key = Token.objects.create(user=user).key

    user.first_name = "Renamed"
    user.save()
    user.last_name = "Again"
    user.save(update_fields=["last_name"])
    user.is_active = False
    user.save(update_fields=["last_name"])  # is_active not saved: the stored user stays active

    assert api_status(key) == 200
