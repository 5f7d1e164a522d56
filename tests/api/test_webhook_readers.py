"""A delivery telling of a customer's record (a support case, an access grant) is sent only while its
endpoint's owner may still see that record: checked when it was queued, and again when it goes out (a
retry hours later, a resend from the admin), by the rule the emails telling of it are sent by. A TAM the
customer moved on from meanwhile is not sent the case, and reads why in their delivery log."""

import datetime
import socket

import pytest
from django.urls import reverse

from apn_portal.webhooks.choices import DeliveryStatus
from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_deliver, webhook_deliveries_retry, webhook_endpoint_create
from engagements.services import access_grant_revoke
from support.models import SupportCase
from support.services import (
    support_case_open,
    support_cases_mark_breached,
    support_customer_tam_name,
    support_subscription_change,
)
from tests.api.conftest import api_client
from tests.api.receiver import start_receiver
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    QualifiedTamFactory,
    SuperUserFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db

SECRET = "s3cret-for-tests-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def receiver():
    receiver, server = start_receiver(_free_port())
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def customer():
    """A customer on Enterprise support, with its designated TAM (who registers an endpoint) and an
    Account Manager to name another."""
    manager, tam = AccountManagerFactory(), QualifiedTamFactory()
    customer = CustomerFactory(account_manager=manager)
    support_subscription_change(user=manager, customer=customer, plan=support_plan("enterprise"), tam=tam)
    customer.refresh_from_db()
    assert customer.tam == tam
    return customer


def _tam_endpoint(customer, receiver):
    return webhook_endpoint_create(
        user=customer.tam,
        url=receiver.url,
        events=["support_case.breached", "access_grant.revoked"],
        secret=SECRET,
    )


def _breach_delivery(customer, endpoint) -> WebhookDelivery:
    case = support_case_open(
        user=CustomerUserFactory(customer=customer),
        account=AwsAccountFactory(customer=customer),
        subject="Site down",
        description="503 everywhere.",
        severity="production_down",
    )
    later = case.first_response_due_at + datetime.timedelta(minutes=1)
    support_cases_mark_breached(SupportCase.objects.filter(pk=case.pk), later)
    return WebhookDelivery.objects.get(endpoint=endpoint, event="support_case.breached")


def _name_tam(customer, tam):
    support_customer_tam_name(user=customer.account_manager, customer=customer, tam=tam)
    customer.refresh_from_db()


def test_a_breach_is_not_sent_to_the_tam_the_customer_moved_on_from_before_it_went_out(customer, receiver):
    former = customer.tam
    endpoint = _tam_endpoint(customer, receiver)
    delivery = _breach_delivery(customer, endpoint)

    _name_tam(customer, QualifiedTamFactory())
    assert webhook_deliver(delivery.pk) is False

    assert receiver.received == []
    # Their delivery log says it was not sent, and why.
    (shown,) = api_client(former).get("/api/v1/webhook-deliveries/").json()["results"]
    assert (shown["id"], shown["status"], shown["next_attempt_at"]) == (delivery.pk, "not_sent", None)
    case_id = delivery.payload["data"]["id"]
    assert shown["last_error"].startswith(
        f"Not sent: the endpoint's owner may no longer see the support case it tells of (#{case_id})"
    )
    assert not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()  # not tried again


def test_a_breach_goes_to_the_tam_named_back_before_it_went_out(customer, receiver):
    former = customer.tam
    endpoint = _tam_endpoint(customer, receiver)
    delivery = _breach_delivery(customer, endpoint)

    _name_tam(customer, QualifiedTamFactory())
    _name_tam(customer, former)  # put back a moment later

    assert webhook_deliver(delivery.pk) is True
    assert len(receiver.received) == 1


def _resend(delivery):
    webhook_deliveries_retry(
        deliveries=WebhookDelivery.objects.filter(pk=delivery.pk), user=SuperUserFactory()
    )


def test_a_resend_from_the_delivery_log_is_checked_again(customer, receiver):
    former = customer.tam
    endpoint = _tam_endpoint(customer, receiver)
    delivery = _breach_delivery(customer, endpoint)
    _name_tam(customer, QualifiedTamFactory())
    webhook_deliver(delivery.pk)

    _resend(delivery)
    webhook_deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.NOT_SENT
    assert receiver.received == []

    # Theirs again: the resend reaches them.
    _name_tam(customer, former)
    _resend(delivery)
    assert webhook_deliver(delivery.pk) is True
    assert len(receiver.received) == 1


def test_the_admins_resend_queues_a_not_sent_delivery_again(customer, receiver, client):
    endpoint = _tam_endpoint(customer, receiver)
    delivery = _breach_delivery(customer, endpoint)
    _name_tam(customer, QualifiedTamFactory())
    webhook_deliver(delivery.pk)

    client.force_login(SuperUserFactory())
    response = client.post(
        reverse("admin:webhooks_webhookdelivery_changelist"),
        {"action": "retry_now", "_selected_action": [delivery.pk]},
        follow=True,
    )

    assert "1 failed or not sent deliveries queued again now" in response.content.decode()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)


def test_a_grants_end_is_not_sent_to_staff_who_no_longer_look_after_its_customer(customer, receiver):
    endpoint = _tam_endpoint(customer, receiver)
    grant = AccessGrantFactory(account__customer=customer, engagement_partner__engagement__customer=customer)
    access_grant_revoke(
        user=CustomerUserFactory(customer=customer, access_admin=True), grant=grant, reason="Contract ended"
    )
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event="access_grant.revoked")

    _name_tam(customer, QualifiedTamFactory())
    webhook_deliver(delivery.pk)

    delivery.refresh_from_db()
    assert receiver.received == []
    assert delivery.status == DeliveryStatus.NOT_SENT
    assert delivery.last_error.startswith(
        f"Not sent: the endpoint's owner may no longer see the access grant it tells of (#{grant.pk})"
    )
