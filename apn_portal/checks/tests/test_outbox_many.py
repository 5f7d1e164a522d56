"""outbox_email_enqueue_many: the checks' way to queue many emails at once, each key stored once."""

import pytest
from django.core import mail

from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.outbox.services import (
    OutboxEmail,
    outbox_email_enqueue,
    outbox_email_enqueue_many,
    outbox_flush,
)

pytestmark = pytest.mark.django_db

TEMPLATE = "emails/checks/tier_grace_closed"


def email(key, to=("ops@acme.example",), name="Acme <Cloud>"):
    return OutboxEmail(
        dedupe_key=key,
        to=list(to),
        subject=f"{name} meets its tier again",
        template=TEMPLATE,
        context={"partner": {"name": name}, "tier": {"name": "Select"}, "scorecard_path": "/my/"},
    )


def test_many_emails_are_stored_once_each_with_both_bodies():
    stored = outbox_email_enqueue_many(
        [email("a"), email("b", to=["z@x.example", "y@x.example", "y@x.example"])]
    )

    assert stored == {"a", "b"}
    b = OutboxMessage.objects.get(dedupe_key="b")
    assert b.to == ["y@x.example", "z@x.example"]
    assert b.status == OutboxStatus.PENDING and b.next_attempt_at is not None
    assert "Acme <Cloud> meets what the Select tier asks for again" in b.body_text
    assert "Acme &lt;Cloud&gt;" in b.body_html
    assert "http://" in b.body_text  # absolute links, from PORTAL_URL


def test_keys_stored_before_or_twice_in_one_call_are_skipped():
    outbox_email_enqueue(
        dedupe_key="a", to=["ops@acme.example"], subject="Earlier", template=TEMPLATE, context={"partner": {}}
    )

    stored = outbox_email_enqueue_many(
        [email("a"), email("c"), email("c", to=["other@x.example"]), email("d", to=[])]
    )

    assert stored == {"c"}
    assert OutboxMessage.objects.get(dedupe_key="a").subject == "Earlier"
    assert OutboxMessage.objects.get(dedupe_key="c").to == ["ops@acme.example"]
    assert not OutboxMessage.objects.filter(dedupe_key="d").exists()  # nobody to send it to


def test_stored_emails_are_delivered_by_the_outbox():
    outbox_email_enqueue_many([email("a"), email("b")])

    assert outbox_flush() == 2
    assert sorted(message.subject for message in mail.outbox) == ["Acme <Cloud> meets its tier again"] * 2
    assert outbox_email_enqueue_many([email("a")]) == set()
