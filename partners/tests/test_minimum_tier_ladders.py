"""A program open to both partner types names one tier as its minimum, a rung of one ladder: each partner
is held to the rung of its own type's ladder with that slug. So an edit of one ladder (a rung added, ranks
moved) never changes where a partner of the other type stands, and an edit that leaves a partner short of
its own ladder's rung counts the grace period from the edit, not from a tier change made long before."""

import datetime

import pytest

from apn_portal.outbox.models import OutboxMessage
from partners.choices import EnrollmentStatus, PartnerType
from partners.models import ProgramEnrollment, Tier
from partners.services import partner_tier_change
from tests.api.conftest import api_client
from tests.checks import check_run_on, on
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

START = datetime.date(2026, 3, 2)
EDITED_ON = datetime.date(2026, 7, 1)
EXPIRES = datetime.date(2028, 12, 31)
TECHNOLOGY = PartnerType.TECHNOLOGY


def add_standard_rung(partner_type) -> Tier:
    """The whitepaper's "Standard" rung, below Select: the rungs from Select up move up one first."""
    for slug in ("premier", "advanced", "select"):
        rung = tier(partner_type, slug)
        rung.rank += 1
        rung.save()
    return Tier.objects.create(partner_type=partner_type, name="Standard", slug="standard", rank=1)


def technology_partner(slug: str, tier_slug: str, **fields):
    with on(START):
        partner = PartnerFactory(
            name=slug.capitalize(),
            slug=slug,
            partner_type=TECHNOLOGY,
            tier=tier(TECHNOLOGY, tier_slug),
            pdm=PdmFactory(),
            **fields,
        )
        PartnerUserFactory(partner=partner, username=f"{slug}-user", email=f"ops@{slug}.example")
    return partner


def enrolled(partner) -> ProgramEnrollment:
    with on(START):
        return ApprovedEnrollmentFactory(
            partner=partner, program=program("databases"), approved_on=START, expires_on=EXPIRES
        )


def warnings(enrollment) -> list[OutboxMessage]:
    key = f"enrollment-tier-short:{enrollment.pk}:"
    return list(OutboxMessage.objects.filter(dedupe_key__startswith=key))


def revocation_due_on(enrollment, day):
    with on(day):
        response = api_client(enrollment.partner.pdm).get(f"/api/v1/enrollments/{enrollment.pk}/")
    assert response.status_code == 200, response.content
    return response.json()["revocation_due_on"]


def test_a_rung_added_to_the_consulting_ladder_leaves_technology_partners_enrolled():
    enrollment = enrolled(technology_partner("techsel", "select"))
    with on(EDITED_ON):
        add_standard_rung(PartnerType.CONSULTING)

    run = check_run_on("program_renewal", EDITED_ON + datetime.timedelta(days=200))

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED, enrollment.status_reason
    assert run.changed.get("enrollments_warned_of_revocation", 0) == 0
    assert warnings(enrollment) == []
    assert revocation_due_on(enrollment, EDITED_ON) is None


def test_a_technology_partner_below_its_own_select_rung_is_not_approved():
    with on(START):
        standard = add_standard_rung(TECHNOLOGY)
    partner = technology_partner("stdco", "standard")
    with on(START):
        application = ProgramEnrollmentFactory(partner=partner, program=program("databases"))
        response = api_client(partner.pdm).post(f"/api/v1/enrollments/{application.pk}/approve/", {})

    assert response.status_code == 400, response.content
    refusal = "Database Service Competency needs at least the Select tier; Stdco is Standard."
    assert refusal in str(response.json())
    application.refresh_from_db()
    assert application.status != EnrollmentStatus.APPROVED
    assert standard.rank < tier(TECHNOLOGY, "select").rank


def test_a_technology_partner_at_its_own_select_rung_is_approved_whatever_the_consulting_ranks():
    with on(START):
        add_standard_rung(PartnerType.CONSULTING)  # consulting Select is now rank 2, technology Select 1
    partner = technology_partner("techsel", "select")
    with on(START):
        application = ProgramEnrollmentFactory(partner=partner, program=program("databases"))
        response = api_client(partner.pdm).post(f"/api/v1/enrollments/{application.pk}/approve/", {})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"


def test_a_ladder_edit_that_leaves_a_partner_short_counts_the_grace_period_from_the_edit():
    partner = technology_partner("techadv", "advanced")
    enrollment = enrolled(partner)
    with on(EDITED_ON):
        # The PDM puts Select above Advanced on the technology ladder (ranks are unique: one at a time).
        select, advanced = tier(TECHNOLOGY, "select"), tier(TECHNOLOGY, "advanced")
        select.rank = 9
        select.save()
        advanced.rank, select.rank = 1, 2
        advanced.save()
        select.save()
    grace = datetime.timedelta(days=tier(TECHNOLOGY, "select").grace_period_days)

    check_run_on("program_renewal", EDITED_ON)

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED, enrollment.status_reason
    [warning] = warnings(enrollment)
    revoke_on = EDITED_ON + grace
    assert f"revoked on {revoke_on.day} {revoke_on:%b %Y}" in warning.body_text
    assert revocation_due_on(enrollment, EDITED_ON) == revoke_on.isoformat()


def test_a_partner_already_short_keeps_its_countdown_through_a_ladder_edit():
    partner = technology_partner("techreg", "select")
    enrollment = enrolled(partner)
    demoted_on = START + datetime.timedelta(days=10)
    with on(demoted_on):
        partner_tier_change(
            partner=partner, to_tier=tier(TECHNOLOGY, "registered"), reason="Short", user=partner.pdm
        )
    due = demoted_on + datetime.timedelta(days=tier(PartnerType.CONSULTING, "select").grace_period_days)
    with on(due - datetime.timedelta(days=1)):
        add_standard_rung(TECHNOLOGY)

    check_run_on("program_renewal", due)

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REVOKED


def test_a_ladder_without_the_minimums_rung_leaves_its_partners_short_of_it():
    partner = technology_partner("techval", "select")
    enrollment = enrolled(partner)
    with on(EDITED_ON):
        # The technology ladder's Select becomes "Validated": that ladder has no Select rung any more.
        validated = tier(TECHNOLOGY, "select")
        validated.name, validated.slug = "Validated", "validated"
        validated.save()
        application = ProgramEnrollmentFactory(
            partner=technology_partner("techval2", "validated"), program=program("databases")
        )
        response = api_client(application.partner.pdm).post(
            f"/api/v1/enrollments/{application.pk}/approve/", {}
        )
    assert response.status_code == 400, response.content
    assert (
        "Database Service Competency needs at least the Select tier, which the Technology ladder does not "
        "have: no technology partner holds it." in str(response.json())
    )

    check_run_on("program_renewal", EDITED_ON)
    revoke_on = EDITED_ON + datetime.timedelta(days=tier(PartnerType.CONSULTING, "select").grace_period_days)
    assert revocation_due_on(enrollment, EDITED_ON) == revoke_on.isoformat()
    [warning] = warnings(enrollment)
    assert f"revoked on {revoke_on.day} {revoke_on:%b %Y}" in warning.body_text
