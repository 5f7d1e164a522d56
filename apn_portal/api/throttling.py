"""Request rates: per anonymous IP address (an IPv6 client's /64, see `apn_portal.http.throttle_address`),
per token (or signed-in user), and a tighter rate for sending contact requests. Counters live in the
default cache, Redis in production, so every web process shares them, and are taken atomically, so requests
answered at once by several processes are each counted; each rate holds over any period of its length
(`PortalRateThrottle`, `apn_portal.rate_limit`).

Rates come from `settings.API_THROTTLE_RATES` at request time (e.g. `{"anon": "120/min"}`), so an operator
can change them with environment variables.
"""

from django.conf import settings
from rest_framework import status
from rest_framework.throttling import SimpleRateThrottle

from apn_portal import rate_limit
from apn_portal.api.idempotency import REPLAY_HEADER, stored_response_exists
from apn_portal.http import client_throttle_address


class PortalRateThrottle(SimpleRateThrottle):
    """A rate held over any period of its length (`3/min`: no more than 3 requests in any 60 seconds), as
    DRF's own throttle meant it, counted as every limit of the portal is (`apn_portal.rate_limit`): each
    request atomically in the shared cache (DRF's reads, appends to and writes back a list of times, so
    requests answered at once by several processes were not all counted; a counter per window let twice
    the rate through around a window's end). Those past the rate get 429 and are not counted;
    `Retry-After` says in how many seconds the oldest request counted is a period old (at most the
    period); while Redis cannot be reached every request is let through, never refused."""

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

    def _take_slot(self) -> rate_limit.Slot | None:
        """The request as counted, to give it back, or None when the last period has no room left."""
        # Its own name: DRF's throttle kept a list of times at self.key itself.
        attempt = rate_limit.take_slot(f"{self.key}:log", self.num_requests, self.duration, self.now)
        if not attempt.allowed:
            self.wait_seconds = attempt.retry_after
        return attempt.slot

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


def give_back_unused_work(request, response) -> None:
    """Called with each answer: the slots a request took are given back unless it did its work (a
    success that was not the replay of a stored response)."""
    slots = getattr(request, WORK_SLOTS, ())
    setattr(request, WORK_SLOTS, [])
    if status.is_success(response.status_code) and not response.has_header(REPLAY_HEADER):
        return
    for slot in slots:
        rate_limit.give_back(slot)


class ContactRequestThrottle(WorkThrottle):
    """Sending a contact request, per IP address whoever is signed in: it emails a partner."""

    scope = "contact_requests"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
