"""`Idempotency-Key`: a retried POST gets the first response and creates nothing twice; a duplicate sent
while the first is still running gets 409."""

import threading
import time

import pytest
from django.db import connection, connections

from apn_portal.api.models import IdempotencyKey
from partners.models import ContactRequest, Partner, ProgramEnrollment, StaffMember
from tests.api.conftest import api_client
from tests.factories import PartnerFactory, PartnerUserFactory, ProgramFactory

LEAD = {
    "partner": "alpha",
    "name": "Jo Buyer",
    "email": "jo@customer.example.com",
    "company": "Customer GmbH",
    "country": "DE",
    "message": "Please call us.",
}


def test_a_retried_post_gets_the_same_response_and_creates_one_record(world):
    client = world.client("pdm_a")
    body = {"partner": "alpha", "full_name": "Grace Hopper"}
    first = client.post("/api/v1/staff-members/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/staff-members/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert StaffMember.objects.filter(full_name="Grace Hopper").count() == 1


def test_anonymous_keys_are_per_address_and_replay_too(world):
    first = api_client().post("/api/v1/contact-requests/", LEAD, format="json", HTTP_IDEMPOTENCY_KEY="lead-1")
    again = api_client().post("/api/v1/contact-requests/", LEAD, format="json", HTTP_IDEMPOTENCY_KEY="lead-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["reference"] == first.json()["reference"]
    assert ContactRequest.objects.filter(email=LEAD["email"]).count() == 1


def test_the_same_key_for_a_different_request_is_a_422(world):
    client = world.client("pdm_a")
    client.post(
        "/api/v1/staff-members/",
        {"partner": "alpha", "full_name": "A"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    response = client.post(
        "/api/v1/staff-members/",
        {"partner": "alpha", "full_name": "B"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    assert not StaffMember.objects.filter(full_name="B").exists()


def test_keys_are_per_user(world):
    body = {"partner": "alpha", "program": "migration"}
    assert (
        world.client("user_a")
        .post("/api/v1/enrollments/", body, format="json", HTTP_IDEMPOTENCY_KEY="x")
        .status_code
        == 201
    )
    # The PDM's key "x" is its own: its request runs (and meets the enrollment user_a just made).
    response = world.client("pdm_a").post(
        "/api/v1/enrollments/", body, format="json", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert response.status_code == 409


def test_a_refused_request_releases_its_key_for_a_corrected_retry(world):
    client = world.client("pdm_a")
    bad = client.post("/api/v1/partners/", {"name": "No slug"}, format="json", HTTP_IDEMPOTENCY_KEY="p-1")
    assert bad.status_code == 400
    assert not IdempotencyKey.objects.exists()
    good = client.post(
        "/api/v1/partners/",
        {"name": "No slug", "slug": "no-slug", "partner_type": "consulting"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="p-2",
    )
    assert good.status_code == 201
    assert Partner.objects.filter(slug="no-slug").count() == 1


def test_an_empty_or_overlong_key_is_a_400(world):
    client = world.client("pdm_a")
    body = {"partner": "alpha", "full_name": "A"}
    assert (
        client.post("/api/v1/staff-members/", body, format="json", HTTP_IDEMPOTENCY_KEY=" ").status_code
        == 400
    )
    long_key = "k" * 256
    assert (
        client.post("/api/v1/staff-members/", body, format="json", HTTP_IDEMPOTENCY_KEY=long_key).status_code
        == 400
    )
    assert not StaffMember.objects.filter(full_name="A").exists()


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_gets_409_and_the_first_completes():
    """The first request holds its key while it waits for a lock on the partner (another session has it);
    the duplicate, sent meanwhile, is refused at once. Once the lock goes, the first creates its record,
    and a retry afterwards gets its response."""
    partner = PartnerFactory(slug="gamma")
    user = PartnerUserFactory(partner=partner)
    program = ProgramFactory(partner_type="")
    body = {"partner": "gamma", "program": program.slug}
    results = {}

    locker = connections.create_connection("default")
    try:
        with locker.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT id FROM partners_partner WHERE id = %s FOR UPDATE", [partner.pk])

            def first_request():
                try:
                    results["first"] = api_client(user).post(
                        "/api/v1/enrollments/", body, format="json", HTTP_IDEMPOTENCY_KEY="same"
                    )
                finally:
                    connection.close()

            thread = threading.Thread(target=first_request)
            thread.start()
            _wait_for(lambda: IdempotencyKey.objects.filter(key="same").exists())
            duplicate = api_client(user).post(
                "/api/v1/enrollments/", body, format="json", HTTP_IDEMPOTENCY_KEY="same"
            )
            assert duplicate.status_code == 409
            assert "still being processed" in duplicate.json()["detail"]
            cursor.execute("ROLLBACK")
        thread.join(timeout=30)
    finally:
        locker.close()

    assert results["first"].status_code == 201
    assert ProgramEnrollment.objects.filter(partner=partner, program=program).count() == 1
    retry = api_client(user).post("/api/v1/enrollments/", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert retry.status_code == 201
    assert retry.json() == results["first"].json()


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_key_past_its_lifetime_is_purged_and_may_be_used_again(world, settings):
    import datetime

    import time_machine

    from apn_portal.api.idempotency import idempotency_keys_purge

    client = world.client("pdm_a")
    body = {"partner": "alpha", "full_name": "Grace Hopper"}
    with time_machine.travel(datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)):
        assert (
            client.post("/api/v1/staff-members/", body, format="json", HTTP_IDEMPOTENCY_KEY="old").status_code
            == 201
        )
    assert idempotency_keys_purge() == 1
    again = client.post("/api/v1/staff-members/", body, format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert StaffMember.objects.filter(full_name="Grace Hopper").count() == 2
