"""Contact requests sent from a partner's profile: validate, throttle, store, confirm."""

from django.core.cache import cache
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from apn_portal.exceptions import DomainError
from apn_portal.http import client_address, redirect_see_other
from apn_portal.pages import form_error
from partners.forms import ContactRequestForm
from partners.models import Partner, contact_request_new_reference
from partners.services import contact_request_create as contact_request_store

# Each address may send this many requests per window; enough for a person, too few for a spammer.
CONTACT_THROTTLE_LIMIT = 5
CONTACT_THROTTLE_WINDOW_SECONDS = 10 * 60
# The confirmation page is shown only to the session that sent the request.
SENT_SESSION_KEY = "contact_requests_sent"
SENT_REMEMBERED = 20


def contact_form_for(request, partner: Partner) -> ContactRequestForm:
    """The empty contact form for a partner's profile page.

    The page includes it as
    `{% include "partners/_contact_form.html" with partner=partner contact_form=contact_form %}`.
    """
    return ContactRequestForm()


def _throttle_key(ip: str | None) -> str:
    return f"contact-request-throttle:{ip or 'unknown'}"


def _is_throttled(ip: str | None) -> bool:
    return (cache.get(_throttle_key(ip)) or 0) >= CONTACT_THROTTLE_LIMIT


def _count_submission(ip: str | None) -> None:
    key = _throttle_key(ip)
    # add() starts the window only once; incr() is atomic on Redis and in local memory alike.
    cache.add(key, 0, CONTACT_THROTTLE_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # the window ended between add() and incr()
        cache.set(key, 1, CONTACT_THROTTLE_WINDOW_SECONDS)


def _remember_sent(request, reference: str, partner: Partner) -> None:
    sent = dict(request.session.get(SENT_SESSION_KEY, {}))
    sent[reference] = {"partner_name": partner.name, "partner_slug": partner.slug}
    request.session[SENT_SESSION_KEY] = dict(list(sent.items())[-SENT_REMEMBERED:])


def _form_page(request, partner, form, status):
    return render(
        request,
        "partners/contact_form_page.html",
        {"partner": partner, "contact_form": form},
        status=status,
    )


@require_POST
def contact_request_create(request, slug):
    partner = get_object_or_404(Partner, slug=slug, is_published=True)
    ip = client_address(request)
    form = ContactRequestForm(request.POST)
    if _is_throttled(ip):
        form.is_valid()  # so what the customer typed is shown back, with its own errors if any
        form.add_error(
            None,
            "You have sent several requests in the last few minutes. "
            "Please wait ten minutes and send this one again; what you typed is kept below.",
        )
        return _form_page(request, partner, form, status=429)
    if not form.is_valid():
        return _form_page(request, partner, form, status=400)
    _count_submission(ip)
    if form.is_spam():
        # A bot filled the trap: it gets what a person would, and nothing is stored or sent.
        reference = contact_request_new_reference()
    else:
        try:
            reference = contact_request_store(partner=partner, data=form.request_data(), ip=ip).reference
        except DomainError as exc:
            form_error(form, exc)
            return _form_page(request, partner, form, status=400)
    _remember_sent(request, reference, partner)
    return redirect_see_other("partners:contact-sent", reference=reference)


def contact_request_sent(request, reference):
    sent = request.session.get(SENT_SESSION_KEY, {}).get(reference)
    if sent is None:
        raise Http404("No contact request with this reference was sent from this browser.")
    return render(request, "partners/contact_sent.html", {"reference": reference, **sent})
