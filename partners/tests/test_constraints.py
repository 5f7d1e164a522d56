"""The database refuses bad partner data, and the admin's validation says why in words a PDM understands.

Each bad record is checked twice: `full_clean()` (what the admin and forms run) raises the readable
message, and saving it anyway is refused by PostgreSQL itself.
"""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from partners.choices import (
    AuditResult,
    CertificationLevel,
    CompetencyCategory,
    ContactRequestStatus,
    EnrollmentStatus,
    PartnerType,
    ProgramKind,
    RequirementMetric,
    TierChangeSource,
)
from partners.models import (
    EARLIEST_TIME_ZONE,
    Certification,
    CustomerReference,
    Office,
    Partner,
    Program,
    ProgramEnrollment,
    StaffMember,
    Tier,
    TierChange,
    TierRequirement,
)
from partners.services import certifications_import_csv
from tests.factories import (
    CertificationFactory,
    ContactRequestFactory,
    OfficeFactory,
    PartnerFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    StaffMemberFactory,
    program,
    tier,
)

pytestmark = pytest.mark.django_db


def assert_refused(instance, message):
    with pytest.raises(ValidationError) as info:
        instance.full_clean()
    assert message in info.value.messages
    with pytest.raises(IntegrityError), transaction.atomic():
        instance.save()


def assert_accepted(instance):
    instance.full_clean()
    instance.save()
    assert instance.pk is not None


# Partners -------------------------------------------------------------------------------------------------


def test_a_partner_slug_is_unique():
    PartnerFactory(slug="acme-cloud")
    duplicate = Partner(
        name="Acme Cloud (Europe)", slug="acme-cloud", partner_type=PartnerType.CONSULTING, tier=tier()
    )

    assert_refused(duplicate, "Another partner already uses this slug; choose a different one.")


# Offices --------------------------------------------------------------------------------------------------


def test_a_partner_has_one_headquarters():
    partner = PartnerFactory()
    OfficeFactory(partner=partner, is_headquarters=True)
    second = Office(partner=partner, country="FR", city="Paris", is_headquarters=True)

    assert_refused(second, "A partner has one headquarters; unmark the current one first.")


def test_a_partner_may_have_many_other_offices_and_other_partners_their_own_headquarters():
    partner = PartnerFactory()
    OfficeFactory(partner=partner, is_headquarters=True)
    OfficeFactory(partner=partner, is_headquarters=False)

    assert_accepted(Office(partner=partner, country="FR", city="Paris"))
    assert_accepted(Office(partner=PartnerFactory(), country="FR", city="Lyon", is_headquarters=True))


@pytest.mark.parametrize(
    "latitude, longitude",
    [
        pytest.param(90.5, 0.0, id="latitude-above-90"),
        pytest.param(-91.0, 0.0, id="latitude-below-minus-90"),
        pytest.param(0.0, 180.5, id="longitude-above-180"),
        pytest.param(0.0, -181.0, id="longitude-below-minus-180"),
        pytest.param(48.85, None, id="latitude-without-longitude"),
        pytest.param(None, 2.35, id="longitude-without-latitude"),
    ],
)
def test_office_coordinates_must_be_in_range_and_given_together(latitude, longitude):
    office = Office(
        partner=PartnerFactory(), country="FR", city="Paris", latitude=latitude, longitude=longitude
    )

    assert_refused(office, "Give both latitude (-90 to 90) and longitude (-180 to 180), or neither.")


@pytest.mark.parametrize("latitude, longitude", [(None, None), (90.0, 180.0), (-90.0, -180.0), (48.85, 2.35)])
def test_office_coordinates_at_the_limits_or_absent_are_accepted(latitude, longitude):
    office = Office(
        partner=PartnerFactory(), country="FR", city="Paris", latitude=latitude, longitude=longitude
    )

    assert_accepted(office)


# Tiers and their requirements -----------------------------------------------------------------------------


def test_two_tiers_cannot_share_a_rank_on_one_ladder():
    gold = Tier(partner_type=PartnerType.CONSULTING, name="Gold", slug="gold", rank=2)

    assert_refused(gold, "This partner type already has a tier at that rank.")


def test_two_tiers_cannot_share_a_slug_on_one_ladder():
    again = Tier(partner_type=PartnerType.CONSULTING, name="Select again", slug="select", rank=9)

    assert_refused(again, "This partner type already has a tier with that slug.")


def test_each_ladder_has_its_own_ranks():
    assert_accepted(Tier(partner_type=PartnerType.TECHNOLOGY, name="Elite", slug="elite", rank=4))
    assert_accepted(Tier(partner_type=PartnerType.CONSULTING, name="Elite", slug="elite", rank=4))


def test_a_tier_requirement_minimum_of_zero_is_refused():
    requirement = TierRequirement(
        tier=tier(PartnerType.CONSULTING, "select"), metric=RequirementMetric.APPROVED_PROGRAMS, minimum=0
    )

    assert_refused(requirement, "A requirement's minimum must be at least 1; delete it to require nothing.")


def test_a_tier_requires_each_measure_once():
    requirement = TierRequirement(
        tier=tier(PartnerType.CONSULTING, "select"), metric=RequirementMetric.LAUNCHED_PROJECTS, minimum=5
    )

    assert_refused(requirement, "This tier already has a requirement on that measure.")


# Tier changes ---------------------------------------------------------------------------------------------


def tier_change(**overrides):
    partner = overrides.pop("partner", None) or PartnerFactory()
    fields = {
        "partner": partner,
        "from_tier": tier(PartnerType.CONSULTING, "registered"),
        "to_tier": tier(PartnerType.CONSULTING, "select"),
        "reason": "Met the Select requirements.",
        "source": TierChangeSource.MANUAL,
        "changed_by": PdmFactory(),
        "changed_at": timezone.now(),
    }
    fields.update(overrides)
    return TierChange(**fields)


def test_a_tier_change_without_a_reason_is_refused():
    change = tier_change(reason="")

    with pytest.raises(ValidationError) as info:
        change.full_clean()
    assert info.value.message_dict["reason"] == ["This field cannot be blank."]
    with pytest.raises(IntegrityError), transaction.atomic():
        change.save()


def test_a_tier_change_to_the_same_tier_is_refused():
    change = tier_change(to_tier=tier(PartnerType.CONSULTING, "registered"))

    assert_refused(change, "A tier change must move the partner to a different tier.")


def test_a_tier_change_by_the_scheduled_check_has_no_user():
    change = tier_change(source=TierChangeSource.SCHEDULED_CHECK)

    assert_refused(change, "A change by the scheduled check has no acting user.")


def test_valid_tier_changes_are_accepted():
    assert_accepted(tier_change())
    assert_accepted(tier_change(source=TierChangeSource.SCHEDULED_CHECK, changed_by=None))
    assert_accepted(tier_change(from_tier=None, reason="Joined the network."))


# Programs and enrollments ---------------------------------------------------------------------------------


def test_a_competency_needs_a_category():
    competency = Program(name="Storage Competency", slug="storage", kind=ProgramKind.COMPETENCY)

    assert_refused(competency, "A competency needs a category; other programs have none.")


def test_only_competencies_have_a_category():
    msp = Program(
        name="MSP Plus",
        slug="msp-plus",
        kind=ProgramKind.MANAGED_SERVICE_PROVIDER,
        competency_category=CompetencyCategory.SOLUTION,
    )

    assert_refused(msp, "A competency needs a category; other programs have none.")


def test_a_program_is_valid_for_at_least_a_month():
    forever = Program(name="Forever", slug="forever", kind=ProgramKind.OTHER, validity_months=0)

    assert_refused(forever, "A program's validity must be at least one month.")


def test_two_applied_enrollments_in_one_program_are_refused():
    partner = PartnerFactory()
    ProgramEnrollmentFactory(partner=partner, program=program("migration"))
    again = ProgramEnrollment(partner=partner, program=program("migration"), status=EnrollmentStatus.APPLIED)

    assert_refused(again, "This partner already has an open or approved enrollment in this program.")


def test_applying_while_approved_in_the_same_program_is_refused():
    partner = PartnerFactory()
    today = timezone.localdate()
    ProgramEnrollmentFactory(
        partner=partner,
        program=program("migration"),
        status=EnrollmentStatus.APPROVED,
        approved_on=today,
        expires_on=today + datetime.timedelta(days=365),
    )
    again = ProgramEnrollment(
        partner=partner, program=program("migration"), status=EnrollmentStatus.UNDER_REVIEW
    )

    assert_refused(again, "This partner already has an open or approved enrollment in this program.")


@pytest.mark.parametrize("ended", [EnrollmentStatus.EXPIRED, EnrollmentStatus.REVOKED])
def test_a_partner_may_apply_again_after_an_enrollment_ended(ended):
    partner = PartnerFactory()
    ProgramEnrollmentFactory(partner=partner, program=program("migration"), status=ended)

    assert_accepted(ProgramEnrollment(partner=partner, program=program("migration")))


def test_the_same_partner_may_apply_to_different_programs_and_partners_to_the_same_one():
    partner = PartnerFactory()
    ProgramEnrollmentFactory(partner=partner, program=program("migration"))

    assert_accepted(ProgramEnrollment(partner=partner, program=program("security")))
    assert_accepted(ProgramEnrollment(partner=PartnerFactory(), program=program("migration")))


def test_an_approved_enrollment_needs_its_dates():
    approved = ProgramEnrollment(
        partner=PartnerFactory(), program=program("migration"), status=EnrollmentStatus.APPROVED
    )

    assert_refused(approved, "An approved enrollment needs its approval and expiry dates.")


def test_an_enrollment_expires_after_its_approval():
    day = datetime.date(2025, 3, 1)
    enrollment = ProgramEnrollment(
        partner=PartnerFactory(),
        program=program("migration"),
        status=EnrollmentStatus.APPROVED,
        approved_on=day,
        expires_on=day,
    )

    assert_refused(enrollment, "An enrollment must expire after it was approved.")


def test_an_audit_result_needs_the_audit_date():
    enrollment = ProgramEnrollment(
        partner=PartnerFactory(),
        program=program("migration"),
        status=EnrollmentStatus.AUDIT_SCHEDULED,
        audit_result=AuditResult.PASSED,
    )

    assert_refused(enrollment, "An audit result needs the audit's date.")


# Staff and certifications ---------------------------------------------------------------------------------


def certification(**overrides):
    fields = {
        "staff_member": overrides.pop("staff_member", None) or StaffMemberFactory(),
        "name": "Solutions Architect - Associate",
        "level": CertificationLevel.ASSOCIATE,
        "earned_on": datetime.date(2024, 5, 10),
    }
    fields.update(overrides)
    return Certification(**fields)


@pytest.mark.parametrize(
    "expires_on", [datetime.date(2024, 5, 10), datetime.date(2024, 5, 9)], ids=["same-day", "day-before"]
)
def test_a_certification_expires_after_the_day_it_was_earned(expires_on):
    bad = certification(expires_on=expires_on)

    assert_refused(bad, "A certification must expire after the day it was earned.")


def test_a_credential_id_is_recorded_once():
    CertificationFactory(credential_id="AWS-ASA-0001")

    assert_refused(
        certification(credential_id="AWS-ASA-0001"), "Another certification already has this credential id."
    )


def test_certifications_without_a_credential_id_are_not_duplicates():
    CertificationFactory(credential_id="")

    assert_accepted(certification(credential_id=""))
    assert_accepted(certification(credential_id=""))


@pytest.mark.parametrize(
    "earned_on, expected_expiry",
    [
        (datetime.date(2024, 5, 10), datetime.date(2027, 5, 10)),
        (datetime.date(2024, 2, 29), datetime.date(2027, 2, 28)),
        (datetime.date(2023, 12, 31), datetime.date(2026, 12, 31)),
    ],
)
def test_a_certification_without_an_expiry_expires_three_years_after_earning(earned_on, expected_expiry):
    saved = certification(earned_on=earned_on)
    saved.save()
    cleaned = certification(earned_on=earned_on)
    cleaned.full_clean()

    saved.refresh_from_db()
    assert saved.expires_on == expected_expiry
    assert cleaned.expires_on == expected_expiry


def test_a_given_expiry_is_kept():
    given = certification(earned_on=datetime.date(2024, 5, 10), expires_on=datetime.date(2025, 5, 10))
    given.save()

    given.refresh_from_db()
    assert given.expires_on == datetime.date(2025, 5, 10)


def test_a_partner_lists_a_staff_email_once():
    partner = PartnerFactory()
    StaffMemberFactory(partner=partner, email="ana@example.com")

    assert_refused(
        StaffMember(partner=partner, full_name="Ana Lima", email="ana@example.com"),
        "This partner already has a staff member with that email address.",
    )
    assert_accepted(StaffMember(partner=partner, full_name="No Email One"))
    assert_accepted(StaffMember(partner=partner, full_name="No Email Two"))


# References and contact requests --------------------------------------------------------------------------


def test_a_validated_reference_needs_its_validation_date():
    reference = CustomerReference(
        partner=PartnerFactory(),
        customer_name="Globex",
        summary="Moved the data warehouse.",
        launched_on=datetime.date(2024, 1, 15),
        is_validated=True,
    )

    assert_refused(reference, "A validated reference needs the date it was validated.")


def test_a_declined_contact_request_needs_a_reason():
    request = ContactRequestFactory.build(partner=PartnerFactory(), status=ContactRequestStatus.DECLINED)

    assert_refused(request, "Say why the request was declined.")


def test_a_declined_contact_request_with_a_reason_is_accepted():
    request = ContactRequestFactory.build(
        partner=PartnerFactory(),
        status=ContactRequestStatus.DECLINED,
        decline_reason="We do not work in that region.",
    )

    assert_accepted(request)


# Days that already happened: one rule, one message, for the admin, the API and the CSV import -------------

IN_THE_FUTURE = "Give a date no later than today (this one is in the future)."


def tomorrow() -> datetime.date:
    """A day that has not begun anywhere on Earth yet."""
    return timezone.localdate(timezone=EARLIEST_TIME_ZONE) + datetime.timedelta(days=1)


def test_a_certification_earned_in_the_future_is_refused_by_the_api_the_admin_and_the_import(client):
    pdm = PdmFactory()
    member = StaffMemberFactory(partner=PartnerFactory(pdm=pdm, slug="acme"))
    api = APIClient()
    api.force_authenticate(pdm)
    client.force_login(pdm)

    from_api = api.post(
        "/api/v1/certifications/",
        {"staff_member": member.pk, "name": "SAA", "level": "associate", "earned_on": tomorrow().isoformat()},
        format="json",
    )
    from_admin = client.post(
        reverse("admin:partners_certification_add"),
        {"staff_member": member.pk, "name": "SAA", "level": "associate", "earned_on": tomorrow().isoformat()},
    )
    from_import = certifications_import_csv(
        data=f"partner,staff_name,name,level,earned_on\nacme,{member.full_name},SAA,associate,{tomorrow()}\n",
        user=pdm,
    )

    assert from_api.status_code == 400
    assert IN_THE_FUTURE in str(from_api.json())
    assert from_admin.status_code == 200
    assert from_admin.context["adminform"].form.errors["earned_on"] == [IN_THE_FUTURE]
    assert from_import.errors == [(2, f"earned_on: {IN_THE_FUTURE}")]
    assert not Certification.objects.exists()


def test_a_certification_earned_today_is_accepted():
    assert_accepted(
        CertificationFactory.build(staff_member=StaffMemberFactory(), earned_on=timezone.localdate())
    )


def test_a_day_that_has_begun_somewhere_is_not_the_future():
    # A partner in Kiribati earns a certification on its own today, which may be the server's tomorrow.
    earliest_today = timezone.localdate(timezone=EARLIEST_TIME_ZONE)

    assert_accepted(CertificationFactory.build(staff_member=StaffMemberFactory(), earned_on=earliest_today))


def test_a_reference_launched_in_the_future_is_refused_by_the_api_and_the_admin(client):
    pdm = PdmFactory()
    partner = PartnerFactory(pdm=pdm)
    api = APIClient()
    api.force_authenticate(pdm)
    client.force_login(pdm)
    fields = {
        "customer_name": "Future Co",
        "summary": "A launch to come.",
        "launched_on": tomorrow().isoformat(),
    }

    from_api = api.post("/api/v1/references/", {"partner": partner.slug, **fields}, format="json")
    from_admin = client.post(
        reverse("admin:partners_customerreference_add"), {"partner": partner.pk, **fields}
    )

    assert from_api.status_code == 400
    assert IN_THE_FUTURE in str(from_api.json())
    assert from_admin.status_code == 200
    assert from_admin.context["adminform"].form.errors["launched_on"] == [IN_THE_FUTURE]
    assert not CustomerReference.objects.exists()
