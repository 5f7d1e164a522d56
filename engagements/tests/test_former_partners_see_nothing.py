"""A partner whose contract is over no longer reads the engagement, however the contract ended: it ran out
on its last day, was replaced or ended early. A managed service provider whose contract ran out went on
reading its successor, the team, the timeline and the purchases, and the customer, where a replaced one
lost them at once. A contract's last day lasts until midnight in the customer's time zone; a partner
whose contract ended with the engagement itself (in force when it completed, or ended by its
cancellation) keeps that finished engagement in its history."""

import datetime

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from engagements import services
from engagements.models import AccessGrant, EngagementPartner
from partners.models import ConsultingCategory
from tests.factories import (
    AccessGrantFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def _page(user, path: str):
    client = Client()
    client.force_login(user)
    return client.get(path)


def _msp(name: str, slug: str):
    partner = PartnerFactory(name=name, slug=slug)
    partner.categories.add(ConsultingCategory.objects.get(slug="managed-service-provider"))
    return partner


def _what_the_partner_reads(user, engagement) -> dict:
    detail = _api(user).get(f"/api/v1/engagements/{engagement.pk}/")
    return {
        "engagement": detail.status_code,
        "partners": sorted(p["partner"] for p in detail.json().get("partners", []))
        if detail.status_code == 200
        else [],
        "engagements": [e["id"] for e in _api(user).get("/api/v1/engagements/").json()["results"]],
        "customers": [c["slug"] for c in _api(user).get("/api/v1/customers/").json()["results"]],
        "page": _page(user, f"/my/engagements/{engagement.pk}/").status_code,
        "listed": engagement.title in _page(user, "/my/engagements/").content.decode(),
    }


def _seen(engagement, *partners) -> dict:
    return {
        "engagement": 200,
        "partners": sorted(partners),
        "engagements": [engagement.pk],
        "customers": [engagement.customer.slug],
        "page": 200,
        "listed": True,
    }


UNSEEN = {"engagement": 404, "partners": [], "engagements": [], "customers": [], "page": 404, "listed": False}


@pytest.fixture
def msp_handover(db):
    """Zeta (Tokyo) let Old MSP's contract run out 30 days ago, its grant with it, and then took on New
    MSP in the same role."""
    customer = CustomerFactory(name="Zeta plc", slug="zeta", time_zone="Asia/Tokyo")
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    account = AwsAccountFactory(customer=customer, account_id="900000000001")
    engagement = EngagementFactory(customer=customer, title="Zeta operations")
    old, new = _msp("Old MSP", "old-msp"), _msp("New MSP", "new-msp")
    today = customer.local_today()
    old_contract = EngagementPartnerFactory(engagement=engagement, partner=old, role="managed_service")
    grant = AccessGrantFactory(engagement_partner=old_contract, account=account, granted_by=admin)
    AccessGrant.objects.filter(pk=grant.pk).update(
        granted_at=timezone.now() - 60 * DAY, expires_at=timezone.now() - 30 * DAY
    )
    EngagementPartner.objects.filter(pk=old_contract.pk).update(
        contract_start=today - 200 * DAY, contract_end=today - 30 * DAY
    )
    old_user = PartnerUserFactory(partner=old)
    new_user = PartnerUserFactory(partner=new)
    return engagement, admin, old, new, old_user, new_user


def test_an_msp_whose_contract_ran_out_reads_nothing_of_the_engagement_nor_its_successor(msp_handover):
    engagement, admin, _, new, old_user, new_user = msp_handover
    services.engagement_partner_add(
        user=admin,
        engagement=engagement,
        partner=new,
        role="managed_service",
        contract_start=engagement.customer.local_today(),
        contract_end=engagement.customer.local_today() + 300 * DAY,
    )

    assert _what_the_partner_reads(old_user, engagement) == UNSEEN
    assert _api(old_user).get("/api/v1/engagement-partners/").json()["results"] == []
    assert _what_the_partner_reads(new_user, engagement) == _seen(engagement, "old-msp", "new-msp")


def test_a_replaced_msp_reads_nothing_either(msp_handover):
    engagement, admin, old, new, old_user, _ = msp_handover
    EngagementPartner.objects.filter(partner=old).update(contract_end=engagement.customer.local_today() + DAY)
    services.engagement_partner_replace(
        user=admin,
        engagement_partner=EngagementPartner.objects.get(partner=old),
        new_partner=new,
        reason="Cheaper offer",
        contract_end=engagement.customer.local_today() + 300 * DAY,
    )

    assert _what_the_partner_reads(old_user, engagement) == UNSEEN


@pytest.mark.parametrize(
    ("time_zone", "seen"),
    [
        # 19:00 on 30 Nov in Honolulu: the contract's last day is not over there.
        ("Pacific/Honolulu", True),
        # 14:00 on 1 Dec in Tokyo: it ended at midnight.
        ("Asia/Tokyo", False),
    ],
)
def test_a_contract_s_last_day_lasts_until_midnight_in_the_customer_s_time_zone(time_zone, seen):
    customer = CustomerFactory(time_zone=time_zone)
    engagement = EngagementFactory(customer=customer, title="Edge of the day")
    contract = EngagementPartnerFactory(
        engagement=engagement,
        contract_start=datetime.date(2026, 6, 1),
        contract_end=datetime.date(2026, 11, 30),
    )
    user = PartnerUserFactory(partner=contract.partner)

    with time_machine.travel(datetime.datetime(2026, 12, 1, 5, 0, tzinfo=datetime.UTC), tick=False):
        reads = _what_the_partner_reads(user, engagement)

    assert reads == (_seen(engagement, contract.partner.slug) if seen else UNSEEN)


def test_a_contract_still_to_start_shows_its_engagement():
    engagement = EngagementFactory(title="Starts next month")
    today = engagement.customer.local_today()
    contract = EngagementPartnerFactory(
        engagement=engagement, contract_start=today + 30 * DAY, contract_end=today + 300 * DAY
    )

    reads = _what_the_partner_reads(PartnerUserFactory(partner=contract.partner), engagement)

    assert reads == _seen(engagement, contract.partner.slug)


def test_the_lead_of_a_completed_engagement_keeps_it_in_its_history_after_its_contract_ran_out():
    engagement = EngagementFactory(title="Finished migration")
    today = engagement.customer.local_today()
    lead = EngagementPartnerFactory(
        engagement=engagement, contract_start=today - 100 * DAY, contract_end=today + 10 * DAY
    )
    gone_before = EngagementPartnerFactory(
        engagement=engagement,
        role="managed_service",
        contract_start=today - 100 * DAY,
        contract_end=today - 50 * DAY,
    )
    services.engagement_complete(
        user=CustomerUserFactory(customer=engagement.customer),
        engagement=engagement,
        completed_on=today - 20 * DAY,
    )
    EngagementPartner.objects.filter(pk=lead.pk).update(contract_end=today - 5 * DAY)

    assert _what_the_partner_reads(PartnerUserFactory(partner=lead.partner), engagement) == _seen(
        engagement, lead.partner.slug, gone_before.partner.slug
    )
    assert _what_the_partner_reads(PartnerUserFactory(partner=gone_before.partner), engagement) == UNSEEN


def test_partners_that_delivered_a_completed_engagement_keep_it_however_their_contracts_ended_since():
    engagement = EngagementFactory(title="Finished migration")
    admin = CustomerUserFactory(customer=engagement.customer, access_admin=True)
    today = engagement.customer.local_today()
    lead, operator, let_go = (
        EngagementPartnerFactory(
            engagement=engagement, role=role, contract_start=today - 100 * DAY, contract_end=today + 100 * DAY
        )
        for role in ("consulting_lead", "managed_service", "technology")
    )
    with time_machine.travel(timezone.now() - 30 * DAY):
        services.engagement_partner_end(user=admin, engagement_partner=let_go, reason="Not needed")
    services.engagement_complete(user=admin, engagement=engagement, completed_on=today - 20 * DAY)
    # Operated under contract after completion, then the customer ended or handed on the contracts.
    services.engagement_partner_end(user=admin, engagement_partner=operator, reason="In house")
    services.engagement_partner_replace(
        user=admin,
        engagement_partner=lead,
        new_partner=PartnerFactory(name="Next Lead"),
        reason="Cheaper offer",
        contract_end=today + 300 * DAY,
    )

    # The engagement's partners as the API lists them: not the replaced lead, but its successor.
    successor = EngagementPartner.objects.get(engagement=engagement, replaced_by__isnull=True, role=lead.role)
    seen = _seen(engagement, *(contract.partner.slug for contract in (operator, let_go, successor)))
    for delivered in (lead, operator):
        assert _what_the_partner_reads(PartnerUserFactory(partner=delivered.partner), engagement) == seen
    assert _what_the_partner_reads(PartnerUserFactory(partner=let_go.partner), engagement) == UNSEEN


def test_a_partner_whose_contract_the_cancellation_ended_keeps_it_and_one_over_before_does_not():
    engagement = EngagementFactory(title="Cancelled migration")
    today = engagement.customer.local_today()
    running = EngagementPartnerFactory(
        engagement=engagement, contract_start=today - 100 * DAY, contract_end=today + 100 * DAY
    )
    over = EngagementPartnerFactory(
        engagement=engagement,
        role="managed_service",
        contract_start=today - 100 * DAY,
        contract_end=today - 50 * DAY,
    )
    services.engagement_status_change(
        user=CustomerUserFactory(customer=engagement.customer, access_admin=True),
        engagement=engagement,
        status="cancelled",
        reason="Budget cut",
    )

    assert _what_the_partner_reads(PartnerUserFactory(partner=running.partner), engagement) == _seen(
        engagement, running.partner.slug, over.partner.slug
    )
    assert _what_the_partner_reads(PartnerUserFactory(partner=over.partner), engagement) == UNSEEN
