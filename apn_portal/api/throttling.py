"""Request rates: per anonymous IP address (an IPv6 client's /64, see `apn_portal.http.throttle_address`),
per token (or signed-in user), and a tighter rate for sending contact requests. Counters live in the
default cache, Redis in production, so every web process shares them, and are taken atomically, so requests
answered at once by several processes are each counted; each rate holds over any period of its length
(`PortalRateThrottle`).

Rates come from `settings.API_THROTTLE_RATES` at request time (e.g. `{"anon": "120/min"}`), so an operator
can change them with environment variables.
"""

import secrets
import threading

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import status
from rest_framework.throttling import SimpleRateThrottle

from apn_portal.api.idempotency import REPLAY_HEADER, stored_response_exists
from apn_portal.cache import FailOpenRedisCache
from apn_portal.http import client_throttle_address

# Atomically, in Redis: forget the requests counted that are a period old, count the others, and count
# this one if there is room; else answer the time of the request whose leaving makes room, for Retry-After.
# A request is counted at its time (ARGV[1]) or, if a request counted before it has a later one (its
# process read the clock after this one did), at that time: the times counted never go back, so no period
# holds more than the rate, whatever order requests sent at once are counted in.
SLIDING_LOG = """
local key, now, period, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local latest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
if latest and tonumber(latest) > now then
    now = tonumber(latest)
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.6f', now - period))
local counted = redis.call('ZCARD', key)
if counted < limit then
    redis.call('ZADD', key, string.format('%.6f', now), ARGV[4])
    redis.call('PEXPIRE', key, math.ceil(period * 1000))
    return false
end
return redis.call('ZRANGE', key, counted - limit, counted - limit, 'WITHSCORES')[2]
"""

# The local-memory cache lives in the process: its lists are read and written under this lock.
_local_lock = threading.Lock()


class PortalRateThrottle(SimpleRateThrottle):
    """A rate held over any period of its length (`3/min`: no more than 3 requests in any 60 seconds), as
    DRF's own throttle meant it, in the shared cache, each request counted atomically (DRF's reads, appends
    to and writes back a list of times, so requests answered at once by several processes were not all
    counted; a counter per window let twice the rate through around a window's end):

    - the times of the requests of the last period are kept, in Redis as a sorted set that one script
      trims, counts and adds to (`SLIDING_LOG`), so requests sent at once cannot get more through between
      them than the rate; in the local-memory cache (no Redis: one process) as a list, under a lock.
      Those past the rate get 429 and are not counted;
    - `Retry-After` says in how many seconds the oldest request counted is a period old, when the next
      one can pass (at most the period);
    - while Redis cannot be reached (`apn_portal.cache.FailOpenRedisCache`) nothing is counted and every
      request is let through, never refused.

    Another cache backend would be counted as the local-memory one, atomically only within a process."""

    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        """The client's address as every limit counts it: an IPv6 client by its /64. Clients whose
        address is unknown (a proxy that did not know it) are counted together."""
        return client_throttle_address(request) or "unknown"

    def allow_request(self, request, view):
        self.key = self.key_to_count(request, view)
        self.slot = None
        if self.key is None:
            return True
        self.now = self.timer()
        self.slot = self._take_slot()
        return self.slot is not None

    def key_to_count(self, request, view) -> str | None:
        """The request's counter, or None when this rate does not count it."""
        # Read again on every request: a rate changed in the settings applies without a restart.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return self.get_cache_key(request, view) if self.rate else None

    def _take_slot(self) -> tuple[str, str, int] | None:
        """The request as counted (the log's key, its entry there and the period, to give it back), or
        None when the last period has no room left."""
        # Its own name: DRF's throttle kept a list of times at self.key itself.
        log, entry = f"{self.key}:log", secrets.token_hex(8)
        if self.num_requests < 1:
            frees_up = self.now
        elif isinstance(backend := caches[DEFAULT_CACHE_ALIAS], RedisCache):
            key = backend.make_and_validate_key(log)
            args = [repr(self.now), self.duration, self.num_requests, entry]

            def run(client):
                return client.register_script(SLIDING_LOG)(keys=[key], args=args, client=client)

            frees_up = _in_redis(backend, key, run, when_unavailable=None)
        else:
            frees_up = self._take_locally(backend, log, entry)
        if frees_up is None:
            return log, entry, self.duration
        self.wait_seconds = min(float(self.duration), max(float(frees_up) + self.duration - self.now, 0.001))
        return None

    def _take_locally(self, backend, log: str, entry: str) -> float | None:
        with _local_lock:
            counted = backend.get(log, [])
            # As in Redis (SLIDING_LOG): the times counted never go back.
            now = max(self.now, counted[-1][0]) if counted else self.now
            counted = [e for e in counted if e[0] > now - self.duration]
            if len(counted) >= self.num_requests:
                return counted[len(counted) - self.num_requests][0]
            backend.set(log, [*counted, (now, entry)], self.duration)
        return None

    def wait(self):
        return getattr(self, "wait_seconds", float(self.duration))


class AnonymousIpThrottle(PortalRateThrottle):
    scope = "anon"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenThrottle(PortalRateThrottle):
    """Per token for token-authenticated calls; per user for the browsable API's session."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return None
        token_key = getattr(request.auth, "key", None)
        ident = f"token:{token_key}" if token_key else f"user:{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


# The work slots a request took, on the request, to give back if it did no work.
WORK_SLOTS = "_work_throttle_slots"


class WorkThrottle(PortalRateThrottle):
    """A rate on work a request does (not on requests as such), counted as every rate is
    (`PortalRateThrottle`), and besides:

    - a request that did no work gives its slot back once answered (`give_back_unused_work`): one refused
      (400 for bad input, 404, 409, a 429 from another throttle), so a client that fixes its request and
      sends it again still has its whole rate;
    - a retry with an `Idempotency-Key` whose response is stored only gets that response again, so it
      neither counts nor is refused, and a client that retries gets its first answer rather than a 429.

    The per-address and per-token rates still count every request, as any request."""

    def key_to_count(self, request, view) -> str | None:
        key = super().key_to_count(request, view)
        if key is None or stored_response_exists(request):
            return None
        return key

    def allow_request(self, request, view):
        if not super().allow_request(request, view):
            return False
        if self.slot is not None:
            setattr(request, WORK_SLOTS, [*getattr(request, WORK_SLOTS, ()), self.slot])
        return True


def _in_redis(backend: RedisCache, key: str, run, when_unavailable):
    """`run(client)` with the Redis client that holds `key`; the production cache fails open."""

    def call():
        return run(backend._cache.get_client(key, write=True))

    if isinstance(backend, FailOpenRedisCache):
        return backend.fail_open(when_unavailable, call)
    return call()


def _give_back(slot: tuple[str, str, int]) -> None:
    key, entry, duration = slot
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        key = backend.make_and_validate_key(key)
        _in_redis(backend, key, lambda client: client.zrem(key, entry), when_unavailable=None)
        return
    with _local_lock:
        counted = backend.get(key, [])
        if any(e[1] == entry for e in counted):
            backend.set(key, [e for e in counted if e[1] != entry], duration)


def give_back_unused_work(request, response) -> None:
    """Called with each answer: the slots a request took are given back unless it did its work (a
    success that was not the replay of a stored response)."""
    slots = getattr(request, WORK_SLOTS, ())
    setattr(request, WORK_SLOTS, [])
    if status.is_success(response.status_code) and not response.has_header(REPLAY_HEADER):
        return
    for slot in slots:
        _give_back(slot)


class ContactRequestThrottle(WorkThrottle):
    """Sending a contact request, per IP address whoever is signed in: it emails a partner."""

    scope = "contact_requests"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
