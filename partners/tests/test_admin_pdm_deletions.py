"""What a PDM may delete in the admin: a partner's proposal is decided, never deleted, and another PDM's
enrollment is not theirs to delete, whatever its status."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from partners.models import ProfileChangeRequest
from partners.services import profile_change_submit
from tests.factories import (
    ApprovedEnrollmentFactory,
    IndustryFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
)

pytestmark = pytest.mark.django_db

PROPOSALS = "/admin/partners/profilechangerequest/"


def _proposal(partner):
    change, _ = profile_change_submit(
        partner=partner,
        user=PartnerUserFactory(partner=partner),
        description="New text",
        website=partner.website,
        industries=[IndustryFactory()],
        use_cases=[],
    )
    return change


def test_a_pdm_cannot_delete_a_partners_waiting_proposal_from_its_page(client):
    pdm = PdmFactory()
    change = _proposal(PartnerFactory(pdm=pdm))
    client.force_login(pdm)

    page = client.get(f"{PROPOSALS}{change.pk}/change/", secure=True)
    response = client.post(f"{PROPOSALS}{change.pk}/delete/", {"post": "yes"}, secure=True)

    assert f"{PROPOSALS}{change.pk}/delete/" not in page.content.decode()
    assert response.status_code == 403
    assert ProfileChangeRequest.objects.filter(pk=change.pk).exists()


def test_a_pdm_cannot_delete_proposals_from_the_list(client):
    pdm = PdmFactory()
    change = _proposal(PartnerFactory(pdm=pdm))
    client.force_login(pdm)

    listing = client.get(PROPOSALS, secure=True)
    client.post(
        PROPOSALS,
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [change.pk], "post": "yes"},
        secure=True,
    )

    assert 'value="delete_selected"' not in listing.content.decode()
    assert ProfileChangeRequest.objects.filter(pk=change.pk).exists()


@pytest.mark.parametrize("factory", [ProgramEnrollmentFactory, ApprovedEnrollmentFactory])
def test_another_pdms_enrollment_delete_page_is_forbidden_whatever_its_status(client, factory):
    enrollment = factory(partner=PartnerFactory(pdm=PdmFactory()))
    client.force_login(PdmFactory())

    response = client.get(f"/admin/partners/programenrollment/{enrollment.pk}/delete/", secure=True)

    assert response.status_code == 403


def test_a_pdm_is_told_to_revoke_their_own_approved_enrollment_rather_than_delete_it(client):
    pdm = PdmFactory()
    enrollment = ApprovedEnrollmentFactory(partner=PartnerFactory(pdm=pdm))
    client.force_login(pdm)

    response = client.get(
        f"/admin/partners/programenrollment/{enrollment.pk}/delete/", secure=True, follow=True
    )

    assert "is approved: revoke it with a reason instead." in response.content.decode()
