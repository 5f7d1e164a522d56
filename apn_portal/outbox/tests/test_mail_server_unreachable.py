"""A mail server that cannot be reached holds no worker for long: one failed connection pauses every
delivery until a later sweep tries again, and nothing is lost meanwhile. A message refused on its own
pauses nothing, and a message waits out its back-off whoever tries it."""

import datetime
import smtplib

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone

from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.outbox.services import (
    MAIL_SERVER_PAUSE,
    outbox_deliver_message,
    outbox_flush,
    outbox_mail_server_paused,
    outbox_pending_due_ids,
    outbox_rendered_email_enqueue,
)
from tests.servers import silent_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def silent_mail_server(settings):
    """A mail server that takes connections and never says a word: each send waits out EMAIL_TIMEOUT."""
    with silent_server() as port:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 1
        yield


def store(number: int, to="reader@example.com") -> OutboxMessage:
    return outbox_rendered_email_enqueue(
        dedupe_key=f"notice:{number}", to=[to], subject=f"Notice {number}", body_text="Hello."
    )


def attempts() -> list[int]:
    return list(OutboxMessage.objects.order_by("pk").values_list("attempts", flat=True))


def test_a_sweep_tries_one_message_on_a_silent_mail_server_and_leaves_the_rest_waiting(silent_mail_server):
    messages = [store(number) for number in range(5)]

    assert outbox_flush() == 0

    assert attempts() == [1, 0, 0, 0, 0]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.PENDING}
    assert OutboxMessage.objects.get(pk=messages[0].pk).last_error.endswith("timed out")
    assert outbox_mail_server_paused()
    # The delivery queued for each new message waits too, without trying the server.
    assert outbox_deliver_message(messages[3].pk) is False
    assert attempts() == [1, 0, 0, 0, 0]


def test_a_refused_connection_pauses_deliveries_and_the_next_sweep_after_the_pause_sends_everything(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    for number in range(3):
        store(number)
    assert outbox_flush() == 0
    assert attempts() == [1, 0, 0]

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the server is back
    assert outbox_flush() == 0  # still paused: nothing tried
    with time_machine.travel(timezone.now() + MAIL_SERVER_PAUSE + datetime.timedelta(minutes=1)):
        assert not outbox_mail_server_paused()
        assert outbox_flush() == 3

    assert sorted(sent.subject for sent in mail.outbox) == ["Notice 0", "Notice 1", "Notice 2"]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


class _RefusesOneAddress(LocmemBackend):
    """A mail server that works but refuses one recipient, as a real one refuses an unknown mailbox."""

    def send_messages(self, messages):
        for message in messages:
            if "nobody@example.com" in message.to:
                raise smtplib.SMTPRecipientsRefused({"nobody@example.com": (550, b"No such user")})
        return super().send_messages(messages)


def test_a_message_refused_on_its_own_pauses_nothing_and_waits_out_its_back_off(settings):
    settings.EMAIL_BACKEND = f"{__name__}._RefusesOneAddress"
    refused = store(0, to="nobody@example.com")
    others = [store(1), store(2)]
    read_before_the_failure = outbox_pending_due_ids()

    assert outbox_flush() == 2

    assert not outbox_mail_server_paused()
    assert sorted(sent.subject for sent in mail.outbox) == ["Notice 1", "Notice 2"]
    refused.refresh_from_db()
    assert (refused.status, refused.attempts) == (OutboxStatus.PENDING, 1)
    assert refused.next_attempt_at > timezone.now()
    # A sweep that read the due messages before the failure does not try it again before its time.
    assert read_before_the_failure[0] == refused.pk
    assert outbox_deliver_message(refused.pk) is False
    refused.refresh_from_db()
    assert refused.attempts == 1
    assert all(message.pk in read_before_the_failure for message in others)
