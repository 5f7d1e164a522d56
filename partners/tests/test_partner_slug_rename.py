"""A partner's new slug reaches integrators who sync on `updated_since`: every record whose API
representation names the partner by its slug, in any app, counts as changed by the rename."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from partners.choices import PartnerType, TierChangeSource
from partners.models import TierChange
from partners.tests.test_admin import change_form_data
from support.models import SupportCase
from tests.factories import (
    AccessGrantFactory,
    AwsAccountFactory,
    CertificationFactory,
    ContactRequestFactory,
    CustomerReferenceFactory,
    CustomerUserFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    StaffMemberFactory,
    SuperUserFactory,
    SupportSubscriptionFactory,
    support_plan,
    tier,
)

pytestmark = pytest.mark.django_db


def records_naming(partner, copies: int = 1) -> list[tuple[str, object]]:
    """`copies` records of each resource that names the partner by slug, as (resource, key in its list):
    the id, or a contact request's reference."""
    rows = []
    for _ in range(copies):
        change = TierChange.objects.create(
            partner=partner,
            from_tier=tier(PartnerType.CONSULTING, "registered"),
            to_tier=tier(PartnerType.CONSULTING, "select"),
            reason="Promoted",
            source=TierChangeSource.SCHEDULED_CHECK,
            changed_at=timezone.now(),
        )
        member = StaffMemberFactory(partner=partner)
        engaged = EngagementPartnerFactory(partner=partner)
        customer = engaged.engagement.customer
        resold = AwsAccountFactory(customer=customer, reseller=partner, paid_by="reseller")
        grant = AccessGrantFactory(engagement_partner=engaged, account=resold)
        subscription = SupportSubscriptionFactory(customer=customer, support_partner=partner)
        case = SupportCase.objects.create(
            customer=customer,
            account=resold,
            plan=support_plan("basic"),
            severity="general_guidance",
            subject="Question",
            description="How do we rotate keys?",
            opened_by=CustomerUserFactory(customer=customer),
            opened_by_partner=partner,
            handling_partner=partner,
        )
        rows += [
            ("tier-changes", change.pk),
            (
                "enrollments",
                ProgramEnrollmentFactory(partner=partner, program=ProgramFactory(partner_type="")).pk,
            ),
            ("staff-members", member.pk),
            ("certifications", CertificationFactory(staff_member=member).pk),
            ("references", CustomerReferenceFactory(partner=partner).pk),
            ("contact-requests", ContactRequestFactory(partner=partner).reference),
            ("engagement-partners", engaged.pk),
            ("engagements", engaged.engagement.pk),
            ("access-grants", grant.pk),
            ("aws-accounts", resold.pk),
            ("support-subscriptions", subscription.pk),
            ("support-cases", case.pk),
        ]
    return rows


def api_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def changed_since(client, resource: str, since: datetime.datetime) -> dict[int, dict]:
    response = client.get(f"/api/v1/{resource}/", {"updated_since": since.isoformat(), "page_size": 100})
    assert response.status_code == 200, response.content
    return {row.get("id", row.get("reference")): row for row in response.json()["results"]}


def shows_slug(resource: str, row: dict, slug: str) -> bool:
    if resource == "engagements":
        return slug in [partner["partner"] for partner in row["partners"]]
    if resource == "aws-accounts":
        return row["reseller"] == slug
    if resource == "support-subscriptions":
        return row["support_partner"] == slug
    if resource == "support-cases":
        return (row["opened_by_partner"], row["handling_partner"]) == (slug, slug)
    return row["partner"] == slug


def test_after_a_rename_through_the_api_every_record_naming_the_partner_is_changed_since():
    partner = PartnerFactory(slug="before")
    named = records_naming(partner)
    other = records_naming(PartnerFactory(slug="bystander"))
    client = api_client(SuperUserFactory())
    since = timezone.now()

    assert client.patch("/api/v1/partners/before/", {"slug": "renamed"}, format="json").status_code == 200

    assert len({resource for resource, _ in named}) == 12
    for resource, key in named:
        rows = changed_since(client, resource, since)
        assert key in rows, f"{resource} {key} is not changed since the rename"
        assert shows_slug(resource, rows[key], "renamed")
    for resource, key in other:
        assert key not in changed_since(client, resource, since), f"{resource} {key} of another partner"


def test_a_rename_in_the_admin_changes_them_too(client):
    partner = PartnerFactory(slug="before")
    named = records_naming(partner)
    superuser = SuperUserFactory()
    client.force_login(superuser)
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    data = change_form_data(client, url)
    data["slug"] = "renamed"
    since = timezone.now()

    assert client.post(url, data).status_code == 302

    api = api_client(superuser)
    for resource, key in named:
        assert key in changed_since(api, resource, since), f"{resource} {key} is not changed"


def test_an_edit_that_keeps_the_slug_leaves_the_records_as_they_were():
    partner = PartnerFactory(slug="steady")
    named = records_naming(partner)
    client = api_client(SuperUserFactory())
    since = timezone.now()

    assert client.patch("/api/v1/partners/steady/", {"name": "Steady Ltd"}, format="json").status_code == 200

    for resource, key in named:
        assert key not in changed_since(client, resource, since), f"{resource} {key} changed"


def rename_queries(slug: str, copies: int) -> int:
    partner = PartnerFactory(slug=slug)
    records_naming(partner, copies)
    client = api_client(SuperUserFactory())
    client.get("/api/v1/")  # the token's first use costs queries of its own
    with CaptureQueriesContext(connection) as queries:
        response = client.patch(f"/api/v1/partners/{slug}/", {"slug": f"{slug}-renamed"}, format="json")
    assert response.status_code == 200
    return len(queries)


def test_a_rename_costs_the_same_queries_for_1_and_4_records_of_each_kind():
    assert rename_queries("small", 1) == rename_queries("large", 4)
