"""Completing an engagement registers an unvalidated reference for its consulting lead: its PDM is told of
it, as when the partner's staff register one on /my/references/, unless the PDM completed it."""

import datetime

import pytest
from django.urls import reverse

from apn_portal.exceptions import PermissionDeniedError
from apn_portal.outbox.models import OutboxMessage
from engagements import services
from tests.factories import EngagementPartnerFactory, PartnerFactory, PdmFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def pdm(alpha):
    pdm = PdmFactory(username="pdm-pat", email="pat@provider.example", first_name="Pat", last_name="Lee")
    alpha.partner.pdm = pdm
    alpha.partner.save()
    return pdm


@pytest.mark.parametrize("who", ["partner_user", "admin", "account_manager"])
def test_the_pdm_is_told_of_the_reference_completing_an_engagement_registers(alpha, pdm, who):
    done = services.engagement_complete(user=getattr(alpha, who), engagement=alpha.engagement)

    reference = done.customer_reference
    assert reference is not None and not reference.is_validated
    email = OutboxMessage.objects.get(dedupe_key=f"customer-reference:{reference.pk}:registered")
    assert email.to == ["pat@provider.example"]
    assert "Alpha Customer" in email.body_text
    assert reverse("admin:partners_customerreference_change", args=[reference.pk]) in email.body_text


def test_a_pdm_completing_the_engagement_is_not_told_what_they_did(alpha, pdm):
    # A superuser PDM may work on any engagement: what they register themselves needs no email.
    pdm.is_superuser = True
    pdm.save()
    done = services.engagement_complete(user=pdm, engagement=alpha.engagement)
    assert done.customer_reference is not None
    assert not OutboxMessage.objects.filter(dedupe_key__startswith="customer-reference:").exists()


def test_without_a_lead_there_is_no_reference_and_nobody_is_told(alpha, pdm):
    alpha.engaged.role = "technology"
    alpha.engaged.save()
    done = services.engagement_complete(user=alpha.admin, engagement=alpha.engagement)
    assert done.customer_reference is None
    assert not OutboxMessage.objects.filter(dedupe_key__startswith="customer-reference:").exists()


def test_a_lead_the_customer_ended_early_gets_no_reference_and_its_pdm_is_not_asked_to_validate_one(
    alpha, pdm
):
    services.engagement_partner_end(
        user=alpha.admin, engagement_partner=alpha.engaged, reason="We take the work in house"
    )
    done = services.engagement_complete(user=alpha.admin, engagement=alpha.engagement)
    assert done.customer_reference is None
    assert not OutboxMessage.objects.filter(dedupe_key__startswith="customer-reference:").exists()


def test_the_lead_in_force_on_the_day_it_completed_gets_the_reference(alpha, pdm):
    services.engagement_partner_end(
        user=alpha.admin, engagement_partner=alpha.engaged, reason="We take the work in house"
    )
    successor = EngagementPartnerFactory(
        engagement=alpha.engagement, partner=PartnerFactory(name="Successor Cloud"), role="consulting_lead"
    )
    done = services.engagement_complete(user=alpha.admin, engagement=alpha.engagement)
    assert done.customer_reference.partner == successor.partner
    assert done.customer_reference.launched_on == alpha.customer.local_today()


def test_a_lead_whose_contract_ran_out_before_it_completed_gets_no_reference(alpha, pdm):
    today = alpha.customer.local_today()
    alpha.grant.delete()  # access never outlasts the contract
    alpha.engaged.contract_start, alpha.engaged.contract_end = today - 60 * DAY, today - 2 * DAY
    alpha.engaged.save()
    done = services.engagement_complete(user=alpha.admin, engagement=alpha.engagement)
    assert done.customer_reference is None


def test_the_partner_of_a_lead_ended_early_can_no_longer_complete_the_engagement(alpha, pdm):
    services.engagement_partner_end(
        user=alpha.admin, engagement_partner=alpha.engaged, reason="We take the work in house"
    )
    with pytest.raises(PermissionDeniedError, match="You cannot complete “Alpha Migration”"):
        services.engagement_complete(user=alpha.partner_user, engagement=alpha.engagement)
