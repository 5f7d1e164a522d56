"""The rules of a program enrollment live in the services alone (`enrollment_apply_check`,
`enrollment_approve_check`, `enrollment_revoke_check`), and the admin asks them: each rule is broken here
once in the admin and once through the service, and both refuse it with the same words, the admin beside
the field the service names.

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

from apn_portal.exceptions import ConflictError, DomainError
from partners.choices import AuditResult, EnrollmentStatus, PartnerType
from partners.models import ProgramEnrollment
from partners.services import enrollment_approve, enrollment_revoke
from partners.services_records import enrollment_apply
from tests.factories import (
    ApprovedEnrollmentFactory,
    PartnerFactory,
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
    audit_date: datetime.date | None = None
    audit_result: str = ""


APPLICATION_RULES = [
    pytest.param(
        Application(partner_type=PartnerType.TECHNOLOGY, program="solution-provider"), id="closed-to-its-type"
    ),
    pytest.param(Application(already_applied=True), id="already-applied"),
    pytest.param(Application(audit_result=AuditResult.PASSED), id="audit-result-without-its-date"),
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
            "applied_on": timezone.localdate().isoformat(),
            "audit_date": application.audit_date.isoformat() if application.audit_date else "",
            "audit_result": application.audit_result,
        },
    )
    service = refusal_of(
        lambda: enrollment_apply(
            partner=partner,
            program=program(application.program),
            user=superuser,
            audit_date=application.audit_date,
            audit_result=application.audit_result,
        )
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == service
    assert ProgramEnrollment.objects.filter(partner=partner).count() == applied_before


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
