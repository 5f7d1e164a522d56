"""The admin takes a reason as long as the API and the pages take it (REASON_MAX_LENGTH, a line break typed
counting as one character), no longer: a tier change, a partner type correction, an enrollment's
revocation and a profile proposal's rejection."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from apn_portal.forms import REASON_MAX_LENGTH
from partners.choices import EnrollmentStatus, PartnerType, ProfileChangeStatus
from partners.models import TierChange
from partners.services import profile_change_submit
from tests.factories import (
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    SuperUserFactory,
    tier,
)
from tests.textarea import as_the_browser_sends, typed_in_paragraphs

pytestmark = pytest.mark.django_db

TOO_LONG = "x" * (REASON_MAX_LENGTH + 1)
# As the admin shows numbers, with a thousands separator.
REFUSED = (
    f"Ensure this value has at most {REASON_MAX_LENGTH:,} characters (it has {REASON_MAX_LENGTH + 1:,})."
)


@pytest.fixture
def pdm(client):
    user = PdmFactory()
    client.force_login(user)
    return user


def run_action(client, url_name, action, objects, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], "apply": "1", **extra}
    return client.post(reverse(url_name), data, follow=True)


def test_a_tier_change_action_takes_a_reason_up_to_the_apis_limit(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    changelist = "admin:partners_partner_changelist"
    select = tier(slug="select").pk

    refused = run_action(client, changelist, "change_tier", [partner], to_tier=select, reason=TOO_LONG)

    assert REFUSED in refused.content.decode()
    assert f'maxlength="{REASON_MAX_LENGTH}"' in refused.content.decode()
    assert not TierChange.objects.exists()

    typed = typed_in_paragraphs(REASON_MAX_LENGTH)
    run_action(
        client, changelist, "change_tier", [partner], to_tier=select, reason=as_the_browser_sends(typed)
    )
    assert TierChange.objects.get(partner=partner).reason == typed


def test_the_partner_tier_page_takes_a_reason_up_to_the_apis_limit(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    url = reverse("admin:partners_partner_tier", args=[partner.pk])
    select = tier(slug="select").pk

    refused = client.post(url, {"apply": "1", "to_tier": select, "reason": TOO_LONG})

    assert refused.status_code == 200
    assert REFUSED in refused.content.decode()
    partner.refresh_from_db()
    assert partner.tier.slug == "registered"


def test_a_partner_type_correction_takes_a_reason_up_to_the_apis_limit(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    url = reverse("admin:partners_partner_type", args=[partner.pk])

    refused = client.post(url, {"partner_type": PartnerType.TECHNOLOGY, "reason": TOO_LONG})

    assert refused.status_code == 200
    assert REFUSED in refused.content.decode()
    assert f'maxlength="{REASON_MAX_LENGTH}"' in client.get(url).content.decode()
    partner.refresh_from_db()
    assert partner.partner_type == PartnerType.CONSULTING

    typed = typed_in_paragraphs(REASON_MAX_LENGTH)
    done = client.post(url, {"partner_type": PartnerType.TECHNOLOGY, "reason": as_the_browser_sends(typed)})
    assert done.status_code == 302
    assert TierChange.objects.get(partner=partner).reason.endswith(typed)


def test_a_revocation_takes_a_reason_up_to_the_apis_limit(client):
    client.force_login(SuperUserFactory())
    enrollment = ProgramEnrollmentFactory()
    changelist = "admin:partners_programenrollment_changelist"

    refused = run_action(client, changelist, "revoke", [enrollment], reason=TOO_LONG)

    assert REFUSED in refused.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED

    typed = typed_in_paragraphs(REASON_MAX_LENGTH)
    run_action(client, changelist, "revoke", [enrollment], reason=as_the_browser_sends(typed))
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.status_reason) == (EnrollmentStatus.REVOKED, typed)


def test_a_proposal_is_rejected_with_a_reason_up_to_the_apis_limit(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    proposal, _ = profile_change_submit(
        partner=partner,
        user=PartnerUserFactory(partner=partner),
        description="Spam text",
        website="",
        industries=[],
        use_cases=[],
    )
    changelist = "admin:partners_profilechangerequest_changelist"

    refused = run_action(client, changelist, "reject", [proposal], reason=TOO_LONG)

    assert REFUSED in refused.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == ProfileChangeStatus.PENDING
