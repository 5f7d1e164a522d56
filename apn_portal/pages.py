"""What the signed-in pages of every app share: who is looking (their audience), how a page is rendered
for them, the sign-in asked first (and a form sent signed out kept), the 403 page for the wrong audience, a
service's refusal shown on a form, and the pages for a request Django refuses before any view (400, 403)
and for an error nobody foresaw (500)."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import (
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import defaults

from apn_portal import drafts
from apn_portal.api.exceptions import body_size_limit
from apn_portal.exceptions import DomainError

AUDIENCE_LABELS = {
    "customer": "a customer's staff",
    "partner": "a partner's staff",
    "provider": "the provider's staff",
}


def audience_of(user) -> str:
    """Whom the user works for: "customer", "partner", "provider" (the provider's staff) or "other"."""
    if user.customer_id:
        return "customer"
    if user.partner_id:
        return "partner"
    if user.is_provider_staff:
        return "provider"
    return "other"


def render_page(request, template: str, context: dict, *, status: int = 200):
    """A signed-in page: its templates tell the audiences apart and show times relative to `now`."""
    context = {"audience": audience_of(request.user), "now": timezone.now(), **context}
    return render(request, template, context, status=status)


def not_for_you(request, needed: str):
    """The 403 page: this page is for `needed` (e.g. "a partner's staff")."""
    return render_page(request, "not_for_you.html", {"needed": needed}, status=403)


def signed_in_required(view):
    """Django's login_required, for a page that may take a form. A form sent by someone no longer signed in
    (signed out in another tab, the session ended) is not sent: the sign-in page says so, and what was
    typed is kept for the page the form is on (apn_portal.drafts), where the sign-in leads back to, so the
    same person signing in finds the form filled in again, to send once more if they choose."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            if request.method != "POST":
                return redirect_to_login(request.get_full_path())
            # A form that posts to an address of its own is on the page form_address names.
            page = getattr(request, "form_page", None) or request.get_full_path()
            drafts.draft_keep(request, page)
            response = redirect_to_login(page)
            response.status_code = 303  # followed with a GET, as after any POST
            return response
        with drafts.offered_to_forms(request) as draft:
            try:
                response = view(request, *args, **kwargs)
            except (Http404, PermissionDenied):
                drafts.draft_said_lost(request, draft)  # on the 404 or 403 page
                raise
        if drafts.draft_said_lost(request, draft) and not response.has_header("Location"):
            # The page is written already, before its forms were known to leave the draft: shown again,
            # with the message, at the top where messages are. Messages the page written showed are
            # kept for the one shown instead.
            messages.get_messages(request).used = False
            response = HttpResponseRedirect(request.get_full_path())
        drafts.owner_remembered(request, response)
        return response

    return wrapped


def audience_required(*audiences: str):
    """Only the named kinds of signed-in user (signed_in_required); anyone else gets a 403 page saying whom
    it is for."""

    def decorator(view):
        @wraps(view)
        @signed_in_required
        def wrapped(request, *args, **kwargs):
            if audience_of(request.user) not in audiences:
                return not_for_you(request, " or ".join(AUDIENCE_LABELS[audience] for audience in audiences))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def form_error(form, error: DomainError, aliases: dict[str, str] | None = None) -> None:
    """Show a service's refusal beside the field it names (`aliases` maps service names to form names),
    or above the form."""
    field = (aliases or {}).get(error.field, error.field)
    form.add_error(field if field in form.fields else None, error.message)


def _for_the_api(request) -> bool:
    return request.path.startswith("/api/")


def _unreadable(exception) -> str:
    """What the API says of a request Django could not read. Never the exception's own text, which may
    repeat what the client sent (a Host) and name settings."""
    if isinstance(exception, DisallowedHost):
        return "The Host header names no address this portal answers at."
    if isinstance(exception, TooManyFieldsSent):
        return f"Too many parameters: send at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}."
    if isinstance(exception, TooManyFilesSent):
        return f"Too many files: send at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES}."
    return "The request could not be read."


def bad_request(request, exception):
    """Django's handler400 (a request it refuses before any view: an unknown Host, too many parameters):
    the portal's page (templates/400.html), or for the API the JSON its clients read every other error
    as, a body too large included (413, as the API's views answer it)."""
    if _for_the_api(request):
        if isinstance(exception, RequestDataTooBig):
            detail = f"The request body is too large: the API accepts at most {body_size_limit()}."
            return JsonResponse({"detail": detail}, status=413)
        return JsonResponse({"detail": _unreadable(exception)}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    """Django's handler403 (a PermissionDenied raised outside the API's views): the portal's page
    (templates/403.html), or for the API JSON. The CSRF check has its own page (apn_portal.csrf)."""
    if _for_the_api(request):
        detail = str(exception) or "You do not have permission to perform this action."
        return JsonResponse({"detail": detail}, status=403)
    return defaults.permission_denied(request, exception)


def server_error(request):
    """Django's handler500: the portal's page (templates/500.html), or for the API the JSON its clients
    read every other error as."""
    if _for_the_api(request):
        return JsonResponse(
            {"detail": "Something went wrong on our side; it has been logged. Try again in a moment."},
            status=500,
        )
    return defaults.server_error(request)
