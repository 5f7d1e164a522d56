"""The notification outbox: stored with the change that causes it, sent once, retried until it goes out."""

import datetime
import threading
import time

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection, transaction
from django.utils import timezone

from apn_portal import celery_app
from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.outbox.services import (
    MAX_ATTEMPTS,
    OutboxEmail,
    outbox_deliver_message,
    outbox_email_enqueue,
    outbox_email_enqueue_many,
    outbox_flush,
)


def enqueue(key="welcome:1", to=("ann@example.com",), **context):
    # The contact request email is a real template pair of the portal; any pair would do.
    return outbox_email_enqueue(
        dedupe_key=key,
        to=list(to),
        subject="A new contact request",
        template="emails/profile_change_proposed",
        context={
            "partner": {"name": "Acme <Cloud>"},
            "proposed_by": "Ann",
            "change": None,
            "admin_path": "/admin/x/",
            **context,
        },
    )


@pytest.mark.django_db
def test_an_enqueued_email_is_stored_pending_with_both_bodies():
    message = enqueue(to=["b@example.com", "a@example.com", "a@example.com", ""])

    assert message.status == OutboxStatus.PENDING
    assert message.to == ["a@example.com", "b@example.com"]
    assert "Acme <Cloud>" in message.body_text  # text is not HTML-escaped
    assert "Acme &lt;Cloud&gt;" in message.body_html
    assert "http://" in message.body_text  # links are absolute, from PORTAL_URL


@pytest.mark.django_db
def test_the_same_dedupe_key_is_stored_and_sent_once():
    first = enqueue(key="lead:CR-1")
    second = enqueue(key="lead:CR-1", to=["someone.else@example.com"])

    assert first is not None
    assert second is None
    assert OutboxMessage.objects.count() == 1
    assert outbox_flush() == 1
    assert outbox_flush() == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_no_recipient_means_nothing_is_stored_and_a_warning_names_the_email(caplog):
    with caplog.at_level("WARNING", logger="apn_portal.outbox.services"):
        assert enqueue(key="lead:CR-9", to=["", ""]) is None
        stored = outbox_email_enqueue_many(
            [
                OutboxEmail(
                    dedupe_key=key,
                    to=to,
                    subject="Acme meets the Select tier again",
                    template="emails/checks/tier_grace_closed",
                    context={
                        "partner": {"name": "Acme"},
                        "tier": {"name": "Select"},
                        "scorecard_path": "/my/",
                    },
                )
                for key, to in (("grace:1", []), ("grace:2", [None, ""]), ("grace:3", ["a@example.com"]))
            ]
        )

    assert stored == {"grace:3"}
    assert list(OutboxMessage.objects.values_list("dedupe_key", flat=True)) == ["grace:3"]
    # Nothing that could never be sent is queued; the log says what went untold.
    assert "lead:CR-9" in caplog.text
    assert "grace:1" in caplog.text and "grace:2" in caplog.text and "grace:3" not in caplog.text
    assert all(record.levelname == "WARNING" for record in caplog.records)


@pytest.mark.django_db
def test_the_delivery_task_runs_after_commit_and_sends_the_email(django_capture_on_commit_callbacks):
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            message = enqueue()
            assert mail.outbox == []  # nothing leaves before the transaction commits
    finally:
        celery_app.conf.task_always_eager = False

    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert message.sent_at is not None


@pytest.mark.django_db
def test_a_rolled_back_transaction_leaves_no_email():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue()
        raise RuntimeError("the change that caused the email failed")

    assert not OutboxMessage.objects.exists()
    assert outbox_flush() == 0


@pytest.mark.django_db
def test_a_failing_mail_server_is_retried_with_back_off_then_given_up(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    message = enqueue()
    now = timezone.now()

    for attempt in range(1, MAX_ATTEMPTS + 1):
        with time_machine.travel(now + datetime.timedelta(days=attempt)):
            assert outbox_flush() == 0
        message.refresh_from_db()
        assert message.attempts == attempt

    assert message.status == OutboxStatus.FAILED
    assert message.last_error.startswith("ConnectionRefusedError")
    with time_machine.travel(now + datetime.timedelta(days=MAX_ATTEMPTS + 1)):
        assert outbox_flush() == 0  # a message failed for good stays visible in the admin, unsent


@pytest.mark.django_db
def test_the_sweep_sends_only_what_is_due():
    due = enqueue(key="due")
    later = enqueue(key="later")
    OutboxMessage.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + datetime.timedelta(hours=1)
    )

    assert outbox_flush() == 1

    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.status, later.status) == (OutboxStatus.SENT, OutboxStatus.PENDING)


class _SlowBackend(LocmemBackend):
    """A mail server that takes its time, so a second worker arrives while the first is still sending."""

    sending = threading.Event()
    release = threading.Event()

    def send_messages(self, messages):
        type(self).sending.set()
        assert type(self).release.wait(10), "the test never let the first delivery finish"
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deliveries_of_one_message_send_it_once(settings):
    settings.EMAIL_BACKEND = f"{__name__}._SlowBackend"
    _SlowBackend.sending.clear()
    _SlowBackend.release.clear()
    message = enqueue()
    results = {}

    def first_worker():
        try:
            results["first"] = outbox_deliver_message(message.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    try:
        assert _SlowBackend.sending.wait(10), "the first delivery never started"
        # The first worker holds the row while its mail server is busy: the second one skips it.
        results["second"] = outbox_deliver_message(message.pk)
    finally:
        _SlowBackend.release.set()
        worker.join(10)

    assert results == {"first": True, "second": False}
    assert len(mail.outbox) == 1
    assert outbox_deliver_message(message.pk) is False  # and once sent, never again
    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)


@pytest.mark.django_db
def test_a_mail_server_down_overnight_loses_nothing(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    message = enqueue()
    started = timezone.now()
    for minute in range(0, 24 * 60, 15):  # the sweep, every quarter of an hour, for a whole day
        with time_machine.travel(started + datetime.timedelta(minutes=minute), tick=False):
            outbox_flush()
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING
    assert message.attempts > 10

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(started + datetime.timedelta(hours=25), tick=False):
        assert outbox_flush() == 1
    assert [sent.subject for sent in mail.outbox] == ["A new contact request"]


@pytest.mark.django_db
def test_a_superuser_sends_failed_emails_again_from_the_admin(client):
    from tests.factories import PdmFactory, SuperUserFactory

    failed = enqueue(key="failed")
    OutboxMessage.objects.filter(pk=failed.pk).update(status=OutboxStatus.FAILED, attempts=MAX_ATTEMPTS)
    sent = enqueue(key="sent")
    assert outbox_flush() == 1
    changelist = "/admin/outbox/outboxmessage/"

    client.force_login(PdmFactory())
    response = client.post(changelist, {"action": "send_again", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == OutboxStatus.FAILED

    client.force_login(SuperUserFactory())
    response = client.post(
        changelist, {"action": "send_again", "_selected_action": [failed.pk, sent.pk]}, follow=True
    )
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["1 email(s) queued again.", "1 not failed, left as they are."]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (OutboxStatus.PENDING, 0)
    assert outbox_flush() == 1
    failed.refresh_from_db()
    assert failed.status == OutboxStatus.SENT


@pytest.mark.django_db
@pytest.mark.parametrize("render_when_sent", [False, True])
def test_a_subject_longer_than_the_column_is_cut_with_an_ellipsis_and_the_email_goes_out(render_when_sent):
    # Subjects are built from names (a partner's 200 characters, a program's 150): together they can exceed
    # the 300 the subject column holds. Every enqueue function stores them cut, rather than failing the
    # whole transaction (a scheduled check rolled back every night).
    limit = OutboxMessage._meta.get_field("subject").max_length
    long_subject = "L" * 200 + ": " + "Database Migration and Modernisation " * 5 + "expired on 30 Sep 2026"
    assert len(long_subject) > limit
    one = outbox_email_enqueue(
        dedupe_key="one",
        to=["a@example.com"],
        subject=long_subject,
        template="emails/profile_change_proposed",
        context={"partner": {"name": "Acme"}, "proposed_by": "Ann", "change": None, "admin_path": "/x/"},
    )
    stored = outbox_email_enqueue_many(
        [
            OutboxEmail(
                dedupe_key=key,
                to=["b@example.com"],
                subject=long_subject,
                template="emails/checks/tier_grace_closed",
                context={"partner": {"name": "Acme"}, "tier": {"name": "Select"}, "scorecard_path": "/my/"},
            )
            for key in ("many-1", "many-2")
        ],
        render_when_sent=render_when_sent,
    )

    assert one is not None and stored == {"many-1", "many-2"}
    assert outbox_flush() == 3
    assert len(mail.outbox) == 3
    for sent in mail.outbox:
        assert len(sent.subject) == limit
        assert sent.subject == long_subject[: limit - 1] + "…"
    # A subject that fits is left exactly as it was.
    assert enqueue(key="short").subject == "A new contact request"


@pytest.mark.django_db
@pytest.mark.parametrize("render_when_sent", [False, True], ids=["rendered now", "rendered when sent"])
def test_a_subject_built_from_a_name_with_a_line_break_is_sent_on_one_line(render_when_sent):
    # A name sent through the API may hold a line break; an email header may not (Django refuses the
    # message, and every retry with it), so the subject is stored on one line.
    subject = "Acme\r\nCloud\u2028Partners: Migration expired on 30 Sep 2026"
    outbox_email_enqueue(
        dedupe_key="one",
        to=["a@example.com"],
        subject=subject,
        template="emails/profile_change_proposed",
        context={"partner": {"name": "Acme"}, "proposed_by": "Ann", "change": None, "admin_path": "/x/"},
    )
    outbox_email_enqueue_many(
        [
            OutboxEmail(
                dedupe_key="many",
                to=["b@example.com"],
                subject=subject,
                template="emails/checks/tier_grace_closed",
                context={"partner": {"name": "Acme"}, "tier": {"name": "Select"}, "scorecard_path": "/my/"},
            )
        ],
        render_when_sent=render_when_sent,
    )

    assert outbox_flush() == 2
    assert [sent.subject for sent in mail.outbox] == [
        "Acme Cloud Partners: Migration expired on 30 Sep 2026"
    ] * 2
    assert not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()


class SlowMailServer(LocmemBackend):
    """A mail server that answers, but slowly: each message takes a tenth of a second."""

    def send_messages(self, messages):
        time.sleep(0.1)
        return super().send_messages(messages)


@pytest.mark.django_db
def test_a_slow_mail_server_holds_a_worker_no_longer_than_its_budget(settings):
    # The worker is shared with the scheduled checks: a batch stops taking messages once its budget is
    # spent, and the sweep sends the rest, none lost and none sent twice.
    settings.EMAIL_BACKEND = f"{__name__}.SlowMailServer"
    for index in range(6):
        enqueue(key=f"slow:{index}")

    sent_first = outbox_flush(budget_seconds=0.25)

    assert 1 <= sent_first < 6
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING, attempts=0).count() == 6 - sent_first
    assert outbox_flush() == 6 - sent_first
    assert len(mail.outbox) == 6
    assert not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()
