"""Contact requests sent from a partner's profile: validate, throttle, store, confirm."""

import math

from django.http import Http404
from django.shortcuts import get_object_or_404, render

from apn_portal import rate_limit
from apn_portal.exceptions import DomainError
from apn_portal.http import client_address, form_address, redirect_see_other, throttle_address
from apn_portal.pages import form_error
from partners.forms import ContactRequestForm
from partners.models import Partner, contact_request_new_reference
from partners.services import contact_request_submit, contact_request_submitted_before

# Each address (an IPv6 client's /64) may send this many requests in any period of this length, counted as
# every limit of the portal is (`apn_portal.rate_limit`); enough for a person, too few for a spammer.
CONTACT_THROTTLE_LIMIT = 5
CONTACT_THROTTLE_WINDOW_SECONDS = 10 * 60
# The confirmation page is shown only to the session that sent the request.
SENT_SESSION_KEY = "contact_requests_sent"
SENT_REMEMBERED = 20


def contact_form_for(request, partner: Partner) -> ContactRequestForm:
    """The empty contact form for a partner's profile page.

    The page includes it as
    `{% include "partners/_contact_form.html" with partner=partner contact_form=contact_form %}`.
    Each one carries a new submission token, so its submit stores one request however often it is sent.
    """
    return ContactRequestForm()


def _throttle_key(ip: str | None) -> str:
    # An IPv6 client by its /64, which it may use all of; the request stores its full address. The log of
    # the last period's requests has a name of its own: the fixed window's counter had the bare key.
    return f"contact-request-throttle:{throttle_address(ip) or 'unknown'}:log"


def _count_submission(ip: str | None) -> rate_limit.Attempt:
    """Count a request from `ip`, or refuse it (uncounted) when the last period already holds the limit.
    Counted atomically, so requests sent at one instant can never get more than the limit through."""
    return rate_limit.take_slot(_throttle_key(ip), CONTACT_THROTTLE_LIMIT, CONTACT_THROTTLE_WINDOW_SECONDS)


def _remember_sent(request, reference: str, partner: Partner) -> None:
    sent = dict(request.session.get(SENT_SESSION_KEY, {}))
    sent[reference] = {"partner_name": partner.name, "partner_slug": partner.slug}
    request.session[SENT_SESSION_KEY] = dict(list(sent.items())[-SENT_REMEMBERED:])


def _form_page(request, partner, form, status):
    form.keep_a_submission_token()
    return render(
        request,
        "partners/contact_form_page.html",
        {"partner": partner, "contact_form": form},
        status=status,
    )


@form_address("partners:profile", anchor="#contact")
def contact_request_create(request, slug):
    partner = get_object_or_404(Partner, slug=slug, is_published=True)
    ip = client_address(request)
    form = ContactRequestForm(request.POST)
    is_valid = form.is_valid()
    token = form.submission_token() if is_valid else None
    if is_valid and token and not form.is_spam():
        # The same submit again (a double click, Back and resubmit): the customer sees the confirmation of
        # the request it stored, and the throttle, which limits new requests, is not asked.
        earlier = contact_request_submitted_before(
            partner=partner, data=form.request_data(), submission_token=token
        )
        if earlier is not None:
            return _confirm(request, earlier.reference, partner)
    # Counted before it is looked at further, so any request over the limit, invalid or not, is refused; a
    # form refused for what it says gives its place back, as does a repeat the service recognises (a
    # submit sent twice at once: both were counted before the service found the second a repeat).
    attempt = _count_submission(ip)
    if not attempt.allowed:
        return _throttled_page(request, partner, form, attempt.retry_after)
    if not is_valid:
        rate_limit.give_back(attempt.slot)
        return _form_page(request, partner, form, status=400)
    if form.is_spam():
        # A bot filled the trap: it gets what a person would, and nothing is stored or sent.
        return _confirm(request, contact_request_new_reference(), partner)
    try:
        contact_request, created = contact_request_submit(
            partner=partner, data=form.request_data(), ip=ip, submission_token=token
        )
    except DomainError as exc:
        form_error(form, exc)
        return _form_page(request, partner, form, status=400)
    if not created:
        rate_limit.give_back(attempt.slot)
    return _confirm(request, contact_request.reference, partner)


def _throttled_page(request, partner, form, retry_after: float):
    # What the customer typed is shown back (is_valid() ran), with its own errors if any. Ten minutes is
    # the longest wait; Retry-After says when the oldest request counted leaves the period.
    form.add_error(
        None,
        "You have sent several requests in the last few minutes. "
        "Please wait ten minutes and send this one again; what you typed is kept below.",
    )
    response = _form_page(request, partner, form, status=429)
    response["Retry-After"] = str(math.ceil(retry_after))
    return response


def _confirm(request, reference: str, partner: Partner):
    _remember_sent(request, reference, partner)
    return redirect_see_other("partners:contact-sent", reference=reference)


def contact_request_sent(request, reference):
    sent = request.session.get(SENT_SESSION_KEY, {}).get(reference)
    if sent is None:
        raise Http404("No contact request with this reference was sent from this browser.")
    return render(request, "partners/contact_sent.html", {"reference": reference, **sent})
