"""Contact requests sent from a partner's profile: validate, throttle, store, confirm."""

import contextlib

from django.core.cache import cache
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from apn_portal.exceptions import DomainError
from apn_portal.http import client_address, form_address, redirect_see_other, throttle_address
from apn_portal.pages import form_error
from partners.forms import ContactRequestForm
from partners.models import Partner, contact_request_new_reference
from partners.services import contact_request_submit, contact_request_submitted_before

# Each address (an IPv6 client's /64) may send this many requests per window; enough for a person, too
# few for a spammer.
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
    # An IPv6 client by its /64, which it may use all of; the request stores its full address.
    return f"contact-request-throttle:{throttle_address(ip) or 'unknown'}"


def _is_throttled(ip: str | None) -> bool:
    return (cache.get(_throttle_key(ip)) or 0) >= CONTACT_THROTTLE_LIMIT


def _count_submission(ip: str | None) -> bool:
    """Count a new request from `ip`; False, and uncounted, when it is one over the limit. The count
    taken is the answer, so requests sent at one instant can never all read a count under the limit
    before any of them adds to it."""
    key = _throttle_key(ip)
    # add() starts the window only once; incr() is atomic on Redis and in local memory alike.
    cache.add(key, 0, CONTACT_THROTTLE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add() and incr()
        cache.set(key, 1, CONTACT_THROTTLE_WINDOW_SECONDS)
        count = 1
    if count > CONTACT_THROTTLE_LIMIT:
        _uncount_submission(ip)
        return False
    return True


def _uncount_submission(ip: str | None) -> None:
    # A submit sent twice at once: both were counted before the service found the second a repeat. A
    # window that ended meanwhile has nothing to give back.
    with contextlib.suppress(ValueError):
        cache.decr(_throttle_key(ip))


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
    if _is_throttled(ip):
        return _throttled_page(request, partner, form)
    if not is_valid:
        return _form_page(request, partner, form, status=400)
    if not _count_submission(ip):
        return _throttled_page(request, partner, form)
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
        _uncount_submission(ip)
    return _confirm(request, contact_request.reference, partner)


def _throttled_page(request, partner, form):
    # What the customer typed is shown back (is_valid() ran), with its own errors if any.
    form.add_error(
        None,
        "You have sent several requests in the last few minutes. "
        "Please wait ten minutes and send this one again; what you typed is kept below.",
    )
    return _form_page(request, partner, form, status=429)


def _confirm(request, reference: str, partner: Partner):
    _remember_sent(request, reference, partner)
    return redirect_see_other("partners:contact-sent", reference=reference)


def contact_request_sent(request, reference):
    sent = request.session.get(SENT_SESSION_KEY, {}).get(reference)
    if sent is None:
        raise Http404("No contact request with this reference was sent from this browser.")
    return render(request, "partners/contact_sent.html", {"reference": reference, **sent})
