"""The contact form's limit per address (5 in 10 minutes) holds over any ten minutes, not per window: it is
counted as the API's rates are (`apn_portal.rate_limit`), in the local-memory cache of a portal without
Redis and in the production cache on Redis."""

import datetime

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from partners.models import ContactRequest
from partners.tests.test_contact_submitted_twice import send
from tests.factories import PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db

NINE = datetime.datetime(2026, 11, 30, 9, 0, 0, tzinfo=datetime.UTC)


def at(seconds: float):
    """The clock at 9:00 and so many seconds, standing still."""
    return time_machine.travel(NINE + datetime.timedelta(seconds=seconds), tick=False)


@pytest.fixture(params=["local memory", "redis"])
def each_cache(request, settings):
    """The local-memory cache of a portal without Redis, then the production cache on Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_up")
        return
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


@pytest.fixture
def partner():
    partner = PartnerFactory(name="Acme Cloud", slug="acme-cloud")
    PartnerUserFactory(partner=partner, email="sales@acme.example")
    return partner


def statuses(partner, count: int, **overrides) -> list[int]:
    """`count` different requests from one address, each from a freshly loaded form."""
    return [
        send(Client(), partner, message=f"Request {number} at this moment.", **overrides).status_code
        for number in range(count)
    ]


def test_a_burst_around_the_end_of_ten_minutes_gets_no_more_than_five_through(partner, each_cache):
    """One request at 9:00:00, four at 9:09:59, three at 9:10:01. Counted in a window that started at
    9:00:00, the three at 9:10:01 would all be stored (seven within two seconds, and two more could
    follow); counted over the last ten minutes, only the one that 9:00:00's request makes room for is."""
    with at(0):
        assert statuses(partner, 1) == [303]
    with at(599):
        assert statuses(partner, 4) == [303] * 4
    with at(601):
        assert statuses(partner, 2) == [303, 429]
        refused = send(Client(), partner, message="One too many, right after the window would end.")
    assert refused.status_code == 429
    assert "Please wait ten minutes" in refused.content.decode()
    # The next one can be sent when 9:09:59's requests are ten minutes old, and not before.
    assert refused["Retry-After"] == "598"
    with at(1198.5):
        assert statuses(partner, 1) == [429]
    with at(1199):
        assert statuses(partner, 5) == [303] * 4 + [429]
    assert ContactRequest.objects.count() == 10


def test_a_refused_form_does_not_use_up_the_limit(partner, each_cache):
    # Sent with a mistake, then corrected: the five an address may send are all left.
    with at(0):
        assert statuses(partner, 3, email="not-an-email") == [400] * 3
        assert statuses(partner, 6) == [303] * 5 + [429]
    assert ContactRequest.objects.count() == 5
