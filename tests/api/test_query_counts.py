"""Every list costs the same number of SQL queries for 5 rows as for 50."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from partners.choices import PartnerType
from partners.models import TierChange
from tests.api.conftest import api_client
from tests.factories import (
    ApprovedEnrollmentFactory,
    CertificationFactory,
    ContactRequestFactory,
    CustomerReferenceFactory,
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    ProgramFactory,
    StaffMemberFactory,
    SuperUserFactory,
    tier,
)


def _add_partners(n):
    industry = IndustryFactory(slug="healthcare-x", name="Healthcare X")
    for partner in PartnerFactory.create_batch(n):
        partner.industries.add(industry)
        OfficeFactory(partner=partner, is_headquarters=True)


def _add_tier_changes(n):
    for partner in PartnerFactory.create_batch(n):
        TierChange.objects.create(
            partner=partner,
            from_tier=tier(),
            to_tier=tier(PartnerType.CONSULTING, "select"),
            reason="Qualified",
            changed_at=timezone.now(),
        )


def _add_enrollments_short_of_their_tier(n):
    needs_select = ProgramFactory(partner_type="", minimum_tier=tier(PartnerType.CONSULTING, "select"))
    for partner in PartnerFactory.create_batch(n):
        ApprovedEnrollmentFactory(partner=partner, program=needs_select)
        TierChange.objects.create(
            partner=partner,
            from_tier=tier(PartnerType.CONSULTING, "select"),
            to_tier=tier(),
            reason="Demoted",
            changed_at=timezone.now(),
        )


def _add_deliveries(n, user):
    endpoint = WebhookEndpoint.objects.create(owner=user, url="http://127.0.0.1:8151/", events=["x"])
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=endpoint, event="partner.tier_changed", event_id=f"{i:032x}", payload={})
        for i in range(n)
    )


def _add_endpoints(n, user):
    WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(owner=user, url=f"http://127.0.0.1:8151/{i}", events=["partner.tier_changed"])
        for i in range(n)
    )


LISTS = {
    "/api/v1/partners/": lambda n, user: _add_partners(n),
    "/api/v1/partners/?industry=healthcare-x&ordering=-updated_at": lambda n, user: _add_partners(n),
    "/api/v1/programs/": lambda n, user: ProgramFactory.create_batch(n),
    "/api/v1/tier-changes/": lambda n, user: _add_tier_changes(n),
    "/api/v1/enrollments/": lambda n, user: ApprovedEnrollmentFactory.create_batch(
        n, program=ProgramFactory(partner_type="")
    ),
    # Each partner below the program's minimum tier: each row says when it is to be revoked.
    "/api/v1/enrollments/?status=approved": lambda n, user: _add_enrollments_short_of_their_tier(n),
    "/api/v1/staff-members/": lambda n, user: StaffMemberFactory.create_batch(n),
    "/api/v1/certifications/": lambda n, user: CertificationFactory.create_batch(n),
    "/api/v1/certifications/?level=associate&expires_after=2020-01-01": lambda n, user: (
        CertificationFactory.create_batch(n, earned_on=datetime.date(2024, 1, 1))
    ),
    "/api/v1/references/": lambda n, user: CustomerReferenceFactory.create_batch(n),
    "/api/v1/contact-requests/": lambda n, user: ContactRequestFactory.create_batch(n),
    "/api/v1/webhook-endpoints/": _add_endpoints,
    "/api/v1/webhook-deliveries/": _add_deliveries,
}


def _queries(client, url) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured), len(response.json()["results"])


@pytest.mark.parametrize("url", list(LISTS))
@pytest.mark.django_db
def test_a_list_costs_the_same_queries_for_5_rows_as_for_50(url):
    superuser = SuperUserFactory()
    client = api_client(superuser)
    add = LISTS[url]
    add(5, superuser)
    few, rows_few = _queries(client, url + ("&" if "?" in url else "?") + "page_size=50")
    add(45, superuser)
    many, rows_many = _queries(client, url + ("&" if "?" in url else "?") + "page_size=50")
    assert rows_many > rows_few
    assert many == few


@pytest.mark.django_db
def test_the_tier_list_nests_requirements_in_a_constant_number_of_queries():
    with CaptureQueriesContext(connection) as captured:
        response = api_client().get("/api/v1/tiers/")
    assert response.status_code == 200
    assert any(tier["requirements"] for tier in response.json()["results"])
    assert len(captured) <= 3  # count, tiers, requirements
