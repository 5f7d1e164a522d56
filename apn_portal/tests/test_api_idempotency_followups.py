"""The API core's idempotency, throttling, ordering and bad-input edges: a retry is never run twice while
the first may still run, a replay is the first response byte for byte and is not throttled, both kinds of
list read `?ordering=` alike, and a NUL in any field is a 400 naming it."""

import datetime
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import factory
import pytest
import yaml
from django.conf import settings as django_settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from apn_portal.api.models import IdempotencyKey
from apn_portal.tests.settings_env import PROJECT_DIR
from partners.models import ContactRequest, ProgramEnrollment, StaffMember
from tests.api.conftest import api_client, world  # noqa: F401 (fixtures)
from tests.factories import CertificationFactory

LEAD = {
    "partner": "alpha",
    "name": "Jo Buyer",
    "email": "jo@customer.example.com",
    "company": "Customer GmbH",
    "country": "DE",
    "message": "Please call us.",
}
STAFF = {"partner": "alpha", "full_name": "Grace Hopper"}


def _post_staff(client, key):
    return client.post("/api/v1/staff-members/", STAFF, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _as_if_still_running(key: str, started_seconds_ago: float) -> None:
    """The key's claim as a request that has not finished would have left it: no response yet, claimed
    `started_seconds_ago`, and (rolled back with it, or not yet committed) none of its records."""
    StaffMember.objects.filter(full_name=STAFF["full_name"]).delete()
    claimed_at = timezone.now() - datetime.timedelta(seconds=started_seconds_ago)
    IdempotencyKey.objects.filter(key=key).update(
        response_status=None, response_body=None, response_headers={}, updated_at=claimed_at
    )


# 1. A claim is live for as long as a web request may run.


@pytest.mark.parametrize("timeout", [30, 300])
def test_a_retry_while_the_first_request_may_still_run_is_refused_as_in_progress(world, settings, timeout):  # noqa: F811
    settings.WEB_REQUEST_TIMEOUT_SECONDS = timeout
    client = world.client("pdm_a")
    assert _post_staff(client, "slow").status_code == 201
    # Past the timeout, but within the margin for clocks and the commit.
    _as_if_still_running("slow", started_seconds_ago=timeout + 20)

    retry = _post_staff(client, "slow")

    assert retry.status_code == 409
    assert "still being processed" in retry.json()["detail"]
    assert not StaffMember.objects.filter(full_name=STAFF["full_name"]).exists()


@pytest.mark.parametrize("timeout", [30, 300])
def test_a_claim_older_than_any_request_may_run_is_taken_over(world, settings, timeout):  # noqa: F811
    settings.WEB_REQUEST_TIMEOUT_SECONDS = timeout
    client = world.client("pdm_a")
    assert _post_staff(client, "died").status_code == 201
    # The web server killed the request at `timeout`; the margin (30 s) has passed too.
    _as_if_still_running("died", started_seconds_ago=timeout + 40)

    retry = _post_staff(client, "died")

    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    assert StaffMember.objects.filter(full_name=STAFF["full_name"]).count() == 1


def _gunicorn_timeout(environment: dict) -> int:
    """The timeout gunicorn runs with, started as the image starts it (from the project's directory)."""
    printed = subprocess.run(
        [str(Path(sys.executable).with_name("gunicorn")), "--print-config", "apn_portal.wsgi:application"],
        cwd=PROJECT_DIR,
        # A key of its own: the web process refuses the one settings.py publishes, with DEBUG off.
        env={**os.environ, "SECRET_KEY": secrets.token_urlsafe(50), **environment},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return int(re.search(r"^timeout\s*=\s*(\d+)$", printed, re.MULTILINE).group(1))


def test_gunicorn_kills_a_request_at_the_timeout_idempotency_assumes(monkeypatch):
    monkeypatch.delenv("WEB_REQUEST_TIMEOUT_SECONDS", raising=False)
    assert _gunicorn_timeout({}) == django_settings.WEB_REQUEST_TIMEOUT_SECONDS == 30
    # An operator's longer timeout reaches gunicorn as it reaches the app.
    assert _gunicorn_timeout({"WEB_REQUEST_TIMEOUT_SECONDS": "300"}) == 300
    web = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())["services"]["web"]
    assert "--timeout" not in web["command"]  # one source: compose passes the variable to both
    assert web["environment"]["WEB_REQUEST_TIMEOUT_SECONDS"] == "${WEB_REQUEST_TIMEOUT_SECONDS:-30}"


# 2. A replay does no new work: it is not throttled as a new contact request.


def test_a_replayed_contact_request_is_not_throttled_but_a_new_one_is(world, settings):  # noqa: F811
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "contact_requests": "2/hour"}
    client = api_client()
    first = client.post("/api/v1/contact-requests/", LEAD, format="json", HTTP_IDEMPOTENCY_KEY="lead-1")
    assert first.status_code == 201
    assert (
        client.post(
            "/api/v1/contact-requests/", LEAD, format="json", HTTP_IDEMPOTENCY_KEY="lead-2"
        ).status_code
        == 201
    )

    retry = client.post("/api/v1/contact-requests/", LEAD, format="json", HTTP_IDEMPOTENCY_KEY="lead-1")
    new = client.post("/api/v1/contact-requests/", LEAD, format="json", HTTP_IDEMPOTENCY_KEY="lead-3")

    assert retry.status_code == 201
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert new.status_code == 429
    assert ContactRequest.objects.filter(email=LEAD["email"]).count() == 2


def test_a_replay_does_not_spend_the_contact_request_budget(world, settings):  # noqa: F811
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "contact_requests": "2/hour"}
    client = api_client()
    for _ in range(3):
        response = client.post("/api/v1/contact-requests/", LEAD, format="json", HTTP_IDEMPOTENCY_KEY="same")
        assert response.status_code == 201
    # Only the first counted: one more new request still fits.
    other = client.post("/api/v1/contact-requests/", LEAD, format="json", HTTP_IDEMPOTENCY_KEY="other")
    assert other.status_code == 201


# 3. A replay is the first response, byte for byte.


def test_a_replayed_body_is_byte_identical_to_the_first(world):  # noqa: F811
    client = world.client("pdm_a")
    first = _post_staff(client, "bytes")
    keys = list(first.json())
    assert keys != sorted(keys) and keys != sorted(keys, key=lambda k: (len(k), k))

    again = _post_staff(client, "bytes")

    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert list(again.json()) == keys


def test_a_replay_of_an_indented_response_is_indented_the_same(world):  # noqa: F811
    client = world.client("pdm_a")
    accept = "application/json; indent=2"
    first = client.post(
        "/api/v1/staff-members/", STAFF, format="json", HTTP_IDEMPOTENCY_KEY="i", HTTP_ACCEPT=accept
    )
    again = client.post(
        "/api/v1/staff-members/", STAFF, format="json", HTTP_IDEMPOTENCY_KEY="i", HTTP_ACCEPT=accept
    )
    assert first.status_code == again.status_code == 201
    assert again.content == first.content


@pytest.mark.django_db(transaction=True)
def test_responses_stored_before_bodies_were_text_still_replay():
    before, after = ("api", "0001_idempotency_keys"), ("api", "0002_idempotency_response_body_text")
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([before])
        old_key = executor.loader.project_state([before]).apps.get_model("api", "IdempotencyKey")
        body = {"reference": "CR-1", "name": "Zoë", "tags": ["b", "a"], "partner": {"slug": "alpha", "id": 1}}
        common = {"scope": "ip:127.0.0.1", "request_fingerprint": "f" * 64, "method": "POST", "path": "/x/"}
        old_key.objects.create(key="done", response_status=201, response_body=body, **common)
        old_key.objects.create(key="running", response_status=None, response_body=None, **common)

        MigrationExecutor(connection).migrate([after])

        assert json.loads(IdempotencyKey.objects.get(key="done").response_body) == body
        assert IdempotencyKey.objects.get(key="running").response_body is None
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_key_still_fingerprints_the_bytes_sent(world):  # noqa: F811
    """Bodies are parsed early now (checked for NULs): keys stored before still match their retries."""
    raw = b'{"full_name": "Grace Hopper",  "partner": "alpha"}'
    response = world.client("pdm_a").generic(
        "POST", "/api/v1/staff-members/", raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="raw"
    )
    assert response.status_code == 201
    expected = hashlib.sha256(b"POST\0/api/v1/staff-members/\0" + raw + b"\0").hexdigest()
    assert IdempotencyKey.objects.get(key="raw").request_fingerprint == expected


# 4. `?ordering=` left empty is a 400 on every list, page-numbered or cursor.


@pytest.mark.parametrize("url", ["/api/v1/partners/", "/api/v1/certifications/", "/api/v1/contact-requests/"])
def test_an_empty_ordering_is_a_400_naming_it_on_every_kind_of_list(world, url):  # noqa: F811
    response = world.client("pdm_a").get(url, {"ordering": ""})

    assert response.status_code == 400
    assert list(response.json()) == ["ordering"]
    assert response.json()["ordering"][0].startswith("Order by one of: ")


def test_a_cursor_list_without_ordering_still_uses_its_default(world):  # noqa: F811
    staff_member = world.certification_a.staff_member
    # Names against the order of ids, so the default (by id) is not also the order by name.
    CertificationFactory.create_batch(3, staff_member=staff_member, name=factory.Iterator(["C", "B", "A"]))
    response = world.client("pdm_a").get("/api/v1/certifications/")
    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    assert len(ids) == 4
    assert ids == sorted(ids)  # the cursor lists' default: by id


# 5. A NUL in a related record's slug is a 400 naming the field.


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/enrollments/", {"partner": "alpha", "program": "open\x00program"}, "program"),
        ("/api/v1/enrollments/", {"partner": "al\x00pha", "program": "open-program"}, "partner"),
        ("/api/v1/contact-requests/", {**LEAD, "partner": "al\x00pha"}, "partner"),
        ("/api/v1/staff-members/", {"partner": "\x00", "full_name": "A"}, "partner"),
    ],
)
def test_a_nul_in_a_slug_is_a_400_naming_the_field(world, url, body, field):  # noqa: F811
    response = world.client("pdm_a").post(url, body, format="json")

    assert response.status_code == 400
    assert response.json() == {field: ["Null characters are not allowed."]}
    assert not ProgramEnrollment.objects.exclude(pk=world.enrollment_a.pk).exists()


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/contact-requests/", {**LEAD, "country": "\ud800"}, "country"),  # a choice repeats it
        ("/api/v1/contact-requests/", {**LEAD, "partner": "al\udfffpha"}, "partner"),
        ("/api/v1/contact-requests/", {**LEAD, "message": ["\ud83d"]}, "message"),
    ],
)
def test_half_a_surrogate_pair_is_a_400_naming_the_field_even_for_anyone(world, url, body, field):  # noqa: F811
    stored = ContactRequest.objects.count()
    # JSON's \u escapes can spell it (json.dumps does); no text can hold it.
    response = APIClient().post(url, json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert response.json()[field][0].startswith("Unpaired surrogates")
    assert ContactRequest.objects.count() == stored


def test_a_nul_in_the_body_for_a_record_that_does_not_exist_is_a_404(world):  # noqa: F811
    response = world.client("pdm_a").post(
        "/api/v1/enrollments/999999/revoke/", {"reason": "x\x00"}, format="json"
    )

    assert response.status_code == 404
