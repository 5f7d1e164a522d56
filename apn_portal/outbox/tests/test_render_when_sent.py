"""Emails queued with render_when_sent: stored as a template and its context, rendered as they are sent."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.outbox.services import (
    OutboxEmail,
    outbox_email_enqueue_many,
    outbox_flush,
    outbox_message_bodies,
)
from tests.factories import SuperUserFactory

pytestmark = pytest.mark.django_db

TEMPLATE = "emails/checks/tier_grace_closed"


def email(key="a", template=TEMPLATE, name="Acme <Cloud>", to=("ops@acme.example",)):
    return OutboxEmail(
        dedupe_key=key,
        to=list(to),
        subject=f"{name} meets its tier again",
        template=template,
        context={"partner": {"name": name}, "tier": {"name": "Select"}, "scorecard_path": "/my/"},
    )


def test_the_email_is_stored_unrendered_and_sent_in_text_and_html():
    assert outbox_email_enqueue_many([email()], render_when_sent=True) == {"a"}
    message = OutboxMessage.objects.get(dedupe_key="a")
    assert message.body_text == "" and message.template == TEMPLATE
    assert message.context["partner"] == {"name": "Acme <Cloud>"}

    assert outbox_flush() == 1

    [sent] = mail.outbox
    assert "Acme <Cloud> meets what the Select tier asks for again" in sent.body
    assert "http://" in sent.body  # absolute links, from PORTAL_URL
    html, mimetype = sent.alternatives[0]
    assert mimetype == "text/html" and "Acme &lt;Cloud&gt;" in html


def test_a_pending_message_can_be_read_before_it_is_sent_and_keeps_what_was_sent():
    outbox_email_enqueue_many([email()], render_when_sent=True)
    message = OutboxMessage.objects.get()
    text, html = outbox_message_bodies(message)
    assert "Acme <Cloud> meets what the Select tier asks for again" in text
    assert "Acme &lt;Cloud&gt;" in html

    outbox_flush()

    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert (message.body_text, message.body_html) == (text, html)  # the record of what went out


def test_keys_stored_before_are_skipped_whichever_way_they_were_queued():
    outbox_email_enqueue_many([email("a")])
    stored = outbox_email_enqueue_many(
        [email("a"), email("b"), email("b"), email("c", to=[])], render_when_sent=True
    )

    assert stored == {"b"}
    assert OutboxMessage.objects.count() == 2
    assert outbox_flush() == 2
    assert outbox_email_enqueue_many([email("b")], render_when_sent=True) == set()
    assert outbox_flush() == 0
    assert len(mail.outbox) == 2


def test_a_template_that_cannot_be_rendered_is_retried_not_lost():
    outbox_email_enqueue_many([email(template="emails/checks/no_such_email")], render_when_sent=True)
    message = OutboxMessage.objects.get()

    assert outbox_flush() == 0

    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert message.last_error.startswith("TemplateDoesNotExist")
    assert mail.outbox == []
    # Once the template is there (here: the message pointed at one that exists), the retry sends it.
    OutboxMessage.objects.filter(pk=message.pk).update(template=TEMPLATE)
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1)):
        assert outbox_flush() == 1
    assert len(mail.outbox) == 1


def test_a_context_that_is_not_json_is_refused_when_queued():
    not_json = OutboxEmail(
        dedupe_key="a",
        to=["ops@acme.example"],
        subject="s",
        template=TEMPLATE,
        context={"when": timezone.now()},
    )
    with pytest.raises(TypeError):
        outbox_email_enqueue_many([not_json], render_when_sent=True)


def test_the_admin_shows_the_text_a_pending_message_will_be_sent_with(client):
    outbox_email_enqueue_many([email()], render_when_sent=True)
    client.force_login(SuperUserFactory())

    response = client.get(reverse("admin:outbox_outboxmessage_change", args=[OutboxMessage.objects.get().pk]))

    assert response.status_code == 200
    assert "meets what the Select tier asks for again" in response.content.decode()
