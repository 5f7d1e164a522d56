"""A new password ends the API token issued with the old one, however the password is set; so does
disabling password sign-in."""

import re

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apn_portal.outbox.services import outbox_flush
from tests.factories import PASSWORD, PartnerUserFactory, SuperUserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
NEW_PASSWORD = "brand-new-secret-99"


def token_for(username, password):
    response = APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def api_status(token):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api.get("/api/v1/contact-requests/").status_code


@pytest.fixture
def pat():
    user = PartnerUserFactory(username="pat.partner")
    user.email = "pat@partner.example.com"
    user.save(update_fields=["email"])
    return user


def change_on_the_site(client, user):
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302


def reset_by_email(client, user, mailoutbox):
    client.post(reverse("password_reset"), {"email": user.email})
    outbox_flush()
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mailoutbox[-1].body).group(1)
    form_page = client.get(link, follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302


def set_in_the_admin(client, user):
    client.force_login(SuperUserFactory())
    response = client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()


def set_in_code(client, user):
    user.set_password(NEW_PASSWORD)
    user.save()


@pytest.mark.parametrize("change", [change_on_the_site, reset_by_email, set_in_the_admin, set_in_code])
def test_a_new_password_ends_the_old_token_and_the_new_password_gets_a_new_one(
    client, pat, mailoutbox, change
):
    old_token = token_for(pat.username, PASSWORD)
    assert api_status(old_token) == 200

    if change is reset_by_email:
        change(client, pat, mailoutbox)
    else:
        change(client, pat)

    assert api_status(old_token) == 401
    new_token = token_for(pat.username, NEW_PASSWORD)
    assert new_token != old_token
    assert api_status(new_token) == 200


def test_saves_that_keep_the_password_keep_the_token(client, pat, settings):
    token = token_for(pat.username, PASSWORD)

    pat.first_name = "Patricia"
    pat.save()
    client.force_login(pat)  # stamps last_login
    # Signing in with a hash of an older algorithm upgrades it: the same password, stored anew.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    pat.password = make_password(PASSWORD, hasher="md5")
    pat.save(update_fields=["password"])
    assert client.post(reverse("login"), {"username": pat.username, "password": PASSWORD}).status_code == 302
    pat.refresh_from_db()
    assert pat.password.startswith("pbkdf2_")

    assert api_status(token) == 200


def disable_in_the_admin(client, user):
    client.force_login(SuperUserFactory())
    response = client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"usable_password": "false", "unset-password": "1"},
    )
    assert response.status_code == 302, response.content.decode()


def disable_in_code(client, user):
    user.set_unusable_password()
    user.save()


@pytest.mark.parametrize("disable", [disable_in_the_admin, disable_in_code])
def test_disabling_password_sign_in_ends_the_token_too(client, pat, disable):
    token = token_for(pat.username, PASSWORD)
    assert api_status(token) == 200

    disable(client, pat)

    pat.refresh_from_db()
    assert not pat.has_usable_password()
    assert api_status(token) == 401
    refused = APIClient().post(TOKEN_URL, {"username": pat.username, "password": PASSWORD}, format="json")
    assert refused.status_code == 401


def test_a_user_without_a_password_keeps_the_token_issued_to_them(pat):
    """An integration's user who never signs in (no usable password) holds a token issued in the admin or
    with issue_token: saving them, their password still disabled, keeps it."""
    pat.set_unusable_password()
    pat.save()
    token = Token.objects.create(user=pat).key

    pat.first_name = "Patricia"
    pat.save()

    assert api_status(token) == 200
