"""Rate limits held over any period of their length (`limit` requests in `period` seconds: no more than
`limit` pass in any `period` seconds), in the default cache, so every web process shares them (Redis in
production). Every limit of the portal counts with it: the API's throttles (`apn_portal.api.throttling`)
and the contact form's limit per address (`partners.views.contact`).

- A limit keeps the times of the requests of its last period (a sliding log), not a counter per window,
  which would let twice the limit through around a window's end.
- Each request is counted atomically, so requests sent at once cannot get more through between them than
  the limit: in Redis as a sorted set that one script trims, counts and adds to (`SLIDING_LOG`); in the
  local-memory cache (no Redis: one process) as a list, under a lock. Another cache backend is counted as
  the local-memory one, atomically only within a process.
- A request refused is not counted; one counted can be given back (`give_back`), when what it asked for
  was not done after all.
- `retry_after` is in how many seconds the oldest request counted is a period old, when the next one can
  pass (at most the period).
- While Redis cannot be reached (`apn_portal.cache.FailOpenRedisCache`), nothing is counted and every
  request is let through, never refused.
"""

import secrets
import threading
import time
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache

from apn_portal.cache import FailOpenRedisCache

# Atomically, in Redis: forget the requests counted that are a period old, count the others, and count
# this one if there is room; else answer the time of the request whose leaving makes room, for Retry-After.
# A request is counted at its time (ARGV[1]) or, if a request counted before it has a later one (its
# process read the clock after this one did), at that time: the times counted never go back, so no period
# holds more than the limit, whatever order requests sent at once are counted in.
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


@dataclass(frozen=True)
class Slot:
    """A request as counted: the log's key, its entry there and the period, to give it back."""

    log: str
    entry: str
    period: float


@dataclass(frozen=True)
class Attempt:
    """A request's attempt at a limit: counted (`slot`), or refused for `retry_after` seconds."""

    slot: Slot | None
    retry_after: float = 0.0

    @property
    def allowed(self) -> bool:
        return self.slot is not None


def take_slot(log: str, limit: int, period: float, now: float | None = None) -> Attempt:
    """Count a request in the log `log` (a cache key of the limit's own, e.g. its scope and the client's
    address) if its last `period` seconds hold fewer than `limit` requests; `now` is the request's time
    (`time.time()` unless given)."""
    now = time.time() if now is None else now
    entry = secrets.token_hex(8)
    if limit < 1:
        frees_up = now
    elif isinstance(backend := caches[DEFAULT_CACHE_ALIAS], RedisCache):
        key = backend.make_and_validate_key(log)
        args = [repr(now), period, limit, entry]

        def run(client):
            return client.register_script(SLIDING_LOG)(keys=[key], args=args, client=client)

        frees_up = _in_redis(backend, key, run, when_unavailable=None)
    else:
        frees_up = _take_locally(backend, log, entry, limit, period, now)
    if frees_up is None:
        return Attempt(Slot(log, entry, period))
    return Attempt(None, retry_after=min(float(period), max(float(frees_up) + period - now, 0.001)))


def _take_locally(backend, log: str, entry: str, limit: int, period: float, now: float) -> float | None:
    with _local_lock:
        counted = backend.get(log, [])
        # As in Redis (SLIDING_LOG): the times counted never go back.
        now = max(now, counted[-1][0]) if counted else now
        counted = [e for e in counted if e[0] > now - period]
        if len(counted) >= limit:
            return counted[len(counted) - limit][0]
        backend.set(log, [*counted, (now, entry)], period)
    return None


def give_back(slot: Slot) -> None:
    """Forget a request counted: its place in the limit is free again at once."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        key = backend.make_and_validate_key(slot.log)
        _in_redis(backend, key, lambda client: client.zrem(key, slot.entry), when_unavailable=None)
        return
    with _local_lock:
        counted = backend.get(slot.log, [])
        if any(e[1] == slot.entry for e in counted):
            backend.set(slot.log, [e for e in counted if e[1] != slot.entry], slot.period)


def _in_redis(backend: RedisCache, key: str, run, when_unavailable):
    """`run(client)` with the Redis client that holds `key`; the production cache fails open."""

    def call():
        return run(backend._cache.get_client(key, write=True))

    if isinstance(backend, FailOpenRedisCache):
        return backend.fail_open(when_unavailable, call)
    return call()
