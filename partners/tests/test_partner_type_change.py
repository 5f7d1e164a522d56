"""Correcting a partner's type: it moves to the new type's ladder, recorded as a tier change with the
reason, through one service the admin and the API both call; what the new type may not hold is named
first, for the PDM to resolve."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from apn_portal.exceptions import ConflictError, DomainError, PermissionDeniedError
from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_endpoint_create
from engagements.services import engagement_partner_end
from partners.choices import EnrollmentStatus, PartnerType, TierChangeSource
from partners.models import ConsultingCategory, Partner, PartnerSearchEntry, TierChange
from partners.services import partner_tier_change, partner_type_change
from tests.api.conftest import api_client
from tests.factories import (
    ApprovedEnrollmentFactory,
    ContactRequestFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    SuperUserFactory,
    give_select_evidence,
    tier,
)

pytestmark = pytest.mark.django_db

CONSULTING = PartnerType.CONSULTING
TECHNOLOGY = PartnerType.TECHNOLOGY


@pytest.fixture
def pdm():
    return PdmFactory()


@pytest.fixture
def partner(pdm):
    # Leads are kept (PROTECT), so deleting the partner to add it again is no way out.
    partner = PartnerFactory(pdm=pdm, name="Acme Cloud", slug="acme-cloud", is_published=True)
    ContactRequestFactory(partner=partner)
    return partner


# The service -------------------------------------------------------------------------------------------


def test_a_corrected_partner_moves_to_the_tier_its_evidence_earns_on_the_new_ladder(partner, pdm):
    give_select_evidence(partner)
    TierChange.objects.create(
        partner=partner,
        from_tier=tier(CONSULTING, "registered"),
        to_tier=tier(CONSULTING, "select"),
        reason="Met Select.",
        changed_at=timezone.now(),
    )
    Partner.objects.filter(pk=partner.pk).update(tier=tier(CONSULTING, "select"))
    partner.refresh_from_db()

    change = partner_type_change(
        user=pdm, partner=partner, partner_type=TECHNOLOGY, reason="  They sell a product, not services. "
    )

    change.refresh_from_db()
    assert change.from_tier == tier(CONSULTING, "select")
    assert change.to_tier == tier(TECHNOLOGY, "select")
    assert change.reason == (
        "Partner type corrected from Consulting to Technology: They sell a product, not services."
    )
    assert change.source == TierChangeSource.MANUAL
    assert change.changed_by == pdm
    partner.refresh_from_db()
    assert (partner.partner_type, partner.tier) == (TECHNOLOGY, tier(TECHNOLOGY, "select"))
    entry = PartnerSearchEntry.objects.get(partner=partner)
    assert (entry.partner_type, entry.tier_id) == (TECHNOLOGY, tier(TECHNOLOGY, "select").pk)


def test_a_partner_whose_evidence_earns_nothing_there_starts_on_the_entry_tier(partner, pdm):
    change = partner_type_change(user=pdm, partner=partner, partner_type=TECHNOLOGY, reason="Wrong type.")

    assert change.to_tier == tier(TECHNOLOGY, "registered")
    assert partner.partner_type == TECHNOLOGY
    assert partner.tier == tier(TECHNOLOGY, "registered")


def test_the_correction_is_one_history_record_naming_who_made_it(partner, pdm):
    records_before = partner.history.count()

    partner_type_change(user=pdm, partner=partner, partner_type=TECHNOLOGY, reason="Wrong type.")

    assert partner.history.count() == records_before + 1
    latest = partner.history.first()
    assert (latest.partner_type, latest.tier_id) == (TECHNOLOGY, tier(TECHNOLOGY, "registered").pk)
    assert latest.history_user == pdm


def test_the_correction_is_announced_as_a_tier_change(partner, pdm):
    endpoint = webhook_endpoint_create(
        user=SuperUserFactory(),
        url="http://127.0.0.1:8151/hook",
        events=["partner.tier_changed"],
        secret="s3cret-for-tests-0123456789",
    )

    change = partner_type_change(user=pdm, partner=partner, partner_type=TECHNOLOGY, reason="Wrong type.")

    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event="partner.tier_changed")
    assert delivery.payload["data"]["id"] == change.pk


def test_the_old_ladders_tier_health_goes_with_it(partner, pdm):
    today = timezone.localdate()
    Partner.objects.filter(pk=partner.pk).update(
        grace_started_on=today,
        grace_ends_on=today + datetime.timedelta(days=30),
        at_risk_from=today,
        qualifies_for_tier=tier(CONSULTING, "select"),
    )

    partner_type_change(user=pdm, partner=partner, partner_type=TECHNOLOGY, reason="Wrong type.")

    partner.refresh_from_db()
    assert partner.grace_started_on is partner.grace_ends_on is None
    assert partner.at_risk_from is None
    assert partner.qualifies_for_tier is None


def test_a_superuser_may_correct_any_partner():
    partner = PartnerFactory(pdm=None, partner_type=TECHNOLOGY)

    partner_type_change(user=SuperUserFactory(), partner=partner, partner_type=CONSULTING, reason="Wrong.")

    partner.refresh_from_db()
    assert (partner.partner_type, partner.tier) == (CONSULTING, tier(CONSULTING, "registered"))


def test_another_pdm_may_not(partner):
    with pytest.raises(PermissionDeniedError):
        partner_type_change(user=PdmFactory(), partner=partner, partner_type=TECHNOLOGY, reason="Wrong.")

    partner.refresh_from_db()
    assert partner.partner_type == CONSULTING


def test_the_type_it_already_has_is_a_conflict(partner, pdm):
    with pytest.raises(ConflictError) as info:
        partner_type_change(user=pdm, partner=partner, partner_type=CONSULTING, reason="Again.")

    assert info.value.message == "Acme Cloud is already a Consulting partner."
    assert not TierChange.objects.exists()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_correction_needs_a_reason(partner, pdm, reason):
    with pytest.raises(DomainError) as info:
        partner_type_change(user=pdm, partner=partner, partner_type=TECHNOLOGY, reason=reason)

    assert info.value.field == "reason"
    partner.refresh_from_db()
    assert partner.partner_type == CONSULTING


def test_an_unknown_type_is_refused(partner, pdm):
    with pytest.raises(DomainError) as info:
        partner_type_change(user=pdm, partner=partner, partner_type="reseller", reason="Wrong.")

    assert info.value.field == "partner_type"


def test_what_the_new_type_may_not_hold_is_named_all_at_once_and_nothing_changes(partner, pdm):
    consulting_only = ProgramFactory(name="Consulting Only", partner_type=CONSULTING)
    applied_too = ProgramFactory(name="Also Consulting", partner_type=CONSULTING)
    open_to_both = ProgramFactory(name="Open Program", partner_type="")
    ApprovedEnrollmentFactory(partner=partner, program=consulting_only)
    ProgramEnrollmentFactory(partner=partner, program=applied_too)
    ApprovedEnrollmentFactory(partner=partner, program=open_to_both)
    partner.categories.set([ConsultingCategory.objects.get(slug="system-integrator")])
    EngagementPartnerFactory(partner=partner, engagement=EngagementFactory(title="Data centre exit"))

    with pytest.raises(DomainError) as info:
        partner_type_change(user=pdm, partner=partner, partner_type=TECHNOLOGY, reason="Wrong type.")

    message = info.value.message
    assert message.startswith("Acme Cloud cannot become a Technology partner yet. First ")
    assert "programs closed to Technology partners (Also Consulting, Consulting Only)" in message
    assert "Open Program" not in message
    assert "consulting categories (System integrator)" in message
    assert "Consulting lead on Data centre exit" in message
    assert info.value.field == "partner_type"
    partner.refresh_from_db()
    assert (partner.partner_type, partner.tier) == (CONSULTING, tier(CONSULTING, "registered"))
    assert not TierChange.objects.exists()


def test_a_program_whose_minimum_the_new_tier_would_not_hold_stands_in_the_way(partner, pdm):
    # Accepted, the scheduled check would later revoke it as if the partner had fallen below it.
    partner_tier_change(partner=partner, to_tier=tier(CONSULTING, "select"), reason="Promoted", user=pdm)
    needs_select = ProgramFactory(
        name="Open Min Select", partner_type="", minimum_tier=tier(CONSULTING, "select")
    )
    ApprovedEnrollmentFactory(partner=partner, program=needs_select)

    with pytest.raises(DomainError) as info:
        partner_type_change(user=pdm, partner=partner, partner_type=TECHNOLOGY, reason="Wrong type.")

    assert (
        "programs whose minimum tier is above the Registered tier it would hold as a Technology partner"
        in (info.value.message)
    )
    assert "Open Min Select needs Select" in info.value.message
    partner.refresh_from_db()
    assert partner.partner_type == CONSULTING


def test_ended_enrollments_and_roles_stand_in_nobodys_way(partner, pdm):
    today = timezone.localdate()
    ProgramEnrollmentFactory(
        partner=partner,
        program=ProgramFactory(partner_type=CONSULTING),
        status=EnrollmentStatus.REVOKED,
        status_reason="Left the program.",
    )
    EngagementPartnerFactory(partner=partner, engagement=EngagementFactory(status="cancelled"))
    EngagementPartnerFactory(
        partner=partner,
        contract_start=today - datetime.timedelta(days=60),
        contract_end=today - datetime.timedelta(days=2),
    )

    partner_type_change(user=pdm, partner=partner, partner_type=TECHNOLOGY, reason="Wrong type.")

    partner.refresh_from_db()
    assert partner.partner_type == TECHNOLOGY


def test_a_role_the_customer_ended_early_stands_in_nobodys_way(partner, pdm):
    engaged = EngagementPartnerFactory(
        partner=partner, engagement=EngagementFactory(title="Data centre exit")
    )
    admin = CustomerUserFactory(customer=engaged.engagement.customer, access_admin=True)
    engagement_partner_end(user=admin, engagement_partner=engaged, reason="We take the work in house")

    partner_type_change(user=pdm, partner=partner, partner_type=TECHNOLOGY, reason="Wrong type.")

    partner.refresh_from_db()
    assert partner.partner_type == TECHNOLOGY


def test_a_role_the_new_type_may_hold_stays():
    partner = PartnerFactory(partner_type=TECHNOLOGY, pdm=None)
    EngagementPartnerFactory(partner=partner, role="technology")

    with pytest.raises(DomainError) as info:
        partner_type_change(user=SuperUserFactory(), partner=partner, partner_type=CONSULTING, reason="x")

    assert "Technology partner on" in info.value.message


# The API -----------------------------------------------------------------------------------------------


def test_its_pdm_corrects_the_type_through_the_api(partner, pdm):
    response = api_client(pdm).post(
        "/api/v1/partners/acme-cloud/type-change/",
        {"partner_type": TECHNOLOGY, "reason": "A product company."},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["partner_type"] == TECHNOLOGY
    assert response.json()["tier"]["slug"] == "registered"
    assert TierChange.objects.get(partner=partner).to_tier == tier(TECHNOLOGY, "registered")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"partner_type": CONSULTING, "reason": "Again."}, 409),
        ({"partner_type": TECHNOLOGY}, 400),
        ({"partner_type": TECHNOLOGY, "reason": "   "}, 400),
        ({"partner_type": "reseller", "reason": "Wrong."}, 400),
        ({"partner_type": ["technology"], "reason": {"x": 1}}, 400),
        ({}, 400),
    ],
)
def test_the_api_refuses_bad_input_and_the_same_type(partner, pdm, body, status):
    response = api_client(pdm).post("/api/v1/partners/acme-cloud/type-change/", body, format="json")

    assert response.status_code == status, response.content
    partner.refresh_from_db()
    assert partner.partner_type == CONSULTING


def test_the_api_refusal_names_what_stands_in_the_way(partner, pdm):
    ApprovedEnrollmentFactory(
        partner=partner, program=ProgramFactory(name="Consulting Only", partner_type=CONSULTING)
    )

    response = api_client(pdm).post(
        "/api/v1/partners/acme-cloud/type-change/",
        {"partner_type": TECHNOLOGY, "reason": "Wrong type."},
        format="json",
    )

    assert response.status_code == 400
    assert "Consulting Only" in response.content.decode()


@pytest.mark.parametrize(
    ("who", "status"),
    [("other_pdm", 403), ("own_staff", 403), ("other_staff", 404), ("anonymous", 401)],
)
def test_only_its_pdm_or_a_superuser_may_correct_it(partner, who, status):
    Partner.objects.filter(pk=partner.pk).update(is_published=False)
    users = {
        "other_pdm": PdmFactory(),
        "own_staff": PartnerUserFactory(partner=partner),
        "other_staff": PartnerUserFactory(partner=PartnerFactory()),
        "anonymous": None,
    }

    response = api_client(users[who]).post(
        "/api/v1/partners/acme-cloud/type-change/",
        {"partner_type": TECHNOLOGY, "reason": "Wrong type."},
        format="json",
    )

    assert response.status_code == status, response.content
    partner.refresh_from_db()
    assert partner.partner_type == CONSULTING


def test_an_edit_of_the_type_points_to_the_correction(partner, pdm):
    response = api_client(pdm).patch(
        "/api/v1/partners/acme-cloud/", {"partner_type": TECHNOLOGY}, format="json"
    )

    assert response.status_code == 400
    text = response.content.decode()
    assert "/api/v1/partners/acme-cloud/type-change/" in text
    assert "add the partner again" not in text


# The admin ---------------------------------------------------------------------------------------------


def test_the_change_page_links_to_the_correction_and_keeps_the_field_read_only(client, partner, pdm):
    client.force_login(pdm)

    page = client.get(reverse("admin:partners_partner_change", args=[partner.pk])).content.decode()

    assert reverse("admin:partners_partner_type", args=[partner.pk]) in page
    assert 'name="partner_type"' not in page


def test_its_pdm_corrects_the_type_in_the_admin(client, partner, pdm):
    client.force_login(pdm)
    url = reverse("admin:partners_partner_type", args=[partner.pk])

    form = client.get(url)
    response = client.post(url, {"partner_type": TECHNOLOGY, "reason": "A product company."}, follow=True)

    assert form.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("admin:partners_partner_change", args=[partner.pk])
    assert "Acme Cloud is now a Technology partner" in response.content.decode()
    partner.refresh_from_db()
    assert partner.partner_type == TECHNOLOGY
    assert TierChange.objects.get(partner=partner).changed_by == pdm


def test_the_admin_shows_the_refusal_and_changes_nothing(client, partner, pdm):
    partner.categories.set([ConsultingCategory.objects.get(slug="system-integrator")])
    client.force_login(pdm)

    response = client.post(
        reverse("admin:partners_partner_type", args=[partner.pk]),
        {"partner_type": TECHNOLOGY, "reason": "Wrong type."},
    )

    assert response.status_code == 200
    assert "consulting categories (System integrator)" in response.content.decode()
    partner.refresh_from_db()
    assert partner.partner_type == CONSULTING


def test_another_pdm_cannot_open_the_correction(client, partner):
    client.force_login(PdmFactory())

    response = client.post(
        reverse("admin:partners_partner_type", args=[partner.pk]),
        {"partner_type": TECHNOLOGY, "reason": "Wrong type."},
    )

    assert response.status_code == 403
    partner.refresh_from_db()
    assert partner.partner_type == CONSULTING
