"""Queue and deliver notification emails through the outbox."""

import datetime
import json
import logging
import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.template.loader import get_template, render_to_string
from django.utils import timezone

from apn_portal.broker import task_publish
from apn_portal.exceptions import PermissionDeniedError
from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.pauses import is_paused, pause_start

logger = logging.getLogger(__name__)

# Retried after 1, 2, 4 ... 32 minutes, then every hour: a message goes out within an hour of the mail
# server's return, and is given up (failed for good, which a superuser may send again from the admin)
# only after about three days of failures, so a server down over a weekend loses nothing.
MAX_ATTEMPTS = 6 + 72


# What a confidential message's body becomes once it is sent.
CONFIDENTIAL_BODY_NOT_KEPT = "Not kept once sent: it held a link that signs its reader in."


def _backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(minutes=min(2 ** (attempts - 1), 60))


# A mail server that cannot be reached (refused, gone quiet, unknown) fails every message alike, each after
# up to EMAIL_TIMEOUT seconds: one such failure pauses every delivery (apn_portal.pauses) until the sweep
# after next tries again. A message refused on its own (a bad address) pauses nothing.
MAIL_SERVER_PAUSE = datetime.timedelta(seconds=90)
_MAIL_SERVER = "outbox:mail-server"
_UNREACHABLE = (
    TimeoutError,
    ConnectionError,
    socket.gaierror,
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
)


def outbox_mail_server_paused() -> bool:
    return is_paused(_MAIL_SERVER)


_SUBJECT_LENGTH = OutboxMessage._meta.get_field("subject").max_length


def _fitting_subject(subject: str) -> str:
    """The subject as stored: one built from names (a partner's, a program's) may run longer than the
    column, and is cut to it ending in "…" (an email subject needs no more) rather than failing the
    transaction that queues it, a whole scheduled check among them. A name may also hold a line break,
    which no email header may: the subject is put on one line, or every attempt to send it would fail."""
    subject = " ".join(subject.split())
    if len(subject) <= _SUBJECT_LENGTH:
        return subject
    return subject[: _SUBJECT_LENGTH - 1] + "…"


def _log_untold(dedupe_keys: list[str]) -> None:
    """An email with no recipient is not queued (a row that could never be sent would only wait in the
    admin for ever), but not dropped in silence either: the log names it, so an operator sees who was
    never told (and, for the provider's own notices, that SUPPORT_TEAM_EMAIL is empty)."""
    shown = ", ".join(dedupe_keys[:20]) + (
        f" and {len(dedupe_keys) - 20} more" if len(dedupe_keys) > 20 else ""
    )
    logger.warning(
        "Not queued, no recipient with an email address: %s email%s (%s)",
        len(dedupe_keys),
        "" if len(dedupe_keys) == 1 else "s",
        shown,
    )


# Whose an address is ----------------------------------------------------------------------------------

# What a message records of each address its organisation's people (or the provider's staff, told with them
# or alone: a PDM, a TAM) held when it was queued: the key of that organisation.
PROVIDER = "provider"
_ADDRESS_CHUNK = 5000


def _organisation_key(partner_id: int | None, customer_id: int | None, is_staff: bool) -> str | None:
    if partner_id:
        return f"partner:{partner_id}"
    if customer_id:
        return f"customer:{customer_id}"
    return PROVIDER if is_staff else None


def _people_of(for_partner: int | None, for_customer: int | None) -> str | None:
    return _organisation_key(for_partner, for_customer, False)


def _active_holders(addresses) -> dict[str, set[str]]:
    """The organisations (keys as _organisation_key) whose active people hold each of `addresses` now."""
    addresses = sorted(set(addresses))
    holders: dict[str, set[str]] = {}
    users = get_user_model().objects.filter(is_active=True)
    for start in range(0, len(addresses), _ADDRESS_CHUNK):
        for email, partner_id, customer_id, is_staff in users.filter(
            email__in=addresses[start : start + _ADDRESS_CHUNK]
        ).values_list("email", "partner_id", "customer_id", "is_staff"):
            if key := _organisation_key(partner_id, customer_id, is_staff):
                holders.setdefault(email, set()).add(key)
    return holders


def _recipients_from(recipients: list[str], people_of: str | None, holders) -> dict[str, str] | None:
    """Which of a message's addresses `people_of`'s people hold (for a message to them), and which the
    provider's active staff hold (told with them, a PDM, or on their own, a TAM's warning): each is written
    to for the place its holder had, and is left out once nobody there holds it. Any other address (typed
    on a form, the support desk, a partner's address on a message naming no partner) is nobody's."""
    chosen = {}
    for address in recipients:
        held = holders.get(address, ())
        if people_of is not None and people_of in held:
            chosen[address] = people_of
        elif PROVIDER in held:
            chosen[address] = PROVIDER
    return chosen or None


def _otherwise(addresses: list[str] | None) -> list[str] | None:
    return sorted({address for address in addresses or () if address}) or None


# Who may read a record a message tells of (its `readers`, "<kind>:<pk>"), by kind: readers(pk, users), the
# pks of those of `users` who may, registered by the record's app (outbox_readers_register, from its
# AppConfig.ready).
_READERS: dict[str, Callable[[int, list], set[int]]] = {}


def outbox_readers_register(kind: str, readers: Callable[[int, list], set[int]]) -> None:
    """Name the rule by which a message naming `kind:<pk>` in its `readers` is sent, when it is sent, only
    to those of its recorded people (recipients_from) whose pks readers(pk, users) answers: the app's own
    rule for who reads that record (its selector), which the outbox cannot import. It is given all of a
    message's people at once, so that it may answer for them in a few queries, however many they are."""
    _READERS[kind] = readers


def outbox_readers_among(readers: str, users: list) -> set[int]:
    """The pks of those of `users` who may read now the record `readers` ("<kind>:<pk>") names, by the rule
    its app registered: what a message naming it is checked against when sent, and a webhook delivery
    telling of it too (webhooks.services.webhook_deliver), so both follow one rule."""
    if not users:
        return set()
    kind, _, pk = readers.partition(":")
    return _READERS[kind](int(pk), users)


def _still_reading(readers: str, addresses: dict[str, str]) -> set[str]:
    """Those of `addresses` ({address: organisation key}) held there by an active person who may still
    read the record `readers` names."""
    holding = [
        user
        for user in get_user_model().objects.filter(is_active=True, email__in=list(addresses))
        if addresses[user.email] == _organisation_key(user.partner_id, user.customer_id, user.is_staff)
    ]
    reading = outbox_readers_among(readers, holding)
    return {user.email for user in holding if user.pk in reading}


def _still_theirs(message: OutboxMessage, addresses: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Those of the message's addresses (`addresses`: its `to` unless given) to send to now, and those left
    out: an address recorded as an organisation's people's is kept only while somebody active there still
    holds it, and, for a message naming the record it tells of (`readers`), may still read it."""
    addresses = list(message.to if addresses is None else addresses)
    recorded = message.recipients_from or {}
    if not recorded:
        return addresses, []
    holders = _active_holders(address for address in addresses if address in recorded)
    held = {
        address: recorded[address]
        for address in addresses
        if address in recorded and recorded[address] in holders.get(address, ())
    }
    if message.readers and held:
        reading = _still_reading(message.readers, held)
        held = {address: key for address, key in held.items() if address in reading}
    to, left_out = [], []
    for address in addresses:
        if address not in recorded or address in held:
            to.append(address)
        else:
            left_out.append(address)
    return to, left_out


def outbox_email_enqueue(
    *,
    dedupe_key: str,
    to: list[str],
    subject: str,
    template: str,
    context: dict,
    for_partner: int | None = None,
    for_customer: int | None = None,
    to_leavers_too: bool = False,
    otherwise_to: list[str] | None = None,
) -> OutboxMessage | None:
    """Store an email to send once the surrounding transaction commits. Call it inside that transaction.

    `template` names a pair `<template>.txt` and `<template>.html`. Returns None when a message with the
    same dedupe key already exists: that notification was already queued (or sent) and is not repeated.
    A subject longer than the column holds is stored cut, ending in "…". An email without recipients is
    not stored, and is logged as a warning.

    An email to a partner's or a customer's people (its staff, its access administrators, with its PDM)
    names that organisation, by id, in `for_partner` or `for_customer`: sent later (the mail server was
    down), it goes to none of them who has left it, moved to another or been deactivated since, and not at
    all when that was everyone (marked "not sent", with the reason). The same holds, with or without an
    organisation, for the addresses of the provider's active staff (a PDM, a TAM, an Account Manager): they
    are told for their place at the provider, which is no longer theirs once they are deactivated or are
    no longer staff. Addresses that are nobody's there (a customer's typed on a form, the support desk) are
    sent to as stored.

    An email meant for its reader whatever becomes of their place (a password reset: it is for their
    account, staff or not) passes `to_leavers_too`: nothing is recorded, and it goes to every address.
    One that somebody must hear whoever has left (a support case past its deadline) names in
    `otherwise_to` whom to send it to instead when nobody it was for is left (the support desk).

    A time of day in an email is its reader's: its template shows an aware datetime inside
    `{% timezone <zone> %}` naming that zone (as emails/support/case_breached does), since the zone
    active where it is rendered (none in a worker, whoever's in a request) is nobody's in particular.
    """
    if not any(to):
        _log_untold([dedupe_key])
        return None  # nothing to render
    context = {**context, "portal_url": settings.PORTAL_URL}
    return outbox_rendered_email_enqueue(
        dedupe_key=dedupe_key,
        to=to,
        subject=subject,
        body_text=render_to_string(f"{template}.txt", context),
        body_html=render_to_string(f"{template}.html", context),
        for_partner=for_partner,
        for_customer=for_customer,
        to_leavers_too=to_leavers_too,
        otherwise_to=otherwise_to,
    )


def outbox_rendered_email_enqueue(
    *,
    dedupe_key: str,
    to: list[str],
    subject: str,
    body_text: str,
    body_html: str = "",
    confidential: bool = False,
    for_partner: int | None = None,
    for_customer: int | None = None,
    to_leavers_too: bool = False,
    otherwise_to: list[str] | None = None,
) -> OutboxMessage | None:
    """Store an email whose bodies the caller rendered already (Django's password reset form renders its
    own), to send once the surrounding transaction commits; otherwise as outbox_email_enqueue.

    A `confidential` message (one with a link that signs its reader in) keeps its bodies out of the admin,
    so reading the outbox lets nobody into someone else's account.
    """
    recipients = sorted({address for address in to if address})
    if not recipients:
        _log_untold([dedupe_key])
        return None
    recipients_from = None
    if not to_leavers_too:
        holders = _active_holders(recipients)
        recipients_from = _recipients_from(recipients, _people_of(for_partner, for_customer), holders)
    with transaction.atomic():
        message, created = OutboxMessage.objects.get_or_create(
            dedupe_key=dedupe_key,
            defaults={
                "to": recipients,
                "recipients_from": recipients_from,
                "otherwise_to": _otherwise(otherwise_to),
                "subject": _fitting_subject(subject),
                "body_text": body_text,
                "body_html": body_html,
                "is_confidential": confidential,
                "next_attempt_at": timezone.now(),
            },
        )
    if not created:
        return None
    transaction.on_commit(lambda: _schedule_delivery(message.pk))
    return message


def _schedule_delivery(message_id: int) -> None:
    from apn_portal.outbox.tasks import outbox_deliver

    # Broker down (or down a moment ago): the message stays pending and the periodic sweep sends it.
    task_publish(outbox_deliver, (message_id,), unsent=f"outbox message {message_id}")


def outbox_message_bodies(message: OutboxMessage, *, sent_instead: bool = False) -> tuple[str, str]:
    """The message's text and HTML bodies: as stored, or, for one rendered when sent and not sent yet,
    rendered now from its template and context; `sent_instead` (in that context too) when it goes to its
    otherwise_to, who read a body written for them rather than for whom it was meant (a partner's user,
    greeted by name)."""
    if not message.template or message.body_text:
        return message.body_text, message.body_html
    context = {**(message.context or {}), "portal_url": settings.PORTAL_URL, "sent_instead": sent_instead}
    return (
        render_to_string(f"{message.template}.txt", context),
        render_to_string(f"{message.template}.html", context),
    )


def outbox_deliver_message(message_id: int) -> bool:
    """Send one pending message. Returns True if it was sent by this call.

    The row is locked while sending so two workers never send the same message; a message already sent,
    not due yet (its retry waits out its back-off), or locked by another worker, is left alone, and so is
    every message while the mail server is paused as unreachable (outbox_mail_server_paused): the sweep
    sends it later. A message rendered when sent keeps the bodies it went out with.

    A message goes to those of its recorded addresses (an organisation's people's, the provider's staff's)
    somebody active there still holds, and to its addresses that are nobody's; those left out are named in
    `last_error`. When nobody is left, it goes to its `otherwise_to` instead, if it names any; else it is
    marked not sent, with the reason, and never tried again.
    """
    if outbox_mail_server_paused():
        return False
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now())
            .first()
        )
        if message is None:
            return False
        to, left_out = _still_theirs(message)
        instead = []
        if not to and message.otherwise_to:
            to = instead = _still_theirs(message, message.otherwise_to)[0]
        # A message telling of a record (a support case) also leaves out whoever may no longer read it.
        or_reading = ", or may no longer read what it tells of" if message.readers else ""
        if not to:
            message.status = OutboxStatus.NOT_SENT
            message.last_error = (
                "Not sent: everyone it was for has left the organisation it was queued for, moved to "
                f"another or been deactivated since{or_reading} ({', '.join(left_out)})."
            )
            message.save(update_fields=["status", "last_error", "updated_at"])
            logger.info("Outbox message %s not sent: nobody it was for is left", message.pk)
            return False
        message.attempts += 1
        try:
            # Rendering is part of the attempt: a template that fails is retried (once fixed) like a
            # mail server that is down, and the message stays visible in the admin meanwhile.
            body_text, body_html = outbox_message_bodies(message, sent_instead=bool(instead))
            email = EmailMultiAlternatives(
                subject=message.subject,
                body=body_text,
                to=to,
                from_email=settings.DEFAULT_FROM_EMAIL,
            )
            if body_html:
                email.attach_alternative(body_html, "text/html")
            email.send()
        except Exception as exc:  # any mail failure is retried later; the message is never dropped silently
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = OutboxStatus.FAILED
            else:
                message.next_attempt_at = timezone.now() + _backoff(message.attempts)
            message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at", "updated_at"])
            logger.warning("Outbox message %s failed (attempt %s): %s", message.pk, message.attempts, exc)
            if isinstance(exc, _UNREACHABLE):
                pause_start(_MAIL_SERVER, MAIL_SERVER_PAUSE)
            return False
        message.status = OutboxStatus.SENT
        message.sent_at = timezone.now()
        message.last_error = (
            f"Not sent to {', '.join(left_out)}: no longer one of the people it was for (left the "
            f"organisation, moved to another or deactivated since it was queued{or_reading})"
            + (f"; sent to {', '.join(instead)} instead." if instead else ".")
            if left_out
            else ""
        )
        message.body_text, message.body_html = body_text, body_html
        if message.is_confidential:
            # Delivered: the link it held is its reader's alone, and the table keeps no copy of it.
            message.body_text, message.body_html = CONFIDENTIAL_BODY_NOT_KEPT, ""
        message.save(
            update_fields=[
                "attempts",
                "last_error",
                "status",
                "sent_at",
                "body_text",
                "body_html",
                "updated_at",
            ]
        )
    return True


def outbox_messages_resend(*, messages, user) -> int:
    """Queue those of `messages` that failed for good once more (a superuser's admin action, once the
    mail server is fixed), with a fresh round of attempts; the others are left alone. Returns how many."""
    if not user.is_superuser:
        raise PermissionDeniedError("Only a superuser may send failed emails again.")
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update()
            .filter(pk__in=[message.pk for message in messages], status=OutboxStatus.FAILED)
            .values_list("pk", flat=True)
        )
        now = timezone.now()
        OutboxMessage.objects.filter(pk__in=ids).update(
            status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, updated_at=now
        )
        if ids:
            # Queued together, as the scheduled checks' emails are: one publish, not one per message.
            transaction.on_commit(lambda: _schedule_batch_delivery(ids))
    return len(ids)


def outbox_pending_due_ids(limit: int = 500) -> list[int]:
    return list(
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def outbox_deliver_messages(message_ids: list[int], *, budget_seconds: float | None = None) -> int:
    """Send these messages, each as outbox_deliver_message does, stopping as soon as the mail server is
    paused as unreachable, or once `budget_seconds` have passed (a slow mail server must not hold a
    worker the scheduled checks share): the rest wait for the sweep. Returns how many were sent."""
    started = time.monotonic()
    sent = 0
    for message_id in message_ids:
        if outbox_mail_server_paused():
            break
        if budget_seconds is not None and time.monotonic() - started >= budget_seconds:
            break
        sent += outbox_deliver_message(message_id)
    return sent


def outbox_flush(limit: int = 500, *, budget_seconds: float | None = None) -> int:
    """Send every message that is due (used by the periodic sweep and by `run_checks`). Returns sent count."""
    return outbox_deliver_messages(outbox_pending_due_ids(limit), budget_seconds=budget_seconds)


# Many at once (the scheduled checks) ---------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEmail:
    """One email for outbox_email_enqueue_many; the fields mean what outbox_email_enqueue's arguments do,
    and two more: `readers` names the record it tells of ("support-case:ID", a kind registered with
    outbox_readers_register), and it is sent only to those of its people who may still read it then;
    `otherwise_for_customer` names the customer whose people its `otherwise_to` addresses are, each then
    sent to only while still theirs (and reading it)."""

    dedupe_key: str
    to: list[str]
    subject: str
    template: str
    context: dict
    for_partner: int | None = None
    for_customer: int | None = None
    to_leavers_too: bool = False
    otherwise_to: list[str] | None = None
    readers: str = ""
    otherwise_for_customer: int | None = None


DELIVERY_BATCH = 200


def outbox_email_enqueue_many(emails: list[OutboxEmail], *, render_when_sent: bool = False) -> set[str]:
    """Store many emails in the caller's transaction, in a few statements. Returns the dedupe keys stored
    now.

    An email whose key is already stored (queued or sent before) is skipped, as with
    outbox_email_enqueue; so is one without recipients, which is logged as a warning. After commit, one
    delivery task per batch of messages is queued rather than one per message; the sweep sends whatever
    the broker lost.

    With `render_when_sent`, each email's context is stored as JSON (so it may hold only strings, numbers,
    booleans, None, lists and dicts) and its bodies are rendered when it is sent, by the delivery task:
    queuing then costs a small row per email instead of two template renders and a few kilobytes. Sent to
    its `otherwise_to` instead, it is rendered with `sent_instead` true in its context, so it may speak to
    them rather than to whom it was for (one rendered when queued says the same to either).
    """
    unique: dict[str, tuple[OutboxEmail, list[str]]] = {}
    untold: list[str] = []
    for email in emails:
        recipients = sorted({address for address in email.to if address})
        if not recipients:
            untold.append(email.dedupe_key)
        elif email.dedupe_key not in unique:  # a key twice in one call is stored once
            unique[email.dedupe_key] = (email, recipients)
    if untold:
        _log_untold(untold)
    if not unique:
        return set()
    people_of = {key: _people_of(email.for_partner, email.for_customer) for key, (email, _) in unique.items()}
    holders = _active_holders(
        address
        for email, recipients in unique.values()
        if not email.to_leavers_too
        for address in (*recipients, *((email.otherwise_to or ()) if email.otherwise_for_customer else ()))
    )
    if render_when_sent:
        rows = [
            (
                key,
                recipients,
                email.subject,
                "",
                "",
                email.template,
                email.context,
                _otherwise(email.otherwise_to),
                email.readers,
            )
            for key, (email, recipients) in unique.items()
        ]
    else:
        rows = _rendered_rows(unique)

    def recorded(key: str, recipients: list[str]) -> dict[str, str] | None:
        email = unique[key][0]
        if email.to_leavers_too:
            return None
        chosen = _recipients_from(recipients, people_of[key], holders) or {}
        if email.otherwise_for_customer:
            otherwise = _otherwise(email.otherwise_to) or []
            customers = _people_of(None, email.otherwise_for_customer)
            chosen |= _recipients_from(otherwise, customers, holders) or {}
        return chosen or None

    rows = [(*row, recorded(row[0], row[1])) for row in rows]
    stored = _insert_skipping_stored_keys(rows) if rows else {}
    message_ids = list(stored.values())
    if message_ids:
        transaction.on_commit(lambda: _schedule_batch_delivery(message_ids))
    return set(stored)


def _rendered_rows(unique: dict[str, tuple[OutboxEmail, list[str]]]) -> list[tuple]:
    # Keys stored before are skipped here already, to spare their rendering.
    stored_before = set(
        OutboxMessage.objects.filter(dedupe_key__in=list(unique)).values_list("dedupe_key", flat=True)
    )
    templates: dict[str, tuple] = {}
    rows = []
    for key, (email, recipients) in unique.items():
        if key in stored_before:
            continue
        if email.template not in templates:
            templates[email.template] = (
                get_template(f"{email.template}.txt"),
                get_template(f"{email.template}.html"),
            )
        text, html = templates[email.template]
        context = {**email.context, "portal_url": settings.PORTAL_URL}
        rows.append(
            (
                key,
                recipients,
                email.subject,
                text.render(context),
                html.render(context),
                "",
                None,
                _otherwise(email.otherwise_to),
                email.readers,
            )
        )
    return rows


_INCOMING_TABLE = "outbox_incoming"


def _insert_skipping_stored_keys(rows: list[tuple]) -> dict[str, int]:
    """Insert the rows (dedupe_key, to, subject, body_text, body_html, template, context, otherwise_to,
    readers, recipients_from);
    a key stored before, or by another transaction first, is skipped, not doubled. Returns the stored
    messages' ids by dedupe key."""
    now = timezone.now()
    rows = [(row[0], row[1], _fitting_subject(row[2]), *row[3:]) for row in rows]
    if connection.vendor != "postgresql":
        # SQLite: the check's write transaction holds the database's write lock, so no other transaction
        # can store one of these keys between this look-up and the insert.
        stored_before = set(
            OutboxMessage.objects.filter(dedupe_key__in=[row[0] for row in rows]).values_list(
                "dedupe_key", flat=True
            )
        )
        new = [row for row in rows if row[0] not in stored_before]
        OutboxMessage.objects.bulk_create(
            [
                OutboxMessage(
                    dedupe_key=key,
                    to=to,
                    subject=subject,
                    body_text=body_text,
                    body_html=body_html,
                    template=template,
                    context=context,
                    otherwise_to=otherwise_to,
                    readers=readers,
                    recipients_from=recorded,
                    next_attempt_at=now,
                )
                for (
                    key,
                    to,
                    subject,
                    body_text,
                    body_html,
                    template,
                    context,
                    otherwise_to,
                    readers,
                    recorded,
                ) in new
            ],
            batch_size=500,
            ignore_conflicts=True,
        )
        return dict(
            OutboxMessage.objects.filter(dedupe_key__in=[row[0] for row in new]).values_list(
                "dedupe_key", "pk"
            )
        )
    # COPY into a scratch table, then one INSERT ... ON CONFLICT: several times faster than sending the
    # rows as INSERT parameters when a check queues tens of thousands at once.
    table = connection.ops.quote_name(OutboxMessage._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING_TABLE} (dedupe_key text, recipients jsonb, "
            "subject text, body_text text, body_html text, template text, context jsonb, "
            "otherwise_to jsonb, readers text, recipients_from jsonb) ON COMMIT DROP"
        )
        cursor.execute(f"TRUNCATE {_INCOMING_TABLE}")
        with cursor.cursor.copy(f"COPY {_INCOMING_TABLE} FROM STDIN") as copy:
            for (
                key,
                to,
                subject,
                body_text,
                body_html,
                template,
                context,
                otherwise_to,
                readers,
                recorded,
            ) in rows:
                copy.write_row(
                    (
                        key,
                        json.dumps(to),
                        subject,
                        body_text,
                        body_html,
                        template,
                        None if context is None else json.dumps(context),
                        None if otherwise_to is None else json.dumps(otherwise_to),
                        readers,
                        None if recorded is None else json.dumps(recorded),
                    )
                )
        cursor.execute(
            f'INSERT INTO {table} (dedupe_key, "to", subject, body_text, body_html, template, context, '
            "otherwise_to, readers, recipients_from, status, attempts, last_error, next_attempt_at, "
            "created_at, updated_at) "
            "SELECT dedupe_key, recipients, subject, body_text, body_html, template, context, "
            "otherwise_to, readers, recipients_from, "
            f"%s, 0, '', %s, %s, %s FROM {_INCOMING_TABLE} "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key, id",
            [OutboxStatus.PENDING, now, now, now],
        )
        return dict(cursor.fetchall())


def _schedule_batch_delivery(message_ids: list[int]) -> None:
    from apn_portal.outbox.tasks import outbox_deliver_batch

    # Broker down: the messages stay pending and the periodic sweep sends them.
    for start in range(0, len(message_ids), DELIVERY_BATCH):
        if not task_publish(
            outbox_deliver_batch,
            (message_ids[start : start + DELIVERY_BATCH],),
            unsent=f"{len(message_ids) - start} outbox messages",
            plural=True,
        ):
            return
