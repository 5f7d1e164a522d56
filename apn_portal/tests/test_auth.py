"""Signing in, out and back in with a new password, as partner and customer staff do on the site."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from apn_portal.outbox.services import outbox_flush
from tests.factories import PASSWORD, PartnerUserFactory, PdmFactory

pytestmark = pytest.mark.django_db

WRONG_PASSWORD = "not-the-right-password"


def sign_in(client, username, password, url_name="login"):
    return client.post(reverse(url_name), {"username": username, "password": password})


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


def test_anonymous_visitor_is_offered_to_sign_in(client):
    response = client.get(reverse("home"))

    assertContains(response, f'href="{reverse("login")}"')
    assertNotContains(response, "Signed in as")


def test_partner_user_signs_in_and_the_home_page_shows_it(client):
    user = PartnerUserFactory(username="pat.partner")

    response = sign_in(client, "pat.partner", PASSWORD)

    assertRedirects(response, reverse("home"))
    home = client.get(reverse("home"))
    assertContains(home, "Signed in as <strong>pat.partner</strong>", html=False)
    assertContains(home, "Sign out")
    assert signed_in_user_id(client) == str(user.pk)


def test_wrong_password_is_refused_with_a_message(client):
    PartnerUserFactory(username="pat.partner")

    response = sign_in(client, "pat.partner", WRONG_PASSWORD)

    assertContains(response, "Please enter a correct username and password")
    assert signed_in_user_id(client) is None


def test_sign_in_returns_to_the_page_that_asked_for_it(client):
    PartnerUserFactory(username="pat.partner")
    change_password = reverse("password_change")

    response = client.post(
        reverse("login"), {"username": "pat.partner", "password": PASSWORD, "next": change_password}
    )

    assertRedirects(response, change_password)


def test_signing_out_takes_a_post_and_confirms_it(client):
    user = PartnerUserFactory()
    client.force_login(user)

    # The address opened (a bookmark, typed) asks first, with the button that signs out.
    asked = client.get(reverse("logout"))
    assertContains(asked, "Sign out of the APN Portal?")
    assertContains(asked, f'<form method="post" action="{reverse("logout")}">', count=2)
    assertContains(asked, f"Signed in as <strong>{user.username}</strong>")
    assert signed_in_user_id(client) == str(user.pk)
    response = client.post(reverse("logout"))

    assertContains(response, "You have signed out")
    assert signed_in_user_id(client) is None
    assertNotContains(client.get(reverse("home")), "Signed in as")


def test_the_sign_out_address_opened_when_signed_out_offers_to_sign_in(client):
    response = client.get(reverse("logout"))

    assertContains(response, "You are not signed in")
    assertContains(response, f'<a class="button" href="{reverse("login")}">Sign in</a>', html=True)
    assertNotContains(response, f'action="{reverse("logout")}"')


@pytest.mark.parametrize(
    ("url_name", "user_factory"),
    [("login", PartnerUserFactory), ("admin:login", PdmFactory)],
    ids=["site", "admin"],
)
def test_after_five_failures_even_the_right_password_is_locked_out(client, url_name, user_factory):
    user = user_factory()

    first_four = [sign_in(client, user.username, WRONG_PASSWORD, url_name) for _ in range(4)]
    sign_in(client, user.username, WRONG_PASSWORD, url_name)
    sixth = sign_in(client, user.username, PASSWORD, url_name)

    assert [response.status_code for response in first_four] == [200] * 4
    assertContains(sixth, "Too many failed sign-in attempts", status_code=429)
    assert signed_in_user_id(client) is None


@pytest.mark.parametrize(
    ("url_name", "user_factory", "message"),
    [
        ("login", PartnerUserFactory, "Please enter a correct username and password"),
        ("admin:login", PdmFactory, "Please enter the correct username and password for a staff account"),
    ],
    ids=["site", "admin"],
)
@pytest.mark.parametrize("length", [151, 256, 5000])
def test_a_username_longer_than_any_user_can_have_is_a_wrong_sign_in_not_an_error_page(
    client, url_name, user_factory, message, length
):
    user = user_factory(username="pat")

    response = sign_in(client, "p" * length, PASSWORD, url_name)

    assertContains(response, message)
    assert signed_in_user_id(client) is None
    # The form, and its lockout, still work for the others.
    assert sign_in(client, user.username, PASSWORD, url_name).status_code == 302
    assert signed_in_user_id(client) == str(user.pk)


def test_behind_a_proxy_one_clients_failures_lock_out_only_that_client(client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # PROXY_COUNT=1
    user = PartnerUserFactory()

    def sign_in_from(address, password):
        return client.post(
            reverse("login"),
            {"username": user.username, "password": password},
            REMOTE_ADDR="10.0.0.1",  # the proxy
            HTTP_X_FORWARDED_FOR=address,
        )

    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in_from("203.0.113.7", WRONG_PASSWORD)

    assert sign_in_from("203.0.113.7", PASSWORD).status_code == 429
    assertRedirects(sign_in_from("198.51.100.9", PASSWORD), reverse("home"), fetch_redirect_response=False)


def test_lockout_ends_after_the_cool_off(client, settings):
    user = PartnerUserFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, user.username, WRONG_PASSWORD)
    assert sign_in(client, user.username, PASSWORD).status_code == 429

    later = timezone.now() + datetime.timedelta(hours=settings.AXES_COOLOFF_TIME, minutes=1)
    with time_machine.travel(later):
        response = sign_in(client, user.username, PASSWORD)

    assertRedirects(response, reverse("home"), fetch_redirect_response=False)
    assert signed_in_user_id(client) == str(user.pk)


def test_lockout_page_says_how_long_to_wait(client, settings):
    user = PartnerUserFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, user.username, WRONG_PASSWORD)

    response = sign_in(client, user.username, PASSWORD)

    assertContains(response, "paused for 30 minutes", status_code=429)


@pytest.mark.parametrize(
    ("url_name", "user_factory"),
    [("login", PartnerUserFactory), ("admin:login", PdmFactory)],
    ids=["site", "admin"],
)
def test_one_address_trying_a_password_on_many_accounts_is_paused(client, settings, url_name, user_factory):
    """Password spraying: one failure per account never locks a (username, address) pair, so the address's
    failures, whatever the usernames, lock it too, at their own limit."""
    user = user_factory()
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 12
    for number in range(11):
        assert sign_in(client, f"guess{number}", WRONG_PASSWORD, url_name).status_code == 200
    # Below the address's limit, a colleague on the same network who types their password signs in.
    assert sign_in(client, user.username, PASSWORD, url_name).status_code == 302
    client.logout()
    sign_in(client, "guess11", WRONG_PASSWORD, url_name)

    refused = sign_in(client, user.username, PASSWORD, url_name)

    assertContains(
        refused, "After 12 failed sign-ins from your network, whatever the account", status_code=429
    )
    assert signed_in_user_id(client) is None
    other_address = client.post(
        reverse(url_name), {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="198.51.100.9"
    )
    assert other_address.status_code == 302


def test_an_address_paused_for_spraying_signs_in_again_after_the_cool_off(client, settings):
    user = PartnerUserFactory()
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 3
    for number in range(3):
        sign_in(client, f"guess{number}", WRONG_PASSWORD)
    assert sign_in(client, user.username, PASSWORD).status_code == 429

    later = timezone.now() + datetime.timedelta(hours=settings.AXES_COOLOFF_TIME, minutes=1)
    with time_machine.travel(later):
        response = sign_in(client, user.username, PASSWORD)

    assertRedirects(response, reverse("home"), fetch_redirect_response=False)


def test_password_reset_by_email_needs_at_least_12_characters(client, mailoutbox):
    user = PartnerUserFactory(username="pat.partner", first_name="Pat", last_name="Jones")
    user.email = "pat@partner.example.com"
    user.save(update_fields=["email"])

    response = client.post(reverse("password_reset"), {"email": "pat@partner.example.com"})

    assertRedirects(response, reverse("password_reset_done"))
    outbox_flush()  # what the worker does once the request has committed
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["pat@partner.example.com"]
    assert email.subject == "Reset your APN Portal password"
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", email.body).group(1)

    form_page = client.get(link, follow=True)
    assertContains(form_page, "Choose a new password")
    set_password_url = form_page.redirect_chain[-1][0]

    too_short = client.post(
        set_password_url, {"new_password1": "tangerine-9", "new_password2": "tangerine-9"}
    )
    assertContains(too_short, "This password is too short. It must contain at least 12 characters.")

    accepted = client.post(
        set_password_url, {"new_password1": "tangerine-92", "new_password2": "tangerine-92"}
    )
    assertRedirects(accepted, reverse("password_reset_complete"))

    assert sign_in(client, "pat.partner", PASSWORD).status_code == 200  # the old one no longer works
    assertRedirects(sign_in(client, "pat.partner", "tangerine-92"), reverse("home"))
    assertContains(client.get(link, follow=True), "This link no longer works")


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, follow=True)

    assertContains(response, "Check your email")
    assert mailoutbox == []


def test_signed_in_user_changes_their_password(client):
    user = PartnerUserFactory(first_name="Pat", last_name="Jones")
    client.force_login(user)

    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "tangerine-92", "new_password2": "tangerine-92"},
    )

    assertRedirects(response, reverse("password_change_done"))
    user.refresh_from_db()
    assert user.check_password("tangerine-92")
