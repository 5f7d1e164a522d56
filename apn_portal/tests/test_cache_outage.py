"""The production cache (apn_portal.cache.FailOpenRedisCache) while its Redis cannot be reached: reads
miss, writes are skipped, counters let requests through, the outage is logged once, and a Redis that
does not answer is given up on within seconds. With Redis up it is Django's Redis cache."""

import logging
import socket
import subprocess
import sys
import textwrap

import pytest
from django.core.cache import caches
from django.urls import reverse
from pytest_django.asserts import assertRedirects

from apn_portal import cache as cache_module
from apn_portal.outbox.services import outbox_flush
from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR
from partners.models import ContactRequest
from tests.api.conftest import api_client
from tests.factories import PartnerFactory, PartnerUserFactory

BACKEND = "apn_portal.cache.FailOpenRedisCache"


@pytest.fixture(autouse=True)
def no_outage_yet(monkeypatch):
    # The warnings are once per process; each test starts before any outage.
    monkeypatch.setattr(cache_module, "_outages", {})


def test_with_redis_down_reads_miss_and_writes_are_skipped(redis_down):
    assert redis_down.get("vocabulary") is None
    assert redis_down.get("vocabulary", "fallback") == "fallback"
    assert redis_down.get_or_set("counts", lambda: {"premier": 3}) == {"premier": 3}
    assert redis_down.get_many(["a", "b"]) == {}
    assert redis_down.has_key("a") is False
    assert redis_down.set("a", 1) is None
    assert redis_down.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert redis_down.touch("a") is False
    assert redis_down.delete("a") is False
    assert redis_down.delete_many(["a", "b"]) is None
    assert redis_down.clear() is False


def test_with_redis_down_a_counter_lets_requests_through(redis_down):
    # What the throttles do: start the window with add(), take the count with incr(), give back with decr().
    assert redis_down.add("throttle", 0, 600) is True
    assert redis_down.incr("throttle") == 1
    assert redis_down.decr("throttle") == -1


def test_an_outage_is_logged_once_without_the_password(settings, caplog):
    settings.CACHES = {"default": {"BACKEND": BACKEND, "LOCATION": "redis://:hunter2@127.0.0.1:1/0"}}
    cache = caches["default"]

    with caplog.at_level(logging.WARNING, logger="apn_portal.cache"):
        for _ in range(5):
            cache.get("vocabulary")
            cache.set("vocabulary", {})

    [warning] = [record for record in caplog.records if record.name == "apn_portal.cache"]
    assert warning.levelno == logging.WARNING
    assert "redis://127.0.0.1:1/0 cannot be reached" in warning.getMessage()
    assert "hunter2" not in caplog.text


def test_with_redis_up_it_is_djangos_redis_cache(redis_up):
    redis_up.set("vocabulary", {"tiers": ["premier"]})
    assert redis_up.get("vocabulary") == {"tiers": ["premier"]}
    assert redis_up.add("throttle", 0, 600) is True
    assert redis_up.add("throttle", 0, 600) is False
    assert [redis_up.incr("throttle") for _ in range(3)] == [1, 2, 3]
    assert redis_up.decr("throttle") == 2
    with pytest.raises(ValueError):
        redis_up.incr("no-such-counter")


@pytest.mark.django_db
def test_the_api_stores_a_contact_request_while_redis_is_down(redis_down):
    PartnerFactory(slug="alpha", name="Alpha Cloud")
    lead = {
        "partner": "alpha",
        "name": "Jo Buyer",
        "email": "jo@customer.example.com",
        "company": "Customer GmbH",
        "country": "DE",
        "message": "Please call us.",
    }

    response = api_client().post("/api/v1/contact-requests/", lead, format="json")

    assert response.status_code == 201, response.content
    assert ContactRequest.objects.filter(email="jo@customer.example.com").count() == 1


@pytest.mark.django_db
def test_a_password_reset_is_still_emailed_while_redis_is_down(client, mailoutbox, redis_down):
    user = PartnerUserFactory()
    user.email = "pat@partner.example.com"
    user.save(update_fields=["email"])

    response = client.post(reverse("password_reset"), {"email": "pat@partner.example.com"})

    assertRedirects(response, reverse("password_reset_done"))
    outbox_flush()
    assert [email.to for email in mailoutbox] == [["pat@partner.example.com"]]


def test_a_redis_that_does_not_answer_is_given_up_on_within_seconds():
    """The settings as production reads them, with REDIS_URL at a server that takes connections and never
    answers (a hung Redis): a cache read is a miss after the short timeouts, not the client's default."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel takes the connections; nothing ever reads or answers them
    port = silent.getsockname()[1]
    code = textwrap.dedent(
        """
        import time, django
        django.setup()
        from django.core.cache import caches
        cache = caches["default"]
        started = time.monotonic()
        value = cache.get("vocabulary")
        print(type(cache).__name__, value, round(time.monotonic() - started, 1))
        """
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=PROJECT_DIR,
            env={
                **BASE_ENV,
                "DJANGO_SETTINGS_MODULE": "apn_portal.settings",
                "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        silent.close()

    assert result.returncode == 0, result.stdout + result.stderr
    backend, value, seconds = result.stdout.split()
    assert (backend, value) == ("FailOpenRedisCache", "None")
    assert float(seconds) < 3
    assert "cannot be reached (TimeoutError" in result.stderr
