"""Django's Redis cache, failing open.

The cache only saves work (Find-a-Partner's vocabulary and counts) and shares counters between web
processes (the throttles). Production keeps it in the Redis that is also the Celery broker, so when that
Redis is down or unreachable, the pages must go on from the database and a customer's contact request
must still be stored: a read answers as a miss, a write is skipped, and a counter counts as if its window
had just started (the rate limits' script, `apn_portal.rate_limit`, run through `fail_open`, counts
nothing), so a throttle lets the request through rather than refusing everyone. The outage is logged as a
warning, once and then at most once a minute per process while it lasts, and the recovery once.

A Redis that takes connections and never answers (hung, or behind a dead link) costs a call its socket
timeout (a second, settings.CACHES), and a page asks the cache several times: so after one call finds
Redis unreachable, every call in this process answers as above without asking it for
CACHE_PAUSE_SECONDS, and the next one after that tries it again (apn_portal.breaker, as for the broker).

django-redis's IGNORE_EXCEPTIONS would not do: an ignored error makes its incr() and add() answer None,
so a throttle comparing the count it took with its limit fails with a TypeError (an API throttle), and
one asking add() whether it was first refuses (a password reset's email is not sent).

Only the errors that say Redis cannot serve are caught. Any other (a value that is not an integer to
incr(), a bad key) is a bug and is raised as before.
"""

import logging
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis import exceptions

from apn_portal.breaker import Breaker

logger = logging.getLogger(__name__)

# Down, restarting or loading its data (BusyLoadingError is a ConnectionError), too slow (the socket
# timeouts in settings.CACHES), a replica after a failover, or out of memory.
UNAVAILABLE = (
    exceptions.ConnectionError,
    exceptions.TimeoutError,
    exceptions.ReadOnlyError,
    exceptions.OutOfMemoryError,
)
# Of those, what left Redis unasked or unanswered, and so pauses the calls: a read-only replica or a full
# Redis answers at once, and still serves reads.
UNREACHABLE = (exceptions.ConnectionError, exceptions.TimeoutError)
WARN_AGAIN_AFTER_SECONDS = 60

# When each cache in an outage was last warned about, by its redacted location; shared by the threads of
# a process, since Django keeps one cache object per thread.
_outages: dict[str, float] = {}
_outages_lock = threading.Lock()
# Each cache's pause after Redis could not be reached, by its redacted location, shared the same way.
_breakers: dict[str, Breaker] = {}


def cache_pauses_end() -> None:
    """Try every cache's Redis again at its next call (tests start each with Redis taken as reachable)."""
    with _outages_lock:
        breakers = list(_breakers.values())
    for breaker in breakers:
        breaker.reset()


def _redacted(server: str) -> str:
    # The location may carry Redis's password, which no log should.
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


class FailOpenRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._where = ", ".join(_redacted(s) for s in self._servers)
        with _outages_lock:
            self._breaker = _breakers.setdefault(self._where, Breaker())

    def _attempt(self, when_unavailable, operation, *args, **kwargs):
        if self._breaker.tripped():
            return when_unavailable
        try:
            result = operation(*args, **kwargs)
        except UNAVAILABLE as exc:
            if isinstance(exc, UNREACHABLE):
                self._breaker.trip(settings.CACHE_PAUSE_SECONDS)
            self._unavailable(exc)
            return when_unavailable
        if self._where in _outages:
            self._available()
        return result

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        with _outages_lock:
            last = _outages.get(self._where)
            if last is not None and now - last < WARN_AGAIN_AFTER_SECONDS:
                return
            _outages[self._where] = now
        logger.warning(
            "Cache %s cannot be reached (%s: %s): reads miss and writes are skipped until it answers",
            self._where,
            type(exc).__name__,
            exc,
        )

    def _available(self) -> None:
        with _outages_lock:
            was_out = _outages.pop(self._where, None) is not None
        if was_out:
            logger.info("Cache %s answers again", self._where)

    def fail_open(self, when_unavailable, operation, *args, **kwargs):
        """`operation` (Redis commands the cache has no method for, such as a throttle's script), failing
        open as every method here: `when_unavailable` while Redis cannot be reached."""
        return self._attempt(when_unavailable, operation, *args, **kwargs)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        # True, "stored, you are the first": what asks add() that goes ahead (a throttle's window, a
        # password reset's "sent lately") must not be stopped by a cache that remembers nothing.
        return self._attempt(True, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._attempt(default, super().get, key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._attempt(None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._attempt(False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._attempt(False, super().delete, key, version)

    def get_many(self, keys, version=None):
        return self._attempt({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._attempt(False, super().has_key, key, version)

    def incr(self, key, delta=1, version=None):
        # As if counted from the 0 that add() "stored": the first of a window, under every limit. decr()
        # comes here too, with -delta. Not ValueError ("no such key"): a throttle that retries on it and
        # then refuses would refuse everyone while the cache is down.
        return self._attempt(delta, super().incr, key, delta, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        # The keys that could not be stored: all of them.
        return self._attempt(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._attempt(None, super().delete_many, keys, version)

    def clear(self):
        return self._attempt(False, super().clear)
