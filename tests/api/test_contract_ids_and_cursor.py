"""What the contract promises about a record's address, its id filters, the headers of an answer, and the
`cursor` of a walk: the OpenAPI document says it, and the API does it."""

import pytest
import yaml

from tests.api.conftest import api_client
from tests.factories import CertificationFactory, SuperUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(db):
    response = api_client().get("/api/v1/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_read_and_update_of_a_record_documents_its_etag(schema):
    documented = []
    for path, method, operation in _operations(schema):
        if path.endswith("}/") and method in ("get", "put", "patch"):
            headers = operation["responses"]["200"].get("headers", {})
            assert "ETag" in headers, (method, path)
            documented.append(path)
    assert "/api/v1/certifications/{id}/" in documented
    assert "/api/v1/partners/{slug}/" in documented


def test_a_read_and_an_update_answer_with_the_etag_documented():
    client = api_client(SuperUserFactory())
    certification = CertificationFactory()
    read = client.get(f"/api/v1/certifications/{certification.pk}/")
    updated = client.patch(
        f"/api/v1/certifications/{certification.pk}/",
        {"name": "Renamed"},
        format="json",
        HTTP_IF_MATCH=read["ETag"],
    )
    assert read.has_header("ETag") and updated.has_header("ETag")
    assert updated["ETag"] != read["ETag"]


def test_every_429_documents_retry_after_and_every_post_success_the_replay_header(schema):
    for path, method, operation in _operations(schema):
        if path == "/api/v1/auth/token/":
            continue  # a sign-in lockout, which says how long in its message
        assert "Retry-After" in operation["responses"]["429"].get("headers", {}), (method, path)
        if method == "post":
            successes = [code for code in operation["responses"] if str(code).startswith("2")]
            assert successes, path
            for code in successes:
                assert "Idempotent-Replayed" in operation["responses"][code].get("headers", {}), (path, code)


ID_FILTERS = {
    ("/api/v1/certifications/", "staff_member"): "The staff member's id.",
    ("/api/v1/access-grants/", "engagement"): None,
    ("/api/v1/engagement-partners/", "engagement"): None,
    ("/api/v1/webhook-deliveries/", "endpoint"): "The endpoint's id.",
}


def test_id_filters_are_integers_in_the_schema_as_in_the_api(schema):
    client = api_client(SuperUserFactory())
    for (path, name), description in ID_FILTERS.items():
        parameter = next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)
        assert parameter["schema"]["type"] == "integer", (path, name)
        assert parameter.get("description") == description, (path, name)
        assert client.get(path, {name: "1.5"}).status_code == 400, (path, name)


def _arabic_indic(digits: str) -> str:
    return digits.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


@pytest.mark.parametrize(
    "spelling",
    [
        lambda pk: f"+{pk}",
        lambda pk: f"0{pk}",
        lambda pk: f"{pk}%0A",
        lambda pk: f"%20{pk}",
        _arabic_indic,
        lambda pk: "9" * 25,
    ],
    ids=["plus", "leading-zero", "newline", "space", "arabic-indic", "too-long"],
)
def test_a_record_has_one_address(spelling):
    client = api_client(SuperUserFactory())
    certification = CertificationFactory()
    assert client.get(f"/api/v1/certifications/{certification.pk}/").status_code == 200
    response = client.get(f"/api/v1/certifications/{spelling(str(certification.pk))}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_an_action_on_another_spelling_of_an_id_is_a_404_and_changes_nothing(world):
    client = world.client("pdm_a")
    enrollment = world.enrollment_a
    response = client.post(f"/api/v1/enrollments/+{enrollment.pk}/start-review/", {}, format="json")
    assert response.status_code == 404
    enrollment.refresh_from_db()
    assert enrollment.status == "applied"


def test_slugs_and_references_are_looked_up_as_before(world):
    client = world.client("superuser")
    assert client.get(f"/api/v1/partners/{world.partner_a.slug}/").status_code == 200
    assert client.get(f"/api/v1/contact-requests/{world.contact_request_a.reference}/").status_code == 200


@pytest.mark.parametrize(
    "query",
    [{"cursor": ""}, {"cursor": "  "}, {"cursor": ["", ""]}],
    ids=["empty", "blank", "repeated-empty"],
)
def test_an_empty_or_repeated_cursor_is_a_400_naming_it(query):
    client = api_client(SuperUserFactory())
    CertificationFactory.create_batch(3)
    response = client.get("/api/v1/certifications/", {**query, "page_size": 1})
    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def test_a_cursor_given_twice_is_a_400_even_when_each_is_valid():
    client = api_client(SuperUserFactory())
    CertificationFactory.create_batch(3)
    first = client.get("/api/v1/certifications/", {"page_size": 1}).json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    assert client.get("/api/v1/certifications/", {"page_size": 1, "cursor": cursor}).status_code == 200
    response = client.get("/api/v1/certifications/", {"page_size": 1, "cursor": [cursor, cursor]})
    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]
