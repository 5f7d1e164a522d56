"""Middleware of the portal's own."""

import logging

from django.shortcuts import render
from django.utils.cache import patch_cache_control

from apn_portal.exceptions import rolled_back_by_the_database
from apn_portal.health import healthz, readyz

logger = logging.getLogger(__name__)


def _directives(response) -> set[str]:
    return {part.split("=")[0].strip().lower() for part in response.get("Cache-Control", "").split(",")}


# The probes answer by exact path only: /healthz/ or /readyz/ still go the way of every other path.
_PROBES = {"/healthz": healthz, "/readyz": readyz}


def health_probes_whatever_the_host(get_response):
    """/healthz and /readyz answer whatever the Host header names: a container's, a load balancer's or
    Kubernetes' liveness and readiness probes ask by the address they reached (10.0.4.17:8000), which
    ALLOWED_HOSTS rightly does not list, and took the 400 for the portal being down (or a pod for never
    ready). The probes say only whether the process, the database and the broker answer, which anyone may
    ask by the portal's name already, so nothing more is given away.
    Before CommonMiddleware, the first to check the Host (for every other path, which still answers 400);
    after SecurityMiddleware, whose headers it keeps (its HTTPS redirect exempts both)."""

    def middleware(request):
        probe = _PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return get_response(request)

    return middleware


def page_for_a_method_not_allowed(get_response):
    """A page asked with a method it does not take (PUT /partners/, a POST-only action's address opened
    from a bookmark) answers the portal's 405 page, in its layout with a way on, rather than Django's blank
    one; the status and the Allow header stay. The API answers its own, in JSON."""

    def middleware(request):
        response = get_response(request)
        if (
            response.status_code == 405
            and not request.path.startswith("/api/")
            and not response.streaming
            and not response.content
        ):
            page = render(request, "405.html", status=405)
            if response.has_header("Allow"):
                page["Allow"] = response["Allow"]
            return page
        return response

    return middleware


def private_to_the_signed_in_user(get_response):
    """Every response to a signed-in user (by session or API token), on any page, the admin's as well as
    the partner area's, is `Cache-Control: no-store, private`: no proxy or browser keeps a copy of what
    is for them only, so none shows it after they sign out (the admin's own never_cache already says
    so). A visitor's pages (Find a Partner) are left as they are, and so is a response that says itself
    it is `public` (a partner's logo), before anyone asks who is signed in."""

    def middleware(request):
        response = get_response(request)
        if "public" not in _directives(response) and request.user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response

    return middleware


class TryAgainAfterRollback:
    """A page or an admin save that PostgreSQL rolled back because another request wanted the same rows
    at the same moment (a deadlock it resolved) is the portal's page saying so, a 409, not a 500: nothing
    of it was stored, and sending it again goes through. The API answers the same in JSON
    (apn_portal.api.exceptions)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not rolled_back_by_the_database(exception):
            return None
        logger.warning("A request was rolled back by the database: %s", exception)
        return render(request, "try_again.html", status=409)
