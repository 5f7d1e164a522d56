"""An enrollment's `revocation_due_on` follows the partner's tier, the program's minimum tier and that
tier's grace period: whatever changes one of them moves the `updated_at` of the approved enrollments
whose day it sets, moves or clears, so an integrator syncing on `updated_since` receives the new day
(docs/api.md, "Syncing with updated_since"), and leaves the other enrollments as they were."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from partners.choices import PartnerType
from partners.models import Partner, Program, Tier
from partners.services import partner_tier_change
from partners.tests.test_admin import change_form_data
from tests.api.conftest import api_client
from tests.checks import check_run_on, on
from tests.factories import (
    ApprovedEnrollmentFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    SuperUserFactory,
    give_select_evidence,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

START = datetime.date(2026, 3, 2)
DAY = datetime.date(2026, 3, 10)  # the change, at 02:00 UTC (tests.checks.on)
LAST_SYNC = datetime.datetime(2026, 3, 10, 1, 0, tzinfo=datetime.UTC)
EXPIRES = datetime.date(2029, 3, 1)


def enrolled(slug: str, tier_slug: str, program_slug: str = "migration", **partner_fields):
    """A partner of `tier_slug` with an integrator of its own, approved in `program_slug` since START."""
    with on(START):
        partner = PartnerFactory(slug=slug, tier=tier(slug=tier_slug), pdm=PdmFactory(), **partner_fields)
        PartnerUserFactory(partner=partner, username=f"{slug}-integrator")
        enrollment = ApprovedEnrollmentFactory(
            partner=partner, program=program(program_slug), approved_on=START, expires_on=EXPIRES
        )
    return partner, enrollment


def synced(partner) -> dict[int, str | None]:
    """{id: revocation_due_on} of the partner's enrollments a sync since LAST_SYNC receives, the same for
    the partner's integrator and for the provider's staff (its PDM)."""
    seen = []
    for user in (partner.users.get(), partner.pdm):
        with on(DAY):
            response = api_client(user).get(
                "/api/v1/enrollments/",
                {"partner": partner.slug, "updated_since": LAST_SYNC.isoformat(), "page_size": 100},
            )
        assert response.status_code == 200, response.content
        seen.append({row["id"]: row["revocation_due_on"] for row in response.json()["results"]})
    assert seen[0] == seen[1]
    return seen[0]


def post_tier_change(partner, tier_slug: str) -> None:
    with on(DAY):
        response = api_client(partner.pdm).post(
            f"/api/v1/partners/{partner.slug}/tier-change/",
            {"to_tier": tier(partner.partner_type, tier_slug).pk, "reason": "Audit."},
            format="json",
        )
    assert response.status_code == 201, response.content


def grace(tier_slug: str = "select") -> datetime.timedelta:
    return datetime.timedelta(days=tier(slug=tier_slug).grace_period_days)


# A partner's tier ---------------------------------------------------------------------------------------


def test_a_demotion_below_the_minimum_reaches_a_sync_with_the_day_it_sets():
    partner, enrollment = enrolled("zephyr", "select")
    bystander, _ = enrolled("yak", "registered")  # short already, and untouched

    post_tier_change(partner, "registered")

    assert synced(partner) == {enrollment.pk: (DAY + grace()).isoformat()}
    assert synced(bystander) == {}


def test_a_promotion_back_to_the_minimum_reaches_a_sync_with_no_day():
    partner, enrollment = enrolled("zephyr", "registered")
    with on(START):
        assert (
            api_client(partner.pdm).get(f"/api/v1/enrollments/{enrollment.pk}/").json()["revocation_due_on"]
        )

    post_tier_change(partner, "select")

    assert synced(partner) == {enrollment.pk: None}


def test_a_move_between_tiers_above_every_minimum_touches_no_enrollment():
    # The Managed Service Provider program asks for Advanced, Migration for Select.
    partner, _ = enrolled("zephyr", "advanced", "managed-service-provider")
    with on(START):
        ApprovedEnrollmentFactory(partner=partner, program=program("migration"), expires_on=EXPIRES)

    post_tier_change(partner, "premier")

    assert synced(partner) == {}


def test_a_recomputation_that_demotes_reaches_a_sync():
    partner, enrollment = enrolled("zephyr", "select")  # with none of Select's evidence

    with on(DAY):
        response = api_client(partner.pdm).post(f"/api/v1/partners/{partner.slug}/recompute-tier/")
    assert response.status_code == 200, response.content

    assert synced(partner) == {enrollment.pk: (DAY + grace()).isoformat()}


def test_the_nightly_demotion_at_the_end_of_a_grace_period_reaches_a_sync():
    partner, enrollment = enrolled("zephyr", "select")  # with none of Select's evidence
    Partner.objects.filter(pk=partner.pk).update(grace_started_on=DAY - grace(), grace_ends_on=DAY)

    check_run_on("tier_health", DAY)

    partner.refresh_from_db()
    assert partner.tier == tier(slug="registered")
    assert synced(partner) == {enrollment.pk: (DAY + grace()).isoformat()}


def test_a_nightly_demotion_costs_the_same_statements_for_1_and_3_enrollments_and_partners():
    def run(slugs, programs) -> int:
        for slug in slugs:
            partner, _ = enrolled(slug, "select")
            for program_slug in programs:
                with on(START):
                    ApprovedEnrollmentFactory(
                        partner=partner, program=program(program_slug), expires_on=EXPIRES
                    )
            Partner.objects.filter(pk=partner.pk).update(grace_started_on=DAY - grace(), grace_ends_on=DAY)
        with CaptureQueriesContext(connection) as queries:
            check_run_on("tier_health", DAY)
        return len(queries)

    run(["warm"], [])  # what a first run caches
    few = run(["one"], [])
    many = run(["two", "three", "four"], ["security", "devops"])
    assert few == many
    assert synced(Partner.objects.get(slug="four")).keys() == set(
        Partner.objects.get(slug="four").enrollments.values_list("pk", flat=True)
    )


def test_a_type_correction_that_lifts_the_partner_to_the_minimum_reaches_a_sync():
    partner, enrollment = enrolled("zephyr", "registered")
    with on(START):
        give_select_evidence(partner)

    with on(DAY):
        response = api_client(partner.pdm).post(
            f"/api/v1/partners/{partner.slug}/type-change/",
            {"partner_type": PartnerType.TECHNOLOGY, "reason": "They sell a product."},
            format="json",
        )
    assert response.status_code == 200, response.content

    partner.refresh_from_db()
    assert partner.tier == tier(PartnerType.TECHNOLOGY, "select")
    assert synced(partner) == {enrollment.pk: None}


# A program's minimum tier -------------------------------------------------------------------------------


def save_program_in_admin(program_slug: str, minimum_tier: Tier | None) -> None:
    client = Client()
    client.force_login(SuperUserFactory())
    url = reverse("admin:partners_program_change", args=[program(program_slug).pk])
    with on(DAY):
        data = change_form_data(client, url)
        data["minimum_tier"] = str(minimum_tier.pk) if minimum_tier else ""
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_raising_a_programs_minimum_in_the_admin_reaches_a_sync_with_the_day_it_sets():
    Program.objects.filter(slug="migration").update(minimum_tier=None)
    partner, enrollment = enrolled("zephyr", "registered")
    elsewhere, _ = enrolled("yak", "registered", "security")  # short of another program's minimum

    save_program_in_admin("migration", tier(slug="select"))

    assert synced(partner) == {enrollment.pk: (DAY + grace()).isoformat()}
    assert synced(elsewhere) == {}


def test_lowering_a_programs_minimum_in_the_admin_reaches_a_sync_with_no_day():
    partner, enrollment = enrolled("zephyr", "registered")
    above, _ = enrolled("yak", "select")  # neither minimum leaves it short

    save_program_in_admin("migration", None)

    assert synced(partner) == {enrollment.pk: None}
    assert synced(above) == {}


# A tier's grace period and rank -------------------------------------------------------------------------


def save_tier_in_admin(a_tier: Tier, **changes) -> None:
    client = Client()
    client.force_login(SuperUserFactory())
    url = reverse("admin:partners_tier_change", args=[a_tier.pk])
    with on(DAY):
        data = change_form_data(client, url)
        data.update({name: str(value) for name, value in changes.items()})
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_a_new_grace_period_of_the_minimum_tier_reaches_a_sync_with_the_day_it_moves_to():
    partner, enrollment = enrolled("zephyr", "select")
    above, _ = enrolled("yak", "select")
    with on(START):
        partner_tier_change(
            partner=partner, to_tier=tier(slug="registered"), reason="Gaps.", user=partner.pdm
        )

    save_tier_in_admin(tier(slug="select"), grace_period_days=30)

    assert synced(partner) == {enrollment.pk: (START + datetime.timedelta(days=30)).isoformat()}
    assert synced(above) == {}


def test_a_new_rank_that_puts_the_minimum_above_a_partners_tier_reaches_a_sync():
    partner, enrollment = enrolled("zephyr", "advanced")

    save_tier_in_admin(tier(slug="select"), rank=7)  # now above Advanced and Premier

    # At or above the minimum until the edit left it short, it counts from the edit's day, not from when
    # it joined.
    assert synced(partner) == {enrollment.pk: (DAY + grace()).isoformat()}
