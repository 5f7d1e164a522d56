"""Sending webhook deliveries again from the admin's delivery log."""

import datetime
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from apn_portal.webhooks.choices import DeliveryStatus
from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import MAX_ATTEMPTS, webhook_deliver, webhook_endpoint_create
from tests.factories import SuperUserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:webhooks_webhookdelivery_changelist"


@pytest.fixture
def superuser():
    return SuperUserFactory()


def delivery(superuser, **fields):
    # Port 1 of localhost refuses: every attempt fails, as with a receiver that is down.
    endpoint = webhook_endpoint_create(
        user=superuser, url="http://127.0.0.1:1/hook", events=["partner.tier_changed"]
    )
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        event="partner.tier_changed",
        event_id=uuid.uuid4(),
        payload={"data": {}},
        last_error="No response: [Errno 111] Connection refused",
        **fields,
    )


def send_again(client, superuser, *deliveries, django_capture_on_commit_callbacks):
    client.force_login(superuser)
    with django_capture_on_commit_callbacks():  # the tasks are not run: the test makes the attempts
        return client.post(
            reverse(CHANGELIST),
            {"action": "retry_now", "_selected_action": [d.pk for d in deliveries]},
            follow=True,
        )


def test_sending_again_a_delivery_still_being_retried_sends_it_now_and_keeps_its_attempts(
    client, superuser, django_capture_on_commit_callbacks
):
    waiting = delivery(superuser, attempts=5, next_attempt_at=timezone.now() + datetime.timedelta(hours=2))

    response = send_again(
        client, superuser, waiting, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks
    )

    assertContains(response, "1 deliveries still being retried are sent now instead of at their next retry")
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 5)
    assert waiting.last_error  # its history is kept
    assert waiting.next_attempt_at <= timezone.now()
    assert webhook_deliver(waiting.pk) is False  # attempted now, not in two hours
    waiting.refresh_from_db()
    assert waiting.attempts == 6


def test_a_delivery_on_its_last_retry_sent_again_is_not_given_a_fresh_round(
    client, superuser, django_capture_on_commit_callbacks
):
    last = delivery(
        superuser, attempts=MAX_ATTEMPTS - 1, next_attempt_at=timezone.now() + datetime.timedelta(hours=6)
    )

    send_again(client, superuser, last, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    webhook_deliver(last.pk)

    last.refresh_from_db()
    assert (last.status, last.attempts) == (DeliveryStatus.FAILED, MAX_ATTEMPTS)


def test_sending_again_a_failed_delivery_starts_a_fresh_round_and_a_delivered_one_is_left_alone(
    client, superuser, django_capture_on_commit_callbacks
):
    failed = delivery(superuser, status=DeliveryStatus.FAILED, attempts=MAX_ATTEMPTS)
    delivered = delivery(
        superuser, status=DeliveryStatus.DELIVERED, attempts=1, delivered_at=timezone.now(), response_code=200
    )

    response = send_again(
        client,
        superuser,
        failed,
        delivered,
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )

    assertContains(
        response, "1 failed or not sent deliveries queued again now, with a fresh round of attempts."
    )
    assertContains(response, "1 deliveries left as they are: delivered already, or being sent right now.")
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (DeliveryStatus.PENDING, 0)
    assert failed.next_attempt_at <= timezone.now()
    delivered.refresh_from_db()
    assert (delivered.status, delivered.attempts) == (DeliveryStatus.DELIVERED, 1)


def test_an_operator_resends_300_failed_deliveries_at_once(client, django_capture_on_commit_callbacks):
    # After a receiver's outage: two statements whatever the selection, so the cap of actions made one row
    # at a time does not apply.
    superuser = SuperUserFactory()
    endpoint = webhook_endpoint_create(
        user=superuser, url="http://127.0.0.1:1/hook", events=["partner.tier_changed"]
    )
    failed = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event="partner.tier_changed",
            event_id=uuid.uuid4(),
            payload={"data": {}},
            status=DeliveryStatus.FAILED,
            attempts=MAX_ATTEMPTS,
        )
        for _ in range(300)
    )
    client.force_login(superuser)

    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("admin:webhooks_webhookdelivery_changelist"),
            {"action": "retry_now", "_selected_action": [delivery.pk for delivery in failed]},
            follow=True,
        )

    assert not [str(m) for m in response.context["messages"] if str(m).startswith("Select at most")]
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, attempts=0).count() == 300
