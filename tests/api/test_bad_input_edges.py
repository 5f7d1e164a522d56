"""Input that passes a first look but used to fail deep inside with a 500: digits that are not ASCII,
numbers too large for a float, JSON nested too deeply, dates near the calendar's end, line breaks in what
becomes an email subject. Each is a 400 naming the problem."""

import base64

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import api_client
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db

SUPERSCRIPT_TWO = "%C2%B2"  # "²": a digit to str.isdigit(), not to int()


def test_a_page_number_in_unicode_digits_is_refused(world):
    client = world.client("superuser")
    assert client.get(f"/api/v1/partners/?page={SUPERSCRIPT_TWO}").status_code == 400
    response = client.get(f"/api/v1/certifications/?page_size={SUPERSCRIPT_TWO}")
    assert response.status_code == 400
    assert "page_size" in response.json()


def test_a_cursor_holding_an_infinite_number_is_refused(world):
    cursor = base64.urlsafe_b64encode(b'{"o":"id","p":[1e999]}').decode().rstrip("=")
    response = world.client("superuser").get(f"/api/v1/certifications/?cursor={cursor}")
    assert response.status_code == 400
    assert "cursor" in response.json()


def test_a_number_too_large_for_a_float_is_a_parse_error(world):
    response = world.client("pdm_a").generic(
        "POST",
        f"/api/v1/partners/{world.partner_a.slug}/tier-change/",
        '{"to_tier": 1e999, "reason": "Because."}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "too large" in response.json()["detail"]


def test_json_nested_too_deeply_is_a_parse_error_even_anonymously():
    body = "[" * 5000 + "]" * 5000
    response = APIClient().generic("POST", "/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        ("/api/v1/certifications/", {"name": "X", "earned_on": "9998-06-01"}, "earned_on"),
        ("approve", {"approved_on": "9999-12-01"}, "approved_on"),
    ],
)
def test_a_date_near_the_calendars_end_is_refused_by_name(world, url, payload, field):
    if url == "approve":
        url = f"/api/v1/enrollments/{world.enrollment_a.pk}/approve/"
    else:
        payload = {**payload, "staff_member": world.staff_member_a.pk, "level": "associate"}
    response = world.client("superuser").post(url, payload, format="json")
    assert response.status_code == 400
    assert "no later than" in response.json()[field][0]


def test_a_contract_cannot_be_replaced_to_end_near_the_calendars_end():
    from engagements.tests.conftest import _organisation

    alpha = _organisation("Alpha", 111_000_000_000)
    PartnerFactory(slug="next-vendor")
    response = api_client(alpha.admin).post(
        f"/api/v1/engagement-partners/{alpha.engaged.pk}/replace/",
        {"new_partner": "next-vendor", "reason": "A new vendor.", "contract_end": "9999-12-31"},
        format="json",
    )
    assert response.status_code == 400
    assert "contract_end" in response.json()


def test_a_line_break_in_a_contact_requests_company_is_refused_on_the_api_as_on_the_page(world, client):
    body = {"name": "Jane", "email": "jane@acme.example", "company": "Acme\nBcc: x@evil.example"}
    body |= {"country": "GB", "message": "Please help us migrate."}
    page = client.post(f"/partners/{world.partner_a.slug}/contact/", body)
    assert page.status_code == 400
    response = world.client("anonymous").post(
        "/api/v1/contact-requests/", {**body, "partner": world.partner_a.slug}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["company"] == ["Use a single line, without line breaks or tabs."]


@pytest.mark.parametrize(
    "resource", ["partners", "programs", "customers", "support-plans", "contact-requests"]
)
def test_a_detail_address_with_a_nul_byte_is_not_found(world, resource):
    assert world.client("superuser").get(f"/api/v1/{resource}/%00/").status_code == 404


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        (
            "/api/v1/certifications/",
            {"name": "X", "level": "associate", "earned_on": "0025-06-01"},
            "earned_on",
        ),
        (
            "/api/v1/references/",
            {"customer_name": "BigCorp", "summary": "Moved the shop.", "launched_on": "1999-12-31"},
            "launched_on",
        ),
    ],
)
def test_a_date_before_2000_is_a_typing_mistake_refused_by_name(world, url, payload, field):
    if "certifications" in url:
        payload = {**payload, "staff_member": world.staff_member_a.pk}
    else:
        payload = {**payload, "partner": world.partner_a.slug}
    response = world.client("superuser").post(url, payload, format="json")
    assert response.status_code == 400
    assert response.json()[field] == ["Give a date no earlier than 01 Jan 2000."]

    on_the_first_day = {**payload, field: "2000-01-01"}
    assert world.client("superuser").post(url, on_the_first_day, format="json").status_code == 201
