"""Tier evaluation: which tier a partner's evidence earns, and what the next tier still lacks."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.choices import CertificationLevel, EnrollmentStatus, PartnerType, RequirementMetric
from partners.models import Certification, Partner, Program, TierRequirement
from partners.selectors import tier_evaluate, tier_evaluate_many
from tests.factories import (
    ApprovedEnrollmentFactory,
    CertificationFactory,
    CustomerReferenceFactory,
    PartnerFactory,
    ProgramEnrollmentFactory,
    StaffMemberFactory,
    give_advanced_evidence,
    give_certified_people,
    give_premier_people_and_projects,
    give_select_evidence,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

FOUNDATIONAL = CertificationLevel.FOUNDATIONAL
ASSOCIATE = CertificationLevel.ASSOCIATE
PROFESSIONAL = CertificationLevel.PROFESSIONAL
SPECIALTY = CertificationLevel.SPECIALTY


def today():
    return timezone.localdate()


def days(n):
    return datetime.timedelta(days=n)


def messages(shortfalls):
    return [shortfall.message for shortfall in shortfalls]


def set_requirement(partner_type, tier_slug, metric, minimum):
    """What a PDM does in the admin: edit the data of a tier's requirement."""
    TierRequirement.objects.update_or_create(
        tier=tier(partner_type, tier_slug), metric=metric, defaults={"minimum": minimum}
    )


# Counting people ------------------------------------------------------------------------------------------


def test_one_person_with_three_certifications_counts_once_per_line():
    partner = PartnerFactory()
    person = StaffMemberFactory(partner=partner)
    for level in (FOUNDATIONAL, ASSOCIATE, PROFESSIONAL):
        CertificationFactory(staff_member=person, level=level)

    metrics = tier_evaluate(partner).metrics

    assert metrics[RequirementMetric.FOUNDATIONAL_PEOPLE] == 1
    assert metrics[RequirementMetric.TECHNICAL_PEOPLE] == 1
    assert metrics[RequirementMetric.ADVANCED_TECHNICAL_PEOPLE] == 1


def test_two_people_each_with_several_technical_certifications_are_two_technical_people():
    partner = PartnerFactory()
    for person in StaffMemberFactory.create_batch(2, partner=partner):
        for level in (ASSOCIATE, PROFESSIONAL, SPECIALTY):
            CertificationFactory(staff_member=person, level=level)

    metrics = tier_evaluate(partner).metrics

    assert metrics[RequirementMetric.TECHNICAL_PEOPLE] == 2
    assert metrics[RequirementMetric.ADVANCED_TECHNICAL_PEOPLE] == 2
    assert metrics[RequirementMetric.FOUNDATIONAL_PEOPLE] == 0


def test_certifications_of_another_partner_do_not_count():
    partner, other = PartnerFactory(), PartnerFactory()
    give_select_evidence(other)

    assert tier_evaluate(partner).metrics == dict.fromkeys(RequirementMetric.values, 0)
    assert tier_evaluate(other).qualified_tier.slug == "select"


# Which certifications count -------------------------------------------------------------------------------


def test_certification_that_expired_yesterday_counts_for_nothing():
    partner = PartnerFactory()
    give_certified_people(partner, ASSOCIATE, 1, earned_on=today() - days(400), expires_on=today() - days(1))

    assert tier_evaluate(partner).metrics[RequirementMetric.TECHNICAL_PEOPLE] == 0


def test_certification_that_expires_today_still_counts_today():
    partner = PartnerFactory()
    give_certified_people(partner, ASSOCIATE, 1, earned_on=today() - days(400), expires_on=today())

    assert tier_evaluate(partner).metrics[RequirementMetric.TECHNICAL_PEOPLE] == 1


def test_expired_certification_does_not_hide_the_same_persons_active_one():
    partner = PartnerFactory()
    person = StaffMemberFactory(partner=partner)
    CertificationFactory(
        staff_member=person, level=PROFESSIONAL, earned_on=today() - days(1200), expires_on=today() - days(1)
    )
    CertificationFactory(staff_member=person, level=ASSOCIATE)

    metrics = tier_evaluate(partner).metrics

    assert metrics[RequirementMetric.TECHNICAL_PEOPLE] == 1
    assert metrics[RequirementMetric.ADVANCED_TECHNICAL_PEOPLE] == 0


def test_certification_earned_in_the_future_does_not_count():
    partner = PartnerFactory()
    give_certified_people(partner, FOUNDATIONAL, 1, earned_on=today() + days(1))

    assert tier_evaluate(partner).metrics[RequirementMetric.FOUNDATIONAL_PEOPLE] == 0


def test_certification_earned_today_counts():
    partner = PartnerFactory()
    give_certified_people(partner, FOUNDATIONAL, 1, earned_on=today())

    assert tier_evaluate(partner).metrics[RequirementMetric.FOUNDATIONAL_PEOPLE] == 1


def test_evaluation_on_a_given_day_counts_what_was_active_that_day():
    partner = PartnerFactory()
    give_certified_people(partner, ASSOCIATE, 1, earned_on=today() - days(100), expires_on=today() + days(30))
    give_certified_people(partner, FOUNDATIONAL, 1, earned_on=today() + days(10))

    now = tier_evaluate(partner, on=today()).metrics
    in_three_weeks = tier_evaluate(partner, on=today() + days(21)).metrics
    in_two_months = tier_evaluate(partner, on=today() + days(60)).metrics

    assert (now[RequirementMetric.TECHNICAL_PEOPLE], now[RequirementMetric.FOUNDATIONAL_PEOPLE]) == (1, 0)
    assert (
        in_three_weeks[RequirementMetric.TECHNICAL_PEOPLE],
        in_three_weeks[RequirementMetric.FOUNDATIONAL_PEOPLE],
    ) == (1, 1)
    assert (
        in_two_months[RequirementMetric.TECHNICAL_PEOPLE],
        in_two_months[RequirementMetric.FOUNDATIONAL_PEOPLE],
    ) == (0, 1)


def test_evaluation_on_a_given_day_loses_a_tier_when_its_evidence_expires():
    partner = PartnerFactory()
    give_select_evidence(partner)
    # One of the two foundational people lapses next month.
    partner.staff_members.filter(certifications__level=FOUNDATIONAL).first().certifications.update(
        expires_on=today() + days(30)
    )

    assert tier_evaluate(partner, on=today()).qualified_tier.slug == "select"
    assert tier_evaluate(partner, on=today() + days(30)).qualified_tier.slug == "select"
    assert tier_evaluate(partner, on=today() + days(31)).qualified_tier.slug == "registered"


# Thresholds -----------------------------------------------------------------------------------------------


def test_exactly_at_every_select_threshold_qualifies_for_select():
    partner = PartnerFactory()
    give_select_evidence(partner)

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "select"
    assert evaluation.qualified_tier.partner_type == PartnerType.CONSULTING
    assert evaluation.next_tier.slug == "advanced"
    assert messages(evaluation.next_tier_shortfalls) == [
        "needs 2 more people with a foundational certification",
        "needs 4 more people with a technical certification",
        "needs 3 more professional-level people (professional or specialty)",
        "needs 17 more launched customer projects",
    ]


@pytest.mark.parametrize(
    "foundational, technical, projects, shortfall",
    [
        (1, 2, 3, "needs 1 more person with a foundational certification"),
        (2, 1, 3, "needs 1 more person with a technical certification"),
        (2, 2, 2, "needs 1 more launched customer project"),
    ],
)
def test_one_below_a_threshold_does_not_qualify(foundational, technical, projects, shortfall):
    partner = PartnerFactory()
    give_certified_people(partner, FOUNDATIONAL, foundational)
    give_certified_people(partner, ASSOCIATE, technical)
    CustomerReferenceFactory.create_batch(projects, partner=partner)

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "registered"
    assert evaluation.next_tier.slug == "select"
    assert messages(evaluation.next_tier_shortfalls) == [shortfall]


def test_exactly_at_advanced_thresholds_qualifies_for_advanced():
    partner = PartnerFactory()
    give_advanced_evidence(partner)

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "advanced"
    assert evaluation.next_tier.slug == "premier"


def test_what_the_next_tier_lacks_counts_only_the_missing_people():
    partner = PartnerFactory()
    give_certified_people(partner, FOUNDATIONAL, 4)
    give_certified_people(partner, ASSOCIATE, 5)
    give_certified_people(partner, PROFESSIONAL, 1)
    CustomerReferenceFactory.create_batch(20, partner=partner)

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "select"
    assert messages(evaluation.next_tier_shortfalls) == [
        "needs 2 more professional-level people (professional or specialty)"
    ]


def test_one_missing_person_reads_in_the_singular():
    partner = PartnerFactory()
    give_certified_people(partner, FOUNDATIONAL, 4)
    give_certified_people(partner, ASSOCIATE, 4)
    give_certified_people(partner, SPECIALTY, 2)
    CustomerReferenceFactory.create_batch(20, partner=partner)

    evaluation = tier_evaluate(partner)

    assert messages(evaluation.next_tier_shortfalls) == [
        "needs 1 more professional-level person (professional or specialty)"
    ]


def test_the_next_tier_lists_every_shortfall_with_its_numbers():
    partner = PartnerFactory()

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "registered"
    assert [(s.metric, s.required, s.actual, s.missing) for s in evaluation.next_tier_shortfalls] == [
        (RequirementMetric.FOUNDATIONAL_PEOPLE, 2, 0, 2),
        (RequirementMetric.TECHNICAL_PEOPLE, 2, 0, 2),
        (RequirementMetric.LAUNCHED_PROJECTS, 3, 0, 3),
    ]


def test_a_partner_at_the_top_has_no_next_tier():
    partner = PartnerFactory()
    give_premier_people_and_projects(partner)
    ApprovedEnrollmentFactory(partner=partner, program=program("managed-service-provider"))
    ApprovedEnrollmentFactory(partner=partner, program=program("migration"))
    ApprovedEnrollmentFactory(partner=partner, program=program("security"))

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "premier"
    assert evaluation.next_tier is None
    assert evaluation.next_tier_shortfalls == []


# The ladder is climbed rung by rung -----------------------------------------------------------------------


def test_a_partner_failing_a_lower_rung_cannot_hold_a_higher_one():
    partner = PartnerFactory()
    give_advanced_evidence(partner)
    # A PDM makes Select ask for more projects than Advanced does.
    set_requirement(PartnerType.CONSULTING, "select", RequirementMetric.LAUNCHED_PROJECTS, 30)

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "registered"
    assert evaluation.next_tier.slug == "select"
    assert messages(evaluation.next_tier_shortfalls) == ["needs 10 more launched customer projects"]


# The next tier is the one above where the partner stands ------------------------------------------------


def test_a_partner_holding_more_than_it_qualifies_for_is_shown_the_tier_above_the_one_it_holds():
    partner = PartnerFactory(tier=tier(PartnerType.CONSULTING, "advanced"))
    give_select_evidence(partner)  # its Advanced evidence has lapsed

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "select"
    assert evaluation.next_tier.slug == "premier"
    # Reaching Premier takes everything holding Advanced takes as well.
    assert evaluation.current_tier_minimums[RequirementMetric.LAUNCHED_PROJECTS] == 20
    assert "needs 47 more launched customer projects" in messages(evaluation.next_tier_shortfalls)
    assert "needs 17 more launched customer projects" in messages(evaluation.current_tier_shortfalls)


def test_a_partner_due_a_promotion_is_shown_the_tier_above_the_one_it_qualifies_for():
    partner = PartnerFactory()  # Registered
    give_advanced_evidence(partner)

    evaluation = tier_evaluate(partner)

    assert evaluation.current_tier.slug == "registered"
    assert evaluation.next_tier.slug == "premier"


def test_holding_a_tier_takes_what_every_rung_below_it_asks():
    # A PDM makes Select ask for an approved program, which Advanced itself does not list.
    set_requirement(PartnerType.CONSULTING, "select", RequirementMetric.APPROVED_PROGRAMS, 1)
    partner = PartnerFactory(tier=tier(PartnerType.CONSULTING, "advanced"))
    give_advanced_evidence(partner)

    evaluation = tier_evaluate(partner)

    assert evaluation.current_tier_minimums[RequirementMetric.APPROVED_PROGRAMS] == 1
    assert evaluation.next_tier_minimums[RequirementMetric.APPROVED_PROGRAMS] == 3
    assert messages(evaluation.current_tier_shortfalls) == ["needs 1 more approved program validation"]


# Premier and programs -------------------------------------------------------------------------------------


def test_three_approved_competencies_without_a_qualifying_program_are_not_premier():
    partner = PartnerFactory()
    give_premier_people_and_projects(partner)
    for slug in ("migration", "security", "devops"):
        ApprovedEnrollmentFactory(partner=partner, program=program(slug))

    evaluation = tier_evaluate(partner)

    assert evaluation.metrics[RequirementMetric.APPROVED_PROGRAMS] == 3
    assert evaluation.qualified_tier.slug == "advanced"
    assert messages(evaluation.next_tier_shortfalls) == [
        "needs 1 more approved Managed Service Provider (or qualifying) program"
    ]


def test_msp_among_three_approved_programs_makes_premier():
    partner = PartnerFactory()
    give_premier_people_and_projects(partner)
    for slug in ("managed-service-provider", "migration", "security"):
        ApprovedEnrollmentFactory(partner=partner, program=program(slug))

    assert tier_evaluate(partner).qualified_tier.slug == "premier"


def test_msp_alone_is_not_three_approved_programs():
    partner = PartnerFactory()
    give_premier_people_and_projects(partner)
    ApprovedEnrollmentFactory(partner=partner, program=program("managed-service-provider"))

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "advanced"
    assert messages(evaluation.next_tier_shortfalls) == ["needs 2 more approved program validations"]


def test_a_program_a_pdm_marks_as_qualifying_counts_like_msp():
    partner = PartnerFactory()
    give_premier_people_and_projects(partner)
    for slug in ("migration", "security", "devops"):
        ApprovedEnrollmentFactory(partner=partner, program=program(slug))
    Program.objects.filter(slug="devops").update(qualifies_for_tier=True)

    assert tier_evaluate(partner).qualified_tier.slug == "premier"


@pytest.mark.parametrize(
    "enrollment",
    [
        pytest.param(
            {
                "status": EnrollmentStatus.EXPIRED,
                "approved_on": datetime.date(2020, 1, 1),
                "expires_on": datetime.date(2023, 1, 1),
            },
            id="expired",
        ),
        pytest.param(
            {"status": EnrollmentStatus.REVOKED, "status_reason": "Audit findings not remediated."},
            id="revoked",
        ),
        pytest.param({"status": EnrollmentStatus.APPLIED}, id="applied"),
        pytest.param({"status": EnrollmentStatus.AUDIT_SCHEDULED}, id="audit-scheduled"),
        pytest.param("approved-but-past-its-expiry", id="approved-but-past-its-expiry"),
    ],
)
def test_enrollments_that_are_not_currently_approved_do_not_count(enrollment):
    partner = PartnerFactory()
    give_premier_people_and_projects(partner)
    ApprovedEnrollmentFactory(partner=partner, program=program("managed-service-provider"))
    ApprovedEnrollmentFactory(partner=partner, program=program("migration"))
    if enrollment == "approved-but-past-its-expiry":
        ApprovedEnrollmentFactory(
            partner=partner,
            program=program("security"),
            approved_on=today() - days(800),
            expires_on=today() - days(1),
        )
    else:
        ProgramEnrollmentFactory(partner=partner, program=program("security"), **enrollment)

    evaluation = tier_evaluate(partner)

    assert evaluation.metrics[RequirementMetric.APPROVED_PROGRAMS] == 2
    assert evaluation.qualified_tier.slug == "advanced"


def test_an_expired_msp_enrollment_is_no_qualifying_program():
    partner = PartnerFactory()
    give_premier_people_and_projects(partner)
    for slug in ("migration", "security", "devops"):
        ApprovedEnrollmentFactory(partner=partner, program=program(slug))
    ProgramEnrollmentFactory(
        partner=partner,
        program=program("managed-service-provider"),
        status=EnrollmentStatus.EXPIRED,
        approved_on=today() - days(400),
        expires_on=today() - days(35),
    )

    evaluation = tier_evaluate(partner)

    assert evaluation.metrics[RequirementMetric.QUALIFYING_PROGRAMS] == 0
    assert evaluation.qualified_tier.slug == "advanced"


# References -----------------------------------------------------------------------------------------------


def test_unvalidated_references_do_not_count():
    partner = PartnerFactory()
    give_certified_people(partner, FOUNDATIONAL, 2)
    give_certified_people(partner, ASSOCIATE, 2)
    CustomerReferenceFactory.create_batch(2, partner=partner)
    CustomerReferenceFactory.create_batch(5, partner=partner, is_validated=False, validated_at=None)

    evaluation = tier_evaluate(partner)

    assert evaluation.metrics[RequirementMetric.LAUNCHED_PROJECTS] == 2
    assert evaluation.qualified_tier.slug == "registered"
    assert messages(evaluation.next_tier_shortfalls) == ["needs 1 more launched customer project"]


# Technology ladder ----------------------------------------------------------------------------------------


def test_a_technology_partner_climbs_the_technology_ladder():
    technology = PartnerFactory(partner_type=PartnerType.TECHNOLOGY)
    consulting = PartnerFactory(partner_type=PartnerType.CONSULTING)
    for partner in (technology, consulting):
        give_certified_people(partner, FOUNDATIONAL, 1)
        give_certified_people(partner, ASSOCIATE, 1)
        CustomerReferenceFactory(partner=partner)

    technology_evaluation = tier_evaluate(technology)
    consulting_evaluation = tier_evaluate(consulting)

    assert technology_evaluation.qualified_tier == tier(PartnerType.TECHNOLOGY, "select")
    assert technology_evaluation.next_tier == tier(PartnerType.TECHNOLOGY, "advanced")
    assert consulting_evaluation.qualified_tier == tier(PartnerType.CONSULTING, "registered")


def test_technology_premier_needs_one_approved_program_but_no_msp():
    partner = PartnerFactory(partner_type=PartnerType.TECHNOLOGY)
    for person in StaffMemberFactory.create_batch(2, partner=partner):
        CertificationFactory(staff_member=person, level=FOUNDATIONAL)
        CertificationFactory(staff_member=person, level=PROFESSIONAL)
    give_certified_people(partner, FOUNDATIONAL, 2)
    give_certified_people(partner, ASSOCIATE, 4)
    CustomerReferenceFactory.create_batch(10, partner=partner)

    assert tier_evaluate(partner).qualified_tier.slug == "advanced"

    ApprovedEnrollmentFactory(partner=partner, program=program("migration"))

    assert tier_evaluate(partner).qualified_tier == tier(PartnerType.TECHNOLOGY, "premier")


# Requirements are data ------------------------------------------------------------------------------------


def test_a_pdm_lowering_a_requirement_changes_who_qualifies():
    partner = PartnerFactory()
    give_certified_people(partner, FOUNDATIONAL, 1)
    give_certified_people(partner, ASSOCIATE, 2)
    CustomerReferenceFactory.create_batch(3, partner=partner)
    assert tier_evaluate(partner).qualified_tier.slug == "registered"

    set_requirement(PartnerType.CONSULTING, "select", RequirementMetric.FOUNDATIONAL_PEOPLE, 1)

    assert tier_evaluate(partner).qualified_tier.slug == "select"


def test_a_pdm_adding_a_requirement_changes_what_is_missing():
    partner = PartnerFactory()
    give_select_evidence(partner)

    set_requirement(PartnerType.CONSULTING, "select", RequirementMetric.ADVANCED_TECHNICAL_PEOPLE, 1)

    evaluation = tier_evaluate(partner)
    assert evaluation.qualified_tier.slug == "registered"
    assert messages(evaluation.next_tier_shortfalls) == [
        "needs 1 more professional-level person (professional or specialty)"
    ]


def test_a_pdm_deleting_a_requirement_drops_it():
    partner = PartnerFactory()
    give_certified_people(partner, FOUNDATIONAL, 2)
    give_certified_people(partner, ASSOCIATE, 2)

    TierRequirement.objects.filter(
        tier=tier(PartnerType.CONSULTING, "select"), metric=RequirementMetric.LAUNCHED_PROJECTS
    ).delete()

    assert tier_evaluate(partner).qualified_tier.slug == "select"


# Holding a tier one no longer meets -----------------------------------------------------------------------


def test_a_partner_holding_a_tier_it_no_longer_meets_sees_what_it_lacks_to_keep_it():
    partner = PartnerFactory(tier=tier(PartnerType.CONSULTING, "advanced"))
    give_select_evidence(partner)

    evaluation = tier_evaluate(partner)

    assert evaluation.current_tier.slug == "advanced"
    assert evaluation.qualified_tier.slug == "select"
    assert not evaluation.meets_current_tier
    assert not evaluation.qualifies_for_more
    assert messages(evaluation.current_tier_shortfalls) == [
        "needs 2 more people with a foundational certification",
        "needs 4 more people with a technical certification",
        "needs 3 more professional-level people (professional or specialty)",
        "needs 17 more launched customer projects",
    ]


def test_a_partner_holding_a_tier_above_a_rung_it_fails_is_told_what_that_rung_lacks():
    partner = PartnerFactory(tier=tier(PartnerType.CONSULTING, "advanced"))
    give_advanced_evidence(partner)
    set_requirement(PartnerType.CONSULTING, "select", RequirementMetric.LAUNCHED_PROJECTS, 30)

    evaluation = tier_evaluate(partner)

    assert not evaluation.meets_current_tier
    assert messages(evaluation.current_tier_shortfalls) == ["needs 10 more launched customer projects"]


def test_a_partner_meeting_its_tier_has_no_current_shortfalls():
    partner = PartnerFactory(tier=tier(PartnerType.CONSULTING, "select"))
    give_advanced_evidence(partner)

    evaluation = tier_evaluate(partner)

    assert evaluation.meets_current_tier
    assert evaluation.qualifies_for_more
    assert evaluation.current_tier_shortfalls == []


# Many partners at once ------------------------------------------------------------------------------------


def make_varied_partners(count):
    partners = []
    for index in range(count):
        partner = PartnerFactory(
            partner_type=PartnerType.TECHNOLOGY if index % 4 == 3 else PartnerType.CONSULTING,
        )
        if index % 3 == 1:
            give_select_evidence(partner)
        elif index % 3 == 2:
            give_certified_people(partner, PROFESSIONAL, 2)
            CustomerReferenceFactory(partner=partner)
            ApprovedEnrollmentFactory(partner=partner)
        partners.append(partner)
    return partners


def count_queries(function):
    with CaptureQueriesContext(connection) as context:
        function()
    return len(context.captured_queries)


def test_evaluating_many_partners_takes_the_same_few_queries_for_3_or_30():
    partners = make_varied_partners(30)
    few = Partner.objects.filter(pk__in=[p.pk for p in partners[:3]])
    many = Partner.objects.filter(pk__in=[p.pk for p in partners])

    queries_for_3 = count_queries(lambda: tier_evaluate_many(few))
    queries_for_30 = count_queries(lambda: tier_evaluate_many(many))
    loaded = list(many)
    queries_for_a_list_of_30 = count_queries(lambda: tier_evaluate_many(loaded))

    assert queries_for_3 == queries_for_30
    assert queries_for_30 <= 6
    assert queries_for_a_list_of_30 <= queries_for_30


def test_evaluating_many_partners_agrees_with_evaluating_each():
    partners = make_varied_partners(30)

    many = tier_evaluate_many(Partner.objects.filter(pk__in=[p.pk for p in partners]))
    from_a_list = tier_evaluate_many(partners)

    assert set(many) == {p.pk for p in partners}
    for partner in partners:
        one = tier_evaluate(partner)
        assert many[partner.pk] == one
        assert from_a_list[partner.pk] == one
    assert {evaluation.qualified_tier.slug for evaluation in many.values()} == {"registered", "select"}


def test_evaluating_a_page_of_partners():
    partners = make_varied_partners(6)

    page = tier_evaluate_many(Partner.objects.order_by("name")[2:5])

    assert len(page) == 3
    for pk, evaluation in page.items():
        assert evaluation == tier_evaluate(Partner.objects.get(pk=pk))
    assert set(page) <= {p.pk for p in partners}


def test_evaluating_many_on_a_given_day_agrees_with_evaluating_each_on_that_day():
    partners = make_varied_partners(6)
    Certification.objects.filter(staff_member__partner__in=partners, level=ASSOCIATE).update(
        expires_on=today() + days(30)
    )
    later = today() + days(45)

    many = tier_evaluate_many(Partner.objects.filter(pk__in=[p.pk for p in partners]), on=later)

    for partner in partners:
        assert many[partner.pk] == tier_evaluate(partner, on=later)


def test_the_admin_list_counts_the_references_the_tier_evaluation_counts():
    """A validated reference for a project not launched yet counts nowhere until its launch day."""
    from partners.selectors import partners_with_list_columns
    from tests.factories import CustomerReferenceFactory

    partner = PartnerFactory()
    CustomerReferenceFactory(partner=partner)
    CustomerReferenceFactory(partner=partner, launched_on=timezone.localdate() + datetime.timedelta(days=30))
    listed = partners_with_list_columns(Partner.objects.filter(pk=partner.pk)).get()
    assert listed.validated_reference_count == 1
    assert tier_evaluate(partner).metrics[RequirementMetric.LAUNCHED_PROJECTS] == 1


# The entry tier asks nothing ------------------------------------------------------------------------------


def test_a_requirement_stored_on_the_entry_tier_is_not_shown_as_lacking():
    # Stored before the admin refused one (TierRequirement.clean): every partner holds Registered anyway.
    set_requirement(PartnerType.CONSULTING, "registered", RequirementMetric.FOUNDATIONAL_PEOPLE, 1)
    partner = PartnerFactory()

    evaluation = tier_evaluate(partner)

    assert evaluation.meets_current_tier
    assert evaluation.current_tier_minimums == {}
    assert evaluation.current_tier_shortfalls == []


def test_a_requirement_stored_on_the_entry_tier_is_not_asked_of_the_tiers_above():
    set_requirement(PartnerType.CONSULTING, "registered", RequirementMetric.ADVANCED_TECHNICAL_PEOPLE, 1)
    partner = PartnerFactory(tier=tier(PartnerType.CONSULTING, "select"))
    give_select_evidence(partner)

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "select"
    assert evaluation.current_tier_shortfalls == []
    assert RequirementMetric.ADVANCED_TECHNICAL_PEOPLE not in evaluation.current_tier_minimums
