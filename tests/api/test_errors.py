"""Bad input and conflicts get JSON with the right status and a message, never a 500."""

import datetime
import threading

import pytest
from django.db import IntegrityError, OperationalError, connections, transaction

from apn_portal.api.exceptions import api_exception_handler
from partners.models import Partner, ProgramEnrollment
from tests.api.conftest import api_client
from tests.factories import CertificationFactory, PartnerFactory, tier
from tests.locks import sessions_waiting_for_locks, wait_for


def test_malformed_json_is_a_400_with_a_message(world):
    response = world.client("pdm_a").generic(
        "PATCH", "/api/v1/partners/alpha/", '{"description": "unterminated', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_a_body_that_is_not_json_is_a_415(world):
    response = world.client("pdm_a").generic(
        "PATCH", "/api/v1/partners/alpha/", "description=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert "detail" in response.json()


def test_bad_fields_are_named_with_their_messages(world):
    response = world.client("pdm_a").post(
        "/api/v1/certifications/",
        {"staff_member": world.staff_member_a.pk, "name": "", "level": "wizard", "earned_on": "yesterday"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"name", "level", "earned_on"}
    assert body["level"] == ['"wizard" is not a valid choice.']


def test_a_model_constraint_comes_back_as_that_fields_message(world):
    earned = datetime.date(2024, 5, 1)
    response = world.client("pdm_a").post(
        "/api/v1/certifications/",
        {
            "staff_member": world.staff_member_a.pk,
            "name": "Cloud Practitioner",
            "level": "foundational",
            "earned_on": earned.isoformat(),
            "expires_on": (earned - datetime.timedelta(days=1)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["A certification must expire after the day it was earned."]
    }


def test_a_duplicate_credential_id_is_refused_with_the_models_message(world):
    CertificationFactory(staff_member=world.staff_member_a, credential_id="AWS-123")
    response = world.client("pdm_a").post(
        "/api/v1/certifications/",
        {
            "staff_member": world.staff_member_a.pk,
            "name": "Developer - Associate",
            "level": "associate",
            "earned_on": "2025-01-10",
            "credential_id": "AWS-123",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Another certification already has this credential id."]}


def test_a_second_live_enrollment_in_a_program_is_a_409(world):
    # world.enrollment_a is A's open application to world.program.
    response = world.client("user_a").post(
        "/api/v1/enrollments/", {"partner": "alpha", "program": world.program.slug}, format="json"
    )
    assert response.status_code == 409
    assert "already has an enrollment in" in response.json()["detail"]


def test_the_database_constraint_is_a_409_when_a_race_slips_past_the_check(world):
    """Two applications at once both pass the service's check; the unique index refuses the second,
    and the API says so with the constraint's own message."""
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        ProgramEnrollment.objects.create(partner=world.partner_a, program=world.program)
    response = api_exception_handler(raised.value, {})
    assert response.status_code == 409
    assert response.data == {
        "detail": "This partner already has an open or approved enrollment in this program."
    }


def test_approving_twice_is_a_409(world):
    client = world.client("pdm_a")
    assert (
        client.post(f"/api/v1/enrollments/{world.enrollment_a.pk}/approve/", {}, format="json").status_code
        == 200
    )
    response = client.post(f"/api/v1/enrollments/{world.enrollment_a.pk}/approve/", {}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": f"This enrollment in {world.program.name} is already approved."}


def test_a_service_refusal_names_its_field(world):
    response = world.client("pdm_a").post(
        "/api/v1/partners/alpha/tier-change/",
        {"to_tier": tier("technology", "registered").pk, "reason": "Wrong ladder"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["to_tier"]


def test_a_stale_update_is_a_409_and_changes_nothing(world):
    client = world.client("pdm_a")
    etag = client.get("/api/v1/partners/alpha/")["ETag"]
    # Somebody else changes the partner after our read.
    assert (
        client.patch("/api/v1/partners/alpha/", {"description": "Theirs"}, format="json").status_code == 200
    )
    response = client.patch(
        "/api/v1/partners/alpha/", {"description": "Ours"}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 409
    assert "changed since you read it" in response.json()["detail"]
    assert client.get("/api/v1/partners/alpha/").json()["description"] == "Theirs"


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_a_stale_write_says_to_read_the_record_again_and_send_its_new_etag(world, method):
    # Not a word of an Idempotency-Key, a POST's header: what changed, and how to send the write again.
    client = world.client("pdm_a")
    url = f"/api/v1/staff-members/{world.staff_member_a.pk}/"
    if method == "put":
        url = "/api/v1/partners/alpha/"  # the one resource that takes a PUT
    read = client.get(url)
    client.patch(url, {"job_title": "CTO"} if "staff" in url else {"description": "Theirs"}, format="json")

    body = {key: value for key, value in read.json().items() if key != "logo"}
    response = getattr(client, method)(url, body, format="json", HTTP_IF_MATCH=read["ETag"])

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This record changed since you read it: nothing was changed. Read it again, then send "
        "your change with its new ETag as If-Match."
    }
    assert client.get(url).status_code == 200


def test_an_update_with_the_current_etag_goes_through_and_returns_the_new_one(world):
    client = world.client("pdm_a")
    etag = client.get("/api/v1/partners/alpha/")["ETag"]
    response = client.patch(
        "/api/v1/partners/alpha/", {"description": "Ours"}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert client.get("/api/v1/partners/alpha/")["ETag"] == response["ETag"]


def test_bad_filters_pages_and_cursors_are_400s(world):
    client = world.client("superuser")
    assert client.get("/api/v1/certifications/?expires_before=soon").status_code == 400
    assert client.get("/api/v1/certifications/?updated_since=yesterday").json() == {
        "updated_since": ["Enter a valid date/time."]
    }
    assert client.get("/api/v1/certifications/?cursor=garbage").status_code == 400
    assert client.get("/api/v1/certifications/?ordering=name").status_code == 400
    assert client.get("/api/v1/certifications/?page_size=0").status_code == 400
    assert client.get("/api/v1/partners/?page=9999").status_code == 404


def test_ids_out_of_range_are_404s_not_500s(world):
    client = world.client("superuser")
    assert client.get(f"/api/v1/certifications/{2**70}/").status_code == 404
    assert client.get("/api/v1/certifications/not-a-number/").status_code == 404


def test_an_anonymous_write_is_a_401_with_the_token_scheme(world):
    response = api_client().post("/api/v1/staff-members/", {"partner": "alpha"}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("spelling", ["{pk}.5", "+{pk}", "0{pk}", " {pk}", "{pk}\n", "-{pk}", "{wide}"])
def test_an_id_filter_takes_only_plain_digits_as_a_body_id_does(world, spelling):
    # int() reads "+7", "07", " 7" and a full-width seven as 7: the filter answered as if given 7.
    client = world.client("pdm_a")
    pk = world.staff_member_a.pk
    wide = "".join(chr(ord(digit) - ord("0") + ord("\uff10")) for digit in str(pk))
    exact = client.get("/api/v1/certifications/", {"staff_member": pk})
    other = client.get("/api/v1/certifications/", {"staff_member": spelling.format(pk=pk, wide=wide)})

    assert exact.status_code == 200 and exact.json()["results"]
    assert other.status_code == 400
    assert other.json() == {"staff_member": ["Give the record's id as a whole number, e.g. 42."]}


def test_the_schema_says_which_operations_need_no_token(world):
    paths = api_client().get("/api/v1/schema/", {"format": "json"}).json()["paths"]

    for path, method in (
        ("/api/v1/partners/", "get"),
        ("/api/v1/support-plans/", "get"),
        ("/api/v1/contact-requests/", "post"),
    ):
        assert {} in paths[path][method]["security"], (path, method)
    assert {} not in paths["/api/v1/contact-requests/"]["get"]["security"]
    assert {} not in paths["/api/v1/certifications/"]["post"]["security"]


def test_a_write_to_an_address_without_its_final_slash_is_redirected_keeping_its_method(world):
    client = world.client("pdm_a")
    body = {"description": "Written without the slash."}

    response = client.patch("/api/v1/partners/alpha?fields=id", body, format="json")

    # A 308, which clients follow with the same method and body (a 301 turns a PATCH into a GET).
    assert response.status_code == 308
    assert response["Location"] == "/api/v1/partners/alpha/?fields=id"
    assert response.json()["detail"] == "The API's addresses end with a slash: /api/v1/partners/alpha/"
    followed = client.patch(response["Location"], body, format="json")
    assert followed.status_code == 200
    world.partner_a.refresh_from_db()
    assert world.partner_a.description == "Written without the slash."


def test_an_address_without_its_final_slash_that_does_not_exist_either_is_a_json_404(world):
    response = world.client("pdm_a").post("/api/v1/nothing-here", {}, format="json")

    assert response.status_code == 404
    assert response.json()["detail"].startswith("There is no such resource in the API")


@pytest.mark.parametrize("path", ["/api/", "/api", "/api/v2/partners/", "/api/v2/partners"])
def test_an_address_under_api_outside_the_version_is_a_json_404_pointing_at_it(world, path):
    response = world.client("pdm_a").get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"] == "There is no such resource in the API; see /api/v1/ for the list."


def test_the_version_root_without_its_final_slash_is_redirected_to_it(world):
    response = world.client("pdm_a").get("/api/v1")

    assert response.status_code == 308
    assert response["Location"] == "/api/v1/"
    assert response["Content-Type"] == "application/json"


def _deadlock_error(first, second) -> OperationalError:
    """The error PostgreSQL gives the session it ends when two sessions each wait for the other's row."""
    table = Partner._meta.db_table
    one, two = connections.create_connection("default"), connections.create_connection("default")
    errors = []
    try:
        with one.cursor() as cursor_one, two.cursor() as cursor_two:
            for cursor, row in ((cursor_one, first), (cursor_two, second)):
                cursor.execute("BEGIN")
                cursor.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [row.pk])

            def wait_for_second():
                try:
                    cursor_one.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [second.pk])
                except OperationalError as error:
                    errors.append(error)

            thread = threading.Thread(target=wait_for_second)
            thread.start()
            wait_for(lambda: sessions_waiting_for_locks() == 1)
            try:
                cursor_two.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [first.pk])
            except OperationalError as error:
                errors.append(error)
            thread.join(timeout=30)
    finally:
        one.close()
        two.close()
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.django_db(transaction=True)
def test_a_request_that_postgresql_ends_in_a_deadlock_is_a_409_to_try_again():
    error = _deadlock_error(PartnerFactory(), PartnerFactory())

    response = api_exception_handler(error, {})

    assert response.status_code == 409
    assert response.data == {
        "detail": "Another request was changing the same records at the same moment: send this one again."
    }
