"""Webhooks: tell integrators of events by POSTing signed JSON to the URLs they registered.

An event is stored as one WebhookDelivery per subscribed endpoint, in the same transaction as the change
that caused it (an outbox), so no event is sent for a change that was rolled back and none is lost for a
change that was committed. A Celery task POSTs it after commit; a failure is retried with exponential
backoff (the task schedules its retry; a periodic sweep picks up anything the broker lost), and the
delivery log is in the admin.

Each request carries:
    X-APN-Event: partner.tier_changed
    X-APN-Delivery: <delivery id>           (the same across retries of one delivery)
    X-APN-Timestamp: <unix seconds>
    X-APN-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the endpoint's secret>
Only hosts in WEBHOOK_ALLOWED_HOSTS are called, and redirects are not followed. A host name is resolved
once per attempt, and an internal address (loopback, private, link-local, reserved, multicast,
unspecified) is called only when that address or that host name is itself listed (not through a wildcard):
the request goes to the address checked, so a second DNS answer cannot send it elsewhere.
"""

import contextlib
import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Case, DateTimeField, Exists, F, IntegerField, OuterRef, Q, Value, When
from django.http.request import validate_host
from django.utils import timezone

from apn_portal.accounts.selectors import role_names_loaded
from apn_portal.broker import task_publish
from apn_portal.exceptions import DomainError, PermissionDeniedError, lock_or_refuse
from apn_portal.outbox.services import outbox_readers_among
from apn_portal.pauses import is_paused, pause_start
from apn_portal.webhooks.choices import CUSTOMER_EVENTS, DeliveryStatus, WebhookEvent
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from apn_portal.webhooks.selectors import open_endpoints

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
MAX_BACKOFF = datetime.timedelta(hours=6)
SIGNATURE_HEADER = "X-APN-Signature"
TIMESTAMP_HEADER = "X-APN-Timestamp"
EVENT_HEADER = "X-APN-Event"
DELIVERY_HEADER = "X-APN-Delivery"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


HOST_REFUSAL = "Webhooks can only be sent to the hosts this portal allows (WEBHOOK_ALLOWED_HOSTS)."
PORT_REFUSAL = "The URL's port must be a number from 1 to 65535 (or left out, for the scheme's own)."
CREDENTIALS_REFUSAL = (
    "Put no user name or password in the URL: the portal would not send them, and would show them with the "
    "endpoint. Your receiver knows a request is the portal's by its signature (X-APN-Signature)."
)


def webhook_url_refusal(url: str) -> str | None:
    """Why no delivery could be sent to `url`, said to whoever registers it; None when one could."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed IPv6 address
        return HOST_REFUSAL
    # Checked when the URL is registered: a port no request can reach would fail every delivery, each
    # retried for two days.
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        return PORT_REFUSAL
    if port == 0:
        return PORT_REFUSAL
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return HOST_REFUSAL
    host = parts.hostname
    candidates = {host, f"[{host}]"} if ":" in host else {host}
    if not any(validate_host(candidate, settings.WEBHOOK_ALLOWED_HOSTS) for candidate in candidates):
        return HOST_REFUSAL
    with contextlib.suppress(ValueError):  # a host name: its addresses are checked when it is called
        if not _may_call(host, ipaddress.ip_address(host)):
            return HOST_REFUSAL  # an internal address allowed through a wildcard ("*") only
    return None


# Internal addresses --------------------------------------------------------------------------------------

INTERNAL_ADDRESS_REFUSAL = (
    "Not sent: the URL's host resolves to an internal address (loopback, private, link-local or reserved), "
    "which this portal calls only when WEBHOOK_ALLOWED_HOSTS lists that address or that host name itself."
)


def _unmapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    return address


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    address = _unmapped(address)
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global  # shared address space (100.64.0.0/10) and the like
    )


def _listed_exactly() -> tuple[set[str], set]:
    """The host names and the addresses WEBHOOK_ALLOWED_HOSTS lists as such, not through a wildcard."""
    names, addresses = set(), set()
    for entry in settings.WEBHOOK_ALLOWED_HOSTS:
        entry = entry.strip().lower().rstrip(".")
        if not entry or entry == "*" or entry.startswith("."):
            continue
        try:
            addresses.add(ipaddress.ip_address(entry.removeprefix("[").removesuffix("]")))
        except ValueError:
            names.add(entry)
    return names, addresses


def webhook_loopback_allowed() -> list[str]:
    """The entries of WEBHOOK_ALLOWED_HOSTS that let the portal call its own host: a loopback address, or
    localhost by name. Fine on a developer's machine, where the receiver runs beside the portal; with DEBUG
    off anybody who may register a webhook could have the worker POST to the services listening there (the
    deploy check apn_portal.W002)."""
    names, addresses = _listed_exactly()
    loopback = sorted(str(address) for address in addresses if _unmapped(address).is_loopback)
    return loopback + sorted(name for name in names if name == "localhost" or name.endswith(".localhost"))


def _may_call(host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a request for `host` may go to `address`: any public address; an internal one only when
    the operator listed it, or the host name, itself."""
    if not _is_internal(address):
        return True
    names, addresses = _listed_exactly()
    return address in addresses or host.lower().rstrip(".") in names


class _InternalAddressError(Exception):
    """The host resolved to no address the portal may call."""


def _checked_addresses(host: str, port: int) -> list[tuple]:
    """Resolve `host` once: its addresses the portal may call (getaddrinfo's entries, in its order)."""
    entries = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    allowed = [
        entry
        for entry in entries
        # A scoped IPv6 address (fe80::1%eth0) is link-local, and checked without its scope.
        if _may_call(host, ipaddress.ip_address(entry[4][0].split("%", 1)[0]))
    ]
    if not allowed:
        logger.warning(
            "Webhook host %s resolves to %s only: not called",
            host,
            ", ".join(sorted({entry[4][0] for entry in entries})),
        )
        raise _InternalAddressError(INTERNAL_ADDRESS_REFUSAL)
    return allowed


def _connect_to_checked_address(host: str, port: int):
    """A create_connection for http.client that connects to `host`'s checked addresses, whatever a later
    DNS answer would say; the connection keeps the name for the Host header and TLS (SNI, certificate)."""

    def create_connection(address, timeout, source_address=None):
        error = None
        for family, kind, proto, _, sockaddr in _checked_addresses(host, port):
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            return sock
        raise error

    return create_connection


def _backoff(attempts: int) -> datetime.timedelta:
    # 30 s, 1 min, 2 min, ... up to 6 hours between attempts: a receiver down for half a day still gets it.
    seconds = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    return min(datetime.timedelta(seconds=seconds), MAX_BACKOFF)


# Endpoints ---------------------------------------------------------------------------------------------


def _ensure_may_register(user) -> None:
    from engagements.selectors import user_can_manage_access

    if not (user.is_authenticated and user.is_active):
        raise PermissionDeniedError("Sign in to register webhooks.")
    if user.customer_id:
        # Where a customer's records go outside the portal is the customer's to decide, as is which
        # partners get into its accounts: the same people decide both.
        if not user_can_manage_access(user, user.customer):
            raise PermissionDeniedError("Only a customer's access administrators can register its webhooks.")
        return
    if not (user.partner_id or user.is_provider_staff or user.is_superuser):
        raise PermissionDeniedError(
            "Only a partner's staff, a customer's access administrators or the provider's staff can register "
            "webhooks."
        )


def _has_credentials(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False  # webhook_url_refusal says what is wrong with it
    return parts.username is not None or parts.password is not None


def _ensure_owner(endpoint: WebhookEndpoint, user) -> None:
    if not (user.is_superuser or endpoint.owner_id == user.pk):
        raise PermissionDeniedError("Only the person who registered this webhook can change it.")


def _clean_endpoint(*, url: str | None = None, events: list[str] | None = None, for_customer: bool) -> None:
    # Refused when registered, not when called: an endpoint registered with them before was called without
    # them, as it still is (the request goes to the host name alone).
    if url is not None and _has_credentials(url):
        raise DomainError(CREDENTIALS_REFUSAL, field="url")
    if url is not None and (refusal := webhook_url_refusal(url)):
        raise DomainError(refusal, field="url")
    if events is not None:
        unknown = sorted(set(events) - set(WebhookEvent.values))
        if unknown:
            raise DomainError(f"Unknown event(s): {', '.join(unknown)}.", field="events")
        if not events:
            raise DomainError("Subscribe to at least one event.", field="events")
        if for_customer and (partners_only := sorted(set(events) - CUSTOMER_EVENTS)):
            raise DomainError(
                f"A customer's webhooks can only subscribe to {', '.join(sorted(CUSTOMER_EVENTS))}; not to "
                f"{', '.join(partners_only)}.",
                field="events",
            )


def webhook_endpoint_create(
    *,
    user,
    url: str,
    events: list[str],
    secret: str = "",
    description: str = "",
    is_active: bool = True,
    acting_user=None,
) -> WebhookEndpoint:
    """Register a URL for the events of the user's organisation (every partner, for provider staff; the
    events about its own records, for a customer's access administrator). `acting_user`: who registers
    it for `user` (a superuser in the admin), whom its history names; `user` by default."""
    _ensure_may_register(user)
    _clean_endpoint(url=url, events=events, for_customer=bool(user.customer_id))
    endpoint = WebhookEndpoint(
        owner=user,
        partner_id=user.partner_id,
        customer_id=user.customer_id,
        url=url,
        events=sorted(set(events)),
        description=description,
        is_active=is_active,
    )
    if secret:
        endpoint.secret = secret
    endpoint._history_user = acting_user or user
    with transaction.atomic():
        endpoint.full_clean()
        endpoint.save()
    return endpoint


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, user, **changes) -> WebhookEndpoint:
    with transaction.atomic():
        # As webhook_endpoint_delete: asked of the row as it is now, once this request holds it, so one
        # deleted meanwhile is a GoneError whatever the change, and an owner whose role was taken while
        # this waited for the row changes nothing.
        locked = lock_or_refuse(WebhookEndpoint.objects.select_for_update(), endpoint.pk, "webhook endpoint")
        _ensure_owner(locked, user)
        if locked.customer_id:
            # An owner no longer the customer's access administrator changes nothing.
            _ensure_may_register(user)
        _clean_endpoint(
            url=changes.get("url"), events=changes.get("events"), for_customer=bool(locked.customer_id)
        )
        if "events" in changes:
            changes["events"] = sorted(set(changes["events"]))
        secret = locked.secret
        for name in ("url", "events", "secret", "description", "is_active"):
            if name in changes and (name != "secret" or changes[name]):
                setattr(locked, name, changes[name])
        locked.full_clean()
        locked._history_user = user
        if locked.secret != secret:
            # The history keeps no secret (WebhookEndpoint.history): it says this version replaced it.
            locked._change_reason = "Signing secret replaced"
        locked.save()
    return locked


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, user) -> None:
    with transaction.atomic():
        # As staff_member_delete: the row as it is now, a GoneError if it was deleted meanwhile, and a
        # delivery queued meanwhile not held behind the deletion (which is then refused, to be sent again).
        locked = lock_or_refuse(
            WebhookEndpoint.objects.select_for_update(no_key=True), endpoint.pk, "webhook endpoint"
        )
        _ensure_owner(locked, user)
        locked._history_user = user
        locked.delete()


# Events ------------------------------------------------------------------------------------------------


def webhook_event_emit(*, event: str, partner, data: dict) -> list[WebhookDelivery]:
    """Queue `event` about `partner` for every active endpoint that subscribes to it and may see it.

    Call it inside the transaction of the change: the deliveries commit (and go out) with it, or not at
    all. A partner's endpoints get their own partner's events only; provider staff's get every partner's,
    and those about no partner (`partner=None`); a customer's endpoints none of these. Events about a
    customer's records go through webhook_events_emit_many with `visible_to`.
    """
    return webhook_events_emit_many(event=event, items=[(partner, data)])


def webhook_events_emit_many(
    *, event: str, items, records=None, visible_to=None, readers: str = "", record_customer_ids=None
) -> list[WebhookDelivery]:
    """Queue one `event` per (partner, data) item, reading the subscribed endpoints once: what the
    set-based scheduled checks use, so many events cost two queries, not two per event. `partner` is the
    partner the event is about (or its id), None, or several partners (a collection): each gets the same
    event.

    An event about a customer's record passes the records (one per item) and `visible_to` (a selector,
    user -> queryset): every endpoint then gets it only when its owner may see the record, as through the
    API (two more queries, the owners' roles and what they see, whatever the endpoints), so a partner the
    customer no longer lets in is not told either. `readers` names the kind of record, as registered with
    the outbox (outbox_readers_register: its app's rule for who reads one, visible_to's for one record):
    each delivery names its record by it, and is sent (or sent again) only while its endpoint's owner may
    still see that record then (webhook_deliver), as the emails telling of it are.
    Only such events go to customers' endpoints: with `record_customer_ids` (each record's customer, in
    the records' order), a customer's endpoint gets the events about that customer's own records, and
    only those its owner may see; an event without records is about partners, none of a customer's
    business."""
    items = [(_partner_ids(partners), data) for partners, data in items]
    if not items:
        return []
    partner_ids = set().union(*(ids for ids, _ in items))
    candidates = Q(partner_id__in=partner_ids) | Q(partner__isnull=True, customer__isnull=True)
    if visible_to is not None and record_customer_ids:
        candidates |= Q(customer_id__in=set(record_customer_ids))
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(open_endpoints())
        .filter(candidates)
        .select_related("owner")
        .order_by("pk")
        if endpoint.subscribes_to(event)
    ]
    if not endpoints:
        return []
    seen_by = _records_seen_by_endpoints(endpoints, records, visible_to)
    now = timezone.now()
    deliveries = []
    for index, (item_partner_ids, data) in enumerate(items):
        record_pk = None if records is None else records[index].pk
        record_readers = f"{readers}:{record_pk}" if readers and record_pk is not None else ""
        audience = [
            e
            for e in endpoints
            if (e.partner_id is None or e.partner_id in item_partner_ids)
            and (seen_by is None or record_pk in seen_by[e.pk])
            # Whoever owns it (a superuser sees every customer's records), a customer's endpoint is told
            # of its own customer's records alone.
            and (
                e.customer_id is None or (seen_by is not None and e.customer_id == record_customer_ids[index])
            )
        ]
        if not audience:
            continue
        event_id = uuid.uuid4()
        # Through the encoder now, so the stored payload is exactly the JSON that is sent.
        payload = {
            "id": str(event_id),
            "event": event,
            "created_at": now.isoformat(),
            "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
        }
        deliveries.extend(
            WebhookDelivery(
                endpoint=endpoint,
                event=event,
                event_id=event_id,
                payload=payload,
                readers=record_readers,
                next_attempt_at=now,
            )
            for endpoint in audience
        )
    deliveries = WebhookDelivery.objects.bulk_create(deliveries, batch_size=1000)
    delivery_ids = [delivery.pk for delivery in deliveries]
    if delivery_ids:
        transaction.on_commit(lambda: webhook_deliveries_queue(delivery_ids))
    return deliveries


def _partner_ids(partners) -> frozenset[int]:
    if partners is None:
        return frozenset()
    if isinstance(partners, int):
        return frozenset([partners])
    if hasattr(partners, "pk"):
        return frozenset([partners.pk])
    return frozenset(partner.pk for partner in partners if partner is not None)


def _records_seen_by_endpoints(endpoints, records, visible_to) -> dict[int, set] | None:
    """Endpoint id -> the pks of `records` its owner may see; None when nothing limits them.

    Each owner's visible records, tagged with the owner, in one UNION statement per hundred owners (SQLite
    allows 500 terms in a compound statement), so an event told to many partners costs the same queries
    as one told to a few."""
    if visible_to is None:
        return None
    pks = [record.pk for record in records]
    # Provider staff see records by their roles: every owner's roles in one query, not one per owner.
    owners = role_names_loaded(list({endpoint.owner_id: endpoint.owner for endpoint in endpoints}.values()))
    seen = {owner.pk: set() for owner in owners}
    for start in range(0, len(owners), 100):
        per_owner = [
            visible_to(owner)
            .filter(pk__in=pks)
            .order_by()
            .annotate(seen_by=Value(owner.pk, output_field=IntegerField()))
            .values_list("seen_by", "pk")
            for owner in owners[start : start + 100]
        ]
        for owner_pk, pk in per_owner[0].union(*per_owner[1:], all=True):
            seen[owner_pk].add(pk)
    return {endpoint.pk: seen[endpoint.owner_id] for endpoint in endpoints}


def webhook_deliveries_queue(delivery_ids: list[int], countdown: float | None = None) -> None:
    from apn_portal.webhooks.tasks import webhook_deliver_task

    for index, delivery_id in enumerate(delivery_ids):
        # The broker is down: every further publish would wait out its retries in vain (hours, for a large
        # backlog), as in the outbox's _schedule_batch_delivery. The deliveries stay pending and the
        # periodic sweep sends them. A task out of time (SoftTimeLimitExceeded) ends here.
        if not task_publish(
            webhook_deliver_task,
            (delivery_id,),
            countdown=countdown,
            unsent=f"{len(delivery_ids) - index} webhook deliveries",
            plural=True,
        ):
            return


# Delivery ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    code: int | None  # None when no HTTP response came
    error: str
    unreachable: bool = False  # nothing answered (in time): the endpoint is paused


NOT_HTTP_ERROR = "Invalid response: the endpoint did not answer with HTTP."
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~"  # besides letters, digits and "_.-", which quote() never escapes


def _post(url: str, body: bytes, headers: dict[str, str]) -> _Answer:
    """POST, allowing WEBHOOK_TIMEOUT_SECONDS for the whole request: connecting, sending, and reading
    the answer's status and headers (its body is not read)."""
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    expired = threading.Event()
    # Whichever comes first, the whole answer or the time running out, decides: an answer read just
    # before the watchdog goes off is not cut, and one the watchdog cut short (read to the end of what
    # came) is not taken as an answer.
    decided = threading.Lock()
    connection = None

    # A socket's timeout bounds each read, not the request: a receiver that drips its answer a byte at a
    # time would hold the worker, and the delivery's row lock, for as long as it liked. This cuts the
    # connection when the time is up, whatever it is waiting for.
    def cut():
        if not decided.acquire(blocking=False):
            return  # answered already
        expired.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the TLS layer's own would race the reader

    watchdog = threading.Timer(timeout, cut)
    watchdog.daemon = True
    failure = None
    try:
        parts = urlsplit(url)
        # http.client rather than urllib: no proxy (the allowed hosts are the whole list of places the
        # portal may call) and no redirect (one could lead to a host that is not allowed) to turn off, and
        # the connection at hand to cut.
        https = parts.scheme == "https"
        connection_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
        port = parts.port or (443 if https else 80)
        connection = connection_class(parts.hostname, port, timeout=timeout)
        connection._create_connection = _connect_to_checked_address(parts.hostname, port)
        watchdog.start()
        connection.connect()
        if expired.is_set():  # connected just as the time ran out, after the watchdog found no socket
            raise TimeoutError("timed out")
        # A URL may hold letters beyond ASCII (an IRI: /hooks/café); a request line holds only ASCII, so
        # they go percent-encoded, and what the URL escaped already stays as it is.
        path = quote(parts.path or "/", safe=_URI_SAFE) + (
            f"?{quote(parts.query, safe=_URI_SAFE)}" if parts.query else ""
        )
        connection.request("POST", path, body=body, headers=headers)
        code = connection.getresponse().status
        if not decided.acquire(blocking=False):
            raise TimeoutError("timed out")  # cut short by the watchdog: whatever was read is no answer
    except (OSError, http.client.HTTPException, ValueError, _InternalAddressError) as exc:
        failure = exc
    finally:
        watchdog.cancel()
        if connection is not None:
            connection.close()
    if isinstance(failure, _InternalAddressError):
        # A failed attempt, retried with backoff (the name may be pointed elsewhere): nothing was called,
        # so nothing is paused.
        return _Answer(None, str(failure))
    if expired.is_set():
        return _Answer(None, f"No response within {timeout:g} s.", unreachable=True)
    if failure is None:
        return _Answer(code, "" if 200 <= code < 300 else f"The receiver answered HTTP {code}.")
    if isinstance(failure, http.client.HTTPException) and not isinstance(failure, OSError):
        # Something answered, but not in HTTP (a bad status line, a header line past http.client's limit):
        # a failed attempt like an error status, retried with backoff; it answered, so nothing is paused.
        # What it said is not repeated to the endpoint's owner, who reads last_error: a service that is no
        # web server names itself in its first line (a banner), none of their business. The log has it.
        logger.info("Webhook receiver %s answered not in HTTP: %r", parts.hostname, failure)
        if isinstance(failure, http.client.LineTooLong):  # http.client's own words, none of the answer's
            return _Answer(None, f"Invalid response: LineTooLong: {failure}.")
        return _Answer(None, NOT_HTTP_ERROR)
    return _Answer(None, f"No response: {failure}"[:2000], unreachable=True)


# A receiver that does not answer at all (refused, unknown, no answer within WEBHOOK_TIMEOUT_SECONDS)
# pauses every delivery to its endpoint (apn_portal.pauses) until the sweep after next: a burst of events
# for a dead receiver would otherwise hold the workers the scheduled checks share, one timeout after
# another. A delivery due meanwhile is not sent, but counts that failure as its attempt: it keeps to its
# own backoff, so a dead receiver's backlog is given up after MAX_ATTEMPTS as a single delivery is, not
# one attempt per pause (a backlog of hundreds would otherwise stay pending for days, or for ever while
# new events keep coming).
ENDPOINT_PAUSE = datetime.timedelta(seconds=90)
HELD_ERROR = (
    "Not sent: the receiver did not answer another delivery moments before, and its endpoint is held for "
    f"{ENDPOINT_PAUSE.total_seconds():g} s."
)


def _endpoint_pause(endpoint_id: int) -> str:
    return f"webhooks:endpoint:{endpoint_id}"


def _endpoint_hold(endpoint_id: int, until: datetime.datetime, *, attempted: int, error: str) -> None:
    """Hold the endpoint's other pending deliveries until `until`, when an attempt found its receiver
    unreachable with `error`. One due now counts that as a failed attempt of its own (its next at its
    backoff, or `until` if later; failed for good at MAX_ATTEMPTS); one due before `until` but not yet is
    put off to `until`, counting nothing. Either way, in the sweep's list (the oldest due first), a dead
    receiver's backlog does not come before every other endpoint's deliveries.

    Two statements, however large the backlog; a delivery another worker holds is skipped, not waited for
    (that worker is attempting it, and holds it if paused). Idempotent: a delivery counted is not due
    again before `until`, so another worker's hold, at the same moment, does not count it twice."""
    now = timezone.now()
    mine = WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING).exclude(
        pk=attempted
    )

    def locked(deliveries):
        return deliveries.select_for_update(skip_locked=True).order_by().values("pk")

    last = Q(attempts__gte=MAX_ATTEMPTS - 1)
    WebhookDelivery.objects.filter(pk__in=locked(mine.filter(next_attempt_at__lte=now))).update(
        attempts=F("attempts") + 1,
        response_code=None,
        last_error=error,
        status=Case(When(last, then=Value(DeliveryStatus.FAILED)), default=F("status")),
        # Each attempt count's backoff, as webhook_deliver gives it: twelve constants, one statement.
        next_attempt_at=Case(
            When(last, then=Value(None)),
            *(
                When(attempts=attempts, then=Value(max(now + _backoff(attempts + 1), until)))
                for attempts in range(MAX_ATTEMPTS - 1)
            ),
            default=Value(until),
            output_field=DateTimeField(),
        ),
        updated_at=now,
    )
    WebhookDelivery.objects.filter(
        pk__in=locked(mine.filter(next_attempt_at__gt=now, next_attempt_at__lt=until))
    ).update(next_attempt_at=until, updated_at=now)


def _no_longer_seen(readers: str) -> str:
    kind, _, pk = readers.partition(":")
    return (
        f"Not sent: the endpoint's owner may no longer see the {kind.replace('-', ' ')} it tells of (#{pk}): "
        "they no longer look after its customer, say, or lost the role that showed it to them."
    )


def webhook_deliver(delivery_id: int) -> bool:
    """Make one attempt at a pending, due delivery. Returns True if the receiver accepted it.

    The row stays locked during the attempt, so two workers never send the same delivery at once; one
    already delivered, not yet due, or locked by another worker is left alone. One for an endpoint paused
    as unreachable is not sent but counts a failed attempt, its next not before the pause is over.

    One naming the record it tells of (`readers`) is sent only while the endpoint's owner may still see it,
    by the rule its app registered for the outbox (the one it was queued by): otherwise it is marked not
    sent, with the reason, and not tried again (a customer moved to another TAM since, say).
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint__owner")
            # What was queued before its owner left (or was deactivated) is not sent after: asked in the
            # same statement.
            .annotate(
                endpoint_open=Exists(
                    WebhookEndpoint.objects.filter(open_endpoints(), pk=OuterRef("endpoint_id"))
                )
            )
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
            .first()
        )
        if delivery is None:
            return False
        endpoint = delivery.endpoint
        delivery.attempts += 1
        code, error, held_until = None, "", None
        closed = not delivery.endpoint_open
        unseen = False
        if not endpoint.is_active:
            error = "The endpoint was deactivated."
        elif closed:
            organisation = "customer" if endpoint.customer_id else "partner"
            error = f"The endpoint's owner was deactivated or no longer works for its {organisation}."
        elif delivery.readers and endpoint.owner_id not in outbox_readers_among(
            delivery.readers, [endpoint.owner]
        ):
            unseen = True
            error = _no_longer_seen(delivery.readers)
        elif is_paused(_endpoint_pause(endpoint.pk)):
            # Due during the pause (those due when it began were held then): not sent, a failed attempt
            # all the same, its next not before the pause is over, or it would wait at the head of the
            # sweep's list.
            error, held_until = HELD_ERROR, timezone.now() + ENDPOINT_PAUSE
        elif refusal := webhook_url_refusal(endpoint.url):
            error = refusal  # the operator narrowed the allowed hosts since, or it predates the check
        else:
            body = json.dumps(delivery.payload, separators=(",", ":")).encode()
            timestamp = str(int(time.time()))
            answer = _post(
                endpoint.url,
                body,
                {
                    "Content-Type": "application/json",
                    "User-Agent": "APN-Portal-Webhooks/1",
                    EVENT_HEADER: delivery.event,
                    DELIVERY_HEADER: str(delivery.pk),
                    TIMESTAMP_HEADER: timestamp,
                    SIGNATURE_HEADER: webhook_signature(endpoint.secret, timestamp, body),
                },
            )
            code, error = answer.code, answer.error
            if answer.unreachable:
                held_until = timezone.now() + ENDPOINT_PAUSE
                pause_start(_endpoint_pause(endpoint.pk), ENDPOINT_PAUSE)
                _endpoint_hold(endpoint.pk, held_until, attempted=delivery.pk, error=error)
        delivery.response_code = code
        delivery.last_error = error
        retry_in = None
        if code is not None and 200 <= code < 300:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
        elif unseen:
            delivery.status = DeliveryStatus.NOT_SENT
            delivery.next_attempt_at = None
        elif closed or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            now = timezone.now()
            # Not before the pause is over: no attempt is made during it.
            delivery.next_attempt_at = max(now + _backoff(delivery.attempts), held_until or now)
            retry_in = delivery.next_attempt_at - now
        delivery.save()
    if retry_in is not None:
        logger.info("Webhook delivery %s failed (attempt %s): %s", delivery.pk, delivery.attempts, error)
        webhook_deliveries_queue([delivery.pk], countdown=retry_in.total_seconds())
    return delivery.status == DeliveryStatus.DELIVERED


def webhook_deliveries_due_ids(limit: int = 500) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


@dataclass(frozen=True)
class WebhookRetry:
    """What webhook_deliveries_retry did with the selected deliveries."""

    restarted: int  # had failed for good (or was not sent): a fresh round of attempts, the first now
    brought_forward: int  # still being retried: their next attempt now, their attempts kept
    left_alone: int  # delivered already, or being attempted at this very moment


def webhook_deliveries_retry(*, deliveries, user) -> WebhookRetry:
    """Send the selected deliveries again now (from the admin's delivery log).

    A delivery that failed for good starts a fresh round of attempts, and so does one not sent because its
    endpoint's owner could no longer see the record it tells of: it is checked again when it goes, and sent
    only if they may see it by then (webhook_deliver). One still being retried only has its
    next attempt brought forward: its attempt count (and so how much longer it is retried) stays, or
    sending again a delivery mid-backoff would quietly give a dead receiver another twelve attempts.
    """
    if not (user.is_authenticated and user.is_superuser):
        raise PermissionDeniedError("Only a superuser can resend webhook deliveries.")
    selected = list(deliveries.values_list("pk", flat=True))
    now = timezone.now()
    with transaction.atomic():
        # A delivery a worker is sending right now is locked by it: skipped rather than waited for, and
        # re-read here so one delivered meanwhile is not sent twice.
        rows = dict(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk__in=selected)
            .exclude(status=DeliveryStatus.DELIVERED)
            .values_list("pk", "status")
        )
        failed = [
            pk for pk, status in rows.items() if status in (DeliveryStatus.FAILED, DeliveryStatus.NOT_SENT)
        ]
        pending = [pk for pk, status in rows.items() if status == DeliveryStatus.PENDING]
        WebhookDelivery.objects.filter(pk__in=failed).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, updated_at=now
        )
        WebhookDelivery.objects.filter(pk__in=pending).update(next_attempt_at=now, updated_at=now)
        ids = failed + pending
        transaction.on_commit(lambda: webhook_deliveries_queue(ids))
    return WebhookRetry(
        restarted=len(failed), brought_forward=len(pending), left_alone=len(selected) - len(ids)
    )
