"""The partner use cases: tier changes, recomputation, enrollment approval and revocation, publishing."""

import datetime

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from apn_portal.exceptions import ConflictError, DomainError, PermissionDeniedError
from partners.choices import AuditResult, EnrollmentStatus, PartnerType, TierChangeSource
from partners.models import ProgramEnrollment, TierChange
from partners.selectors import tier_evaluate
from partners.services import (
    enrollment_approve,
    enrollment_revoke,
    partner_tier_change,
    partner_tier_recompute,
    partners_set_published,
)
from tests.factories import (
    ApprovedEnrollmentFactory,
    PartnerFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    SuperUserFactory,
    give_advanced_evidence,
    give_select_evidence,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

CONSULTING = PartnerType.CONSULTING
TECHNOLOGY = PartnerType.TECHNOLOGY


@pytest.fixture
def pdm():
    return PdmFactory()


@pytest.fixture
def partner(pdm):
    return PartnerFactory(pdm=pdm, name="Acme Cloud")


# partner_tier_change --------------------------------------------------------------------------------------


def test_a_tier_change_is_recorded_and_moves_the_partner(partner, pdm):
    before = timezone.now()

    change = partner_tier_change(
        partner=partner, to_tier=tier(CONSULTING, "select"), reason="Met Select at review.", user=pdm
    )

    change.refresh_from_db()
    assert change.partner == partner
    assert change.from_tier == tier(CONSULTING, "registered")
    assert change.to_tier == tier(CONSULTING, "select")
    assert change.reason == "Met Select at review."
    assert change.changed_by == pdm
    assert change.source == TierChangeSource.MANUAL
    assert before <= change.changed_at <= timezone.now()
    assert partner.tier == tier(CONSULTING, "select")
    partner.refresh_from_db()
    assert partner.tier == tier(CONSULTING, "select")


def test_a_tier_change_leaves_a_history_record_naming_who_made_it(partner, pdm):
    records_before = partner.history.count()

    partner_tier_change(partner=partner, to_tier=tier(CONSULTING, "select"), reason="Reviewed.", user=pdm)

    assert partner.history.count() == records_before + 1
    latest = partner.history.first()
    assert latest.tier_id == tier(CONSULTING, "select").pk
    assert latest.history_user == pdm


def test_a_superuser_may_change_any_partners_tier():
    partner = PartnerFactory(pdm=None)

    change = partner_tier_change(
        partner=partner, to_tier=tier(CONSULTING, "select"), reason="Reviewed.", user=SuperUserFactory()
    )

    assert change.to_tier == tier(CONSULTING, "select")


def test_a_tier_of_the_other_ladder_is_refused(partner, pdm):
    with pytest.raises(DomainError) as info:
        partner_tier_change(partner=partner, to_tier=tier(TECHNOLOGY, "select"), reason="Reviewed.", user=pdm)

    assert info.value.message == "Select (Technology) is not on the Consulting ladder."
    assert info.value.field == "to_tier"
    assert not TierChange.objects.exists()
    partner.refresh_from_db()
    assert partner.tier == tier(CONSULTING, "registered")


def test_a_change_to_the_tier_the_partner_holds_is_a_conflict(partner, pdm):
    with pytest.raises(ConflictError) as info:
        partner_tier_change(
            partner=partner, to_tier=tier(CONSULTING, "registered"), reason="Again.", user=pdm
        )

    assert info.value.message == "Acme Cloud is already Registered."
    assert not TierChange.objects.exists()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_tier_change_needs_a_reason(partner, pdm, reason):
    with pytest.raises(DomainError) as info:
        partner_tier_change(partner=partner, to_tier=tier(CONSULTING, "select"), reason=reason, user=pdm)

    assert info.value.message == "Say why the tier changes."
    assert info.value.field == "reason"
    assert not TierChange.objects.exists()


def test_a_pdm_cannot_change_another_pdms_partner(partner):
    other_pdm = PdmFactory()

    with pytest.raises(PermissionDeniedError) as info:
        partner_tier_change(partner=partner, to_tier=tier(CONSULTING, "select"), reason="Hi.", user=other_pdm)

    assert info.value.message == "You cannot change Acme Cloud: only its assigned PDM or a superuser can."
    assert not TierChange.objects.exists()
    partner.refresh_from_db()
    assert partner.tier == tier(CONSULTING, "registered")


def test_a_manual_tier_change_needs_the_person_making_it(partner):
    with pytest.raises(DomainError):
        partner_tier_change(partner=partner, to_tier=tier(CONSULTING, "select"), reason="Reviewed.")

    assert not TierChange.objects.exists()


def test_a_change_by_the_scheduled_check_records_no_user(partner, pdm):
    change = partner_tier_change(
        partner=partner,
        to_tier=tier(CONSULTING, "select"),
        reason="Qualifies on the nightly check.",
        user=pdm,
        source=TierChangeSource.SCHEDULED_CHECK,
    )

    change.refresh_from_db()
    assert change.source == TierChangeSource.SCHEDULED_CHECK
    assert change.changed_by is None
    assert partner.history.first().history_user is None


# partner_tier_recompute -----------------------------------------------------------------------------------


def test_recompute_promotes_to_the_qualified_tier_with_a_readable_reason(partner, pdm):
    give_select_evidence(partner)

    change = partner_tier_recompute(partner=partner, user=pdm)

    assert change.from_tier == tier(CONSULTING, "registered")
    assert change.to_tier == tier(CONSULTING, "select")
    assert change.reason == "Promoted on recomputation: qualifies for Select"
    assert change.changed_by == pdm
    partner.refresh_from_db()
    assert partner.tier == tier(CONSULTING, "select")


def test_recompute_demotes_and_says_what_the_old_tier_lacked(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "advanced"))
    give_select_evidence(partner)

    change = partner_tier_recompute(partner=partner, user=pdm)

    assert change.to_tier == tier(CONSULTING, "select")
    assert change.reason == (
        "Demoted on recomputation: qualifies for Select (needs 2 more people with a foundational "
        "certification; needs 4 more people with a technical certification; needs 3 more "
        "professional-level people (professional or specialty); needs 17 more launched customer projects "
        "to stay Advanced)"
    )
    partner.refresh_from_db()
    assert partner.tier == tier(CONSULTING, "select")


def test_recompute_does_nothing_when_the_tier_is_already_right(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "advanced"))
    give_advanced_evidence(partner)

    assert partner_tier_recompute(partner=partner, user=pdm) is None
    assert not TierChange.objects.exists()
    partner.refresh_from_db()
    assert partner.tier == tier(CONSULTING, "advanced")


def test_recompute_of_another_pdms_partner_is_refused(partner):
    give_select_evidence(partner)

    with pytest.raises(PermissionDeniedError):
        partner_tier_recompute(partner=partner, user=PdmFactory())

    assert not TierChange.objects.exists()


def test_after_recompute_the_partner_meets_its_tier(partner, pdm):
    give_advanced_evidence(partner)

    partner_tier_recompute(partner=partner, user=pdm)

    evaluation = tier_evaluate(partner)
    assert evaluation.current_tier.slug == "advanced"
    assert evaluation.meets_current_tier
    assert not evaluation.qualifies_for_more


# enrollment_approve ---------------------------------------------------------------------------------------


# An application made before any approval date the tests give.
APPLIED_LONG_AGO = datetime.date(2019, 1, 1)


def on_day(day: datetime.date):
    return time_machine.travel(
        datetime.datetime.combine(day, datetime.time(12, 0), tzinfo=datetime.UTC), tick=False
    )


def passed_audit(**fields):
    return {"audit_date": datetime.date(2025, 1, 10), "audit_result": AuditResult.PASSED, **fields}


def test_approval_sets_the_dates_and_the_approver(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(
        partner=partner, program=program("migration"), applied_on=datetime.date(2025, 1, 2), **passed_audit()
    )

    approved = enrollment_approve(enrollment=enrollment, user=pdm, approved_on=datetime.date(2025, 2, 3))

    approved.refresh_from_db()
    assert approved.status == EnrollmentStatus.APPROVED
    assert approved.approved_on == datetime.date(2025, 2, 3)
    assert approved.expires_on == datetime.date(2028, 2, 3)
    assert approved.approved_by == pdm


def test_approval_without_a_date_is_approved_today(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(partner=partner, program=program("databases"))

    approved = enrollment_approve(enrollment=enrollment, user=pdm)

    assert approved.approved_on == timezone.localdate()


@pytest.mark.parametrize(
    "months, approved_on, expires_on",
    [
        (1, datetime.date(2025, 1, 31), datetime.date(2025, 2, 28)),
        (1, datetime.date(2024, 1, 31), datetime.date(2024, 2, 29)),
        (1, datetime.date(2025, 3, 31), datetime.date(2025, 4, 30)),
        (1, datetime.date(2025, 12, 15), datetime.date(2026, 1, 15)),
        (12, datetime.date(2024, 2, 29), datetime.date(2025, 2, 28)),
        (36, datetime.date(2025, 8, 31), datetime.date(2028, 8, 31)),
    ],
)
def test_approval_expires_after_the_programs_validity_even_at_month_end(pdm, months, approved_on, expires_on):
    partner = PartnerFactory(pdm=pdm)
    enrollment = ProgramEnrollmentFactory(
        partner=partner, program=ProgramFactory(validity_months=months), applied_on=approved_on
    )

    with on_day(approved_on):  # an approval that would already have expired is refused
        approved = enrollment_approve(enrollment=enrollment, user=pdm, approved_on=approved_on)

    assert approved.expires_on == expires_on


@pytest.mark.parametrize(
    "audit",
    [
        pytest.param({}, id="no-audit"),
        pytest.param(
            {"audit_date": datetime.date(2025, 1, 10), "audit_result": AuditResult.FAILED}, id="failed"
        ),
        pytest.param({"audit_date": datetime.date(2025, 1, 10)}, id="no-result-yet"),
    ],
)
def test_a_program_needing_an_audit_is_not_approved_without_a_passed_one(pdm, audit):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(partner=partner, program=program("migration"), **audit)

    with pytest.raises(DomainError) as info:
        enrollment_approve(enrollment=enrollment, user=pdm)

    assert info.value.message == "Migration Competency needs a passed audit before approval."
    assert info.value.field == "audit_result"
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED
    assert enrollment.approved_on is None


def test_a_program_without_an_audit_is_approved_without_one(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(partner=partner, program=program("databases"))

    assert enrollment_approve(enrollment=enrollment, user=pdm).status == EnrollmentStatus.APPROVED


def test_a_partner_below_the_programs_minimum_tier_is_not_approved(pdm):
    partner = PartnerFactory(pdm=pdm, name="Acme Cloud", tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(partner=partner, program=program("sap"), **passed_audit())

    with pytest.raises(DomainError) as info:
        enrollment_approve(enrollment=enrollment, user=pdm)

    assert (
        info.value.message
        == "SAP Workload Competency needs at least the Advanced tier; Acme Cloud is Select."
    )
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED


def test_a_partner_at_the_programs_minimum_tier_is_approved(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "advanced"))
    enrollment = ProgramEnrollmentFactory(partner=partner, program=program("sap"), **passed_audit())

    assert enrollment_approve(enrollment=enrollment, user=pdm).status == EnrollmentStatus.APPROVED


def test_a_program_of_the_other_partner_type_is_not_approved(pdm):
    partner = PartnerFactory(pdm=pdm, partner_type=TECHNOLOGY, tier=tier(TECHNOLOGY, "premier"))
    enrollment = ProgramEnrollmentFactory(
        partner=partner, program=program("managed-service-provider"), **passed_audit()
    )

    with pytest.raises(DomainError) as info:
        enrollment_approve(enrollment=enrollment, user=pdm)

    assert info.value.message == "Managed Service Provider is only open to Consulting partners."


def test_an_approval_that_would_already_have_expired_is_refused(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(
        partner=partner, program=program("databases"), applied_on=APPLIED_LONG_AGO
    )

    with on_day(datetime.date(2026, 6, 1)), pytest.raises(DomainError) as refusal:
        enrollment_approve(enrollment=enrollment, user=pdm, approved_on=datetime.date(2023, 5, 31))

    assert refusal.value.field == "approved_on"
    assert refusal.value.message == (
        "Approved on 31 May 2023, the enrollment would have expired on 31 May 2026 (Database Service "
        "Competency is valid for 36 months): give a later approval date."
    )
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.approved_on) == (EnrollmentStatus.APPLIED, None)


def test_an_approval_expiring_on_the_day_it_is_given_is_refused_and_one_later_is_approved(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(
        partner=partner, program=program("databases"), applied_on=APPLIED_LONG_AGO
    )

    with on_day(datetime.date(2026, 6, 1)):
        with pytest.raises(DomainError):
            enrollment_approve(enrollment=enrollment, user=pdm, approved_on=datetime.date(2023, 6, 1))
        approved = enrollment_approve(enrollment=enrollment, user=pdm, approved_on=datetime.date(2023, 6, 2))

    assert approved.expires_on == datetime.date(2026, 6, 2)


def test_an_approval_dated_in_the_future_is_refused(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(partner=partner, program=program("databases"))
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    with pytest.raises(DomainError) as refusal:
        enrollment_approve(enrollment=enrollment, user=pdm, approved_on=tomorrow)

    assert refusal.value.field == "approved_on"
    assert "cannot be dated in the future" in refusal.value.message
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED


def msp_application(pdm, **fields):
    """An MSP validation applied for on 1 Oct 2026, its third-party audit held and passed on 12 Nov 2026."""
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "advanced"))
    values = {
        "applied_on": datetime.date(2026, 10, 1),
        "audit_date": datetime.date(2026, 11, 12),
        "audit_result": AuditResult.PASSED,
        **fields,
    }
    return ProgramEnrollmentFactory(partner=partner, program=program("managed-service-provider"), **values)


BEFORE_THE_AUDIT = "An approval cannot be dated before the audit it stands on (12 Nov 2026)."


def test_an_approval_dated_before_the_audit_it_stands_on_is_refused(pdm):
    enrollment = msp_application(pdm)

    with on_day(datetime.date(2026, 11, 20)), pytest.raises(DomainError) as refusal:
        enrollment_approve(enrollment=enrollment, user=pdm, approved_on=datetime.date(2026, 11, 11))

    assert (refusal.value.field, refusal.value.message) == ("approved_on", BEFORE_THE_AUDIT)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.approved_on) == (EnrollmentStatus.APPLIED, None)


def test_an_approval_dated_before_the_application_is_refused(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(
        partner=partner, program=program("databases"), applied_on=datetime.date(2026, 10, 1)
    )

    with on_day(datetime.date(2026, 11, 20)), pytest.raises(DomainError) as refusal:
        enrollment_approve(enrollment=enrollment, user=pdm, approved_on=datetime.date(2026, 9, 30))

    assert (refusal.value.field, refusal.value.message) == (
        "approved_on",
        "An approval cannot be dated before the application it answers (01 Oct 2026).",
    )
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.approved_on) == (EnrollmentStatus.APPLIED, None)


def test_an_approval_dated_on_the_day_of_its_audit_is_approved(pdm):
    enrollment = msp_application(pdm)

    with on_day(datetime.date(2026, 11, 20)):
        approved = enrollment_approve(
            enrollment=enrollment, user=pdm, approved_on=datetime.date(2026, 11, 12)
        )

    approved.refresh_from_db()
    assert (approved.status, approved.approved_on) == (EnrollmentStatus.APPROVED, datetime.date(2026, 11, 12))


def test_the_api_refuses_an_approval_dated_before_its_audit_naming_the_field(pdm):
    enrollment = msp_application(pdm)
    client = APIClient()
    client.force_authenticate(pdm)

    with on_day(datetime.date(2026, 11, 20)):
        response = client.post(
            f"/api/v1/enrollments/{enrollment.pk}/approve/", {"approved_on": "2026-11-11"}, format="json"
        )

    assert response.status_code == 400, response.content
    assert response.json() == {"approved_on": [BEFORE_THE_AUDIT]}
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED


@pytest.mark.parametrize(
    "approved_on, message",
    [
        ("2020-01-01", "Approved on 01 Jan 2020, the enrollment would have expired on 01 Jan 2023"),
        ("2199-01-01", "An approval cannot be dated in the future (01 Jan 2199)"),
    ],
)
def test_the_api_refuses_an_approval_already_expired_or_in_the_future(pdm, approved_on, message, monkeypatch):
    announced = []
    monkeypatch.setattr("partners.events.enrollment_approved", announced.append)
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(
        partner=partner, program=program("databases"), applied_on=APPLIED_LONG_AGO
    )
    client = APIClient()
    client.force_authenticate(pdm)

    response = client.post(
        f"/api/v1/enrollments/{enrollment.pk}/approve/", {"approved_on": approved_on}, format="json"
    )

    assert response.status_code == 400
    assert message in str(response.json())
    assert announced == []  # no webhook tells integrators of an approval
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED


def test_approving_twice_is_a_conflict(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(
        partner=partner, program=program("databases"), applied_on=APPLIED_LONG_AGO
    )
    enrollment_approve(enrollment=enrollment, user=pdm, approved_on=datetime.date(2025, 1, 1))

    with pytest.raises(ConflictError) as info:
        enrollment_approve(enrollment=enrollment, user=pdm)

    assert info.value.message == "This enrollment in Database Service Competency is already approved."
    enrollment.refresh_from_db()
    assert enrollment.approved_on == datetime.date(2025, 1, 1)


@pytest.mark.parametrize("ended", [EnrollmentStatus.REVOKED, EnrollmentStatus.EXPIRED])
def test_an_ended_enrollment_is_not_approved(pdm, ended):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(partner=partner, program=program("databases"), status=ended)

    with pytest.raises(DomainError) as info:
        enrollment_approve(enrollment=enrollment, user=pdm)

    assert info.value.message == (
        f"An enrollment that is {ended.label.lower()} cannot be approved; the partner applies again."
    )
    enrollment.refresh_from_db()
    assert enrollment.status == ended


def test_another_pdm_cannot_approve(partner):
    enrollment = ProgramEnrollmentFactory(partner=partner, program=ProgramFactory())

    with pytest.raises(PermissionDeniedError):
        enrollment_approve(enrollment=enrollment, user=PdmFactory())

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED


def test_approval_leaves_a_history_record_naming_the_approver(partner, pdm):
    enrollment = ProgramEnrollmentFactory(partner=partner, program=ProgramFactory())

    enrollment_approve(enrollment=enrollment, user=pdm)

    latest = enrollment.history.first()
    assert latest.status == EnrollmentStatus.APPROVED
    assert latest.history_user == pdm
    assert enrollment.history.count() == 2


# enrollment_revoke ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "  "])
def test_revoking_needs_a_reason(partner, pdm, reason):
    enrollment = ApprovedEnrollmentFactory(partner=partner)

    with pytest.raises(DomainError) as info:
        enrollment_revoke(enrollment=enrollment, user=pdm, reason=reason)

    assert info.value.message == "Say why the enrollment is revoked."
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED


def test_a_revoked_enrollment_records_why_stops_counting_and_frees_the_program(partner, pdm):
    enrollment = ApprovedEnrollmentFactory(partner=partner, program=program("migration"))
    assert tier_evaluate(partner).metrics["approved_programs"] == 1

    enrollment_revoke(enrollment=enrollment, user=pdm, reason="Audit findings not remediated.")

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REVOKED
    assert enrollment.status_reason == "Audit findings not remediated."
    assert enrollment.history.first().history_user == pdm
    assert tier_evaluate(partner).metrics["approved_programs"] == 0
    ProgramEnrollment.objects.create(partner=partner, program=program("migration"))


def test_revoking_twice_is_a_conflict(partner, pdm):
    enrollment = ApprovedEnrollmentFactory(partner=partner)
    enrollment_revoke(enrollment=enrollment, user=pdm, reason="Lapsed.")

    with pytest.raises(ConflictError) as info:
        enrollment_revoke(enrollment=enrollment, user=pdm, reason="Again.")

    assert info.value.message == "This enrollment is already revoked."


def test_another_pdm_cannot_revoke(partner):
    enrollment = ApprovedEnrollmentFactory(partner=partner)

    with pytest.raises(PermissionDeniedError):
        enrollment_revoke(enrollment=enrollment, user=PdmFactory(), reason="Not mine.")

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED


# partners_set_published -----------------------------------------------------------------------------------


def test_publishing_is_idempotent(pdm):
    partner = PartnerFactory(pdm=pdm, is_published=False)
    records_before = partner.history.count()

    assert partners_set_published(partners=[partner], published=True, user=pdm) == [partner]
    assert partners_set_published(partners=[partner], published=True, user=pdm) == []

    partner.refresh_from_db()
    assert partner.is_published is True
    assert partner.history.count() == records_before + 1
    assert partner.history.first().history_user == pdm


def test_unpublishing(partner, pdm):
    assert partners_set_published(partners=[partner], published=False, user=pdm) == [partner]
    assert partners_set_published(partners=[partner], published=False, user=pdm) == []

    partner.refresh_from_db()
    assert partner.is_published is False


def test_another_pdm_cannot_publish(pdm):
    partner = PartnerFactory(pdm=pdm, is_published=False)

    with pytest.raises(PermissionDeniedError):
        partners_set_published(partners=[partner], published=True, user=PdmFactory())

    partner.refresh_from_db()
    assert partner.is_published is False
