"""Password reset emails go through the outbox: queued with the request, sent (and retried) after it."""

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.outbox.services import MAIL_SERVER_PAUSE, outbox_flush
from tests.factories import PartnerUserFactory, SuperUserFactory

pytestmark = pytest.mark.django_db

ADDRESS = "pat@partner.example.com"


@pytest.fixture
def pat():
    user = PartnerUserFactory(username="pat.partner")
    user.email = ADDRESS
    user.save(update_fields=["email"])
    return user


def ask_for_a_reset(client, email, django_capture_on_commit_callbacks):
    # The callbacks run as after a real commit: the delivery task goes to the (in-memory) broker.
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("password_reset"), {"email": email})


def reset_link(text):
    """The link's path, to open with the test client; the link itself starts with PORTAL_URL."""
    return re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", text).group(1)


def test_a_reset_link_is_queued_in_the_outbox_and_works_once_sent(
    client, pat, django_capture_on_commit_callbacks
):
    response = ask_for_a_reset(client, ADDRESS, django_capture_on_commit_callbacks)

    assertRedirects(response, reverse("password_reset_done"))
    assert mail.outbox == []  # not sent from the request
    message = OutboxMessage.objects.get()
    assert (message.to, message.subject, message.status) == (
        [ADDRESS],
        "Reset your APN Portal password",
        OutboxStatus.PENDING,
    )

    assert outbox_flush() == 1
    (email,) = mail.outbox
    assert email.to == [ADDRESS]
    link = reset_link(email.body)
    # Sent: the outbox keeps no copy of the link.
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert "/accounts/reset/" not in message.body_text + message.body_html
    form_page = client.get(link, follow=True)
    assertContains(form_page, "Choose a new password")
    accepted = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "tangerine-92", "new_password2": "tangerine-92"}
    )
    assertRedirects(accepted, reverse("password_reset_complete"))
    pat.refresh_from_db()
    assert pat.check_password("tangerine-92")


def test_an_unknown_address_queues_nothing_and_gets_the_same_page(
    client, pat, django_capture_on_commit_callbacks
):
    response = ask_for_a_reset(client, "nobody@example.com", django_capture_on_commit_callbacks)

    assertRedirects(response, reverse("password_reset_done"))
    assertContains(client.get(response.url), "Check your email")
    assert not OutboxMessage.objects.exists()
    assert outbox_flush() == 0
    assert mail.outbox == []


def test_a_reset_asked_for_while_the_mail_server_is_down_is_kept_and_sent_later(
    client, pat, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2

    response = ask_for_a_reset(client, ADDRESS, django_capture_on_commit_callbacks)

    assertRedirects(response, reverse("password_reset_done"))
    assert outbox_flush() == 0  # the mail server refuses: the message stays queued for a retry
    message = OutboxMessage.objects.get()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert message.last_error.startswith("ConnectionRefusedError")

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The sweep after the server's return: past the message's back-off and the outbox's pause.
    with time_machine.travel(timezone.now() + MAIL_SERVER_PAUSE + datetime.timedelta(minutes=1)):
        assert outbox_flush() == 1
    (email,) = mail.outbox
    assert client.get(reset_link(email.body), follow=True).context["validlink"]


def test_the_outbox_admin_does_not_show_the_reset_link(client, pat, django_capture_on_commit_callbacks):
    ask_for_a_reset(client, ADDRESS, django_capture_on_commit_callbacks)
    message = OutboxMessage.objects.get()
    token_path = reset_link(message.body_text)

    client.force_login(SuperUserFactory())
    page = client.get(reverse("admin:outbox_outboxmessage_change", args=[message.pk]))

    assertContains(page, "Reset your APN Portal password")
    assertNotContains(page, token_path)
    assertNotContains(page, token_path.rstrip("/").rsplit("/", 1)[-1])  # nor the token on its own


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8000",  # where the request came in: the portal's own address, not its public one
        "attacker.example.net",  # a forged Host, on a portal that answers to any
    ],
)
def test_the_reset_link_goes_to_the_portal_url_whatever_the_request_host(
    client, pat, settings, django_capture_on_commit_callbacks, host
):
    settings.PORTAL_URL = "https://portal.example.com"
    settings.ALLOWED_HOSTS = ["*"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("password_reset"), {"email": ADDRESS}, HTTP_HOST=host)

    assert response.status_code == 302
    outbox_flush()
    (email,) = mail.outbox
    links = re.findall(r"\S+/accounts/reset/\S+/", email.body)
    assert len(links) == 1
    assert links[0].startswith("https://portal.example.com/accounts/reset/")
    assert host not in email.body


def test_asking_again_and_again_queues_one_email_and_the_link_already_sent_keeps_working(
    client, pat, django_capture_on_commit_callbacks
):
    start = timezone.now()
    answers = []
    for minute in range(14):  # once a minute, for all but the last minute of the window
        with time_machine.travel(start + datetime.timedelta(minutes=minute), tick=False):
            answers.append(ask_for_a_reset(client, ADDRESS, django_capture_on_commit_callbacks))
            answers.append(ask_for_a_reset(client, "nobody@example.com", django_capture_on_commit_callbacks))

    # Every answer, for the address with an account as for the one without, is the same page.
    assert {(answer.status_code, answer.url) for answer in answers} == {(302, reverse("password_reset_done"))}
    assert OutboxMessage.objects.filter(to=[ADDRESS]).count() == 1
    assert OutboxMessage.objects.count() == 1
    outbox_flush()
    (email,) = mail.outbox
    assert client.get(reset_link(email.body), follow=True).context["validlink"]


def test_a_reset_asked_for_after_the_window_is_sent_again(client, pat, django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        ask_for_a_reset(client, ADDRESS, django_capture_on_commit_callbacks)
    with time_machine.travel(start + datetime.timedelta(minutes=16), tick=False):
        ask_for_a_reset(client, ADDRESS, django_capture_on_commit_callbacks)

        assert OutboxMessage.objects.filter(to=[ADDRESS]).count() == 2
        outbox_flush()
        first, second = mail.outbox
        assert client.get(reset_link(first.body), follow=True).context["validlink"]
        assert client.get(reset_link(second.body), follow=True).context["validlink"]


def test_the_limit_holds_when_the_cache_is_lost(client, pat, django_capture_on_commit_callbacks):
    # The start of a window of the database's limit, so both requests fall in it.
    start = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        ask_for_a_reset(client, ADDRESS, django_capture_on_commit_callbacks)
    cache.clear()  # a Redis restarted, or another process's local cache
    with time_machine.travel(start + datetime.timedelta(minutes=5), tick=False):
        ask_for_a_reset(client, ADDRESS, django_capture_on_commit_callbacks)

    assert OutboxMessage.objects.filter(to=[ADDRESS]).count() == 1
