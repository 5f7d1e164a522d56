"""tier_health: grace periods, demotion at their end, the at-risk date and its warnings, never a promotion."""

import datetime
import random
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apn_portal.outbox.models import OutboxMessage
from partners.checks import tier_health
from partners.checks.tier_health import at_risk_from, evidence_last_days
from partners.choices import CertificationLevel, TierChangeSource
from partners.models import Partner, Tier, TierChange, TierRequirement
from partners.selectors import hold_minimums, tier_evaluate, tier_ladders
from tests.checks import check_run_on, on
from tests.factories import (
    ApprovedEnrollmentFactory,
    CertificationFactory,
    CustomerReferenceFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffMemberFactory,
    give_advanced_evidence,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

START = datetime.date(2026, 3, 2)
FIRST_EXPIRY = datetime.date(2026, 9, 30)  # the earlier of the two foundational certifications
AT_RISK = FIRST_EXPIRY + datetime.timedelta(days=1)
FAR = datetime.date(2028, 12, 31)
FOUNDATIONAL = CertificationLevel.FOUNDATIONAL
ASSOCIATE = CertificationLevel.ASSOCIATE


def run_on(day: datetime.date):
    return check_run_on("tier_health", day)


def person_with(partner, level, expires_on, earned_on=START - datetime.timedelta(days=400)):
    member = StaffMemberFactory(partner=partner)
    CertificationFactory(staff_member=member, level=level, earned_on=earned_on, expires_on=expires_on)
    return member


def emails(partner, kind: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(dedupe_key__startswith=f"{kind}:{partner.pk}:").order_by("id"))


@pytest.fixture
def select_partner():
    """A Select partner with exactly Select's evidence; its second foundational person lapses first."""
    pdm = PdmFactory(email="pdm@provider.example", first_name="Pat", last_name="Doe")
    with on(START):
        partner = PartnerFactory(name="Acme Cloud", tier=tier(slug="select"), pdm=pdm)
        PartnerUserFactory(partner=partner, email="ops@acme.example")
        person_with(partner, FOUNDATIONAL, FAR)
        person_with(partner, FOUNDATIONAL, FIRST_EXPIRY)
        person_with(partner, ASSOCIATE, FAR)
        person_with(partner, ASSOCIATE, FAR)
        CustomerReferenceFactory.create_batch(3, partner=partner)
    return partner


def test_the_at_risk_date_is_the_day_after_the_evidence_holding_the_tier_up_expires(select_partner):
    run_on(START)

    select_partner.refresh_from_db()
    assert select_partner.at_risk_from == AT_RISK
    assert tier_evaluate(select_partner, on=AT_RISK - datetime.timedelta(days=1)).meets_current_tier
    assert not tier_evaluate(select_partner, on=AT_RISK).meets_current_tier
    assert select_partner.grace_started_on is None


def test_renewing_moves_the_at_risk_date(select_partner):
    run_on(START)
    later = datetime.date(2027, 6, 30)
    person_with(select_partner, FOUNDATIONAL, later)

    run_on(START + datetime.timedelta(days=1))

    select_partner.refresh_from_db()
    assert select_partner.at_risk_from == FIRST_EXPIRY + datetime.timedelta(days=1) + (
        later - FIRST_EXPIRY
    )  # the next foundational person to lapse


@pytest.mark.parametrize(
    ("days_before", "warning"), [(91, None), (90, 90), (89, 90), (31, 90), (30, 30), (1, 30)]
)
def test_a_warning_goes_90_and_30_days_before_the_at_risk_date(select_partner, days_before, warning):
    run_on(AT_RISK - datetime.timedelta(days=days_before))

    warnings = emails(select_partner, "tier-at-risk")
    if warning is None:
        assert warnings == []
    else:
        [message] = warnings
        assert message.dedupe_key.endswith(f":{AT_RISK.isoformat()}:{warning}")
        assert sorted(message.to) == ["ops@acme.example", "pdm@provider.example"]
        assert "1 Oct 2026" in message.subject
        assert "2 people with a foundational certification" in message.body_text


def test_warnings_go_once_each_over_the_days_before(select_partner):
    for days_before in range(95, 0, -1):
        run_on(AT_RISK - datetime.timedelta(days=days_before))

    assert [m.dedupe_key.rsplit(":", 1)[1] for m in emails(select_partner, "tier-at-risk")] == ["90", "30"]


def test_falling_short_starts_a_grace_period_and_tells_the_partner_and_pdm(select_partner):
    run_on(AT_RISK - datetime.timedelta(days=1))
    assert emails(select_partner, "tier-grace") == []

    run = run_on(AT_RISK)

    select_partner.refresh_from_db()
    assert select_partner.tier.slug == "select"  # kept during the grace period
    assert select_partner.grace_started_on == AT_RISK
    assert select_partner.grace_ends_on == AT_RISK + datetime.timedelta(days=90)
    assert select_partner.at_risk_from == AT_RISK
    assert run.changed["grace_started"] == 1
    [message] = emails(select_partner, "tier-grace")
    assert sorted(message.to) == ["ops@acme.example", "pdm@provider.example"]
    assert "needs 1 more person with a foundational certification" in message.body_text
    assert "30 Dec 2026" in message.body_text and "30 Dec 2026" in message.body_html
    assert "Pat Doe, receives this message too" in message.body_text
    # The scorecard (/my/) is the partner's own page; the PDM's link is the partner's admin page.
    admin_path = reverse("admin:partners_partner_change", args=[select_partner.pk])
    assert (
        f"For the Partner Development Manager, Acme Cloud in the admin:\n{settings.PORTAL_URL}{admin_path}"
        in (message.body_text)
    )


def test_the_grace_email_names_the_pdm_as_told_only_when_they_are(select_partner):
    type(select_partner.pdm).objects.filter(pk=select_partner.pdm_id).update(is_active=False)  # left

    run_on(AT_RISK)

    [message] = emails(select_partner, "tier-grace")
    assert message.to == ["ops@acme.example"]
    assert "Pat Doe" not in message.body_text and "Pat Doe" not in message.body_html


def test_a_second_run_changes_nothing_and_sends_nothing(select_partner):
    run_on(AT_RISK)
    again = run_on(AT_RISK)

    assert not any(again.changed.values())
    assert len(emails(select_partner, "tier-grace")) == 1


def test_the_grace_period_length_is_the_tiers(select_partner):
    Tier.objects.filter(pk=select_partner.tier_id).update(grace_period_days=10)

    run_on(AT_RISK)

    select_partner.refresh_from_db()
    assert select_partner.grace_ends_on == AT_RISK + datetime.timedelta(days=10)


def test_at_the_end_of_the_grace_period_a_partner_still_short_is_demoted(select_partner):
    run_on(AT_RISK)
    grace_ends = AT_RISK + datetime.timedelta(days=90)

    run_on(grace_ends - datetime.timedelta(days=1))
    select_partner.refresh_from_db()
    assert select_partner.tier.slug == "select"

    run = run_on(grace_ends)
    select_partner.refresh_from_db()
    assert select_partner.tier.slug == "registered"
    assert select_partner.grace_started_on is None and select_partner.grace_ends_on is None
    assert select_partner.at_risk_from is None  # nothing holds Registered up
    assert run.changed["demoted"] == 1
    change = TierChange.objects.get(partner=select_partner)
    assert change.source == TierChangeSource.SCHEDULED_CHECK
    assert change.changed_by is None
    assert (change.from_tier.slug, change.to_tier.slug) == ("select", "registered")
    assert "Grace period ended on 30 Dec 2026" in change.reason
    assert "needs 1 more person with a foundational certification to stay Select" in change.reason
    [message] = OutboxMessage.objects.filter(dedupe_key=f"tier-demoted:{change.pk}")
    assert "is now Registered" in message.subject

    after = run_on(grace_ends + datetime.timedelta(days=1))
    assert TierChange.objects.filter(partner=select_partner).count() == 1
    assert not any(after.changed.values())


def test_a_partner_is_demoted_to_the_highest_tier_it_still_qualifies_for():
    with on(START):
        partner = PartnerFactory(tier=tier(slug="advanced"))
        give_advanced_evidence(partner)
        # One professional person lapses; the other evidence still meets Select.
        person = partner.staff_members.filter(certifications__level=CertificationLevel.PROFESSIONAL).first()
        person.certifications.update(expires_on=FIRST_EXPIRY)
    run_on(AT_RISK)
    run_on(AT_RISK + datetime.timedelta(days=90))

    partner.refresh_from_db()
    assert partner.tier.slug == "select"


def test_a_partner_demoted_to_a_tier_already_at_risk_is_warned_by_the_run_that_demotes_it():
    grace_ends = AT_RISK + datetime.timedelta(days=90)
    select_lapses = grace_ends + datetime.timedelta(days=30)
    with on(START):
        partner = PartnerFactory(tier=tier(slug="advanced"), pdm=PdmFactory())
        PartnerUserFactory(partner=partner, email="ops@acme.example")
        give_advanced_evidence(partner)
        person = partner.staff_members.filter(certifications__level=CertificationLevel.PROFESSIONAL).first()
        person.certifications.update(expires_on=FIRST_EXPIRY)
        # What holds Select up lapses 30 days after the demotion.
        for member in partner.staff_members.exclude(pk=person.pk):
            member.certifications.update(expires_on=select_lapses)
    run_on(AT_RISK)

    demoting = run_on(grace_ends)
    again = run_on(grace_ends)

    partner.refresh_from_db()
    assert (partner.tier.slug, partner.at_risk_from) == ("select", select_lapses + datetime.timedelta(days=1))
    assert demoting.changed["demoted"] == 1
    [warning] = emails(partner, "tier-at-risk")
    assert "falls below Select on" in warning.subject
    assert demoting.changed.get("at_risk_warning") == 1
    # Run again the same day (a restart's catch-up, beat firing twice): nothing more is done or sent.
    assert not any(again.changed.values())
    assert len(emails(partner, "tier-at-risk")) == 1


def test_a_partner_that_meets_its_tier_again_closes_its_grace_period(select_partner):
    run_on(AT_RISK)
    with on(AT_RISK + datetime.timedelta(days=20)):
        person_with(select_partner, FOUNDATIONAL, FAR, earned_on=AT_RISK + datetime.timedelta(days=19))

    run = run_on(AT_RISK + datetime.timedelta(days=20))

    select_partner.refresh_from_db()
    assert select_partner.grace_started_on is None and select_partner.grace_ends_on is None
    assert select_partner.tier.slug == "select"
    assert run.changed["grace_closed"] == 1
    assert len(emails(select_partner, "tier-grace-closed")) == 1
    run_on(AT_RISK + datetime.timedelta(days=90))
    select_partner.refresh_from_db()
    assert select_partner.tier.slug == "select"  # no demotion once back in compliance


def test_a_partner_qualifying_for_more_is_flagged_for_its_pdm_and_not_promoted(select_partner):
    with on(START):
        give_advanced_evidence(select_partner)

    run = run_on(START)

    select_partner.refresh_from_db()
    assert select_partner.tier.slug == "select"
    assert select_partner.qualifies_for_tier.slug == "advanced"
    assert not TierChange.objects.filter(partner=select_partner).exists()
    assert run.changed["qualifies_for_more"] == 1
    [message] = emails(select_partner, "tier-qualifies")
    assert message.to == ["pdm@provider.example"]
    assert f"/admin/partners/partner/{select_partner.pk}/change/" in message.body_text
    assert not any(run_on(START).changed.values())


def test_program_validations_hold_a_tier_up_too():
    """Premier needs approved programs: the at-risk date follows the program that lapses first."""
    with on(START):
        partner = PartnerFactory(partner_type="technology", tier=tier("technology", "premier"))
        for level, count in ((FOUNDATIONAL, 4), (ASSOCIATE, 4), (CertificationLevel.PROFESSIONAL, 2)):
            for _ in range(count):
                person_with(partner, level, FAR)
        CustomerReferenceFactory.create_batch(10, partner=partner)
        ApprovedEnrollmentFactory(
            partner=partner, program=program("databases"), approved_on=START, expires_on=FIRST_EXPIRY
        )
    run_on(START)

    partner.refresh_from_db()
    assert partner.at_risk_from == AT_RISK
    assert not tier_evaluate(partner, on=AT_RISK).meets_current_tier


def test_every_partner_is_evaluated_whatever_the_chunk_size(select_partner, monkeypatch):
    with on(START):
        others = PartnerFactory.create_batch(4, tier=tier(slug="select"))
    monkeypatch.setattr(tier_health, "PARTNERS_PER_CHUNK", 2)

    run = run_on(START)

    assert f"Evaluated {Partner.objects.count()} partners." in run.summary
    # The four have no evidence at all: each starts its grace period.
    assert Partner.objects.filter(pk__in=[p.pk for p in others], grace_started_on=START).count() == 4


def test_the_number_of_queries_does_not_grow_with_the_partners(select_partner):
    def queries_for_a_quiet_run(day):
        run_on(day)  # settle every state first
        with CaptureQueriesContext(connection) as captured:
            run_on(day + datetime.timedelta(days=1))  # a new day: every partner is evaluated again
        return len(captured.captured_queries)

    few = queries_for_a_quiet_run(START)
    with on(START):
        for _ in range(15):
            partner = PartnerFactory(tier=tier(slug="select"))
            for level in (FOUNDATIONAL, FOUNDATIONAL, ASSOCIATE, ASSOCIATE):
                person_with(partner, level, FAR)
            CustomerReferenceFactory.create_batch(3, partner=partner)
    many = queries_for_a_quiet_run(START + datetime.timedelta(days=2))

    assert many == few


def test_a_rerun_the_same_day_skips_the_evaluation_when_nothing_changed(select_partner):
    run_on(START)
    again = run_on(START)
    assert "no partner re-evaluated" in again.summary
    assert not any(again.changed.values())


@pytest.mark.parametrize("change", ["add", "delete", "save"])
def test_a_rerun_the_same_day_sees_any_change_to_the_evidence(select_partner, change):
    run_on(AT_RISK - datetime.timedelta(days=1))
    with on(AT_RISK - datetime.timedelta(days=1)):
        if change == "add":
            person_with(
                select_partner, FOUNDATIONAL, FIRST_EXPIRY
            )  # a third foundational person, lapsing too
        elif change == "delete":
            select_partner.references.first().delete()  # now short of 3 launched projects
        else:
            tier_row = select_partner.tier
            tier_row.grace_period_days = 30
            tier_row.save()

    again = run_on(AT_RISK - datetime.timedelta(days=1))

    assert "Evaluated" in again.summary
    select_partner.refresh_from_db()
    if change == "delete":
        assert select_partner.grace_started_on == AT_RISK - datetime.timedelta(days=1)


def test_the_at_risk_date_matches_a_day_by_day_evaluation():
    """For random evidence, the computed date is the first day tier_evaluate falls below the tier."""
    rng = random.Random(7)
    with on(START):
        partners = []
        for _ in range(12):
            partner = PartnerFactory(tier=tier(slug=rng.choice(["select", "advanced"])))
            for _ in range(rng.randint(4, 14)):
                member = StaffMemberFactory(partner=partner)
                for _ in range(rng.randint(1, 2)):
                    CertificationFactory(
                        staff_member=member,
                        level=rng.choice(list(CertificationLevel)),
                        earned_on=START - datetime.timedelta(days=rng.randint(1, 900)),
                        expires_on=START + datetime.timedelta(days=rng.randint(0, 500)),
                    )
            CustomerReferenceFactory.create_batch(rng.choice([3, 20]), partner=partner)
            partners.append(partner)
    minimums = hold_minimums(tier_ladders())
    last_days = evidence_last_days(Partner.objects.all(), START)
    checked = 0
    for partner in partners:
        if not tier_evaluate(partner, on=START).meets_current_tier:
            continue
        day, _ = at_risk_from(minimums[partner.tier_id], last_days.get(partner.pk, {}), START)
        assert day is not None
        assert tier_evaluate(partner, on=day - datetime.timedelta(days=1)).meets_current_tier
        assert not tier_evaluate(partner, on=day).meets_current_tier
        checked += 1
    assert checked >= 3


def test_a_pdm_who_moves_a_partner_in_its_grace_period_ends_that_grace_period(select_partner):
    from partners.services import partner_tier_change

    run_on(AT_RISK)  # falls short of Select: a grace period starts
    select_partner.refresh_from_db()
    assert select_partner.grace_started_on == AT_RISK
    with on(AT_RISK + datetime.timedelta(days=5)):
        partner_tier_change(
            partner=select_partner,
            to_tier=tier(slug="registered"),
            reason="Demoted by its PDM after a review.",
            user=select_partner.pdm,
        )
    select_partner.refresh_from_db()
    assert (select_partner.grace_started_on, select_partner.grace_ends_on) == (None, None)

    run_on(AT_RISK + datetime.timedelta(days=6))
    # Nobody is told it "meets its tier again": its grace period ended with the move.
    assert emails(select_partner, "tier-grace-closed") == []


def test_a_requirement_stored_on_the_entry_tier_never_warns_of_a_tier_at_risk():
    """A requirement a PDM put on Registered before the admin refused one: no partner falls below the
    tier every partner holds, so no at-risk date and no daily warning, whatever it lacks."""
    with on(START):
        TierRequirement.objects.create(tier=tier(slug="registered"), metric="foundational_people", minimum=1)
        lacking = PartnerFactory(name="Lacking Ltd")
        PartnerUserFactory(partner=lacking, email="ops@lacking.example")
        meeting = PartnerFactory(name="Meeting Ltd")
        PartnerUserFactory(partner=meeting, email="ops@meeting.example")
        person_with(meeting, FOUNDATIONAL, START + datetime.timedelta(days=10))

    for day in range(3):
        run_on(START + datetime.timedelta(days=day))

    for partner in (lacking, meeting):
        partner.refresh_from_db()
        assert (partner.at_risk_from, partner.grace_started_on) == (None, None)
        assert emails(partner, "tier-at-risk") == []
        assert emails(partner, "tier-grace") == []


# A PDM's tier change committed while the check evaluates the partner's chunk -----------------------------


def pdm_moves_it_after(monkeypatch, read: str, partner, slug: str) -> None:
    """The first time the check has done `read` (a read of its chunk), the partner's PDM moves it to
    `slug`, from another connection, committed before the check goes on."""
    function = getattr(tier_health, read)
    errors = []

    def pdm_moves():
        try:
            from partners.services import partner_tier_change

            partner_tier_change(
                partner=Partner.objects.get(pk=partner.pk),
                to_tier=tier(slug=slug),
                reason="Moved by its PDM after a review.",
                user=partner.pdm,
            )
        except Exception as exc:  # reported by the check's thread, which waits for this one
            errors.append(exc)
        finally:
            connection.close()

    def read_then_pdm_moves(*args, **kwargs):
        value = function(*args, **kwargs)
        monkeypatch.setattr(tier_health, read, function)
        thread = threading.Thread(target=pdm_moves)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive() and not errors, errors
        return value

    monkeypatch.setattr(tier_health, read, read_then_pdm_moves)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("read", ["tier_evaluate_many", "evidence_last_days"])
def test_a_partner_demoted_while_the_check_runs_gets_no_grace_period_of_its_old_tier(
    select_partner, monkeypatch, read
):
    pdm_moves_it_after(monkeypatch, read, select_partner, "registered")

    run = run_on(AT_RISK)  # the day it falls short of Select

    select_partner.refresh_from_db()
    assert select_partner.tier.slug == "registered"
    assert (select_partner.grace_started_on, select_partner.grace_ends_on) == (None, None)
    assert emails(select_partner, "tier-grace") == []
    assert not run.changed.get("grace_started")

    run_on(AT_RISK + datetime.timedelta(days=1))
    # Nor, the next day, is it told it "meets its tier again".
    assert emails(select_partner, "tier-grace-closed") == []


@pytest.mark.django_db(transaction=True)
def test_a_partner_promoted_while_the_check_runs_keeps_no_at_risk_date_of_its_old_tier(
    select_partner, monkeypatch
):
    with on(START):
        give_advanced_evidence(select_partner)
    pdm_moves_it_after(monkeypatch, "evidence_last_days", select_partner, "advanced")

    run_on(START)

    select_partner.refresh_from_db()
    assert select_partner.tier.slug == "advanced"
    # Worked out for Select, which it no longer holds: not stored over what the move worked out for
    # Advanced.
    advanced = tier_health.partner_tier_health(select_partner, START)
    assert (select_partner.at_risk_from, select_partner.qualifies_for_tier_id) == (
        advanced.at_risk_from,
        advanced.qualifies_for_tier_id,
    )
    assert select_partner.at_risk_from != AT_RISK  # Select's
    assert emails(select_partner, "tier-at-risk") == []
    assert emails(select_partner, "tier-qualifies") == []


def test_a_partner_moved_to_the_other_ladder_has_its_at_risk_date_there_at_once(select_partner):
    from partners.services import partner_type_change

    run_on(START)
    select_partner.refresh_from_db()
    assert select_partner.at_risk_from == AT_RISK  # consulting Select needs both foundational people
    with on(START + datetime.timedelta(days=1)):
        partner_type_change(
            user=select_partner.pdm, partner=select_partner, partner_type="technology", reason="Wrong type."
        )

    select_partner.refresh_from_db()
    assert select_partner.tier == tier("technology", "select")
    # Technology Select needs one foundational person: the one certified until FAR holds it up.
    assert select_partner.at_risk_from == FAR + datetime.timedelta(days=1)
    assert select_partner.qualifies_for_tier_id is None
    run = run_on(START + datetime.timedelta(days=2))
    assert not run.changed.get("partners_updated")  # the check works it out the same


def test_a_partner_demoted_by_its_pdm_has_its_new_tiers_figures_at_once(select_partner):
    from partners.services import partner_tier_change

    run_on(START)
    select_partner.refresh_from_db()
    assert select_partner.at_risk_from == AT_RISK  # Select's: both foundational people needed
    with on(START + datetime.timedelta(days=1)):
        partner_tier_change(
            user=select_partner.pdm,
            partner=select_partner,
            to_tier=tier("consulting", "registered"),
            reason="Asked to step down while it reorganises.",
        )

    select_partner.refresh_from_db()
    # Registered asks for nothing that lapses, and the partner qualifies for Select, above it.
    assert select_partner.at_risk_from is None
    assert select_partner.qualifies_for_tier == tier("consulting", "select")
    run = run_on(START + datetime.timedelta(days=2))
    assert not run.changed.get("partners_updated")  # the check works it out the same


@pytest.mark.django_db(transaction=True)
def test_a_partner_moved_while_the_check_runs_is_not_warned_about_its_old_tier(select_partner, monkeypatch):
    run_on(AT_RISK - datetime.timedelta(days=95))  # stores the day it falls short; too early to warn
    assert emails(select_partner, "tier-at-risk") == []
    # Its PDM moves it to Registered after the check read its stored health, which does not change today.
    pdm_moves_it_after(monkeypatch, "evidence_last_days", select_partner, "registered")

    run_on(AT_RISK - datetime.timedelta(days=30))

    select_partner.refresh_from_db()
    assert select_partner.tier.slug == "registered"
    assert emails(select_partner, "tier-at-risk") == []
