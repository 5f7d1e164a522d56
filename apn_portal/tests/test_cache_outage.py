"""The production cache (apn_portal.cache.FailOpenRedisCache) while its Redis cannot be reached: reads
miss, writes are skipped, counters let requests through, the outage is logged once, and a Redis that
does not answer is given up on within seconds, once, then left alone for a few seconds before it is tried
again. With Redis up it is Django's Redis cache."""

import contextlib
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.cache import caches
from django.urls import reverse
from pytest_django.asserts import assertRedirects

from apn_portal import cache as cache_module
from apn_portal.outbox.services import outbox_flush
from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR
from apn_portal.tests.test_health import a_server_that_never_answers
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


def _never_answering_cache(settings, port: int, **params):
    settings.CACHES = {
        "default": {
            "BACKEND": BACKEND,
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            **params,
        }
    }
    return caches["default"]


def test_a_redis_that_never_answers_is_waited_on_once_not_once_per_cache_call(settings, caplog):
    """What one Find-a-Partner page asks the cache, about: with each call waiting out the 1 s socket timeout
    that page took 8 s. After the first timeout the process leaves Redis alone for CACHE_PAUSE_SECONDS."""
    settings.CACHE_PAUSE_SECONDS = 30
    with a_server_that_never_answers() as port, caplog.at_level(logging.WARNING, logger="apn_portal.cache"):
        cache = _never_answering_cache(settings, port)
        started = time.monotonic()
        for number in range(6):
            assert cache.get(f"vocabulary-{number}") is None
        assert cache.add("throttle", 0, 600) is True
        assert cache.incr("throttle") == 1
        elapsed = time.monotonic() - started

    # One wait of 1 s, with a wide margin for a loaded machine: waiting per call would take 8 s.
    assert elapsed < 3, f"8 cache calls took {elapsed:.1f} s against a Redis that never answers"
    assert caplog.text.count("cannot be reached (TimeoutError") == 1


@contextlib.contextmanager
def a_redis_that_hangs_until_it_answers():
    """A port in front of the test Redis that takes connections and answers none of them (a hung Redis)
    until `answer()` is called; the connections taken after that are passed on to the real Redis."""
    redis = urlsplit(os.environ["REDIS_URL"])
    answering = threading.Event()
    stopped = threading.Event()
    sockets = []

    def relay(source, target):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)

    def serve(listener):
        while not stopped.is_set():
            try:
                taken, _ = listener.accept()
            except TimeoutError:
                continue
            taken.settimeout(None)
            sockets.append(taken)
            if answering.is_set():
                upstream = socket.create_connection((redis.hostname, redis.port or 6379))
                sockets.append(upstream)
                threading.Thread(target=relay, args=(taken, upstream), daemon=True).start()
                threading.Thread(target=relay, args=(upstream, taken), daemon=True).start()

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.1)
        server = threading.Thread(target=serve, args=(listener,), daemon=True)
        server.start()
        netloc = f"{redis.netloc.rpartition('@')[0]}@" if "@" in redis.netloc else ""
        location = urlunsplit(
            (redis.scheme, f"{netloc}127.0.0.1:{listener.getsockname()[1]}", redis.path, "", "")
        )
        try:
            yield location, answering.set
        finally:
            stopped.set()
            server.join()
            for taken in sockets:
                taken.close()


def test_a_redis_that_answers_again_is_used_again_once_the_pause_is_over(settings, caplog):
    assert os.environ.get("REDIS_URL"), "Start Redis: bash scripts/services.sh --redis, or scripts/test.sh"
    settings.CACHE_PAUSE_SECONDS = 3
    with a_redis_that_hangs_until_it_answers() as (location, answer), caplog.at_level(logging.INFO):
        settings.CACHES = {
            "default": {
                "BACKEND": BACKEND,
                "LOCATION": location,
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
                "KEY_PREFIX": f"test-{uuid.uuid4()}",
            }
        }
        cache = caches["default"]
        assert cache.get("vocabulary") is None  # waits out the timeout once

        answer()
        # Still left alone within the pause: a write is skipped, a read misses.
        assert cache.set("vocabulary", {"tiers": ["premier"]}) is None
        assert cache.get("vocabulary") is None

        time.sleep(3.5)
        cache.set("vocabulary", {"tiers": ["premier"]})
        assert cache.get("vocabulary") == {"tiers": ["premier"]}
        assert cache.add("throttle", 0, 600) is True
        assert cache.add("throttle", 0, 600) is False

    logged = [record.getMessage() for record in caplog.records if record.name == "apn_portal.cache"]
    assert len(logged) == 2, logged
    assert "cannot be reached (TimeoutError" in logged[0]
    assert logged[1].endswith("answers again")
