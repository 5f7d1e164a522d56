"""POST /api/v1/contact-requests/{reference}/engagement/: the lead becomes an engagement through the one
service the partner's lead page uses, once, for the partner it was sent to; and the service itself holds
against a second conversion and a customer slug taken meanwhile."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from apn_portal.exceptions import ConflictError
from engagements import services
from engagements.choices import PartnerRole
from engagements.models import Customer, Engagement, TeamMember
from partners.choices import ContactRequestStatus, PartnerType
from tests.api.conftest import api_client
from tests.factories import (
    ContactRequestFactory,
    CustomerUserFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def url(lead) -> str:
    return f"/api/v1/contact-requests/{lead.reference}/engagement/"


def contract(**changes) -> dict:
    return {
        "workload": "WordPress site",
        "contract_start": today().isoformat(),
        "contract_end": (today() + datetime.timedelta(days=90)).isoformat(),
        **changes,
    }


@pytest.fixture
def lead():
    return ContactRequestFactory(company="Blue Sky Charity", name="Ada Lovelace")


@pytest.fixture
def partner_api(lead):
    return api_client(PartnerUserFactory(partner=lead.partner))


def test_the_partner_turns_its_lead_into_an_engagement_it_then_reads(partner_api, lead):
    response = partner_api.post(url(lead), contract(title="Blue Sky website"), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    engagement = Engagement.objects.get(contact_request=lead)
    assert body["id"] == engagement.pk and body["title"] == "Blue Sky website"
    assert body["customer"] == engagement.customer.slug and engagement.customer.name == "Blue Sky Charity"
    assert [(p["partner"], p["role"]) for p in body["partners"]] == [
        (lead.partner.slug, PartnerRole.CONSULTING_LEAD)
    ]
    assert partner_api.get(f"/api/v1/engagements/{engagement.pk}/").json() == body
    assert partner_api.get(f"/api/v1/contact-requests/{lead.reference}/").json()["status"] == "accepted"


def test_a_lead_converted_already_or_declined_is_a_409(partner_api, lead):
    assert partner_api.post(url(lead), contract(), format="json").status_code == 201

    again = partner_api.post(url(lead), contract(workload="Another"), format="json")

    assert again.status_code == 409
    assert again.json() == {"detail": f"Contact request {lead.reference} is already an engagement."}
    assert Engagement.objects.count() == 1 and Customer.objects.count() == 1

    declined = ContactRequestFactory(
        partner=lead.partner, status=ContactRequestStatus.DECLINED, decline_reason="Out of scope"
    )
    refused = partner_api.post(url(declined), contract(), format="json")
    assert refused.status_code == 409
    assert "was declined" in refused.json()["detail"]


@pytest.mark.parametrize(
    "make_user",
    [
        pytest.param(lambda: PartnerUserFactory(), id="another-partner"),
        pytest.param(lambda: CustomerUserFactory(), id="a-customer"),
    ],
)
def test_someone_who_cannot_see_the_lead_gets_a_404(lead, make_user):
    response = api_client(make_user()).post(url(lead), contract(), format="json")

    assert response.status_code == 404
    assert not Engagement.objects.exists()


def test_the_providers_staff_see_the_lead_but_do_not_convert_it(lead):
    response = api_client(SuperUserFactory()).post(url(lead), contract(), format="json")

    assert response.status_code == 403
    assert api_client().post(url(lead), contract(), format="json").status_code == 401
    assert not Engagement.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"workload": ""}, "workload"),
        ({"contract_end": "soon"}, "contract_end"),
        ({"contract_start": "9999-01-01"}, "contract_start"),
        ({"procurement_model": "barter"}, "procurement_model"),
        ({"title": "x" * 201}, "title"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(partner_api, lead, body, field):
    response = partner_api.post(url(lead), contract(**body), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Engagement.objects.exists()


def test_a_contract_ending_before_it_starts_is_a_400(partner_api, lead):
    response = partner_api.post(
        url(lead), contract(contract_end=(today() - datetime.timedelta(days=1)).isoformat()), format="json"
    )

    assert response.status_code == 400
    assert "cannot end before it starts" in str(response.json())
    assert not Engagement.objects.exists() and not Customer.objects.exists()
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.NEW


def test_a_technology_partner_is_refused_before_anything_is_saved():
    lead = ContactRequestFactory(partner=PartnerFactory(partner_type=PartnerType.TECHNOLOGY))

    response = api_client(PartnerUserFactory(partner=lead.partner)).post(url(lead), contract(), format="json")

    assert response.status_code == 400
    assert "Only a Consulting partner can lead the work" in response.json()["detail"]
    assert not Customer.objects.exists()


def test_a_long_company_name_still_makes_a_default_title(partner_api):
    lead = ContactRequestFactory(company="C" * 200)
    response = api_client(PartnerUserFactory(partner=lead.partner)).post(url(lead), contract(), format="json")

    assert response.status_code == 201
    assert len(response.json()["title"]) == 200


def test_a_customer_slug_taken_meanwhile_gives_the_next_one(lead, rival_saves_the_customer_first):
    # Another conversion saved a customer of the same company between this one's check and its save.
    engagement = services.engagement_create_from_contact_request(
        user=PartnerUserFactory(partner=lead.partner),
        contact_request=lead,
        workload="WordPress site",
        contract_start=today(),
        contract_end=today(),
    )

    assert engagement.customer.slug == "blue-sky-charity-2"


def test_the_service_refuses_a_second_engagement_from_a_stale_lead(lead):
    user = PartnerUserFactory(partner=lead.partner)
    stale = type(lead).objects.get(pk=lead.pk)
    services.engagement_create_from_contact_request(
        user=user, contact_request=lead, workload="x", contract_start=today(), contract_end=today()
    )

    with pytest.raises(ConflictError, match="already an engagement"):
        services.engagement_create_from_contact_request(
            user=user, contact_request=stale, workload="y", contract_start=today(), contract_end=today()
        )
    assert Engagement.objects.count() == 1


def test_only_the_partner_the_lead_was_sent_to_reads_its_reference_on_the_engagement(client, lead):
    """The person who wrote joins the team, but the lead's reference stays the lead's partner's: a
    technology partner joining later, and the customer's staff, read the team and timeline without it."""
    engagement = services.engagement_create_from_contact_request(
        user=PartnerUserFactory(partner=lead.partner),
        contact_request=lead,
        workload="Web shop",
        contract_start=today(),
        contract_end=today() + datetime.timedelta(days=300),
    )
    vendor = PartnerFactory(name="Tech Vendor", partner_type=PartnerType.TECHNOLOGY)
    EngagementPartnerFactory(engagement=engagement, partner=vendor, role=PartnerRole.TECHNOLOGY)
    detail = reverse("engagements:engagement-detail", args=[engagement.pk])

    for reader in (PartnerUserFactory(partner=vendor), CustomerUserFactory(customer=engagement.customer)):
        client.force_login(reader)
        body = client.get(detail).content.decode()
        assert lead.reference not in body, reader
        assert "Ada Lovelace" in body and "Wrote the contact request" in body

    client.force_login(PartnerUserFactory(partner=lead.partner))
    assert f"<dd>{lead.reference}</dd>" in client.get(detail).content.decode()


def test_notes_written_with_a_leads_reference_lose_it_once_migrated(lead):
    """Migration 0007 on what the service wrote before: the writer's note named the lead's reference."""
    engagement = services.engagement_create_from_contact_request(
        user=PartnerUserFactory(partner=lead.partner),
        contact_request=lead,
        workload="Web shop",
        contract_start=today(),
        contract_end=today(),
    )
    writer = engagement.team_members.get()
    TeamMember.objects.filter(pk=writer.pk).update(note=f"Wrote contact request {lead.reference}")
    typed = TeamMember.objects.create(
        engagement=engagement, name="Bob", role=writer.role, note="Wrote contact request CR-OTHER"
    )

    migration = importlib.import_module("engagements.migrations.0007_team_note_without_lead_reference")
    migration.neutralise_notes(apps, None)

    writer.refresh_from_db()
    typed.refresh_from_db()
    assert writer.note == "Wrote the contact request"
    assert typed.note == "Wrote contact request CR-OTHER"  # somebody typed it; not the lead's reference


PRIVATE = "Our budget is 40k and we are unhappy with Other Partner Ltd."


def test_the_api_stores_the_description_sent_and_a_partner_added_later_reads_only_that(client, lead):
    type(lead).objects.filter(pk=lead.pk).update(message=PRIVATE)
    partner_api = api_client(PartnerUserFactory(partner=lead.partner))

    response = partner_api.post(url(lead), contract(description="Move the website."), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["description"] == "Move the website."
    engagement = Engagement.objects.get(contact_request=lead)
    vendor = PartnerFactory(name="Tech Vendor", partner_type=PartnerType.TECHNOLOGY)
    EngagementPartnerFactory(engagement=engagement, partner=vendor, role=PartnerRole.TECHNOLOGY)
    read = api_client(PartnerUserFactory(partner=vendor)).get(f"/api/v1/engagements/{engagement.pk}/")
    assert read.status_code == 200
    assert read.json()["description"] == "Move the website."
    assert "Other Partner Ltd" not in read.content.decode()


def test_without_a_description_the_leads_message_is_not_copied_into_the_engagement(lead):
    type(lead).objects.filter(pk=lead.pk).update(message=PRIVATE)
    started = api_client(PartnerUserFactory(partner=lead.partner)).post(url(lead), contract(), format="json")
    assert started.status_code == 201, started.content
    assert started.json()["description"] == ""

    other = ContactRequestFactory(partner=lead.partner, message=PRIVATE)
    engagement = services.engagement_create_from_contact_request(
        user=PartnerUserFactory(partner=lead.partner),
        contact_request=other,
        workload="Web shop",
        contract_start=today(),
        contract_end=today(),
    )
    engagement.refresh_from_db()
    assert engagement.description == ""
