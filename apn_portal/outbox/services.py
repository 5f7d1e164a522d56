"""Queue and deliver notification emails through the outbox."""

import datetime
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from apn_portal.outbox.models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10


def _backoff(attempts: int) -> datetime.timedelta:
    # 1, 2, 4, ... minutes, capped at six hours: a mail server that is down for a day is retried all day.
    return datetime.timedelta(minutes=min(2 ** (attempts - 1), 360))


def outbox_email_enqueue(
    *, dedupe_key: str, to: list[str], subject: str, template: str, context: dict
) -> OutboxMessage | None:
    """Store an email to send once the surrounding transaction commits. Call it inside that transaction.

    `template` names a pair `<template>.txt` and `<template>.html`. Returns None when a message with the
    same dedupe key already exists: that notification was already queued (or sent) and is not repeated.
    """
    recipients = sorted({address for address in to if address})
    if not recipients:
        return None
    context = {**context, "portal_url": settings.PORTAL_URL}
    with transaction.atomic():
        message, created = OutboxMessage.objects.get_or_create(
            dedupe_key=dedupe_key,
            defaults={
                "to": recipients,
                "subject": subject,
                "body_text": render_to_string(f"{template}.txt", context),
                "body_html": render_to_string(f"{template}.html", context),
                "next_attempt_at": timezone.now(),
            },
        )
    if not created:
        return None
    transaction.on_commit(lambda: _schedule_delivery(message.pk))
    return message


def _schedule_delivery(message_id: int) -> None:
    from apn_portal.outbox.tasks import outbox_deliver

    try:
        outbox_deliver.delay(message_id)
    except Exception:  # broker down: the message stays pending and the periodic sweep sends it later
        logger.warning("Could not queue outbox message %s; the sweep will send it", message_id, exc_info=True)


def outbox_deliver_message(message_id: int) -> bool:
    """Send one pending message. Returns True if it was sent by this call.

    The row is locked while sending so two workers never send the same message; a message already sent,
    or locked by another worker, is left alone.
    """
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=OutboxStatus.PENDING)
            .first()
        )
        if message is None:
            return False
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body_text,
            to=message.to,
            from_email=settings.DEFAULT_FROM_EMAIL,
        )
        if message.body_html:
            email.attach_alternative(message.body_html, "text/html")
        message.attempts += 1
        try:
            email.send()
        except Exception as exc:  # any mail failure is retried later; the message is never dropped silently
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = OutboxStatus.FAILED
            else:
                message.next_attempt_at = timezone.now() + _backoff(message.attempts)
            message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at", "updated_at"])
            logger.warning("Outbox message %s failed (attempt %s): %s", message.pk, message.attempts, exc)
            return False
        message.status = OutboxStatus.SENT
        message.sent_at = timezone.now()
        message.last_error = ""
        message.save(update_fields=["attempts", "last_error", "status", "sent_at", "updated_at"])
    return True


def outbox_pending_due_ids(limit: int = 500) -> list[int]:
    return list(
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def outbox_flush(limit: int = 500) -> int:
    """Send every message that is due (used by the periodic sweep and by `run_checks`). Returns sent count."""
    return sum(outbox_deliver_message(message_id) for message_id in outbox_pending_due_ids(limit))
