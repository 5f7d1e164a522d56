"""Request rates: per anonymous IP address, per token (or signed-in user), and a tighter rate for
sending contact requests. Counters live in the default cache, Redis in production, so every web process
shares them.

Rates come from `settings.API_THROTTLE_RATES` at request time (e.g. `{"anon": "120/min"}`), so an operator
can change them with environment variables.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from apn_portal.api.idempotency import stored_response_exists


class PortalRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        # Read again on every request: a rate changed in the settings applies without a restart.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


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


class WorkThrottle(PortalRateThrottle):
    """A rate on work a request does (not on requests as such): a retry with an `Idempotency-Key` whose
    response is stored only gets that response again, so it neither counts nor is refused, and a client
    that retries gets its first answer rather than a 429. The per-address and per-token rates still count
    it, as any request."""

    def allow_request(self, request, view):
        if self.get_cache_key(request, view) is not None and stored_response_exists(request):
            return True
        return super().allow_request(request, view)


class ContactRequestThrottle(WorkThrottle):
    """Sending a contact request, per IP address whoever is signed in: it emails a partner."""

    scope = "contact_requests"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
