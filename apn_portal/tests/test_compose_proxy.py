"""docker-compose.yml requires a TLS proxy in front of the portal: its defaults must count that proxy, or the
sign-in lockout and the throttles see every client as the proxy's one address."""

import pytest
import yaml
from django.urls import reverse

from apn_portal.tests.test_compose import COMPOSE_FILE, interpolated_environment
from tests.factories import PASSWORD, PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db

PROXY = "172.18.0.5"  # the TLS proxy's address on the compose network


@pytest.fixture
def compose_proxies(settings):
    """The portal configured as compose configures it, with the operator's .env naming no PROXY_COUNT."""
    web = interpolated_environment(yaml.safe_load(COMPOSE_FILE.read_text())["services"]["web"])
    assert web["BEHIND_TLS_PROXY"] == "1"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": int(web["PROXY_COUNT"])}


def test_one_clients_failed_sign_ins_do_not_lock_out_another_behind_the_compose_proxy(
    client, settings, compose_proxies
):
    victim = PartnerUserFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT):  # somebody guessing, from somewhere on the internet
        client.post(
            reverse("login"),
            {"username": victim.username, "password": "a-wrong-guess"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR="203.0.113.7",
        )

    from_the_office = client.post(
        reverse("login"),
        {"username": victim.username, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )

    assert from_the_office.status_code == 302


def test_customers_behind_the_compose_proxy_do_not_share_one_contact_form_limit(client, compose_proxies):
    partner = PartnerFactory(is_published=True)
    answers = [
        client.post(
            reverse("partners:contact", args=[partner.slug]),
            {
                "name": f"Customer {i}",
                "email": f"c{i}@example.com",
                "company": f"Company {i}",
                "country": "DE",
                "message": "We need help migrating our data centre to the cloud.",
            },
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i + 1}",
        ).status_code
        for i in range(7)
    ]

    assert answers == [303] * 7  # each one sent, none refused as over a shared limit
