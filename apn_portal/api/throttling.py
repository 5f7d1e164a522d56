"""Request rates: per anonymous IP address (an IPv6 client's /64, see `apn_portal.http.throttle_address`),
per token (or signed-in user), and a tighter rate for sending contact requests. Counters live in the
default cache, Redis in production, so every web process shares them, and are taken by atomic increments,
so requests answered at once by several processes are each counted.

Rates come from `settings.API_THROTTLE_RATES` at request time (e.g. `{"anon": "120/min"}`), so an operator
can change them with environment variables.
"""

import contextlib

from django.conf import settings
from rest_framework import status
from rest_framework.throttling import SimpleRateThrottle

from apn_portal.api.idempotency import REPLAY_HEADER, stored_response_exists
from apn_portal.http import client_throttle_address


class PortalRateThrottle(SimpleRateThrottle):
    """A rate counted in the shared cache, in a window that starts with the first request counted (DRF's
    own keeps a list of times that each web process reads, appends to and writes back, so requests
    answered at once by several processes were not all counted):

    - a request takes its slot by one atomic increment of the window's counter, so requests sent at once
      cannot get more through between them than the rate (those past it get 429, and give back the slot
      they took: a refused request is not counted);
    - `Retry-After` says how many seconds remain until the window ends;
    - while the cache cannot be reached (`apn_portal.cache.FailOpenRedisCache`) every window is new and
      every request the first of its window: let through, never refused."""

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

    def _window_started(self) -> float:
        window = f"{self.key}:window"
        for _ in range(2):
            if self.cache.add(window, self.now, self.duration):
                return self.now
            started = self.cache.get(window)
            if started is not None:
                return started
        return self.now  # the window ends between add() and get() only on a very slow cache

    def _take_slot(self) -> str | None:
        """The counter the slot was taken from, or None when the window has none left."""
        for _ in range(2):
            self.started = self._window_started()
            # A counter per window, so a slot given back after its window ended frees none in the next.
            counter = f"{self.key}:{self.started}"
            self.cache.add(counter, 0, max(1, int(self.started + self.duration - self.now) + 1))
            try:
                taken = self.cache.incr(counter)
            except ValueError:  # the window ended between add() and incr(): count in the next one
                continue
            if taken > self.num_requests:
                _give_back(counter)
                return None
            return counter
        return None

    def wait(self):
        # Never more than the window: another process may have started it a moment after this one's now.
        remaining = getattr(self, "started", self.now) + self.duration - self.now
        return min(float(self.duration), max(0.0, remaining))


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


# The keys of the work slots a request took, on the request, to give back if it did no work.
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


def _give_back(counter: str) -> None:
    with contextlib.suppress(ValueError):  # the window ended meanwhile: nothing to give back
        PortalRateThrottle.cache.decr(counter)


def give_back_unused_work(request, response) -> None:
    """Called with each answer: the slots a request took are given back unless it did its work (a
    success that was not the replay of a stored response)."""
    slots = getattr(request, WORK_SLOTS, ())
    setattr(request, WORK_SLOTS, [])
    if status.is_success(response.status_code) and not response.has_header(REPLAY_HEADER):
        return
    for counter in slots:
        _give_back(counter)


class ContactRequestThrottle(WorkThrottle):
    """Sending a contact request, per IP address whoever is signed in: it emails a partner."""

    scope = "contact_requests"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
