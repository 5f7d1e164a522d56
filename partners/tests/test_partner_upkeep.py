"""What follows from a change to a partner or to what it shows: integrators syncing on `updated_since`
see it, its Find-a-Partner entry is rewritten once per edit, and the rules and refusals the admin, the
API and the services share say the same thing."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apn_portal.exceptions import DomainError
from partners.choices import PartnerType
from partners.forms import PartnerAdminForm
from partners.models import ConsultingCategory, Industry, Partner, PartnerSearchEntry, Program, TierChange
from partners.services import profile_change_approve, profile_change_submit
from partners.services_records import partner_create, partner_update
from partners.tests.search_helpers import search
from partners.tests.test_admin import change_form_data
from tests.factories import (
    ContactRequestFactory,
    IndustryFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    UseCaseFactory,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

CONSULTING = PartnerType.CONSULTING
TECHNOLOGY = PartnerType.TECHNOLOGY


@pytest.fixture
def pdm():
    return PdmFactory()


# A tier's name and slug: what its partners show -------------------------------------------------------------


def _changed_since(change) -> dict[str, dict]:
    """The partners the API lists as changed since just before `change()`, slug -> its tier as shown."""
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    Partner.objects.update(updated_at=an_hour_ago)
    change()
    since = (an_hour_ago + datetime.timedelta(minutes=1)).isoformat()
    seen = []
    for extra in ({}, {"ordering": "updated_at"}):  # the search's order and a column's
        body = APIClient().get("/api/v1/partners/", {"updated_since": since, **extra}).json()
        seen.append({row["slug"]: row["tier"] for row in body["results"]})
    assert seen[0] == seen[1]
    return seen[0]


def test_renaming_a_tier_shows_its_partners_as_changed_to_integrators_with_the_new_name():
    PartnerFactory(slug="on-select", tier=tier(CONSULTING, "select"))
    PartnerFactory(slug="on-registered", tier=tier(CONSULTING, "registered"))
    select = tier(CONSULTING, "select")

    def rename():
        select.name = "Select Plus"
        select.save()

    def reslug():
        select.slug = "select-plus"
        select.save(update_fields=["slug", "updated_at"])

    changed = _changed_since(rename)
    assert list(changed) == ["on-select"]
    assert changed["on-select"]["name"] == "Select Plus"
    assert _changed_since(reslug)["on-select"]["slug"] == "select-plus"

    # However many partners hold the tier, or tier changes name it, a rename is the same statements: no
    # partner's own signals (search refresh, history row) follow the one UPDATE of them all.
    def statements_of_renaming_to(name):
        with CaptureQueriesContext(connection) as queries:
            select.name = name
            select.save()
        return queries

    few = statements_of_renaming_to("Select")
    many = PartnerFactory.create_batch(50, tier=select)
    registered = tier(CONSULTING, "registered")
    TierChange.objects.bulk_create(
        TierChange(
            partner=partner, from_tier=registered, to_tier=select, reason="Audit.", changed_at=timezone.now()
        )
        for partner in many
    )
    histories = Partner.history.count()
    renamed = statements_of_renaming_to("Select Plus")
    assert len(renamed) == len(few), [query["sql"] for query in renamed]
    assert _entry_writes(renamed) == 1
    assert Partner.history.count() == histories


def test_renaming_a_tier_shows_the_tier_changes_and_programs_naming_it_as_changed_with_the_new_name(pdm):
    registered, select, advanced = (tier(CONSULTING, slug) for slug in ("registered", "select", "advanced"))
    partner = PartnerFactory(pdm=pdm, tier=advanced)

    def change(from_tier, to_tier):
        return TierChange.objects.create(
            partner=partner, from_tier=from_tier, to_tier=to_tier, reason="Audit.", changed_at=timezone.now()
        )

    joined, to_select, to_advanced = (
        change(None, registered),
        change(registered, select),
        change(select, advanced),
    )
    change(advanced, registered)  # names neither end of the rename
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    TierChange.objects.update(updated_at=an_hour_ago)
    Program.objects.update(updated_at=an_hour_ago)

    select.name = "Select Plus"
    select.save()

    since = (an_hour_ago + datetime.timedelta(minutes=1)).isoformat()
    as_pdm = APIClient()
    as_pdm.force_authenticate(pdm)
    changes = as_pdm.get("/api/v1/tier-changes/", {"updated_since": since, "ordering": "updated_at"}).json()
    assert {row["id"]: (row["from_tier"]["name"], row["to_tier"]["name"]) for row in changes["results"]} == {
        to_select.pk: ("Registered", "Select Plus"),
        to_advanced.pk: ("Select Plus", "Advanced"),
    }
    assert joined.pk not in {row["id"] for row in changes["results"]}
    programs = APIClient().get("/api/v1/programs/", {"updated_since": since, "page_size": 100}).json()
    requiring_select = set(Program.objects.filter(minimum_tier=select).values_list("slug", flat=True))
    assert requiring_select
    assert {row["slug"]: row["minimum_tier"]["name"] for row in programs["results"]} == dict.fromkeys(
        requiring_select, "Select Plus"
    )


def test_an_edit_of_a_tier_its_partners_do_not_show_leaves_them_unchanged():
    PartnerFactory(slug="on-select", tier=tier(CONSULTING, "select"))
    select = tier(CONSULTING, "select")

    def edit_description():
        select.description = "For partners with a proven practice."
        select.grace_period_days = 60
        select.save()

    assert _changed_since(edit_description) == {}


def test_find_a_partner_shows_a_renamed_tier_on_the_cards_and_in_the_filter(client):
    PartnerFactory(name="Acme Cloud", tier=tier(CONSULTING, "select"))
    select = tier(CONSULTING, "select")
    search(client)  # the filter's vocabulary is cached now

    select.name = "Select Plus"
    select.save()

    response = search(client, tier="select")
    assert [row.tier_name for row in response.context["page"].rows] == ["Select Plus"]
    assert "Select Plus" in response.content.decode()


def test_a_tier_moved_on_its_ladder_moves_its_partners_search_entries_with_it():
    partner = PartnerFactory(tier=tier(CONSULTING, "premier"))
    premier = tier(CONSULTING, "premier")

    premier.rank = 9
    premier.save()

    assert PartnerSearchEntry.objects.get(partner=partner).tier_rank == 9


# Which partners may have consulting categories: one rule ----------------------------------------------------


def test_the_admin_form_refuses_categories_of_a_technology_partner_as_the_service_does(pdm):
    category = ConsultingCategory.objects.first()
    form = PartnerAdminForm(
        data={
            "name": "Gadget Soft",
            "slug": "gadget-soft",
            "partner_type": TECHNOLOGY,
            "categories": [category.pk],
        }
    )
    with pytest.raises(DomainError) as refusal:
        partner_create(
            user=pdm, name="Gadget Soft", slug="gadget-soft", partner_type=TECHNOLOGY, categories=[category]
        )

    assert not form.is_valid()
    assert form.errors["categories"] == [refusal.value.message]


def test_the_admin_form_accepts_categories_of_a_consulting_partner(pdm):
    form = PartnerAdminForm(
        data={
            "name": "Acme Cloud",
            "slug": "acme-cloud",
            "partner_type": CONSULTING,
            "categories": [ConsultingCategory.objects.first().pk],
        }
    )

    assert form.is_valid(), form.errors


# The API's actions: bad input is a 400 naming the field --------------------------------------------------


def test_every_partner_action_refuses_a_malformed_field_by_name(pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(CONSULTING, "select"))
    enrollment = ProgramEnrollmentFactory(partner=partner, program=program("databases"))
    lead = ContactRequestFactory(partner=partner)
    as_pdm, as_staff = APIClient(), APIClient()
    as_pdm.force_authenticate(pdm)
    as_staff.force_authenticate(PartnerUserFactory(partner=partner))
    cases = [
        (
            as_pdm,
            f"/api/v1/partners/{partner.slug}/tier-change/",
            {"to_tier": ["x"], "reason": "Audit."},
            "to_tier",
        ),
        (
            as_pdm,
            f"/api/v1/partners/{partner.slug}/tier-change/",
            {"to_tier": tier(CONSULTING, "advanced").pk, "reason": {"a": 1}},
            "reason",
        ),
        (
            as_pdm,
            f"/api/v1/enrollments/{enrollment.pk}/approve/",
            {"approved_on": ["2026-01-01"]},
            "approved_on",
        ),
        (as_pdm, f"/api/v1/enrollments/{enrollment.pk}/revoke/", {"reason": "\x00"}, "reason"),
        (as_staff, f"/api/v1/contact-requests/{lead.reference}/decline/", {"reason": ["Busy."]}, "reason"),
    ]

    for client, url, payload, bad in cases:
        response = client.post(url, payload, format="json")
        assert response.status_code == 400, (url, response.content)
        assert list(response.json()) == [bad], url


# One search refresh per edit ------------------------------------------------------------------------------


def _entry_writes(queries) -> int:
    return sum(
        1
        for query in queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))
        and "partners_partnersearchentry" in query["sql"]
    )


def test_an_edit_of_a_partner_and_its_tags_rewrites_its_search_entry_once(client, pdm):
    partner = PartnerFactory(pdm=pdm, name="Acme Cloud")
    partner.industries.set([IndustryFactory(name="Retail")])
    energy, streaming = IndustryFactory(name="Energy"), UseCaseFactory(name="Streaming")

    with CaptureQueriesContext(connection) as queries:
        partner_update(
            partner=partner, user=pdm, name="Acme Power", industries=[energy], use_cases=[streaming]
        )

    assert _entry_writes(queries) == 1
    entry = PartnerSearchEntry.objects.get(partner=partner)
    assert (entry.name, entry.industry_ids, entry.use_case_ids) == ("Acme Power", [energy.pk], [streaming.pk])
    found = search(client, q="energy streaming")
    assert [row.name for row in found.context["page"].rows] == ["Acme Power"]


def test_approving_a_profile_proposal_rewrites_the_search_entry_once(client, pdm):
    partner = PartnerFactory(pdm=pdm, name="Acme Cloud", description="We migrate workloads.")
    energy, streaming = IndustryFactory(name="Energy"), UseCaseFactory(name="Streaming")
    change, _ = profile_change_submit(
        partner=partner,
        user=PartnerUserFactory(partner=partner),
        description="We run power grids' data platforms.",
        website=partner.website,
        industries=[energy],
        use_cases=[streaming],
    )

    with CaptureQueriesContext(connection) as queries:
        profile_change_approve(change=change, user=pdm)

    assert _entry_writes(queries) == 1
    entry = PartnerSearchEntry.objects.get(partner=partner)
    assert (entry.industry_ids, entry.use_case_ids) == ([energy.pk], [streaming.pk])
    assert [row.name for row in search(client, q="grids").context["page"].rows] == ["Acme Cloud"]


def test_an_admin_edit_of_a_partner_and_its_tags_rewrites_its_search_entry_once(client, pdm):
    partner = PartnerFactory(pdm=pdm, name="Acme Cloud")
    partner.industries.set([IndustryFactory(name="Retail")])
    energy, streaming = IndustryFactory(name="Energy"), UseCaseFactory(name="Streaming")
    client.force_login(pdm)
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    data = change_form_data(client, url)
    data |= {"name": "Acme Power", "industries": [str(energy.pk)], "use_cases": [str(streaming.pk)]}

    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data)

    assert response.status_code == 302
    assert _entry_writes(queries) == 1
    entry = PartnerSearchEntry.objects.get(partner=partner)
    assert (entry.name, entry.industry_ids, entry.use_case_ids) == ("Acme Power", [energy.pk], [streaming.pk])


# One UPDATE of the partner per edit -------------------------------------------------------------------------


def _partner_updates(queries) -> int:
    return sum(
        1
        for query in queries
        if query["sql"].lstrip().upper().startswith("UPDATE")
        and query["sql"].split()[1].strip('"') == "partners_partner"
    )


def _partner_with_tags(pdm):
    partner = PartnerFactory(pdm=pdm, slug="acme")
    partner.industries.set([IndustryFactory(slug="retail"), IndustryFactory(slug="banking")])
    partner.use_cases.set([UseCaseFactory(slug="backup")])
    IndustryFactory(slug="energy")
    IndustryFactory(slug="media")
    UseCaseFactory(slug="streaming")
    return partner


def _an_hour_ago_then_since() -> str:
    """Makes every partner last changed an hour ago; returns an `updated_since` just after that."""
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    Partner.objects.update(updated_at=an_hour_ago)
    return (an_hour_ago + datetime.timedelta(minutes=1)).isoformat()


def _changed_slugs(since: str) -> list[str]:
    body = APIClient().get("/api/v1/partners/", {"updated_since": since}).json()
    return [row["slug"] for row in body["results"]]


def test_an_api_edit_of_several_tags_updates_the_partner_once_and_integrators_see_it(pdm):
    partner = _partner_with_tags(pdm)
    since = _an_hour_ago_then_since()
    api = APIClient()
    api.force_authenticate(pdm)

    with CaptureQueriesContext(connection) as queries:
        response = api.patch(
            "/api/v1/partners/acme/",
            {"industries": ["energy", "media"], "use_cases": ["streaming"]},
            format="json",
        )

    assert response.status_code == 200, response.content
    assert _partner_updates(queries) == 1
    assert sorted(partner.industries.values_list("slug", flat=True)) == ["energy", "media"]
    assert _changed_slugs(since) == ["acme"]


def test_an_admin_edit_of_several_tags_updates_the_partner_once_and_integrators_see_it(client, pdm):
    partner = _partner_with_tags(pdm)
    client.force_login(pdm)
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    data = change_form_data(client, url)
    energy, media = Industry.objects.get(slug="energy"), Industry.objects.get(slug="media")
    data |= {"industries": [str(energy.pk), str(media.pk)], "use_cases": []}
    since = _an_hour_ago_then_since()

    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data)

    assert response.status_code == 302
    assert _partner_updates(queries) == 1
    assert (sorted(partner.industries.values_list("slug", flat=True)), partner.use_cases.count()) == (
        ["energy", "media"],
        0,
    )
    assert _changed_slugs(since) == ["acme"]


def test_a_tag_change_outside_an_edit_still_shows_the_partner_as_changed(pdm):
    partner = _partner_with_tags(pdm)
    since = _an_hour_ago_then_since()

    Industry.objects.get(slug="energy").partners.add(partner)

    assert _changed_slugs(since) == ["acme"]
