"""An application to a program that requires an audit waits for its third-party audit: the partner's PDM
schedules it (audit scheduled, on the audit's day), records its date and result once held, and approves
it from there. From the API and the admin, through one service."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from apn_portal.exceptions import ConflictError, DomainError, GoneError, PermissionDeniedError
from partners.choices import AuditResult, EnrollmentStatus
from partners.models import ProgramEnrollment
from partners.services import enrollment_approve, enrollment_schedule_audit
from partners.services_records import enrollment_update
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

ENROLLMENTS = "admin:partners_programenrollment_changelist"


@pytest.fixture
def pdm():
    return PdmFactory()


@pytest.fixture
def application(pdm):
    """An application to the Migration Competency (audited; minimum tier Select) of a Select partner."""
    partner = PartnerFactory(pdm=pdm, name="Acme", tier=tier("consulting", "select"))
    return ProgramEnrollmentFactory(partner=partner, program=program("migration"))


def record_of(enrollment) -> tuple:
    enrollment.refresh_from_db()
    return (enrollment.status, enrollment.audit_date, enrollment.audit_result, enrollment.updated_at)


# The service ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [EnrollmentStatus.APPLIED, EnrollmentStatus.UNDER_REVIEW])
def test_the_pdm_schedules_the_audit_of_an_application(application, pdm, status):
    application.status = status
    application.save()

    enrollment_schedule_audit(enrollment=application, user=pdm, audit_date=in_days(14))

    application.refresh_from_db()
    assert (application.status, application.audit_date, application.audit_result) == (
        EnrollmentStatus.AUDIT_SCHEDULED,
        in_days(14),
        "",
    )
    latest = application.history.first()
    assert (latest.status, latest.history_user, latest.history_change_reason) == (
        EnrollmentStatus.AUDIT_SCHEDULED,
        pdm,
        f"Audit scheduled for {in_days(14):%d %b %Y}",
    )


def test_an_audit_may_be_scheduled_for_today(application, pdm):
    enrollment_schedule_audit(enrollment=application, user=pdm, audit_date=timezone.localdate())

    application.refresh_from_db()
    assert application.status == EnrollmentStatus.AUDIT_SCHEDULED


def test_once_the_audit_passed_is_recorded_the_enrollment_is_approved(application, pdm):
    enrollment_schedule_audit(enrollment=application, user=pdm, audit_date=timezone.localdate())
    with pytest.raises(DomainError, match="Migration Competency needs a passed audit before approval"):
        enrollment_approve(enrollment=application, user=pdm)

    enrollment_update(enrollment=application, user=pdm, audit_result=AuditResult.PASSED)
    enrollment_approve(enrollment=application, user=pdm)

    application.refresh_from_db()
    assert (application.status, application.audit_date, application.audit_result) == (
        EnrollmentStatus.APPROVED,
        timezone.localdate(),
        AuditResult.PASSED,
    )


def test_after_a_failed_audit_another_is_scheduled(application, pdm):
    enrollment_schedule_audit(enrollment=application, user=pdm, audit_date=timezone.localdate())
    enrollment_update(enrollment=application, user=pdm, audit_result=AuditResult.FAILED)

    enrollment_schedule_audit(enrollment=application, user=pdm, audit_date=in_days(30))

    application.refresh_from_db()
    assert (application.status, application.audit_date, application.audit_result) == (
        EnrollmentStatus.AUDIT_SCHEDULED,
        in_days(30),
        "",  # the new audit has no result yet; the history keeps the failed one
    )
    assert application.history.filter(audit_result=AuditResult.FAILED).exists()


@pytest.mark.parametrize(
    "audit_date, message",
    [
        (None, "Give the day the audit is to be held."),
        (in_days(-3), "An audit cannot be scheduled in the past"),
    ],
)
def test_an_audit_needs_a_day_not_in_the_past(application, pdm, audit_date, message):
    before = record_of(application)

    with pytest.raises(DomainError, match=message) as refused:
        enrollment_schedule_audit(enrollment=application, user=pdm, audit_date=audit_date)

    assert refused.value.field == "audit_date"
    assert record_of(application) == before


def test_a_program_that_needs_no_audit_is_refused(pdm):
    enrollment = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=pdm), program=program("databases"))
    before = record_of(enrollment)

    with pytest.raises(DomainError, match="Database Service Competency needs no audit"):
        enrollment_schedule_audit(enrollment=enrollment, user=pdm, audit_date=in_days(7))

    assert record_of(enrollment) == before


@pytest.mark.parametrize(
    "fields, message",
    [
        (
            {"status": EnrollmentStatus.AUDIT_SCHEDULED, "audit_date": in_days(5)},
            "already scheduled for",
        ),
        (
            {"audit_date": in_days(-5), "audit_result": AuditResult.PASSED},
            "passed its audit of .*: approve it",
        ),
        ({"status": EnrollmentStatus.REVOKED, "status_reason": "Withdrawn."}, "This enrollment is revoked"),
        ({"status": EnrollmentStatus.EXPIRED}, "This enrollment is expired"),
    ],
)
def test_an_enrollment_whose_state_does_not_allow_it_is_a_conflict(application, pdm, fields, message):
    for name, value in fields.items():
        setattr(application, name, value)
    application.save()
    before = record_of(application)

    with pytest.raises(ConflictError, match=message):
        enrollment_schedule_audit(enrollment=application, user=pdm, audit_date=in_days(7))

    assert record_of(application) == before


def test_an_approved_enrollment_is_a_conflict(pdm):
    approved = ApprovedEnrollmentFactory(
        partner=PartnerFactory(pdm=pdm, tier=tier("consulting", "select")),
        audit_date=in_days(-40),
        audit_result=AuditResult.PASSED,
    )
    before = record_of(approved)

    with pytest.raises(ConflictError, match="This enrollment is approved"):
        enrollment_schedule_audit(enrollment=approved, user=pdm, audit_date=in_days(7))

    assert record_of(approved) == before


@pytest.mark.parametrize("who", ["another PDM", "partner staff"])
def test_only_the_partners_pdm_schedules_it(application, who):
    user = PdmFactory() if who == "another PDM" else PartnerUserFactory(partner=application.partner)
    before = record_of(application)

    with pytest.raises(PermissionDeniedError):
        enrollment_schedule_audit(enrollment=application, user=user, audit_date=in_days(7))

    assert record_of(application) == before


# The API -------------------------------------------------------------------------------------------------


def schedule(user, enrollment, body):
    return api_client(user).post(f"/api/v1/enrollments/{enrollment.pk}/schedule-audit/", body, format="json")


def test_the_pdm_schedules_the_audit_through_the_api(application, pdm):
    response = schedule(pdm, application, {"audit_date": str(in_days(14))})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["audit_date"]) == (
        application.pk,
        "audit_scheduled",
        str(in_days(14)),
    )
    again = schedule(pdm, application, {"audit_date": str(in_days(20))})
    assert again.status_code == 409
    assert "already scheduled for" in again.json()["detail"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "audit_date"),
        ({"audit_date": "next week"}, "audit_date"),
        ({"audit_date": "9999-12-31"}, "audit_date"),
        # Two days back: yesterday here is still today west of the date line for half of each day.
        ({"audit_date": str(in_days(-2))}, "audit_date"),
    ],
)
def test_the_api_refuses_a_bad_or_past_date(application, pdm, body, field):
    before = record_of(application)

    response = schedule(pdm, application, body)

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert record_of(application) == before


def test_the_api_refuses_a_program_that_needs_no_audit(pdm):
    enrollment = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=pdm), program=program("databases"))

    response = schedule(pdm, enrollment, {"audit_date": str(in_days(7))})

    assert response.status_code == 400
    assert "needs no audit" in str(response.json())


def test_partner_staff_and_other_pdms_may_not_schedule_it(application):
    own_staff = PartnerUserFactory(partner=application.partner)
    other_staff = PartnerUserFactory(partner=PartnerFactory())
    before = record_of(application)

    assert schedule(own_staff, application, {"audit_date": str(in_days(7))}).status_code == 403
    # Another partner's application is not even visible to its token.
    assert schedule(other_staff, application, {"audit_date": str(in_days(7))}).status_code == 404
    assert schedule(PdmFactory(), application, {"audit_date": str(in_days(7))}).status_code in (403, 404)
    assert record_of(application) == before


# The admin -----------------------------------------------------------------------------------------------


def test_the_admin_schedules_the_audit_of_selected_applications_and_says_what_it_refused(client, pdm):
    client.force_login(pdm)
    audited = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=pdm, name="Acme"))
    unaudited = ProgramEnrollmentFactory(
        partner=PartnerFactory(pdm=pdm, name="Beta"), program=program("databases")
    )
    selected = {"action": "schedule_audit", ACTION_CHECKBOX_NAME: [audited.pk, unaudited.pk]}

    form_page = client.post(reverse(ENROLLMENTS), {**selected, "index": 0})
    past = client.post(reverse(ENROLLMENTS), {**selected, "apply": "1", "audit_date": str(in_days(-2))})
    done = client.post(
        reverse(ENROLLMENTS), {**selected, "apply": "1", "audit_date": str(in_days(10))}, follow=True
    )

    assert form_page.status_code == 200
    assert "Schedule the audit" in form_page.content.decode()
    assert past.status_code == 200
    assert "An audit cannot be scheduled in the past" in past.content.decode()
    audited.refresh_from_db()
    unaudited.refresh_from_db()
    assert (audited.status, audited.audit_date) == (EnrollmentStatus.AUDIT_SCHEDULED, in_days(10))
    assert (unaudited.status, unaudited.audit_date) == (EnrollmentStatus.APPLIED, None)
    messages = [str(message) for message in done.context["messages"]]
    assert "Audit scheduled 1: Acme in Migration Competency." in messages
    assert (
        "Beta in Database Service Competency: Database Service Competency needs no audit: approve the "
        "enrollment without one." in messages
    )


def test_the_admin_does_not_schedule_another_pdms_applications(client, application):
    client.force_login(PdmFactory())

    client.post(
        reverse(ENROLLMENTS),
        {
            "action": "schedule_audit",
            ACTION_CHECKBOX_NAME: [application.pk],
            "apply": "1",
            "audit_date": str(in_days(10)),
        },
    )

    application.refresh_from_db()
    assert application.status == EnrollmentStatus.APPLIED


def test_an_enrollment_deleted_meanwhile_is_refused_as_gone_not_a_crash(application, pdm):
    ProgramEnrollment.objects.filter(pk=application.pk).delete()  # in the admin, by a colleague

    with pytest.raises(GoneError, match="This program enrollment no longer exists"):
        enrollment_schedule_audit(enrollment=application, user=pdm, audit_date=in_days(7))
    with pytest.raises(GoneError):
        enrollment_update(enrollment=application, user=pdm, applied_on=timezone.localdate())
