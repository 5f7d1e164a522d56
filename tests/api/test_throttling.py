"""Rates per anonymous IP address, per token, and for sending contact requests, counted in the shared
cache (Redis when the suite has one, as in CI)."""

import datetime
import os
import threading

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection

from partners.models import ContactRequest
from tests.api.conftest import api_client
from tests.factories import PartnerFactory
from tests.locks import lock_held, sessions_waiting_for_locks, wait_for

LEAD = {
    "partner": "alpha",
    "name": "Jo Buyer",
    "email": "jo@customer.example.com",
    "company": "Customer GmbH",
    "country": "DE",
    "message": "Please call us.",
}


@pytest.fixture
def shared_cache(settings):
    """Redis (database 5, this suite's own) when REDIS_URL is set, as scripts/test.sh and CI do."""
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url.rsplit("/", 1)[0] + "/5",
            }
        }
        cache.clear()
    yield
    cache.clear()


@pytest.fixture(params=["local memory", "redis"])
def each_cache(request, settings):
    """The local-memory cache of a portal without Redis, then the production cache on Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_up")
        return
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


NINE = datetime.datetime(2026, 11, 30, 9, 0, 0, tzinfo=datetime.UTC)


def at(seconds: float):
    """The clock at 9:00 and so many seconds, standing still."""
    return time_machine.travel(NINE + datetime.timedelta(seconds=seconds), tick=False)


def tiers(client) -> int:
    return client.get("/api/v1/tiers/").status_code


def test_a_burst_around_the_end_of_a_minute_gets_no_more_than_the_rate_through(db, settings, each_cache):
    """3/min: one request at 9:00:00, two at 9:00:59, three at 9:01:01. Counted in a window that started
    at 9:00:00, the three at 9:01:01 would all pass (five within two seconds); counted over the last
    minute, only the one that 9:00:00's request makes room for does."""
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "3/min"}
    client = api_client()
    with at(0):
        assert tiers(client) == 200
    with at(59):
        assert [tiers(client), tiers(client)] == [200, 200]
    with at(61):
        assert [tiers(client), tiers(client)] == [200, 429]
        refused = client.get("/api/v1/tiers/")
    # The next slot is free when 9:00:59's requests are a minute old, and not before.
    assert refused.status_code == 429 and refused["Retry-After"] == "58"
    with at(118.5):
        assert tiers(client) == 429
    with at(119):
        assert [tiers(client), tiers(client), tiers(client)] == [200, 200, 429]


def test_a_client_sending_as_fast_as_it_may_never_gets_more_than_the_rate_in_a_minute(
    db, settings, each_cache
):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "3/min"}
    client = api_client()
    passed = []
    for half_seconds in range(1, 2 * 200):  # a request every half second for 200 seconds
        moment = 0.25 + half_seconds / 2
        with at(moment):
            if tiers(client) == 200:
                passed.append(moment)
    for moment in passed:
        in_the_minute_to_it = [other for other in passed if moment - 60 < other <= moment]
        assert len(in_the_minute_to_it) <= 3, f"{in_the_minute_to_it} passed 3/min"
    # ...and gets the whole rate: the next one as soon as the oldest counted is a minute old.
    assert passed == [0.75, 1.25, 1.75, 60.75, 61.25, 61.75, 120.75, 121.25, 121.75, 180.75, 181.25, 181.75]


def test_anonymous_callers_are_limited_per_address(world, settings, shared_cache):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "3/min"}
    client = api_client()
    statuses = [client.get("/api/v1/partners/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/partners/")
    assert int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"]
    other_address = client.get("/api/v1/partners/", REMOTE_ADDR="10.1.2.3")
    assert other_address.status_code == 200


def test_an_anonymous_ipv6_caller_is_limited_per_64_not_per_address(world, settings, shared_cache):
    # Every IPv6 client holds a whole /64: changing its address within it is no new caller.
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "3/min"}
    client = api_client()
    statuses = [
        client.get("/api/v1/partners/", REMOTE_ADDR=f"2001:db8:1:2::{n}").status_code for n in range(1, 5)
    ]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/api/v1/partners/", REMOTE_ADDR="2001:db8:1:3::1").status_code == 200


def test_a_forged_forwarded_for_header_does_not_reset_the_count(world, settings, shared_cache):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "2/min"}
    client = api_client()
    statuses = [
        client.get("/api/v1/partners/", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_each_token_has_its_own_budget(world, settings, shared_cache):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "token": "2/min"}
    a, b = world.client("user_a"), world.client("user_b")
    assert [a.get("/api/v1/tiers/").status_code for _ in range(3)] == [200, 200, 429]
    assert b.get("/api/v1/tiers/").status_code == 200


def test_sending_contact_requests_has_a_tighter_rate_per_address(world, settings, shared_cache):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "contact_requests": "2/hour"}
    client = api_client()
    statuses = [client.post("/api/v1/contact-requests/", LEAD, format="json").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    # Being signed in does not lift it: it is about the address sending leads.
    signed_in = world.client("user_b").post("/api/v1/contact-requests/", LEAD, format="json")
    assert signed_in.status_code == 429
    # Reading is not sending.
    assert world.client("user_a").get("/api/v1/contact-requests/").status_code == 200


def test_refused_contact_requests_do_not_use_up_the_rate(world, settings, each_cache):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "contact_requests": "3/hour"}
    client = api_client()
    refused = [
        client.post("/api/v1/contact-requests/", {**LEAD, "email": "not an address"}, format="json"),
        client.post("/api/v1/contact-requests/", {**LEAD, "partner": "no-such-partner"}, format="json"),
        client.post("/api/v1/contact-requests/", {**LEAD, "message": ""}, format="json"),
    ]
    assert [response.status_code for response in refused] == [400, 400, 400]
    # The client fixes its request and sends it again, as docs/api.md says: the whole rate is left.
    statuses = [client.post("/api/v1/contact-requests/", LEAD, format="json").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    assert ContactRequest.objects.filter(email=LEAD["email"]).count() == 3
    # Once the rate is used up, a request is refused before it is looked at, bad or not.
    bad = client.post("/api/v1/contact-requests/", {**LEAD, "email": "not an address"}, format="json")
    assert bad.status_code == 429
    assert int(bad["Retry-After"]) > 0


@pytest.mark.django_db(transaction=True)
def test_contact_requests_sent_at_once_cannot_exceed_the_rate(settings, shared_cache):
    """Four sent together while storing is held (another session locks the table): those counted hold
    their place while they wait, so only two get through and the other two are refused at once."""
    PartnerFactory(slug="alpha")
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "contact_requests": "2/hour"}
    statuses = []

    def send():
        try:
            statuses.append(api_client().post("/api/v1/contact-requests/", LEAD, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    with lock_held(f"LOCK TABLE {ContactRequest._meta.db_table} IN EXCLUSIVE MODE"):
        for thread in threads:
            thread.start()
        wait_for(lambda: sessions_waiting_for_locks() == 2 and len(statuses) == 2)
        assert statuses == [429, 429]
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [201, 201, 429, 429]
    assert ContactRequest.objects.count() == 2


def test_one_ipv6_host_sends_no_more_contact_requests_by_changing_its_address(world, settings, shared_cache):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "contact_requests": "2/hour"}
    client = api_client()
    statuses = [
        client.post("/api/v1/contact-requests/", LEAD, format="json", REMOTE_ADDR=address).status_code
        for address in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3")
    ]
    assert statuses == [201, 201, 429]
    # Each lead keeps the address it came from.
    addresses = set(
        ContactRequest.objects.filter(email=LEAD["email"]).values_list("submitted_from_ip", flat=True)
    )
    assert addresses == {"2001:db8:1:2::1", "2001:db8:1:2::2"}
    assert (
        client.post(
            "/api/v1/contact-requests/", LEAD, format="json", REMOTE_ADDR="2001:db8:1:3::1"
        ).status_code
        == 201
    )


@pytest.mark.django_db(transaction=True)
def test_requests_sent_at_once_cannot_exceed_the_rate(settings, redis_up):
    """Many requests from one address at the same moment, as several web processes answer them sharing
    Redis: each is counted, so no more than the rate get through and the rest are told when to retry."""
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "5/min"}
    senders = 40
    start = threading.Barrier(senders)
    responses = []

    def send():
        try:
            client = api_client()
            start.wait(timeout=10)
            responses.append(client.get("/api/v1/tiers/", REMOTE_ADDR="203.0.113.9"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 5 + [429] * (senders - 5), (
        f"{statuses.count(200)} of {senders} got through 5/min"
    )
    refused = [response for response in responses if response.status_code == 429]
    assert all(0 < int(response["Retry-After"]) <= 60 for response in refused)
    # The address's rate is used up for everyone sending from it, one by one as well.
    assert api_client().get("/api/v1/tiers/", REMOTE_ADDR="203.0.113.9").status_code == 429


def test_while_redis_is_down_the_rates_let_requests_through(world, settings, redis_down):
    # The cache cannot count (README, REDIS_URL): the API goes on answering rather than refusing everyone.
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "1/min", "token": "1/min"}
    anonymous, signed_in = api_client(), world.client("user_a")
    assert [anonymous.get("/api/v1/tiers/").status_code for _ in range(3)] == [200, 200, 200]
    assert [signed_in.get("/api/v1/tiers/").status_code for _ in range(3)] == [200, 200, 200]
