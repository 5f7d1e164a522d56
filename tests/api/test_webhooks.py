"""Webhooks: events stored with the change, POSTed signed after commit by a Celery worker, retried with
backoff when the receiver fails, and only to allowed hosts."""

import contextlib
import datetime
import json
import socket
import threading
import time
import uuid

import kombu.exceptions
import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from apn_portal.broker import broker_pause_end
from apn_portal.celery import app as celery_app
from apn_portal.webhooks import services as webhook_services
from apn_portal.webhooks import tasks  # (also registers the tasks with the worker)
from apn_portal.webhooks.choices import DeliveryStatus
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from apn_portal.webhooks.services import (
    ENDPOINT_PAUSE,
    MAX_ATTEMPTS,
    webhook_deliver,
    webhook_deliveries_due_ids,
    webhook_endpoint_create,
)
from partners import services
from tests.api.conftest import api_client
from tests.api.receiver import start_receiver, verify_signature
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    SuperUserFactory,
    tier,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A port of this run's own: two test runs on one machine (a CI job beside a developer's) never meet.
RECEIVER_PORT = _free_port()
SECRET = "s3cret-for-tests-0123456789"


@pytest.fixture
def receiver():
    receiver, server = start_receiver(RECEIVER_PORT)
    yield receiver
    server.shutdown()
    server.server_close()


def _endpoint(user, receiver, events=("partner.tier_changed",)):
    return webhook_endpoint_create(user=user, url=receiver.url, events=list(events), secret=SECRET)


def test_an_event_is_stored_with_the_change_and_its_post_is_signed(
    db, receiver, django_capture_on_commit_callbacks
):
    pdm = PdmFactory()
    partner = PartnerFactory(slug="alpha", pdm=pdm)
    endpoint = _endpoint(PartnerUserFactory(partner=partner), receiver)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_client(pdm).post(
            "/api/v1/partners/alpha/tier-change/",
            {"to_tier": tier(slug="select").pk, "reason": "Audit passed"},
            format="json",
        )
    assert response.status_code == 201
    # The delivery is queued only once the change commits (beside it: the search caches dropped then).
    assert [callback.__qualname__ for callback in callbacks if "webhook" in callback.__qualname__] == [
        "webhook_events_emit_many.<locals>.<lambda>"
    ]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event == "partner.tier_changed"
    assert delivery.payload["data"] == response.json()

    assert webhook_deliver(delivery.pk) is True
    (request,) = receiver.received
    assert request.headers["X-APN-Event"] == "partner.tier_changed"
    assert request.headers["X-APN-Delivery"] == str(delivery.pk)
    assert verify_signature(SECRET, request.headers, request.body)
    assert not verify_signature("another-secret", request.headers, request.body)
    assert json.loads(request.body)["data"]["to_tier"]["slug"] == "select"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (DeliveryStatus.DELIVERED, 1, 200)


def test_a_failing_receiver_is_retried_with_growing_delays_until_it_accepts(db, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    superuser = SuperUserFactory()
    _endpoint(superuser, receiver)
    partner = PartnerFactory()
    receiver.statuses = [500, 503]
    services.partner_tier_change(
        partner=partner, to_tier=tier(slug="select"), reason="Qualified", user=superuser
    )
    delivery = WebhookDelivery.objects.get()

    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert webhook_deliver(delivery.pk) is False
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 500)
        assert delivery.last_error == "The receiver answered HTTP 500."
        assert delivery.next_attempt_at == start + datetime.timedelta(seconds=30)

        assert webhook_deliver(delivery.pk) is False  # not due yet: nothing is sent
        assert len(receiver.received) == 1

        clock.shift(datetime.timedelta(seconds=31))
        assert webhook_deliver(delivery.pk) is False
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert delivery.next_attempt_at == timezone.now() + datetime.timedelta(seconds=60)

        clock.shift(datetime.timedelta(seconds=61))
        assert webhook_deliver(delivery.pk) is True
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.DELIVERED, 3, "")
    assert len({r.headers["X-APN-Delivery"] for r in receiver.received}) == 1  # one delivery, three tries
    # What docs/api.md tells receivers to drop duplicates by: the event's id, in the signed body, the same
    # on every try; a replay with it changed no longer verifies.
    (event_id,) = {json.loads(r.body)["id"] for r in receiver.received}
    last = receiver.received[-1]
    assert verify_signature(SECRET, last.headers, last.body)
    assert not verify_signature(
        SECRET, last.headers, last.body.replace(event_id.encode(), uuid.uuid4().hex.encode())
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},  # from anybody: no signature at all
        {"X-APN-Timestamp": "now", "X-APN-Signature": "sha256=00"},
        {"X-APN-Timestamp": str(int(time.time())), "X-APN-Signature": "sha256=\u00e9"},
        {"X-APN-Timestamp": str(int(time.time()))},
        {"X-APN-Timestamp": "1" * 5000, "X-APN-Signature": "sha256=00"},  # past int()'s 4,300 digits
    ],
    ids=[
        "unsigned",
        "a timestamp that is no number",
        "a signature that is not ASCII",
        "no signature",
        "a timestamp of 5,000 digits",
    ],
)
def test_the_documented_check_refuses_a_forged_request_rather_than_failing(headers):
    # A receiver that raised would answer a stranger with a 500 (and its error log), not the 401 it means.
    assert verify_signature(SECRET, headers, b'{"id": "x"}') is False


def the_one_delivery(superuser, receiver):
    """A partner's tier changes: the one endpoint registered is called, and accepts. What it received."""
    [delivery] = _tier_changes(superuser, 1)
    assert webhook_deliver(delivery.pk) is True
    (request,) = receiver.received
    return request


def test_a_url_with_letters_beyond_ascii_is_called_at_that_address_percent_encoded(db, receiver):
    superuser = SuperUserFactory()
    webhook_endpoint_create(
        user=superuser,
        url=f"http://127.0.0.1:{RECEIVER_PORT}/hooks/caf\u00e9?team=z\u00fcrich&x=%2F",
        events=["partner.tier_changed"],
        secret=SECRET,
    )
    request = the_one_delivery(superuser, receiver)

    assert request.path == "/hooks/caf%C3%A9?team=z%C3%BCrich&x=%2F"  # what was escaped stays escaped
    assert verify_signature(SECRET, request.headers, request.body)


def test_an_endpoint_registered_with_a_user_name_before_they_were_refused_is_still_called(db, receiver):
    # Its receiver never got the user name (nor needed it: it checks signatures), and still does not.
    superuser = SuperUserFactory()
    WebhookEndpoint.objects.create(
        owner=superuser,
        url=f"http://hook:pa55@127.0.0.1:{RECEIVER_PORT}/hooks/apn",
        events=["partner.tier_changed"],
        secret=SECRET,
    )
    request = the_one_delivery(superuser, receiver)

    assert "Authorization" not in request.headers
    assert verify_signature(SECRET, request.headers, request.body)


@pytest.mark.parametrize("credentials", ["hook:pa55@", "hook@"])
def test_a_url_with_a_user_name_or_password_is_refused_naming_the_url(world, credentials):
    response = world.client("user_a").post(
        "/api/v1/webhook-endpoints/",
        {
            "url": f"http://{credentials}127.0.0.1:{RECEIVER_PORT}/hooks/apn",
            "events": ["partner.tier_changed"],
        },
        format="json",
    )

    assert response.status_code == 400
    (message,) = response.json()["url"]
    assert "user name or password" in message
    assert "pa55" not in response.content.decode()


@pytest.mark.parametrize("leaves", ["deactivated", "moves to another partner"])
def test_what_was_queued_for_someone_who_left_is_not_sent_after(db, receiver, leaves):
    pdm = PdmFactory()
    partner = PartnerFactory(pdm=pdm)
    owner = PartnerUserFactory(partner=partner)
    _endpoint(owner, receiver)
    receiver.statuses = [500]
    services.partner_tier_change(partner=partner, to_tier=tier(slug="select"), reason="Audit", user=pdm)
    delivery = WebhookDelivery.objects.get()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert webhook_deliver(delivery.pk) is False  # the first try fails: a retry is due later
        if leaves == "deactivated":
            owner.is_active = False
        else:
            owner.partner = PartnerFactory()
        owner.save()
        clock.shift(datetime.timedelta(hours=1))

        assert webhook_deliver(delivery.pk) is False

    delivery.refresh_from_db()
    assert len(receiver.received) == 1
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == "The endpoint's owner was deactivated or no longer works for its partner."


def test_events_reach_only_endpoints_that_may_see_them(db, receiver):
    pdm = PdmFactory()
    alpha, bravo = PartnerFactory(pdm=pdm), PartnerFactory()
    events = ("partner.tier_changed", "contact_request.created", "enrollment.approved")
    alpha_endpoint = _endpoint(PartnerUserFactory(partner=alpha), receiver, events)
    bravo_endpoint = _endpoint(PartnerUserFactory(partner=bravo), receiver, events)
    staff_endpoint = _endpoint(PdmFactory(), receiver, ("contact_request.created",))

    services.contact_request_create(
        partner=alpha,
        data={
            "name": "Jo",
            "email": "jo@example.com",
            "company": "C",
            "country": "DE",
            "message": "Hi, can you help us move?",
        },
    )
    enrollment = ProgramEnrollmentFactory(partner=alpha, program=ProgramFactory(partner_type=""))
    services.enrollment_approve(enrollment=enrollment, user=pdm)

    assert sorted(
        WebhookDelivery.objects.filter(endpoint=alpha_endpoint).values_list("event", flat=True)
    ) == [
        "contact_request.created",
        "enrollment.approved",
    ]
    assert not WebhookDelivery.objects.filter(endpoint=bravo_endpoint).exists()
    assert list(WebhookDelivery.objects.filter(endpoint=staff_endpoint).values_list("event", flat=True)) == [
        "contact_request.created"
    ]


def test_a_rolled_back_change_sends_nothing(db, receiver):
    superuser = SuperUserFactory()
    _endpoint(superuser, receiver)
    partner = PartnerFactory()
    with pytest.raises(Exception, match="already"):
        services.partner_tier_change(partner=partner, to_tier=partner.tier, reason="No-op", user=superuser)
    assert not WebhookDelivery.objects.exists()


def test_only_allowed_hosts_can_be_registered_or_called(world, settings):
    response = world.client("user_a").post(
        "/api/v1/webhook-endpoints/",
        {"url": "http://169.254.169.254/latest/meta-data", "events": ["partner.tier_changed"]},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["url"]

    endpoint = webhook_endpoint_create(
        user=world.users["superuser"], url="http://localhost:8152/x", events=["partner.tier_changed"]
    )
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com"]  # the operator narrowed the list since
    services.partner_tier_change(
        partner=world.partner_b,
        to_tier=tier(slug="select"),
        reason="Qualified",
        user=world.users["superuser"],
    )
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert webhook_deliver(delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.response_code is None
    assert "WEBHOOK_ALLOWED_HOSTS" in delivery.last_error


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_delivers_after_commit_and_retries_a_failure(receiver, settings):
    """End to end with a real worker: the change commits, the task is queued, the first POST fails,
    the task schedules its retry with backoff, and the second POST is accepted."""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.5
    superuser = SuperUserFactory()
    _endpoint(superuser, receiver)
    partner = PartnerFactory()
    receiver.statuses = [502]
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        services.partner_tier_change(
            partner=partner, to_tier=tier(slug="select"), reason="Qualified", user=superuser
        )
        receiver.wait_for(2)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert all(verify_signature(SECRET, r.headers, r.body) for r in receiver.received)


def test_a_receiver_that_does_not_answer_pauses_its_endpoint_only(db, receiver, monkeypatch):
    """A dead receiver costs one timeout per pause, not one per queued event; other endpoints go on. Its
    other deliveries due meanwhile are not sent, but each counts that failure as its attempt (so they keep
    to the documented retries, however many there are), and are tried again once the pause is over."""
    superuser = SuperUserFactory()
    live = _endpoint(superuser, receiver)
    dead = webhook_endpoint_create(
        user=superuser,
        url="http://127.0.0.1:1/hooks/apn",  # nothing listens on port 1: the connection is refused
        events=["partner.tier_changed"],
        secret=SECRET,
    )
    requests = []
    post = webhook_services._post
    monkeypatch.setattr(
        webhook_services, "_post", lambda url, *args: requests.append(url) or post(url, *args)
    )
    for slug in ("select", "advanced", "premier"):
        services.partner_tier_change(
            partner=PartnerFactory(), to_tier=tier(slug=slug), reason="Audit", user=superuser
        )
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for delivery in WebhookDelivery.objects.order_by("pk"):
            webhook_deliver(delivery.pk)

        assert requests.count(dead.url) == 1
        to_dead = list(WebhookDelivery.objects.filter(endpoint=dead).order_by("pk"))
        assert [delivery.attempts for delivery in to_dead] == [1, 1, 1]
        assert {delivery.last_error for delivery in to_dead} == {
            "No response: [Errno 111] Connection refused"
        }
        assert {delivery.next_attempt_at for delivery in to_dead} == {start + ENDPOINT_PAUSE}
        assert {delivery.status for delivery in to_dead} == {DeliveryStatus.PENDING}
        assert set(WebhookDelivery.objects.filter(endpoint=live).values_list("status", flat=True)) == {
            DeliveryStatus.DELIVERED
        }
        assert len(receiver.received) == 3

        # An event queued during the pause: not sent either, a failed attempt all the same.
        services.partner_tier_change(
            partner=PartnerFactory(), to_tier=tier(slug="select"), reason="Audit", user=superuser
        )
        during = WebhookDelivery.objects.filter(endpoint=dead).latest("pk")
        assert webhook_deliver(during.pk) is False
        during.refresh_from_db()
        assert (during.attempts, during.last_error) == (1, webhook_services.HELD_ERROR)
        assert during.next_attempt_at == start + ENDPOINT_PAUSE
        assert requests.count(dead.url) == 1

        clock.shift(ENDPOINT_PAUSE + datetime.timedelta(seconds=1))
        webhook_deliver(to_dead[1].pk)  # the sweep's next round: tried again, and paused again
        webhook_deliver(to_dead[2].pk)
        assert requests.count(dead.url) == 2
        attempts = WebhookDelivery.objects.filter(endpoint=dead).order_by("pk").values_list("attempts")
        assert [count for (count,) in attempts] == [2, 2, 2, 2]


def test_a_receiver_that_answers_with_an_error_pauses_nothing(db, receiver):
    superuser = SuperUserFactory()
    _endpoint(superuser, receiver)
    receiver.statuses = [500, 503]
    for slug in ("select", "advanced", "premier"):
        services.partner_tier_change(
            partner=PartnerFactory(), to_tier=tier(slug=slug), reason="Audit", user=superuser
        )
    results = [webhook_deliver(delivery.pk) for delivery in WebhookDelivery.objects.order_by("pk")]

    assert results == [False, False, True]
    assert len(receiver.received) == 3


@pytest.mark.parametrize(
    "moves", ["to another partner", "to a customer", "from the provider to a partner"], ids=str
)
def test_someone_who_moved_no_longer_reads_their_old_organisations_endpoints_or_deliveries(
    db, receiver, moves
):
    pdm = PdmFactory()
    partner = PartnerFactory(pdm=pdm)
    owner = PdmFactory() if moves.startswith("from the provider") else PartnerUserFactory(partner=partner)
    _endpoint(owner, receiver, ("contact_request.created",))
    services.contact_request_create(
        partner=partner,
        data={
            "name": "Jo",
            "email": "jo@example.com",
            "company": "C",
            "country": "DE",
            "message": "Private matters to discuss.",
        },
    )
    client = api_client(owner)
    assert len(client.get("/api/v1/webhook-deliveries/").json()["results"]) == 1

    if moves == "to a customer":
        owner.partner, owner.customer = None, CustomerFactory()
    else:
        owner.partner, owner.is_staff = PartnerFactory(), False
    owner.save()

    # The move ends the token their old organisation held (docs/api.md); a new one reads nothing of it.
    assert client.get("/api/v1/webhook-deliveries/").status_code == 401
    client = api_client(owner)
    assert client.get("/api/v1/webhook-deliveries/").json()["results"] == []
    assert client.get("/api/v1/webhook-endpoints/").json()["results"] == []
    # Their old organisation's superuser still reads both.
    superuser = api_client(SuperUserFactory())
    assert len(superuser.get("/api/v1/webhook-deliveries/").json()["results"]) == 1


# Receivers that misbehave -------------------------------------------------------------------------------


@contextlib.contextmanager
def _raw_server(answer):
    """A server on the loopback that reads a request and then calls answer(connection): a receiver that
    does not speak proper HTTP. Yields its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            with connection:
                try:
                    connection.recv(65536)
                    answer(connection)
                except OSError:
                    pass  # the portal hung up

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks/apn"
    finally:
        listener.close()


def _tier_changes(superuser, count):
    for _ in range(count):
        services.partner_tier_change(
            partner=PartnerFactory(), to_tier=tier(slug="select"), reason="Qualified", user=superuser
        )
    return list(WebhookDelivery.objects.order_by("pk"))


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"HELLO THERE\r\n\r\n", "Invalid response: the endpoint did not answer with HTTP."),
        # What answered is not repeated to the endpoint's owner: the banner of a service on the host.
        (
            b"-ERR internal-cache 7.2 (db=prod)\r\n",
            "Invalid response: the endpoint did not answer with HTTP.",
        ),
        (
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
            "Invalid response: LineTooLong: got more than 65536 bytes when reading header line.",
        ),
    ],
    ids=["bad status line", "a service's banner", "header line too long"],
)
def test_an_answer_that_is_not_http_is_a_failed_attempt(db, answer, error):
    """It counts as an attempt (so the delivery is retried with backoff, then given up after MAX_ATTEMPTS,
    not sent again by every sweep), and since something answered, nothing is paused."""
    superuser = SuperUserFactory()
    with _raw_server(lambda connection: connection.sendall(answer)) as url:
        webhook_endpoint_create(user=superuser, url=url, events=["partner.tier_changed"], secret=SECRET)
        first, second = _tier_changes(superuser, 2)
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            assert [webhook_deliver(first.pk), webhook_deliver(second.pk)] == [False, False]
            assert webhook_deliveries_due_ids() == []

        for delivery in (first, second):
            delivery.refresh_from_db()
            assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, None)
            assert delivery.last_error == error
            assert delivery.next_attempt_at == start + datetime.timedelta(seconds=30)

        WebhookDelivery.objects.filter(pk=first.pk).update(attempts=MAX_ATTEMPTS - 1, next_attempt_at=start)
        assert webhook_deliver(first.pk) is False
    first.refresh_from_db()
    assert (first.status, first.attempts, first.next_attempt_at) == (
        DeliveryStatus.FAILED,
        MAX_ATTEMPTS,
        None,
    )


def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_timeout(db, settings):
    """WEBHOOK_TIMEOUT_SECONDS limits the whole attempt, not each read: a receiver sending its headers a
    byte at a time does not hold the worker (and the delivery's row lock) for as long as it likes."""
    settings.WEBHOOK_TIMEOUT_SECONDS = 1

    def drip(connection):
        connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(40):  # 8 seconds
            connection.sendall(b"a")
            time.sleep(0.2)
        connection.sendall(b"\r\nContent-Length: 0\r\n\r\n")

    superuser = SuperUserFactory()
    with _raw_server(drip) as url:
        endpoint = webhook_endpoint_create(
            user=superuser, url=url, events=["partner.tier_changed"], secret=SECRET
        )
        first, second = _tier_changes(superuser, 2)
        started = time.monotonic()
        assert webhook_deliver(first.pk) is False
        assert time.monotonic() - started < 2.5

    first.refresh_from_db()
    assert (first.status, first.attempts, first.response_code) == ("pending", 1, None)
    assert first.last_error == "No response within 1 s."
    # Like a receiver that says nothing: the endpoint is paused, its other deliveries held meanwhile, the
    # one due then counting that failure as its attempt.
    second.refresh_from_db()
    assert (second.attempts, second.last_error) == (1, "No response within 1 s.")
    assert second.next_attempt_at > timezone.now() + ENDPOINT_PAUSE - datetime.timedelta(seconds=5)
    assert endpoint.deliveries.filter(next_attempt_at__lte=timezone.now()).count() == 0


def test_the_delivery_tasks_have_time_limits(settings):
    assert tasks.webhook_deliver_task.soft_time_limit > settings.WEBHOOK_TIMEOUT_SECONDS
    assert tasks.webhook_deliver_task.soft_time_limit < tasks.webhook_deliver_task.time_limit
    assert tasks.webhook_sweep.soft_time_limit < tasks.webhook_sweep.time_limit <= 60  # the sweep's period


def test_a_dead_receivers_backlog_does_not_hold_up_the_sweep_for_other_endpoints(db, receiver, monkeypatch):
    """The sweep queues the oldest 500 due deliveries: a dead receiver's backlog, held while its endpoint
    is paused, leaves room in it for every other endpoint's, and is tried again once the pause is over."""
    superuser = SuperUserFactory()
    dead = webhook_endpoint_create(
        user=superuser, url="http://127.0.0.1:1/hooks/apn", events=["partner.tier_changed"], secret=SECRET
    )
    healthy = _endpoint(superuser, receiver)
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=dead,
            event="partner.tier_changed",
            event_id=uuid.uuid4(),
            payload={"n": n},
            next_attempt_at=now - datetime.timedelta(hours=1),
        )
        for n in range(520)
    )
    # A delivery to a working receiver whose task the broker lost: what the sweep is for.
    lost = WebhookDelivery.objects.create(
        endpoint=healthy,
        event="partner.tier_changed",
        event_id=uuid.uuid4(),
        payload={"x": 1},
        next_attempt_at=now - datetime.timedelta(minutes=1),
    )
    queued = []
    monkeypatch.setattr(tasks, "webhook_deliveries_queue", lambda ids, countdown=None: queued.extend(ids))
    monkeypatch.setattr(webhook_services, "webhook_deliveries_queue", lambda ids, countdown=None: None)

    def sweep_and_work():
        queued.clear()
        tasks.webhook_sweep()
        for delivery_id in queued:
            webhook_deliver(delivery_id)

    with time_machine.travel(now, tick=False) as clock:
        sweep_and_work()  # all 500 to the dead receiver: the first is refused, and the rest held
        clock.shift(datetime.timedelta(minutes=1))
        sweep_and_work()
        lost.refresh_from_db()
        assert lost.status == DeliveryStatus.DELIVERED

        to_dead = WebhookDelivery.objects.filter(endpoint=dead)
        # One request: the rest were held, each counting that refusal as its attempt, once.
        assert set(to_dead.values_list("attempts", flat=True)) == {1}
        clock.shift(ENDPOINT_PAUSE)
        assert len(webhook_deliveries_due_ids()) == 500  # none dropped: due again once the pause is over
    assert set(to_dead.values_list("status", flat=True)) == {DeliveryStatus.PENDING}


def test_with_the_broker_down_the_sweep_stops_at_the_first_failure(db, monkeypatch, caplog):
    """Each publish waits out its retries: trying every delivery of a large backlog would take hours. The
    deliveries stay pending for the next sweep; a task out of time stops at once."""
    endpoint = webhook_endpoint_create(
        user=SuperUserFactory(),
        url="http://127.0.0.1:1/hooks/apn",
        events=["partner.tier_changed"],
        secret=SECRET,
    )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event="partner.tier_changed",
            event_id=uuid.uuid4(),
            payload={},
            next_attempt_at=timezone.now(),
        )
        for _ in range(50)
    )
    publishes = []

    def broker_down(*args, **kwargs):
        publishes.append(args)
        raise kombu.exceptions.OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.webhook_deliver_task, "apply_async", broker_down)
    assert tasks.webhook_sweep() == 50
    assert len(publishes) == 1
    assert "Could not queue 50 webhook deliveries; the sweep will send them" in caplog.text
    assert len(webhook_deliveries_due_ids()) == 50

    def out_of_time(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    broker_pause_end()  # the broker is tried again once its pause is over
    monkeypatch.setattr(tasks.webhook_deliver_task, "apply_async", out_of_time)
    with pytest.raises(SoftTimeLimitExceeded):
        tasks.webhook_sweep()


def _resolving(monkeypatch, name, *answers):
    """DNS for `name` answers each of `answers` in turn (the last one from then on); other names as usual."""
    real_getaddrinfo = socket.getaddrinfo
    remaining = list(answers)

    def getaddrinfo(host, *args, **kwargs):
        if host == name:
            address = remaining.pop(0) if len(remaining) > 1 else remaining[0]
            return real_getaddrinfo(address, *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::ffff:127.0.0.1"])
def test_an_allowed_domain_pointed_at_an_internal_address_is_not_called(
    db, receiver, settings, monkeypatch, address
):
    """An operator allows an integrator's whole domain (".integrator.example", as README.md's example does);
    the integrator, who controls its DNS, points a name at the portal's own host or network (an admin port,
    a metadata API). The portal does not call it, and says why in the delivery log."""
    settings.WEBHOOK_ALLOWED_HOSTS = [".integrator.example"]
    _resolving(monkeypatch, "internal.integrator.example", address)
    superuser = SuperUserFactory()
    endpoint = webhook_endpoint_create(
        user=superuser,
        url=f"http://internal.integrator.example:{RECEIVER_PORT}/admin/reset",
        events=["partner.tier_changed"],
        secret=SECRET,
    )
    first, second = _tier_changes(superuser, 2)

    assert webhook_deliver(first.pk) is False

    assert receiver.received == []
    first.refresh_from_db()
    assert (first.status, first.attempts, first.response_code) == (DeliveryStatus.PENDING, 1, None)
    assert first.last_error.startswith("Not sent: the URL's host resolves to an internal address")
    assert address not in first.last_error  # the log tells the integrator nothing of the portal's network
    # Nothing was called, so nothing is paused: the endpoint's other deliveries are not held.
    assert endpoint.deliveries.get(pk=second.pk).next_attempt_at <= timezone.now()


def test_an_internal_address_or_name_listed_as_such_is_called_at_the_address_checked(
    db, receiver, settings, monkeypatch
):
    """Listing 127.0.0.1 itself (as the default list and local setups do) lets a name under an allowed
    domain resolve to it. The name is resolved once: a second DNS answer pointing elsewhere changes nothing,
    and the request still names the host it is for."""
    settings.WEBHOOK_ALLOWED_HOSTS = [".integrator.example", "127.0.0.1"]
    _resolving(monkeypatch, "hooks.integrator.example", "127.0.0.1", "10.255.255.1")
    superuser = SuperUserFactory()
    webhook_endpoint_create(
        user=superuser,
        url=f"http://hooks.integrator.example:{RECEIVER_PORT}/hooks/apn",
        events=["partner.tier_changed"],
        secret=SECRET,
    )
    [delivery] = _tier_changes(superuser, 1)

    assert webhook_deliver(delivery.pk) is True
    [received] = receiver.received
    assert received.headers["Host"] == f"hooks.integrator.example:{RECEIVER_PORT}"

    # Or the exact host name: localhost, in the default list, is called whatever it resolves to.
    settings.WEBHOOK_ALLOWED_HOSTS = ["localhost"]
    endpoint = webhook_endpoint_create(
        user=superuser, url=f"http://localhost:{RECEIVER_PORT}/hooks/apn", events=["partner.tier_changed"]
    )
    [delivery] = [d for d in _tier_changes(superuser, 1) if d.endpoint_id == endpoint.pk]
    assert webhook_deliver(delivery.pk) is True


def test_an_internal_address_allowed_by_a_wildcard_only_cannot_be_registered(world, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["*"]
    for url in ("http://10.0.0.5/hooks", "http://[fd00::1]/hooks", "http://169.254.169.254/latest"):
        response = world.client("user_a").post(
            "/api/v1/webhook-endpoints/", {"url": url, "events": ["partner.tier_changed"]}, format="json"
        )
        assert response.status_code == 400, url
        assert list(response.json()) == ["url"]


def test_a_dead_receivers_backlog_fails_for_good_within_the_documented_retry_span(db, settings, monkeypatch):
    """docs/api.md: 12 attempts, 30 s, 1 min, 2 min, ... up to 6 hours apart. A receiver that never answers
    gets there with a backlog as with a single delivery: each due delivery held while its endpoint is paused
    counts that failure as its attempt, rather than waiting its turn behind every other one, 90 s apart."""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    monkeypatch.setattr(webhook_services, "webhook_deliveries_queue", lambda ids, countdown=None: None)
    dead = webhook_endpoint_create(
        user=SuperUserFactory(), url="http://127.0.0.1:1/hooks/apn", events=["partner.tier_changed"]
    )
    span = sum(
        (webhook_services._backoff(attempt) for attempt in range(1, MAX_ATTEMPTS)), datetime.timedelta()
    )
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for n in range(40):  # one scheduled tier_health run demoting 40 partners, say
            webhook_services.webhook_event_emit(event="partner.tier_changed", partner=None, data={"n": n})
        to_dead = WebhookDelivery.objects.filter(endpoint=dead)
        gave_up_at = {}
        # The sweep, every minute (the minutes with nothing due skipped), each due delivery attempted.
        while timezone.now() < start + span + datetime.timedelta(hours=5):
            for delivery_id in webhook_deliveries_due_ids():
                webhook_deliver(delivery_id)
            for pk in (
                to_dead.filter(status=DeliveryStatus.FAILED).exclude(pk__in=gave_up_at).values_list("pk")
            ):
                gave_up_at[pk[0]] = timezone.now()
            next_due = min(
                to_dead.filter(status=DeliveryStatus.PENDING).values_list("next_attempt_at"), default=None
            )
            if next_due is None:
                break
            minutes = max(1, -(-(next_due[0] - timezone.now()) // datetime.timedelta(minutes=1)))
            clock.shift(datetime.timedelta(minutes=minutes))

    assert set(to_dead.values_list("status", "attempts", "response_code")) == {
        (DeliveryStatus.FAILED, MAX_ATTEMPTS, None)
    }
    assert all(error.startswith("No response") for error in to_dead.values_list("last_error", flat=True))
    # Neither given up early (an attempt counted twice) nor much later than a single delivery would be.
    assert start + span <= min(gave_up_at.values())
    assert max(gave_up_at.values()) <= start + span + datetime.timedelta(minutes=30)


def test_a_new_endpoints_answer_has_no_location_naming_its_receiver(world):
    # DRF put the body's `url` (the integrator's own receiver, MIME-encoded beyond latin-1) in Location; no
    # create answers with a Location, and a replay is the first answer again.
    url = f"http://127.0.0.1:{RECEIVER_PORT}/hooks/caf\u00e9\u4e2d"
    body = {"url": url, "events": ["partner.tier_changed"]}
    client = world.client("user_a")
    first = client.post("/api/v1/webhook-endpoints/", body, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    again = client.post("/api/v1/webhook-endpoints/", body, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")

    assert first.status_code == again.status_code == 201
    assert not first.has_header("Location") and not again.has_header("Location")
    assert again.content == first.content
    assert WebhookEndpoint.objects.count() == 1
