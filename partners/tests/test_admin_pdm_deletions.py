"""What a PDM may delete in the admin: a partner's proposal is decided, never deleted, another PDM's
enrollment is not theirs to delete, whatever its status, and a partner holding an approved enrollment is not
deleted either: the enrollment ends by a revocation. Nor is one its people, its leads or others' records
keep, nor a program partners are enrolled in: the refusal says which, and what to do instead."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from apn_portal.deletion import keeping_relations
from partners.choices import EnrollmentStatus
from partners.models import Partner, ProfileChangeRequest, Program, ProgramEnrollment
from partners.selectors import _PARTNER_KEPT_ON, _PROGRAM_KEPT_BY
from partners.services import profile_change_submit
from tests.factories import (
    ApprovedEnrollmentFactory,
    ContactRequestFactory,
    EngagementPartnerFactory,
    IndustryFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    program,
)

pytestmark = pytest.mark.django_db

PROPOSALS = "/admin/partners/profilechangerequest/"
ENROLLMENTS = "/admin/partners/programenrollment/"


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


def test_a_pdms_bulk_delete_names_no_record_of_another_pdms_and_gives_only_their_own_reasons(client):
    pdm = PdmFactory()
    mine = ApprovedEnrollmentFactory(
        partner=PartnerFactory(pdm=pdm, name="Mine Co"), program=program("migration")
    )
    theirs = ApprovedEnrollmentFactory(
        partner=PartnerFactory(pdm=PdmFactory(), name="Theirs Co"), program=program("migration")
    )
    client.force_login(pdm)
    selection = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [mine.pk, theirs.pk], "index": 0}

    confirm = client.post(ENROLLMENTS, selection, secure=True, follow=True)
    done = client.post(ENROLLMENTS, {**selection, "post": "yes"}, secure=True, follow=True)

    # Another PDM's record is refused as its delete page is (403): counted, never described.
    refused = [
        "Nothing was deleted: the selection includes 1 program enrollment that is not yours to delete.",
        "Not deleted: Mine Co in Migration Competency is approved: revoke it with a reason instead.",
    ]
    for response in (confirm, done):
        assert [str(message) for message in response.context["messages"]] == refused
    assert ProgramEnrollment.objects.filter(pk__in=[mine.pk, theirs.pk]).count() == 2


PARTNERS = "/admin/partners/partner/"


def test_a_pdm_cannot_delete_a_partner_holding_an_approved_enrollment_from_its_page(client):
    # The enrollment's own page refuses: it ends by a revocation, with a reason, the partner told and the
    # enrollment.revoked webhook sent; the partner's deletion would take it with none of that.
    pdm = PdmFactory()
    partner = PartnerFactory(pdm=pdm, name="Short Lived Ltd")
    enrollment = ApprovedEnrollmentFactory(partner=partner, program=program("migration"))
    client.force_login(pdm)

    response = client.post(f"{PARTNERS}{partner.pk}/delete/", {"post": "yes"}, secure=True, follow=True)

    assert [str(message) for message in response.context["messages"]] == [
        "Not deleted: Short Lived Ltd holds an approved enrollment in Migration Competency: revoke it with "
        "a reason first, or unpublish the partner to take it off Find a Partner."
    ]
    assert ProgramEnrollment.objects.filter(pk=enrollment.pk, status=EnrollmentStatus.APPROVED).exists()


def test_a_pdms_bulk_delete_of_partners_is_refused_whole_for_one_holding_an_approved_enrollment(client):
    pdm = PdmFactory()
    holding = PartnerFactory(pdm=pdm, name="Holding Co")
    ApprovedEnrollmentFactory(partner=holding, program=program("migration"))
    applying = PartnerFactory(pdm=pdm, name="Applying Co")
    ProgramEnrollmentFactory(partner=applying, program=program("migration"))
    client.force_login(pdm)
    selection = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [holding.pk, applying.pk], "index": 0}

    confirm = client.post(PARTNERS, selection, secure=True, follow=True)
    done = client.post(PARTNERS, {**selection, "post": "yes"}, secure=True, follow=True)

    for response in (confirm, done):
        assert [str(message) for message in response.context["messages"]] == [
            "Not deleted: Holding Co holds an approved enrollment in Migration Competency: revoke it with "
            "a reason first, or unpublish the partner to take it off Find a Partner."
        ]
    assert Partner.objects.filter(pk__in=[holding.pk, applying.pk]).count() == 2
    # A partner with only an application goes, the application with it.
    client.post(
        PARTNERS,
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [applying.pk], "post": "yes"},
        secure=True,
    )
    assert not Partner.objects.filter(pk=applying.pk).exists()


def test_a_pdm_deleting_a_partner_its_people_and_leads_keep_is_told_why_and_what_to_do_instead(client):
    # Its people belong to it, deactivated or not, and a lead is never lost (both PROTECT): Django's bare
    # "protected related objects" page listed them and said neither.
    pdm = PdmFactory()
    partner = PartnerFactory(pdm=pdm, name="Staffed Ltd")
    PartnerUserFactory(partner=partner, username="ann")
    PartnerUserFactory(partner=partner, username="bob", is_active=False)
    ContactRequestFactory.create_batch(2, partner=partner)
    EngagementPartnerFactory(partner=partner)
    client.force_login(pdm)

    response = client.post(f"{PARTNERS}{partner.pk}/delete/", {"post": "yes"}, secure=True, follow=True)

    assert response.redirect_chain == [(f"{PARTNERS}{partner.pk}/change/", 302)]
    assert [str(message) for message in response.context["messages"]] == [
        "Not deleted: Staffed Ltd still has 2 people, who belong to it even deactivated (ann, bob): move "
        "them to another organisation, or none, in the user admin first, or unpublish the partner to take it "
        "off Find a Partner.",
        "Not deleted: Staffed Ltd has been sent 2 leads, which are kept for good: unpublish the partner to "
        "take it off Find a Partner instead.",
        "Not deleted: Staffed Ltd is recorded on 1 engagement it takes part in, which keeps it: unpublish "
        "the partner to take it off Find a Partner instead.",
    ]
    assert Partner.objects.filter(pk=partner.pk).exists()


def test_a_pdms_bulk_delete_of_partners_is_refused_whole_for_one_a_lead_keeps(client):
    pdm = PdmFactory()
    sent_to = PartnerFactory(pdm=pdm, name="Sent To Co")
    ContactRequestFactory(partner=sent_to)
    alone = PartnerFactory(pdm=pdm, name="Alone Co")
    client.force_login(pdm)
    selection = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [sent_to.pk, alone.pk], "index": 0}

    confirm = client.post(PARTNERS, selection, secure=True, follow=True)
    done = client.post(PARTNERS, {**selection, "post": "yes"}, secure=True, follow=True)

    for response in (confirm, done):
        assert [str(message) for message in response.context["messages"]] == [
            "Not deleted: Sent To Co has been sent 1 lead, which is kept for good: unpublish the partner to "
            "take it off Find a Partner instead."
        ]
    assert Partner.objects.filter(pk__in=[sent_to.pk, alone.pk]).count() == 2


def test_every_relation_that_keeps_a_partner_is_said_in_words():
    # A PROTECT foreign key to partners added later is named by the refusal, not left to Django's page.
    kept = {rel.get_accessor_name() for rel in keeping_relations(Partner)}
    assert kept - {"users", "contact_requests"} == set(_PARTNER_KEPT_ON)


PROGRAMS = "/admin/partners/program/"


def test_a_pdm_deleting_a_program_partners_are_enrolled_in_is_told_to_end_the_enrollments_first(client):
    # Its enrollments, whoever's partners they are, keep it (PROTECT): Django's bare "protected related
    # objects" page listed them and said neither why nor what to do.
    pdm = PdmFactory()
    managed = ProgramFactory(name="Managed Ops")
    ApprovedEnrollmentFactory(program=managed, partner=PartnerFactory(name="Held Ltd"))
    ProgramEnrollmentFactory(program=managed, partner=PartnerFactory(name="Applying Co"))
    ProgramEnrollmentFactory(
        program=managed, partner=PartnerFactory(name="Lapsed plc"), status=EnrollmentStatus.EXPIRED
    )
    client.force_login(pdm)

    response = client.post(f"{PROGRAMS}{managed.pk}/delete/", {"post": "yes"}, secure=True, follow=True)

    assert response.redirect_chain == [(f"{PROGRAMS}{managed.pk}/change/", 302)]
    assert [str(message) for message in response.context["messages"]] == [
        "Not deleted: Managed Ops has 3 enrollments (Applying Co, Held Ltd, Lapsed plc), 1 of them "
        "approved, which keep it: revoke the approved one with a reason, then delete them, each on its own "
        "page, by its partner's PDM.",
    ]
    assert Program.objects.filter(pk=managed.pk).exists()


def test_a_pdms_bulk_delete_of_programs_is_refused_whole_for_one_an_enrollment_keeps(client):
    pdm = PdmFactory()
    applied_to = ProgramFactory(name="Applied To")
    ProgramEnrollmentFactory(program=applied_to, partner=PartnerFactory(name="Keen Co"))
    unused = ProgramFactory(name="Unused")
    client.force_login(pdm)
    selection = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [applied_to.pk, unused.pk], "index": 0}

    confirm = client.post(PROGRAMS, selection, secure=True, follow=True)
    done = client.post(PROGRAMS, {**selection, "post": "yes"}, secure=True, follow=True)

    for response in (confirm, done):
        assert [str(message) for message in response.context["messages"]] == [
            "Not deleted: Applied To has 1 enrollment (Keen Co), which keeps it: delete it first, on its own "
            "page, by its partner's PDM."
        ]
    assert Program.objects.filter(pk__in=[applied_to.pk, unused.pk]).count() == 2
    # A program nobody is enrolled in still goes.
    client.post(
        PROGRAMS, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [unused.pk], "post": "yes"}, secure=True
    )
    assert not Program.objects.filter(pk=unused.pk).exists()


def test_every_relation_that_keeps_a_program_is_said_in_words():
    assert {rel.get_accessor_name() for rel in keeping_relations(Program)} == set(_PROGRAM_KEPT_BY)
