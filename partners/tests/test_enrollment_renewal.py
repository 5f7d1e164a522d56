"""An approved enrollment is renewed before it expires, on its new passed audit, as the audit-renewal
reminder promises; an application is taken up for review. Both by the partner's PDM, from the API and
the admin, through the services that approve and revoke."""

import datetime
import importlib

import pytest
import time_machine
from django.apps import apps
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apn_portal.dates import add_months
from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_endpoint_create
from partners.choices import AuditResult, EnrollmentStatus
from partners.models import ProgramEnrollment
from partners.services_records import enrollment_update
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


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def msp_due_for_renewal(pdm, **fields):
    """An MSP validation approved 340 days ago on its audit, expiring in 25 days: the reminder's case."""
    partner = PartnerFactory(pdm=pdm, tier=tier("consulting", "advanced"))
    values = {
        "approved_on": in_days(-340),
        "expires_on": in_days(25),
        "audit_date": in_days(-345),
        "audit_result": AuditResult.PASSED,
        **fields,
    }
    return ApprovedEnrollmentFactory(partner=partner, program=program("managed-service-provider"), **values)


def renew(user, enrollment, **body):
    return api_client(user).post(f"/api/v1/enrollments/{enrollment.pk}/renew/", body, format="json")


def record_of(enrollment) -> tuple:
    enrollment.refresh_from_db()
    return (
        enrollment.status,
        enrollment.audit_date,
        enrollment.audit_result,
        enrollment.approved_on,
        enrollment.expires_on,
        enrollment.updated_at,
    )


# Renewal ------------------------------------------------------------------------------------------------


def test_the_pdm_renews_an_audited_enrollment_before_it_expires_on_its_new_audit():
    pdm = PdmFactory()
    enrollment = msp_due_for_renewal(pdm)
    endpoint_user = PartnerUserFactory(partner=enrollment.partner)
    webhook_endpoint_create(
        user=endpoint_user,
        url="http://127.0.0.1:8151/hook",
        events=["enrollment.approved"],
        secret="s3cret-for-tests-0123456789",
    )
    held = in_days(-3)

    response = renew(pdm, enrollment, audit_date=str(held), audit_result="passed")

    assert response.status_code == 200, response.content
    renewed_until = add_months(timezone.localdate(), 12)  # the program's validity, as an approval's
    body = response.json()
    assert (body["status"], body["approved_on"], body["expires_on"]) == (
        "approved",
        str(timezone.localdate()),
        str(renewed_until),
    )
    assert (body["audit_date"], body["audit_result"]) == (str(held), "passed")
    enrollment.refresh_from_db()
    assert (enrollment.expires_on, enrollment.approved_by) == (renewed_until, pdm)
    latest = enrollment.history.first()
    assert latest.history_user == pdm
    assert latest.history_change_reason == (
        f"Renewed until {renewed_until:%d %b %Y} (was {in_days(25):%d %b %Y}) on the audit of {held:%d %b %Y}"
    )
    # The term it replaced stays in the history.
    assert enrollment.history.all()[1].expires_on == in_days(25)
    delivery = WebhookDelivery.objects.get(event="enrollment.approved")
    assert delivery.payload["data"]["expires_on"] == str(renewed_until)


def test_a_renewal_stands_on_the_new_audit_recorded_before_it():
    pdm = PdmFactory()
    enrollment = msp_due_for_renewal(pdm)
    client = api_client(pdm)

    recorded = client.patch(
        f"/api/v1/enrollments/{enrollment.pk}/", {"audit_date": str(in_days(-1))}, format="json"
    )
    renewed = client.post(f"/api/v1/enrollments/{enrollment.pk}/renew/", {}, format="json")

    assert recorded.status_code == 200, recorded.content
    assert renewed.status_code == 200, renewed.content
    assert renewed.json()["expires_on"] == str(add_months(timezone.localdate(), 12))


def _audited_application():
    """An Advanced partner's application to the Managed Service Provider program, audited five days ago
    and passed; and its PDM."""
    pdm = PdmFactory()
    partner = PartnerFactory(pdm=pdm, tier=tier("consulting", "advanced"))
    enrollment = ProgramEnrollmentFactory(
        partner=partner,
        program=program("managed-service-provider"),
        applied_on=in_days(-30),
        audit_date=in_days(-5),
        audit_result=AuditResult.PASSED,
    )
    return pdm, enrollment


def test_an_enrollment_approved_on_its_audit_is_not_renewed_on_that_audit_again():
    pdm, enrollment = _audited_application()
    client = api_client(pdm)
    approved = client.post(
        f"/api/v1/enrollments/{enrollment.pk}/approve/", {"approved_on": str(in_days(-5))}, format="json"
    )
    assert approved.status_code == 200, approved.content
    before = record_of(enrollment)

    response = renew(pdm, enrollment)

    assert response.status_code == 400, response.content
    held = f"{in_days(-5):%d %b %Y}"
    assert response.json() == {
        "audit_date": [
            f"The audit of {held} is not newer than the approval of {held}: give the date of the new audit."
        ]
    }
    assert record_of(enrollment) == before


def _approved_before_the_audit_rule(pdm):
    """An MSP validation approved 340 days ago on an audit held 330 days ago, as the approval allowed
    before it refused an approval dated before its audit, once partners 0022 recorded that audit."""
    enrollment = msp_due_for_renewal(pdm, approved_on=in_days(-340), audit_date=in_days(-330))
    _migration_0022().record_the_audit_approved_on(apps, connection.schema_editor())
    return enrollment


def _migration_0022():
    return importlib.import_module("partners.migrations.0022_enrollment_approval_audit_date")


def test_an_enrollment_approved_before_its_audit_is_not_renewed_on_that_audit():
    pdm = PdmFactory()
    enrollment = _approved_before_the_audit_rule(pdm)
    before = record_of(enrollment)

    response = renew(pdm, enrollment)

    assert response.status_code == 400, response.content
    assert response.json() == {
        "audit_date": [
            f"The audit of {in_days(-330):%d %b %Y} is not newer than the audit of {in_days(-330):%d %b %Y} "
            f"the approval of {in_days(-340):%d %b %Y} stands on: give the date of the new audit."
        ]
    }
    assert record_of(enrollment) == before


def test_an_enrollment_approved_before_its_audit_renews_on_a_new_audit_recorded_before():
    pdm = PdmFactory()
    enrollment = _approved_before_the_audit_rule(pdm)
    client = api_client(pdm)

    recorded = client.patch(
        f"/api/v1/enrollments/{enrollment.pk}/", {"audit_date": str(in_days(-1))}, format="json"
    )
    renewed = renew(pdm, enrollment)

    assert recorded.status_code == 200, recorded.content
    assert renewed.status_code == 200, renewed.content
    assert renewed.json()["expires_on"] == str(add_months(timezone.localdate(), 12))
    enrollment.refresh_from_db()
    assert enrollment.approval_audit_date == in_days(-1)
    # Renewed on that audit, it is not renewed on it again.
    assert renew(pdm, enrollment).status_code == 400


def test_the_migration_records_the_audit_each_approval_stood_on():
    """From the enrollment's history: the audit of the version that set its current approval date, not a
    new audit recorded since; without history, the earlier of its audit and its approval."""
    pdm = PdmFactory()
    approved = msp_due_for_renewal(pdm)
    enrollment_update(enrollment=approved, user=pdm, audit_date=in_days(-1))
    renewed = msp_due_for_renewal(pdm, approved_on=in_days(-400), audit_date=in_days(-405))
    ProgramEnrollment.objects.filter(pk=renewed.pk).update(approved_on=in_days(-20), audit_date=in_days(-22))
    renewed.refresh_from_db()
    renewed.save()  # the renewal's version
    enrollment_update(enrollment=renewed, user=pdm, audit_date=in_days(-2))
    no_history_newer = msp_due_for_renewal(pdm, approved_on=in_days(-340), audit_date=in_days(-330))
    no_history_older = msp_due_for_renewal(pdm)
    no_history_newer.history.all().delete()
    no_history_older.history.all().delete()
    applied = ProgramEnrollmentFactory(partner=approved.partner, program=program("migration"))
    ProgramEnrollment.objects.update(approval_audit_date=None)

    _migration_0022().record_the_audit_approved_on(apps, connection.schema_editor())

    def stood_on(enrollment):
        enrollment.refresh_from_db()
        return enrollment.approval_audit_date

    assert stood_on(approved) == in_days(-345)
    assert stood_on(renewed) == in_days(-22)
    assert stood_on(no_history_newer) == in_days(-340)  # it may be a new audit recorded since: renews
    assert stood_on(no_history_older) == in_days(-345)
    assert stood_on(applied) is None
    assert renew(pdm, approved).status_code == 200


def test_approving_records_the_audit_the_approval_stands_on():
    pdm, enrollment = _audited_application()

    approved = api_client(pdm).post(f"/api/v1/enrollments/{enrollment.pk}/approve/", {}, format="json")

    assert approved.status_code == 200, approved.content
    enrollment.refresh_from_db()
    assert enrollment.approval_audit_date == in_days(-5)
    assert "approval_audit_date" not in approved.json()


def test_a_renewal_is_not_dated_before_the_audit_it_stands_on():
    # 11 Nov, 12:00 UTC: already 12 Nov in Kiritimati, where the new audit was held today.
    with time_machine.travel(datetime.datetime(2026, 11, 11, 12, tzinfo=datetime.UTC), tick=False):
        pdm = PdmFactory()
        enrollment = msp_due_for_renewal(pdm)
        before = record_of(enrollment)

        response = renew(pdm, enrollment, audit_date="2026-11-12", audit_result="passed")

    assert response.status_code == 400, response.content
    assert response.json() == {
        "audit_date": [
            "Renewed today (11 Nov 2026), the enrollment would be approved before the audit it stands on "
            "(12 Nov 2026): renew it on that day or later."
        ]
    }
    assert record_of(enrollment) == before


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        pytest.param(
            {"audit_date": -3, "audit_result": "failed"},
            "audit_result",
            "A failed audit does not renew the enrollment: it stays approved until it expires; revoke it "
            "with a reason rather than record the failed audit on it.",
            id="failed-audit",
        ),
        pytest.param(
            {},
            "audit_date",
            "The audit of {old:%d %b %Y} is not newer than the approval of {approved:%d %b %Y}: give the "
            "date of the new audit.",
            id="only-the-old-audit",
        ),
        pytest.param(
            {"audit_date": -3},
            "audit_result",
            "Give the new audit's result: a renewal stands on a passed audit.",
            id="no-result",
        ),
        pytest.param(
            {"audit_result": "passed"},
            "audit_date",
            "An audit result needs the audit's date.",
            id="no-date-for-the-result",
        ),
        pytest.param(
            {"audit_date": 5, "audit_result": "passed"},
            "audit_date",
            "An audit with a result has been held: its date ({future:%d %b %Y}) cannot be in the future. "
            "Leave the result empty until the audit is held.",
            id="audit-in-the-future",
        ),
        pytest.param({"audit_date": "next week", "audit_result": "passed"}, "audit_date", None, id="no-date"),
        pytest.param(
            {"audit_date": -3, "audit_result": "ok"},
            "audit_result",
            None,
            id="no-result-choice",
        ),
    ],
)
def test_a_renewal_without_a_new_passed_audit_is_refused_and_changes_nothing(body, field, message):
    pdm = PdmFactory()
    enrollment = msp_due_for_renewal(pdm)
    before = record_of(enrollment)
    versions = enrollment.history.count()

    # An audit date is given in days from today, read when the test runs rather than when it is collected:
    # a run that crosses midnight would otherwise send one day and expect the next.
    if isinstance(body.get("audit_date"), int):
        body = {**body, "audit_date": str(in_days(body["audit_date"]))}
    response = renew(pdm, enrollment, **body)

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    if message:
        expected = message.format(old=in_days(-345), approved=in_days(-340), future=in_days(5))
        assert response.json()[field] == [expected]
    assert record_of(enrollment) == before
    assert enrollment.history.count() == versions


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"status": EnrollmentStatus.REVOKED, "status_reason": "Lapsed."},
            "An enrollment that is revoked cannot be renewed; the partner applies again.",
            id="revoked",
        ),
        pytest.param(
            {"status": EnrollmentStatus.EXPIRED},
            "An enrollment that is expired cannot be renewed; the partner applies again.",
            id="expired",
        ),
        pytest.param(
            {"status": EnrollmentStatus.UNDER_REVIEW, "approved_on": None, "expires_on": None},
            "This enrollment is under review, not approved yet: approve it rather than renew it.",
            id="not-approved",
        ),
        pytest.param(
            {"approved_on": in_days(-370), "expires_on": in_days(-2), "audit_date": in_days(-375)},
            f"This enrollment expired on {in_days(-2):%d %b %Y}: it cannot be renewed; the partner applies "
            "again.",
            id="past-its-expiry",
        ),
    ],
)
def test_only_an_approved_enrollment_in_force_is_renewed(fields, message):
    pdm = PdmFactory()
    enrollment = msp_due_for_renewal(pdm, **fields)
    before = record_of(enrollment)

    response = renew(pdm, enrollment, audit_date=str(in_days(-1)), audit_result="passed")

    assert response.status_code == 409, response.content
    assert response.json() == {"detail": message}
    assert record_of(enrollment) == before


def test_an_enrollment_with_no_audit_recorded_is_renewed_only_on_a_new_one():
    """An audited program's enrollment approved before its audit was recorded (or with it cleared since):
    there is no audit to stand on unless the renewal brings one."""
    pdm = PdmFactory()
    enrollment = msp_due_for_renewal(pdm, audit_date=None, audit_result="")
    before = record_of(enrollment)

    response = renew(pdm, enrollment)

    assert response.status_code == 400, response.content
    assert response.json() == {
        "audit_date": ["Managed Service Provider is renewed on a new passed audit: give its date and result."]
    }
    assert record_of(enrollment) == before
    renewed = renew(pdm, enrollment, audit_date=str(in_days(-1)), audit_result="passed")
    assert renewed.status_code == 200, renewed.content


def test_an_enrollment_renewed_already_is_not_renewed_again_for_no_longer_term():
    """Renewed 10 days ago for the program's 12 months: renewed again today on a newer audit, it would
    expire no later than it does, so the PDM is told there is nothing to renew yet."""
    pdm = PdmFactory()
    expires_on = add_months(in_days(-10), 12) + datetime.timedelta(days=30)
    enrollment = msp_due_for_renewal(
        pdm, approved_on=in_days(-10), audit_date=in_days(-12), expires_on=expires_on
    )
    before = record_of(enrollment)

    response = renew(pdm, enrollment, audit_date=str(in_days(-1)), audit_result="passed")

    assert response.status_code == 409, response.content
    renewed_to = add_months(timezone.localdate(), 12)
    assert response.json() == {
        "detail": f"Renewed today, it would expire on {renewed_to:%d %b %Y}, no later than it does now "
        f"({expires_on:%d %b %Y}): there is nothing to renew yet."
    }
    assert record_of(enrollment) == before


def test_only_the_partners_pdm_renews_it():
    enrollment = msp_due_for_renewal(PdmFactory())
    before = record_of(enrollment)

    for user in (PdmFactory(), PartnerUserFactory(partner=enrollment.partner)):
        response = renew(user, enrollment, audit_date=str(in_days(-1)), audit_result="passed")
        assert response.status_code == 403, response.content
    assert record_of(enrollment) == before


def test_the_admin_renews_selected_enrollments_on_the_audit_given_and_says_what_it_refused(client):
    pdm = PdmFactory()
    client.force_login(pdm)
    due = msp_due_for_renewal(pdm)
    revoked = msp_due_for_renewal(pdm, status=EnrollmentStatus.REVOKED, status_reason="Lapsed.")
    selected = {"action": "renew", ACTION_CHECKBOX_NAME: [due.pk, revoked.pk]}

    form_page = client.post(reverse(ENROLLMENTS), {**selected, "index": 0})
    failed = client.post(
        reverse(ENROLLMENTS),
        {**selected, "apply": "1", "audit_date": str(in_days(-2)), "audit_result": "failed"},
    )
    renewed = client.post(
        reverse(ENROLLMENTS),
        {**selected, "apply": "1", "audit_date": str(in_days(-2)), "audit_result": "passed"},
        follow=True,
    )

    assert form_page.status_code == 200
    assert "Renew enrollments" in form_page.content.decode()
    assert failed.status_code == 200
    assert "A failed audit does not renew the enrollment" in failed.content.decode()
    due.refresh_from_db()
    revoked.refresh_from_db()
    assert (due.expires_on, due.audit_date, due.approved_by) == (
        add_months(timezone.localdate(), 12),
        in_days(-2),
        pdm,
    )
    assert revoked.status == EnrollmentStatus.REVOKED
    assert revoked.expires_on == in_days(25)
    messages = [str(message) for message in renewed.context["messages"]]
    name = f"{due.partner.name} in Managed Service Provider"
    assert f"Renewed 1: {name}." in messages
    assert (
        f"{revoked.partner.name} in Managed Service Provider: An enrollment that is revoked cannot be "
        "renewed; the partner applies again." in messages
    )


# Review -------------------------------------------------------------------------------------------------


def test_the_pdm_takes_an_application_up_for_review_once():
    pdm = PdmFactory()
    enrollment = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=pdm))
    client = api_client(pdm)
    url = f"/api/v1/enrollments/{enrollment.pk}/start-review/"

    first = client.post(url, {}, format="json")
    again = client.post(url, {}, format="json")

    assert first.status_code == 200, first.content
    assert first.json()["status"] == "under_review"
    assert again.status_code == 409
    assert again.json() == {"detail": "This enrollment in Migration Competency is already under review."}
    latest = enrollment.history.first()
    assert (latest.status, latest.history_user, latest.history_change_reason) == (
        EnrollmentStatus.UNDER_REVIEW,
        pdm,
        "Review started",
    )


def test_an_application_under_review_is_approved_as_one_applied_for():
    pdm = PdmFactory()
    enrollment = ProgramEnrollmentFactory(
        partner=PartnerFactory(pdm=pdm, tier=tier("consulting", "select")),
        audit_date=in_days(-5),
        audit_result=AuditResult.PASSED,
    )
    client = api_client(pdm)

    reviewed = client.post(f"/api/v1/enrollments/{enrollment.pk}/start-review/", {}, format="json")
    approved = client.post(f"/api/v1/enrollments/{enrollment.pk}/approve/", {}, format="json")

    assert reviewed.status_code == 200, reviewed.content
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"


def test_only_the_partners_pdm_starts_the_review_and_only_of_an_application():
    owner = PdmFactory()
    enrollment = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=owner))
    approved = ApprovedEnrollmentFactory(partner=enrollment.partner, program=program("security"))

    staff = api_client(PartnerUserFactory(partner=enrollment.partner))
    other = api_client(PdmFactory())
    url = f"/api/v1/enrollments/{enrollment.pk}/start-review/"

    assert staff.post(url, {}, format="json").status_code == 403
    assert other.post(url, {}, format="json").status_code in (403, 404)
    refused = api_client(owner).post(f"/api/v1/enrollments/{approved.pk}/start-review/", {}, format="json")
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "This enrollment is approved: only an application still applied for is taken up."
    }
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED


def test_the_admin_starts_reviewing_selected_applications(client):
    pdm = PdmFactory()
    client.force_login(pdm)
    enrollment = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=pdm, name="Acme"))

    response = client.post(
        reverse(ENROLLMENTS),
        {"action": "start_review", ACTION_CHECKBOX_NAME: [enrollment.pk], "index": 0},
        follow=True,
    )

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.UNDER_REVIEW
    assert "Under review 1: Acme in Migration Competency." in [str(m) for m in response.context["messages"]]
