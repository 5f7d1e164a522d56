"""Writes at the edges: a body over the size limit, a webhook URL whose port cannot be called, and
read-only fields sent with an update."""

import json

import pytest
import yaml
from django.conf import settings

from apn_portal.api.models import IdempotencyKey
from apn_portal.webhooks.models import WebhookEndpoint
from partners.models import Certification, ConsultingCategory, Partner, StaffMember
from tests.api.conftest import api_client
from tests.factories import IndustryFactory, OfficeFactory, tier

# A body too large ------------------------------------------------------------------------------------------


def _too_large() -> str:
    return json.dumps({"full_name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})


def _assert_too_large(response):
    assert response.status_code == 413, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert "at most 2.5 MB" in response.json()["detail"]


def test_an_update_with_a_body_over_the_limit_is_a_json_413(world):
    url = f"/api/v1/staff-members/{world.staff_member_a.pk}/"
    before = world.client("pdm_a").get(url).json()

    response = world.client("pdm_a").generic("PATCH", url, _too_large(), content_type="application/json")

    _assert_too_large(response)
    assert world.client("pdm_a").get(url).json() == before


def test_a_post_with_an_idempotency_key_and_a_body_over_the_limit_is_a_json_413(world):
    staff = StaffMember.objects.count()

    response = world.client("pdm_a").generic(
        "POST",
        "/api/v1/staff-members/",
        _too_large(),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="big-body-1",
    )

    _assert_too_large(response)
    assert StaffMember.objects.count() == staff
    assert not IdempotencyKey.objects.filter(key="big-body-1").exists()


def test_a_body_over_the_limit_is_a_413_in_the_browsable_api_too(world):
    response = world.client("pdm_a").generic(
        "POST",
        "/api/v1/staff-members/",
        _too_large(),
        content_type="application/json",
        HTTP_ACCEPT="text/html",
    )

    assert response.status_code == 413
    assert b"at most 2.5 MB" in response.content


def test_the_schema_documents_the_413_of_every_write_with_a_body(world):
    schema = yaml.safe_load(api_client().get("/api/v1/schema/").content)

    writes = [
        operation
        for methods in schema["paths"].values()
        for method, operation in methods.items()
        if method in ("post", "put", "patch")
    ]
    assert writes
    for operation in writes:
        assert "at most 2.5 MB" in operation["responses"]["413"]["description"]
        assert "415" in operation["responses"]


def test_a_delete_reads_no_body_and_the_schema_says_so(world):
    client = world.client("pdm_a")
    url = f"/api/v1/staff-members/{world.staff_member_a.pk}/"
    # Neither too large nor JSON: not read, so neither a 413 nor a 415.
    body = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert client.generic("DELETE", url, body, content_type="text/plain").status_code == 204
    # What a DELETE can still refuse as bad input: a filter's value, as on every address of one record.
    url = f"/api/v1/staff-members/{StaffMember.objects.create(partner=world.partner_a, full_name='B').pk}/"
    response = client.delete(f"{url}?updated_since=yesterday")
    assert response.status_code == 400
    assert "updated_since" in response.json()

    schema = yaml.safe_load(api_client().get("/api/v1/schema/").content)
    deletes = {path: methods["delete"] for path, methods in schema["paths"].items() if "delete" in methods}
    assert "/api/v1/staff-members/{id}/" in deletes
    for path, operation in deletes.items():
        responses = operation["responses"]
        assert not {"413", "415"} & set(responses), path
        assert "query parameter" in responses["400"]["description"], path
        assert "If-Match" in responses["409"]["description"], path
        assert "If-Match" in {parameter["name"] for parameter in operation["parameters"]}, path


# A webhook URL whose port no request can reach --------------------------------------------------------

PORT_MESSAGE = "The URL's port must be a number from 1 to 65535 (or left out, for the scheme's own)."


@pytest.mark.parametrize("port", ["99999", "0", "65536"])
def test_a_webhook_url_with_an_impossible_port_is_refused_naming_url(world, settings, port):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]

    response = world.client("user_a").post(
        "/api/v1/webhook-endpoints/",
        {"url": f"http://127.0.0.1:{port}/hook", "events": ["partner.tier_changed"]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert response.json() == {"url": [PORT_MESSAGE]}
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:65535/hook", "http://127.0.0.1/hook"])
def test_a_webhook_url_with_a_real_port_or_none_is_registered(world, settings, url):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]

    response = world.client("user_a").post(
        "/api/v1/webhook-endpoints/", {"url": url, "events": ["partner.tier_changed"]}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["url"] == url


def test_a_webhook_url_cannot_be_changed_to_an_impossible_port(world, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    client = world.client("user_a")
    created = client.post(
        "/api/v1/webhook-endpoints/",
        {"url": "http://127.0.0.1:8080/hook", "events": ["partner.tier_changed"]},
        format="json",
    ).json()

    response = client.patch(
        f"/api/v1/webhook-endpoints/{created['id']}/", {"url": "http://127.0.0.1:0/hook"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"url": [PORT_MESSAGE]}
    assert WebhookEndpoint.objects.get().url == "http://127.0.0.1:8080/hook"


# Read-only fields sent with an update ----------------------------------------------------------------


def _read_back_and_patch(client, url, method="patch"):
    read = client.get(url)
    assert read.status_code == 200
    body = read.json()
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == body
    return response


def test_a_partner_read_is_accepted_back_whole_by_patch_and_put(world):
    partner = world.partner_a
    partner.categories.set(ConsultingCategory.objects.order_by("slug")[:2])
    partner.industries.set([IndustryFactory()])
    OfficeFactory(partner=partner, is_headquarters=True)
    OfficeFactory(partner=partner, is_headquarters=False)
    client = world.client("pdm_a")

    _read_back_and_patch(client, "/api/v1/partners/alpha/")
    _read_back_and_patch(client, "/api/v1/partners/alpha/", method="put")


@pytest.mark.parametrize("record", ["staff-members", "certifications", "references"])
def test_a_records_read_is_accepted_back_whole_by_patch(world, record):
    instance = {
        "staff-members": world.staff_member_a,
        "certifications": world.certification_a,
        "references": world.reference_a,
    }[record]

    _read_back_and_patch(world.client("pdm_a"), f"/api/v1/{record}/{instance.pk}/")


def test_a_partners_tier_is_not_changed_by_an_update_but_through_its_tier_change(world):
    client = world.client("pdm_a")
    read = client.get("/api/v1/partners/alpha/").json()
    advanced = tier(slug="advanced")
    brief = {"id": advanced.pk, "slug": "advanced", "name": advanced.name, "rank": advanced.rank}

    for method in ("patch", "put"):
        response = getattr(client, method)(
            "/api/v1/partners/alpha/",
            {**read, "tier": brief},
            format="json",
        )

        assert response.status_code == 400, response.content
        assert set(response.json()) == {"tier"}
        assert "POST /api/v1/partners/alpha/tier-change/" in response.json()["tier"][0]
    assert Partner.objects.get(pk=world.partner_a.pk).tier_id == world.partner_a.tier_id


def test_a_partners_tier_given_as_a_slug_is_refused_too(world):
    response = world.client("pdm_a").patch("/api/v1/partners/alpha/", {"tier": "advanced"}, format="json")

    assert response.status_code == 400
    assert "tier-change" in response.json()["tier"][0]
    assert Partner.objects.get(pk=world.partner_a.pk).tier_id == world.partner_a.tier_id


def test_a_certifications_partner_is_not_changed_by_an_update(world):
    client = world.client("pdm_a")
    url = f"/api/v1/certifications/{world.certification_a.pk}/"
    read = client.get(url).json()

    response = client.patch(url, {"partner": "bravo", "name": "Renamed"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"partner"}
    assert "staff member" in response.json()["partner"][0]
    assert client.get(url).json() == read
    assert Certification.objects.get(pk=world.certification_a.pk).staff_member.partner == world.partner_a


@pytest.mark.parametrize(
    ("record", "field", "value"),
    [
        ("staff-members", "id", 999999),
        ("staff-members", "created_at", "2001-01-01T00:00:00Z"),
        ("certifications", "is_active", False),
        ("references", "validated_at", "2001-01-01T00:00:00Z"),
    ],
)
def test_another_read_only_value_is_refused_naming_the_field(world, record, field, value):
    instance = {
        "staff-members": world.staff_member_a,
        "certifications": world.certification_a,
        "references": world.reference_a,
    }[record]
    client = world.client("pdm_a")
    url = f"/api/v1/{record}/{instance.pk}/"
    read = client.get(url).json()
    assert read[field] != value

    response = client.patch(url, {field: value}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert client.get(url).json() == read


def test_a_read_only_value_is_named_beside_the_other_mistakes_of_the_body(world):
    url = f"/api/v1/staff-members/{world.staff_member_a.pk}/"

    response = world.client("pdm_a").patch(url, {"id": 999999, "email": "not an address"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"id", "email"}


def test_the_schema_describes_no_resource_by_how_its_updates_are_checked(world):
    schemas = yaml.safe_load(api_client().get("/api/v1/schema/").content)["components"]["schemas"]

    for name in ("Partner", "PatchedPartnerRequest", "StaffMember", "Certification", "CustomerReference"):
        description = schemas[name].get("description", "")
        assert "read_only_messages" not in description and "owner_field" not in description, name


# Values of the wrong shape ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["categories", "industries", "use_cases"])
@pytest.mark.parametrize("sent", [{}, {"cloud-operations": False}], ids=["empty object", "object"])
def test_an_object_for_a_partners_tags_is_refused_not_read_as_its_keys(world, field, sent):
    world.partner_a.categories.set(ConsultingCategory.objects.order_by("slug")[:2])
    url = f"/api/v1/partners/{world.partner_a.slug}/"
    before = world.client("pdm_a").get(url).json()[field]

    response = world.client("pdm_a").patch(url, {field: sent}, format="json")

    assert response.status_code == 400
    assert response.json()[field] == ['Expected a list of items but got type "dict".']
    assert world.client("pdm_a").get(url).json()[field] == before


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize(
    "spell", [str, lambda pk: f"+{pk}", lambda pk: f" {pk}\n", lambda pk: str(pk).translate(ARABIC_INDIC)]
)
def test_a_related_id_in_a_body_is_read_only_as_a_whole_number(world, spell):
    select = tier(slug="select")
    url = f"/api/v1/partners/{world.partner_a.slug}/tier-change/"

    response = world.client("pdm_a").post(
        url, {"to_tier": spell(select.pk), "reason": "Audit"}, format="json"
    )

    if spell is str:  # its digits as a string, as a URL spells it
        assert response.status_code == 201, response.json()
    else:
        assert response.status_code == 400
        assert response.json() == {"to_tier": ["Give the record's id as a whole number, e.g. 42."]}
        assert Partner.objects.get(pk=world.partner_a.pk).tier_id != select.pk


@pytest.mark.parametrize("sent", [lambda pk: pk + 0.5, lambda pk: True], ids=["fraction", "boolean"])
def test_a_certification_is_not_filed_under_the_staff_member_a_number_rounds_to(world, sent):
    pk = world.staff_member_a.pk
    body = {
        "staff_member": sent(pk),
        "name": "Solutions Architect",
        "level": "associate",
        "earned_on": "2026-01-05",
    }

    response = world.client("pdm_a").post("/api/v1/certifications/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"staff_member": ["Give the record's id as a whole number, e.g. 42."]}
    assert Certification.objects.filter(staff_member_id=pk).count() == 1


def test_a_staff_members_email_is_taken_whatever_its_case(world):
    client = world.client("pdm_a")
    body = {"partner": "alpha", "full_name": "Ann Lee", "email": "ann.lee@alpha.example"}
    assert client.post("/api/v1/staff-members/", body, format="json").status_code == 201

    response = client.post(
        "/api/v1/staff-members/", {**body, "email": "Ann.Lee@Alpha.example"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"email": ["This partner already has a staff member with that email address."]}
    assert StaffMember.objects.filter(email__iexact="ann.lee@alpha.example").count() == 1
