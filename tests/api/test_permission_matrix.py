"""Every endpoint and method, for every role, in the NetBox/pretix style: what status each gets.

Three organisations: partner A, partner B, and the provider (two PDMs, one assigned to A, and a
superuser). Roles, in column order: anonymous, A's user, B's user, A's PDM, another PDM, superuser.
Another organisation's private record is a 404 (it is not in what that user can see), a record one may
see but not change is a 403, and no credentials is a 401.
"""

import datetime
import uuid

import pytest

from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_endpoint_create
from tests.api.conftest import ROLES
from tests.factories import (
    PASSWORD,
    ApprovedEnrollmentFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    tier,
)

TODAY = datetime.date.today().isoformat()


def _days(n: int) -> str:
    return (datetime.date.today() + datetime.timedelta(days=n)).isoformat()


def _partner_body(w):
    return {"name": "New Partner", "slug": "new-partner", "partner_type": "consulting"}


def _full_partner_body(w):
    return {"name": "Alpha Cloud", "slug": "alpha", "partner_type": "consulting", "description": "Full"}


def _webhook_body(w):
    return {"url": "http://127.0.0.1:8151/hook", "events": ["partner.tier_changed"]}


def _endpoint_of_user_a(w):
    return webhook_endpoint_create(user=w.users["user_a"], **_webhook_body(w)).pk


# (name, method, path, body, expected statuses for anonymous, user_a, user_b, pdm_a, other_pdm, superuser)
CASES = [
    ("api root", "get", lambda w: "/api/v1/", None, (200, 200, 200, 200, 200, 200)),
    ("schema", "get", lambda w: "/api/v1/schema/", None, (200, 200, 200, 200, 200, 200)),
    ("docs", "get", lambda w: "/api/v1/docs/", None, (200, 200, 200, 200, 200, 200)),
    # partners
    ("partners list", "get", lambda w: "/api/v1/partners/", None, (200, 200, 200, 200, 200, 200)),
    ("partner detail", "get", lambda w: "/api/v1/partners/alpha/", None, (200, 200, 200, 200, 200, 200)),
    ("partner create", "post", lambda w: "/api/v1/partners/", _partner_body, (401, 403, 403, 201, 201, 201)),
    (
        "partner patch",
        "patch",
        lambda w: "/api/v1/partners/alpha/",
        lambda w: {"description": "Changed"},
        (401, 403, 403, 200, 403, 200),
    ),
    (
        "partner put",
        "put",
        lambda w: "/api/v1/partners/alpha/",
        _full_partner_body,
        (401, 403, 403, 200, 403, 200),
    ),
    (
        "partner evaluation",
        "get",
        lambda w: "/api/v1/partners/alpha/evaluation/",
        None,
        (401, 200, 404, 200, 200, 200),
    ),
    (
        "partner tier change",
        "post",
        lambda w: "/api/v1/partners/alpha/tier-change/",
        lambda w: {"to_tier": tier(slug="select").pk, "reason": "Audit passed"},
        (401, 403, 403, 201, 403, 201),
    ),
    (
        "partner recompute tier",
        "post",
        lambda w: "/api/v1/partners/alpha/recompute-tier/",
        lambda w: {},
        (401, 403, 403, 200, 403, 200),
    ),
    # tiers and programs: public reference data
    ("tiers list", "get", lambda w: "/api/v1/tiers/", None, (200, 200, 200, 200, 200, 200)),
    (
        "tier detail",
        "get",
        lambda w: f"/api/v1/tiers/{tier(slug='select').pk}/",
        None,
        (200, 200, 200, 200, 200, 200),
    ),
    ("programs list", "get", lambda w: "/api/v1/programs/", None, (200, 200, 200, 200, 200, 200)),
    (
        "program detail",
        "get",
        lambda w: "/api/v1/programs/open-program/",
        None,
        (200, 200, 200, 200, 200, 200),
    ),
    # tier changes: the partner's own and the provider's
    ("tier changes list", "get", lambda w: "/api/v1/tier-changes/", None, (401, 200, 200, 200, 200, 200)),
    (
        "tier change detail",
        "get",
        lambda w: f"/api/v1/tier-changes/{w.tier_change_a.pk}/",
        None,
        (401, 200, 404, 200, 200, 200),
    ),
    # enrollments: applied ones are private, applying is for the partner's staff or its PDM
    ("enrollments list", "get", lambda w: "/api/v1/enrollments/", None, (200, 200, 200, 200, 200, 200)),
    (
        "enrollment detail (applied)",
        "get",
        lambda w: f"/api/v1/enrollments/{w.enrollment_a.pk}/",
        None,
        (404, 200, 404, 200, 200, 200),
    ),
    (
        "enrollment apply",
        "post",
        lambda w: "/api/v1/enrollments/",
        lambda w: {"partner": "alpha", "program": "migration"},
        (401, 201, 403, 201, 403, 201),
    ),
    (
        "enrollment approve",
        "post",
        lambda w: f"/api/v1/enrollments/{w.enrollment_a.pk}/approve/",
        lambda w: {},
        (401, 403, 404, 200, 403, 200),
    ),
    (
        "enrollment revoke",
        "post",
        lambda w: f"/api/v1/enrollments/{w.enrollment_a.pk}/revoke/",
        lambda w: {"reason": "Withdrawn"},
        (401, 403, 404, 200, 403, 200),
    ),
    # staff members and certifications: private to the partner and the provider
    ("staff list", "get", lambda w: "/api/v1/staff-members/", None, (401, 200, 200, 200, 200, 200)),
    (
        "staff detail",
        "get",
        lambda w: f"/api/v1/staff-members/{w.staff_member_a.pk}/",
        None,
        (401, 200, 404, 200, 200, 200),
    ),
    (
        "staff create",
        "post",
        lambda w: "/api/v1/staff-members/",
        lambda w: {"partner": "alpha", "full_name": "Ada Lovelace"},
        (401, 403, 403, 201, 403, 201),
    ),
    (
        "staff patch",
        "patch",
        lambda w: f"/api/v1/staff-members/{w.staff_member_a.pk}/",
        lambda w: {"job_title": "Architect"},
        (401, 403, 404, 200, 403, 200),
    ),
    (
        "staff delete",
        "delete",
        lambda w: f"/api/v1/staff-members/{w.staff_member_a.pk}/",
        None,
        (401, 403, 404, 204, 403, 204),
    ),
    ("certifications list", "get", lambda w: "/api/v1/certifications/", None, (401, 200, 200, 200, 200, 200)),
    (
        "certification detail",
        "get",
        lambda w: f"/api/v1/certifications/{w.certification_a.pk}/",
        None,
        (401, 200, 404, 200, 200, 200),
    ),
    (
        "certification create",
        "post",
        lambda w: "/api/v1/certifications/",
        lambda w: {
            "staff_member": w.staff_member_a.pk,
            "name": "Solutions Architect - Professional",
            "level": "professional",
            "earned_on": TODAY,
        },
        # B's user cannot name A's staff member at all: it is not among those it can see.
        (401, 403, 400, 201, 403, 201),
    ),
    (
        "certification patch",
        "patch",
        lambda w: f"/api/v1/certifications/{w.certification_a.pk}/",
        lambda w: {"name": "Renamed"},
        (401, 403, 404, 200, 403, 200),
    ),
    (
        "certification delete",
        "delete",
        lambda w: f"/api/v1/certifications/{w.certification_a.pk}/",
        None,
        (401, 403, 404, 204, 403, 204),
    ),
    # references: public ones for everybody, private ones for the partner and the provider
    ("references list", "get", lambda w: "/api/v1/references/", None, (200, 200, 200, 200, 200, 200)),
    (
        "reference detail (private)",
        "get",
        lambda w: f"/api/v1/references/{w.reference_a.pk}/",
        None,
        (404, 200, 404, 200, 200, 200),
    ),
    (
        "reference create",
        "post",
        lambda w: "/api/v1/references/",
        lambda w: {"partner": "alpha", "customer_name": "Acme", "summary": "Migration", "launched_on": TODAY},
        (401, 201, 403, 201, 403, 201),
    ),
    (
        "reference patch",
        "patch",
        lambda w: f"/api/v1/references/{w.reference_a.pk}/",
        lambda w: {"summary": "Re-platformed"},
        (401, 403, 404, 200, 403, 200),
    ),
    (
        "reference delete",
        "delete",
        lambda w: f"/api/v1/references/{w.reference_a.pk}/",
        None,
        (401, 403, 404, 204, 403, 204),
    ),
    # contact requests: anyone sends one; the partner's own staff read and answer them
    (
        "contact request send",
        "post",
        lambda w: "/api/v1/contact-requests/",
        lambda w: {
            "partner": "alpha",
            "name": "Jo Buyer",
            "email": "jo@customer.example.com",
            "company": "Customer GmbH",
            "country": "DE",
            "message": "Please call us.",
        },
        (201, 201, 201, 201, 201, 201),
    ),
    (
        "contact requests list",
        "get",
        lambda w: "/api/v1/contact-requests/",
        None,
        (401, 200, 200, 200, 200, 200),
    ),
    (
        "contact request detail",
        "get",
        lambda w: f"/api/v1/contact-requests/{w.contact_request_a.reference}/",
        None,
        (401, 200, 404, 200, 200, 200),
    ),
    (
        "contact request accept",
        "post",
        lambda w: f"/api/v1/contact-requests/{w.contact_request_a.reference}/accept/",
        lambda w: {},
        (401, 200, 404, 403, 403, 403),
    ),
    (
        "contact request decline",
        "post",
        lambda w: f"/api/v1/contact-requests/{w.contact_request_a.reference}/decline/",
        lambda w: {"reason": "Not our field"},
        (401, 200, 404, 403, 403, 403),
    ),
    # webhooks: each user manages their own endpoints
    (
        "webhook endpoints list",
        "get",
        lambda w: "/api/v1/webhook-endpoints/",
        None,
        (401, 200, 200, 200, 200, 200),
    ),
    (
        "webhook endpoint create",
        "post",
        lambda w: "/api/v1/webhook-endpoints/",
        _webhook_body,
        (401, 201, 201, 201, 201, 201),
    ),
    (
        "webhook endpoint detail",
        "get",
        lambda w: f"/api/v1/webhook-endpoints/{_endpoint_of_user_a(w)}/",
        None,
        (401, 200, 404, 404, 404, 200),
    ),
    (
        "webhook endpoint patch",
        "patch",
        lambda w: f"/api/v1/webhook-endpoints/{_endpoint_of_user_a(w)}/",
        lambda w: {"is_active": False},
        (401, 200, 404, 404, 404, 200),
    ),
    (
        "webhook endpoint delete",
        "delete",
        lambda w: f"/api/v1/webhook-endpoints/{_endpoint_of_user_a(w)}/",
        None,
        (401, 204, 404, 404, 404, 204),
    ),
    (
        "webhook deliveries list",
        "get",
        lambda w: "/api/v1/webhook-deliveries/",
        None,
        (401, 200, 200, 200, 200, 200),
    ),
]


# Signing in, leads made engagements, the enrollment workflow's actions, a type change, a delivery.


def _audited_enrollment_of_a(w):
    audited = ProgramFactory(slug="audited-program", partner_type="", audit_required=True)
    return ProgramEnrollmentFactory(partner=w.partner_a, program=audited).pk


def _approved_enrollment_of_a(w):
    renewable = ProgramFactory(slug="renewable-program", partner_type="")
    return ApprovedEnrollmentFactory(partner=w.partner_a, program=renewable).pk


def _delivery_to_user_a(w):
    endpoint = webhook_endpoint_create(
        user=w.users["user_a"], url="http://127.0.0.1:8151/hook", events=["partner.tier_changed"]
    )
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event="partner.tier_changed", event_id=uuid.uuid4(), payload={"n": 1}
    ).pk


CASES += [
    # Signing in needs no token (a token sent along changes nothing): the password decides.
    (
        "token obtain",
        "post",
        lambda w: "/api/v1/auth/token/",
        lambda w: {"username": "user_a", "password": PASSWORD},
        (200, 200, 200, 200, 200, 200),
    ),
    (
        "token obtain (wrong password)",
        "post",
        lambda w: "/api/v1/auth/token/",
        lambda w: {"username": "user_a", "password": "not-the-password"},
        (401, 401, 401, 401, 401, 401),
    ),
    (
        "contact request to engagement",
        "post",
        lambda w: f"/api/v1/contact-requests/{w.contact_request_a.reference}/engagement/",
        lambda w: {"workload": "WordPress site", "contract_start": _days(0), "contract_end": _days(180)},
        # The partner converts its own leads: 403 for the provider's staff.
        (401, 201, 404, 403, 403, 403),
    ),
    (
        "partner type change",
        "post",
        lambda w: "/api/v1/partners/alpha/type-change/",
        lambda w: {"partner_type": "technology", "reason": "Sells software, not services"},
        (401, 403, 403, 200, 403, 200),
    ),
    (
        "enrollment patch (applied on)",
        "patch",
        lambda w: f"/api/v1/enrollments/{w.enrollment_a.pk}/",
        lambda w: {"applied_on": _days(-3)},
        (401, 403, 404, 200, 403, 200),
    ),
    (
        "enrollment start review",
        "post",
        lambda w: f"/api/v1/enrollments/{w.enrollment_a.pk}/start-review/",
        None,
        (401, 403, 404, 200, 403, 200),
    ),
    (
        "enrollment schedule audit",
        "post",
        lambda w: f"/api/v1/enrollments/{_audited_enrollment_of_a(w)}/schedule-audit/",
        lambda w: {"audit_date": _days(14)},
        (401, 403, 404, 200, 403, 200),
    ),
    (
        "enrollment renew",
        "post",
        lambda w: f"/api/v1/enrollments/{_approved_enrollment_of_a(w)}/renew/",
        lambda w: {},
        # An approved enrollment is public: B's user sees it, and may not renew it.
        (401, 403, 403, 200, 403, 200),
    ),
    (
        "webhook delivery detail",
        "get",
        lambda w: f"/api/v1/webhook-deliveries/{_delivery_to_user_a(w)}/",
        None,
        (401, 200, 404, 404, 404, 200),
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "role", "expected"),
    [
        pytest.param(method, path, body, role, expected[index], id=f"{name} as {role}")
        for name, method, path, body, expected in CASES
        for index, role in enumerate(ROLES)
    ],
)
def test_permission_matrix(world, method, path, body, role, expected):
    assert_cell(world, method, path, body, role, expected)


def assert_cell(world, method, path, body, role, expected):
    """One cell of a matrix: the request as `role`, in `world`, answers `expected`."""
    data = body(world) if body else None
    response = getattr(world.client(role), method)(path(world), data, format="json")
    assert response.status_code == expected, (response.status_code, getattr(response, "data", None))


def test_an_unknown_token_is_refused_even_on_public_lists(world):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/partners/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
