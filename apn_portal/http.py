import ipaddress
from functools import wraps

from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from rest_framework.throttling import BaseThrottle


def whole_number(text: str | None, max_digits: int = 18) -> int | None:
    """The whole number a query parameter spells in ASCII digits ("12"), or None: str.isdigit() also
    says yes to "²" and "①", which int() refuses; more than `max_digits` would not fit a database key."""
    text = (text or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


NOT_AN_ID = "Give the record's id as a whole number, e.g. 42."


def plain_id(text: str, max_digits: int = 18) -> int | None:
    """The id `text` spells in plain ASCII digits ("42"), or None: int() would read "+42", "042", " 42" or
    "٤٢" as 42 too, and one record would answer to many spellings. An address, a related record's id in a
    body and an id filter all take an id by this rule."""
    number = whole_number(text, max_digits)
    return number if number is not None and str(number) == text else None


def redirect_see_other(*args, **kwargs):
    """A redirect after a POST that the browser follows with a GET (303), so a reload never re-posts."""
    response = redirect(*args, **kwargs)
    response.status_code = 303
    return response


def form_address(page: str, *, anchor: str = ""):
    """For a view that takes only a form's POST but shows a refused one at its own address: reopened later
    (from the history, a restored tab) that address is a GET, which goes to the page the form lives on, the
    URL named `page` with the view's own arguments (that page says itself whether this user may see it),
    rather than to a blank 405. Other methods are still a 405."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            address = reverse(page, args=args, kwargs=kwargs) + anchor
            if request.method == "POST":
                # Sent by someone signed out meanwhile, the sign-in leads back to that page, where what
                # was typed is kept (apn_portal.pages.signed_in_required).
                request.form_page = address
                return view(request, *args, **kwargs)
            return redirect(address)

        return require_http_methods(["GET", "HEAD", "POST"])(wrapped)

    return decorator


def ip_address_or_none(text: str | None) -> str | None:
    """`text` when it is an IPv4 or IPv6 address the database stores, else None: a proxy writes `unknown`
    or `unix:` into X-Forwarded-For when it does not know the client's, and an address with a zone
    (`fe80::1%eth0`) or a port is no column's inet."""
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if getattr(address, "scope_id", None):
        return None
    return str(address)


def client_address(request) -> str | None:
    """The client's address (every limit counts it by `throttle_address`: the API's throttles, the
    sign-in lockout, the contact form's throttle): REMOTE_ADDR, or behind PROXY_COUNT reverse proxies the
    address the first of them saw, counted from the right of X-Forwarded-For, so never one the client
    wrote itself. DRF's rule (its NUM_PROXIES is PROXY_COUNT), for Django's requests as well as DRF's.

    None when that is no address (a proxy that did not know it): what is stored for the client says it is
    unknown, rather than refuse what the client sent; the limits count all such clients together."""
    return ip_address_or_none(BaseThrottle().get_ident(request))


# Every IPv6 client (a home, an office, a server) is given at least a /64 and may use any address in it.
IPV6_CLIENT_PREFIX = 64


def throttle_address(address: str | None) -> str | None:
    """The address a limit counts `address` by: an IPv4 address itself (also written IPv4-mapped,
    `::ffff:203.0.113.7`, as a dual-stack socket shows it), an IPv6 address by its /64, written as the
    first address in it (`2001:db8:1:2::`), so one host changing its address within its /64 is still
    counted as one, as an IPv4 client is behind its one address. It is an address, so it fits wherever
    one is stored (the sign-in lockout's records). None stays None.

    Only for counting: what is stored for the client (a contact request's address) is its full one."""
    if address is None:
        return None
    parsed = ipaddress.ip_address(address)
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network((parsed, IPV6_CLIENT_PREFIX), strict=False).network_address)


def client_throttle_address(request) -> str | None:
    """The client's address (`client_address`) as every limit counts it (`throttle_address`): the API's
    throttles, the contact form's and the sign-in lockout."""
    return throttle_address(client_address(request))
