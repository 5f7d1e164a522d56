"""The client's address behind a reverse proxy (PROXY_COUNT=1) that does not always know it: it writes
`unknown` or `unix:` in X-Forwarded-For. No limit, no stored address is given a word that is no address."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from pytest_django.asserts import assertContains

from apn_portal.http import client_address, throttle_address
from tests.factories import PASSWORD, PartnerUserFactory

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # PROXY_COUNT=1


@pytest.mark.parametrize(
    ("forwarded_for", "address"),
    [
        ("1.2.3.4, 203.0.113.7", "203.0.113.7"),
        (" 2001:DB8::1 ", "2001:db8::1"),
        ("1.2.3.4, unknown", None),
        ("unix:", None),
        ("", None),
        ("203.0.113.7:51234", None),
        ("[2001:db8::1]", None),
        ("fe80::1%eth0", None),
    ],
)
def test_the_address_is_the_one_the_proxy_saw_or_none(forwarded_for, address):
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)

    assert client_address(request) == address


def test_a_failed_sign_in_from_an_unknown_address_is_told_so_and_still_counted(client, settings):
    user = PartnerUserFactory()

    def sign_in(password):
        return client.post(
            reverse("login"),
            {"username": user.username, "password": password},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR="unknown",
        )

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assertContains(sign_in("not-the-right-password"), "Please enter a correct username and password")
    sign_in("not-the-right-password")

    assertContains(sign_in(PASSWORD), "Too many failed sign-in attempts", status_code=429)


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client, as a dual-stack socket shows it
        ("2001:db8:1:2::1", "2001:db8:1:2::"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::"),  # the same /64: the same client
        ("2001:db8:1:3::1", "2001:db8:1:3::"),
        ("::1", "::"),
        (None, None),
    ],
)
def test_every_limit_counts_an_ipv6_client_by_its_64(address, counted_as):
    assert throttle_address(address) == counted_as


def test_the_sign_in_lockout_counts_an_ipv6_client_by_its_64(client, settings):
    # One host may take any address of its /64: a new one for each guess is still the same host.
    user = PartnerUserFactory()

    def sign_in(password, n):
        return client.post(
            reverse("login"),
            {"username": user.username, "password": password},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"2001:db8:1:2::{n:x}",
        )

    for n in range(1, settings.AXES_FAILURE_LIMIT + 1):
        sign_in("not-the-right-password", n)

    assertContains(sign_in(PASSWORD, 99), "Too many failed sign-in attempts", status_code=429)
