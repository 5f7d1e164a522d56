"""The rules of a program enrollment live in the services alone (`enrollment_apply_check`,
`enrollment_update_check`, `enrollment_approve_check`, `enrollment_revoke_check`), and the admin asks
them: each rule is broken here once in the admin and once through the service, and both refuse it with
the same words, the admin beside the field the service names.

The approval's dates (none in the future, none already expired) are the service's too; the admin
approves on today, which breaks neither."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.forms.forms import NON_FIELD_ERRORS
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from apn_portal.exceptions import ConflictError, DomainError, PermissionDeniedError
from partners.choices import AuditResult, EnrollmentStatus, PartnerType
from partners.models import ProgramEnrollment
from partners.services import enrollment_approve, enrollment_revoke
from partners.services_records import enrollment_apply, enrollment_update
from tests.factories import (
    ApprovedEnrollmentFactory,
    PartnerFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    SuperUserFactory,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

ENROLLMENTS = "admin:partners_programenrollment_changelist"
PASSED_AUDIT = {"audit_date": datetime.date(2025, 1, 10), "audit_result": AuditResult.PASSED}


@pytest.fixture
def superuser(client):
    user = SuperUserFactory()
    client.force_login(user)
    return user


def refusal_of(call: Callable) -> dict[str, list[str]]:
    """The service's refusal, keyed as a form keys its errors."""
    with pytest.raises(DomainError) as refused:
        call()
    return {refused.value.field or NON_FIELD_ERRORS: [refused.value.message]}


def run_action(client, action: str, enrollment, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [enrollment.pk], **extra}
    return client.post(reverse(ENROLLMENTS), data, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# Applying: the admin's application form and enrollment_apply ---------------------------------------------


@dataclass
class Application:
    partner_type: str = PartnerType.CONSULTING
    program: str = "databases"
    already_applied: bool = False
    applied_on: datetime.date | None = None
    audit_date: datetime.date | None = None
    audit_result: str = ""


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


APPLICATION_RULES = [
    pytest.param(
        Application(partner_type=PartnerType.TECHNOLOGY, program="solution-provider"), id="closed-to-its-type"
    ),
    pytest.param(Application(already_applied=True), id="already-applied"),
    pytest.param(Application(audit_result=AuditResult.PASSED), id="audit-result-without-its-date"),
    pytest.param(Application(applied_on=in_days(5)), id="applied-in-the-future"),
    pytest.param(
        Application(audit_date=in_days(5), audit_result=AuditResult.PASSED), id="result-of-a-future-audit"
    ),
]


@pytest.mark.parametrize("application", APPLICATION_RULES)
def test_the_admin_refuses_an_application_as_the_service_does(client, superuser, application):
    partner = PartnerFactory(
        partner_type=application.partner_type, tier=tier(application.partner_type, "select")
    )
    if application.already_applied:
        ProgramEnrollmentFactory(partner=partner, program=program(application.program))
    applied_before = ProgramEnrollment.objects.filter(partner=partner).count()

    response = client.post(
        reverse("admin:partners_programenrollment_add"),
        {
            "partner": partner.pk,
            "program": program(application.program).pk,
            "applied_on": (application.applied_on or timezone.localdate()).isoformat(),
            "audit_date": application.audit_date.isoformat() if application.audit_date else "",
            "audit_result": application.audit_result,
        },
    )
    service = refusal_of(
        lambda: enrollment_apply(
            partner=partner,
            program=program(application.program),
            user=superuser,
            applied_on=application.applied_on,
            audit_date=application.audit_date,
            audit_result=application.audit_result,
        )
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == service
    assert ProgramEnrollment.objects.filter(partner=partner).count() == applied_before


# Correcting: the admin's change form and enrollment_update ------------------------------------------------


def change_url(enrollment) -> str:
    return reverse("admin:partners_programenrollment_change", args=[enrollment.pk])


def change_data(enrollment, **typed) -> dict:
    """The change form as posted: the enrollment's own values, with what the user typed over them."""
    data = {
        "applied_on": enrollment.applied_on.isoformat(),
        "audit_date": enrollment.audit_date.isoformat() if enrollment.audit_date else "",
        "audit_result": enrollment.audit_result,
    }
    for name, value in typed.items():
        data[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return data


def record_of(enrollment) -> tuple:
    enrollment.refresh_from_db()
    return enrollment.applied_on, enrollment.audit_date, enrollment.audit_result, enrollment.updated_at


def _msp_approved_on_a_passed_audit():
    return ApprovedEnrollmentFactory(
        partner=PartnerFactory(tier=tier(PartnerType.CONSULTING, "advanced")),
        program=program("managed-service-provider"),
        **PASSED_AUDIT,
    )


CORRECTION_RULES = [
    pytest.param(ProgramEnrollmentFactory, {"applied_on": in_days(5)}, id="applied-in-the-future"),
    pytest.param(
        lambda: ApprovedEnrollmentFactory(applied_on=in_days(-60)),  # approved 30 days ago
        {"applied_on": in_days(-10)},
        id="applied-after-its-approval",
    ),
    pytest.param(
        ProgramEnrollmentFactory,
        {"audit_date": in_days(5), "audit_result": AuditResult.PASSED},
        id="result-of-a-future-audit",
    ),
    pytest.param(
        _msp_approved_on_a_passed_audit,
        {"audit_result": AuditResult.FAILED},
        id="approved-audit-no-longer-passed",
    ),
    pytest.param(
        ProgramEnrollmentFactory, {"audit_result": AuditResult.PASSED}, id="audit-result-without-its-date"
    ),
]


@pytest.mark.parametrize(("make_enrollment", "typed"), CORRECTION_RULES)
def test_the_admin_refuses_a_correction_as_the_service_does(client, superuser, make_enrollment, typed):
    enrollment = make_enrollment()
    before, versions = record_of(enrollment), enrollment.history.count()

    response = client.post(change_url(enrollment), change_data(enrollment, **typed))
    service = refusal_of(lambda: enrollment_update(enrollment=enrollment, user=superuser, **typed))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors == service
    assert escape(*service.popitem()[1]) in response.content.decode()
    posted = change_data(enrollment, **typed)
    # What was typed is still on the page, to be corrected.
    assert {name: form[name].value() for name in posted} == posted
    assert record_of(enrollment) == before
    assert enrollment.history.count() == versions


def test_a_correction_is_saved_by_the_service_and_recorded_in_the_history(client):
    pdm = PdmFactory()
    client.force_login(pdm)
    enrollment = ProgramEnrollmentFactory(
        partner=PartnerFactory(pdm=pdm), status=EnrollmentStatus.AUDIT_SCHEDULED, audit_date=in_days(10)
    )
    updated_before = record_of(enrollment)[-1]
    held = in_days(-2)

    response = client.post(
        change_url(enrollment), change_data(enrollment, audit_date=held, audit_result=AuditResult.PASSED)
    )

    assert response.status_code == 302
    _, audit_date, audit_result, updated_at = record_of(enrollment)
    assert (audit_date, audit_result) == (held, AuditResult.PASSED)
    assert updated_at > updated_before
    latest = enrollment.history.first()
    assert latest.history_user == pdm
    assert latest.history_change_reason == "Changed audit date, audit result"
    assert (latest.audit_date, latest.audit_result) == (held, AuditResult.PASSED)


def test_an_ended_enrollment_keeps_its_record(client, superuser):
    enrollment = ProgramEnrollmentFactory(status=EnrollmentStatus.REVOKED, status_reason="Lapsed.")
    before = record_of(enrollment)

    page = client.get(change_url(enrollment))
    response = client.post(change_url(enrollment), change_data(enrollment, applied_on=in_days(-300)))
    with pytest.raises(ConflictError, match="This enrollment is revoked"):
        enrollment_update(enrollment=enrollment, user=superuser, applied_on=in_days(-300))

    assert not {"applied_on", "audit_date", "audit_result"} & set(page.context["adminform"].form.fields)
    assert response.status_code == 302
    assert record_of(enrollment) == before


def test_a_pdm_cannot_correct_another_pdms_enrollment(client):
    pdm = PdmFactory()
    client.force_login(pdm)
    theirs = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=PdmFactory()))
    before = record_of(theirs)
    typed = {"audit_date": in_days(-2), "audit_result": AuditResult.FAILED}

    response = client.post(change_url(theirs), change_data(theirs, **typed))
    with pytest.raises(PermissionDeniedError):
        enrollment_update(enrollment=theirs, user=pdm, **typed)

    assert response.status_code == 403
    assert record_of(theirs) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"status": EnrollmentStatus.APPROVED}, "status", id="its-status"),
        pytest.param({"applied_on": "someday"}, "applied_on", id="a-date-that-is-no-date"),
        pytest.param({"audit_result": "maybe"}, "audit_result", id="an-unknown-result"),
    ],
)
def test_the_service_refuses_what_it_does_not_correct(superuser, changes, field):
    enrollment = ProgramEnrollmentFactory()
    before = record_of(enrollment)

    with pytest.raises(DomainError) as refused:
        enrollment_update(enrollment=enrollment, user=superuser, **changes)

    assert refused.value.field == field
    assert record_of(enrollment) == before
    assert enrollment.status == EnrollmentStatus.APPLIED


# Approving: the admin's approve action and enrollment_approve ----------------------------------------------


def _approved():
    return ApprovedEnrollmentFactory(program=program("databases"))


def _revoked():
    return ProgramEnrollmentFactory(program=program("databases"), status=EnrollmentStatus.REVOKED)


def _closed_to_its_type():
    technology = PartnerFactory(
        partner_type=PartnerType.TECHNOLOGY, tier=tier(PartnerType.TECHNOLOGY, "premier")
    )
    return ProgramEnrollmentFactory(
        partner=technology, program=program("managed-service-provider"), **PASSED_AUDIT
    )


def _below_the_minimum_tier():
    select = PartnerFactory(tier=tier(PartnerType.CONSULTING, "select"))
    return ProgramEnrollmentFactory(partner=select, program=program("sap"), **PASSED_AUDIT)


def _without_a_passed_audit():
    select = PartnerFactory(tier=tier(PartnerType.CONSULTING, "select"))
    return ProgramEnrollmentFactory(partner=select, program=program("migration"), audit_result="")


APPROVAL_RULES = [
    pytest.param(_approved, id="already-approved"),
    pytest.param(_revoked, id="ended"),
    pytest.param(_closed_to_its_type, id="closed-to-its-type"),
    pytest.param(_below_the_minimum_tier, id="below-the-minimum-tier"),
    pytest.param(_without_a_passed_audit, id="without-a-passed-audit"),
]


@pytest.mark.parametrize("make_enrollment", APPROVAL_RULES)
def test_the_admin_refuses_an_approval_as_the_service_does(client, superuser, make_enrollment):
    enrollment = make_enrollment()
    status_before = enrollment.status

    response = run_action(client, "approve", enrollment)
    with pytest.raises(DomainError) as refused:
        enrollment_approve(enrollment=enrollment, user=superuser)

    subject = f"{enrollment.partner.name} in {enrollment.program.name}"
    assert messages_of(response) == [f"{subject}: {refused.value.message}"]
    enrollment.refresh_from_db()
    assert enrollment.status == status_before


# Revoking: the admin's revoke action and enrollment_revoke -------------------------------------------------


def test_the_admin_refuses_a_revocation_without_a_reason_as_the_service_does(client, superuser):
    enrollment = ProgramEnrollmentFactory()

    response = run_action(client, "revoke", enrollment, apply="1", reason="  ")
    service = refusal_of(lambda: enrollment_revoke(enrollment=enrollment, user=superuser, reason="  "))

    assert response.context["form"].errors == service == {"reason": ["Say why the enrollment is revoked."]}
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED


def test_the_admin_refuses_to_revoke_an_ended_enrollment_as_the_service_does(client, superuser):
    enrollment = _revoked()

    response = run_action(client, "revoke", enrollment, apply="1", reason="Lapsed.")
    with pytest.raises(ConflictError) as refused:
        enrollment_revoke(enrollment=enrollment, user=superuser, reason="Lapsed.")

    subject = f"{enrollment.partner.name} in {enrollment.program.name}"
    assert messages_of(response) == [f"{subject}: {refused.value.message}"]
