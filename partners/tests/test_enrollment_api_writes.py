"""The API records an enrollment's audit as the admin does (on applying, or by a PATCH, through
enrollment_apply and enrollment_update), and refuses naming it a field it would not write, rather than
answer as if it had."""

import pytest

from partners.choices import AuditResult, EnrollmentStatus
from partners.models import ProgramEnrollment
from partners.tests.test_enrollment_renewal import in_days
from tests.api.conftest import api_client
from tests.factories import (
    ApprovedEnrollmentFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

ENROLLMENTS = "/api/v1/enrollments/"


def test_the_pdm_files_an_application_with_its_passed_audit_and_approves_it():
    pdm = PdmFactory()
    partner = PartnerFactory(pdm=pdm, tier=tier("consulting", "select"))
    client = api_client(pdm)
    held = str(in_days(-4))

    applied = client.post(
        ENROLLMENTS,
        {"partner": partner.slug, "program": "migration", "audit_date": held, "audit_result": "passed"},
        format="json",
    )

    assert applied.status_code == 201, applied.content
    assert (applied.json()["audit_date"], applied.json()["audit_result"]) == (held, "passed")
    approved = client.post(f"{ENROLLMENTS}{applied.json()['id']}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.content


def test_the_pdm_records_an_audit_with_a_patch_and_the_history_says_who():
    pdm = PdmFactory()
    enrollment = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=pdm))
    held = in_days(-2)

    response = api_client(pdm).patch(
        f"{ENROLLMENTS}{enrollment.pk}/",
        {"audit_date": str(held), "audit_result": "passed"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert "ETag" in response
    enrollment.refresh_from_db()
    assert (enrollment.audit_date, enrollment.audit_result) == (held, AuditResult.PASSED)
    latest = enrollment.history.first()
    assert (latest.history_user, latest.history_change_reason) == (pdm, "Changed audit date, audit result")


def test_a_patch_follows_the_rules_of_the_admins_correction():
    pdm = PdmFactory()
    enrollment = ApprovedEnrollmentFactory(
        partner=PartnerFactory(pdm=pdm), audit_date=in_days(-40), audit_result=AuditResult.PASSED
    )

    response = api_client(pdm).patch(
        f"{ENROLLMENTS}{enrollment.pk}/", {"audit_result": "failed"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "audit_result": [
            "Migration Competency was approved on a passed audit: revoke the enrollment rather than change "
            "its audit result."
        ]
    }
    enrollment.refresh_from_db()
    assert enrollment.audit_result == AuditResult.PASSED


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"status": "approved"}, "status"),
        ({"expires_on": "2030-01-01"}, "expires_on"),
        ({"approved_on": "2025-01-01"}, "approved_on"),
        ({"status_reason": "x"}, "status_reason"),
        ({"id": 5}, "id"),
        ({"audit_passed": True}, "audit_passed"),
    ],
)
def test_applying_with_a_field_the_application_does_not_take_is_refused_naming_it(extra, field):
    pdm = PdmFactory()
    partner = PartnerFactory(pdm=pdm)

    response = api_client(pdm).post(
        ENROLLMENTS, {"partner": partner.slug, "program": "migration", **extra}, format="json"
    )

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert not ProgramEnrollment.objects.filter(partner=partner).exists()


def test_the_partners_staff_apply_but_leave_the_audit_to_their_pdm():
    partner = PartnerFactory(pdm=PdmFactory())
    client = api_client(PartnerUserFactory(partner=partner))

    with_audit = client.post(
        ENROLLMENTS,
        {
            "partner": partner.slug,
            "program": "migration",
            "audit_date": str(in_days(-1)),
            "audit_result": "passed",
        },
        format="json",
    )
    plain = client.post(ENROLLMENTS, {"partner": partner.slug, "program": "migration"}, format="json")

    assert with_audit.status_code == 400
    assert with_audit.json() == {
        "audit_date": [
            f"Only {partner.name}'s PDM records an application's date and audit: apply without it."
        ]
    }
    assert plain.status_code == 201, plain.content
    assert ProgramEnrollment.objects.get(partner=partner).audit_result == ""


def test_a_patch_refuses_what_it_does_not_write_and_accepts_it_sent_back_as_read():
    pdm = PdmFactory()
    enrollment = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=pdm))
    client = api_client(pdm)
    url = f"{ENROLLMENTS}{enrollment.pk}/"
    read = client.get(url).json()

    status = client.patch(url, {"status": "approved"}, format="json")
    moved = client.patch(url, {"program": "security"}, format="json")
    written_back = client.patch(
        url, {**read, "audit_date": str(in_days(-1)), "audit_result": "passed"}, format="json"
    )
    put = client.put(url, read, format="json")

    assert status.status_code == 400
    assert list(status.json()) == ["status"]
    assert moved.status_code == 400
    assert list(moved.json()) == ["program"]
    assert written_back.status_code == 200, written_back.content
    assert put.status_code == 405
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.program, enrollment.audit_result) == (
        EnrollmentStatus.APPLIED,
        program("migration"),
        AuditResult.PASSED,
    )


def test_only_the_pdm_patches_an_enrollment():
    enrollment = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=PdmFactory()))
    staff = api_client(PartnerUserFactory(partner=enrollment.partner))

    response = staff.patch(
        f"{ENROLLMENTS}{enrollment.pk}/",
        {"audit_date": str(in_days(-1)), "audit_result": "passed"},
        format="json",
    )

    assert response.status_code == 403
    enrollment.refresh_from_db()
    assert enrollment.audit_result == ""
