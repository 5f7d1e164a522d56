"""Deleting a tag (an industry, a use case, a consulting category) takes it off its partners: Find-a-Partner
stops finding and counting them by it, and integrators syncing on `updated_since` see the partners as
changed, at the same cost however many partners had it."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from partners.models import ConsultingCategory, Industry, Partner, PartnerSearchEntry, UseCase
from partners.services_records import partner_update
from partners.tests.search_helpers import facet, names, search
from partners.tests.test_admin import change_form_data
from tests.admin_history import edit_in_admin, history_page
from tests.factories import IndustryFactory, PartnerFactory, PdmFactory, SuperUserFactory, UseCaseFactory

pytestmark = pytest.mark.django_db


def _industry(name):
    return IndustryFactory(name=name, slug=name.lower())


def _use_case(name):
    return UseCaseFactory(name=name, slug=name.lower())


def _category(name):
    return ConsultingCategory.objects.create(name=name, slug=name.lower())


# tag model -> (how a test makes one, the partner's tag list)
TAGS = {
    Industry: (_industry, "industries"),
    UseCase: (_use_case, "use_cases"),
    ConsultingCategory: (_category, "categories"),
}


def _tagged(model, name, count, **partner_fields):
    make, relation = TAGS[model]
    tag = make(name)
    partners = PartnerFactory.create_batch(count, description="", **partner_fields)
    for partner in partners:
        getattr(partner, relation).add(tag)
    return tag, partners


def _an_hour_ago_then_since() -> str:
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    Partner.objects.update(updated_at=an_hour_ago)
    return (an_hour_ago + datetime.timedelta(minutes=1)).isoformat()


def _changed_slugs(since: str) -> list[str]:
    body = APIClient().get("/api/v1/partners/", {"updated_since": since}).json()
    return sorted(row["slug"] for row in body["results"])


def _admin_delete(client, tag):
    url = reverse(f"admin:partners_{tag._meta.model_name}_delete", args=[tag.pk])
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302, response.content[:500]
    assert not type(tag).objects.filter(pk=tag.pk).exists()


@pytest.mark.parametrize("model", [Industry, UseCase, ConsultingCategory], ids=lambda m: m.__name__)
def test_a_pdm_deleting_a_tag_takes_it_off_find_a_partner_and_shows_its_partners_as_changed(client, model):
    tag, partners = _tagged(model, "Geothermal", 3)
    bystander = PartnerFactory(description="")
    assert sorted(names(search(client, q="geothermal"))) == sorted(p.name for p in partners)
    since = _an_hour_ago_then_since()
    client.force_login(PdmFactory())

    _admin_delete(client, tag)

    assert names(search(client, q="geothermal")) == []
    entries = PartnerSearchEntry.objects.filter(partner__in=partners)
    for entry in entries:
        assert tag.pk not in entry.industry_ids + entry.use_case_ids
        assert not any(key.endswith(f":{tag.pk}") and not key.startswith("tier:") for key in entry.facet_keys)
    assert _changed_slugs(since) == sorted(p.slug for p in partners)
    assert bystander.slug not in _changed_slugs(since)


def test_a_deleted_industry_is_no_longer_counted_in_the_facets(client):
    energy, _ = _tagged(Industry, "Energy", 2)
    _tagged(Industry, "Retail", 1)
    assert facet(search(client), "industry") == {"energy": 2, "retail": 1}
    # Another partner still filed under the deleted id would be counted by whoever reads the entries
    # (the API's facets, the cached counts): nothing may keep it.
    deleted_id = energy.pk
    client.force_login(SuperUserFactory())

    _admin_delete(client, energy)

    assert facet(search(client), "industry") == {"retail": 1}
    assert not PartnerSearchEntry.objects.filter(industry_ids__contains=[deleted_id]).exists()
    assert not PartnerSearchEntry.objects.filter(facet_keys__contains=[f"industry:{deleted_id}"]).exists()


def test_deleting_a_tag_costs_the_same_statements_however_many_partners_have_it(client):
    client.force_login(PdmFactory())
    few, _ = _tagged(Industry, "Energy", 2)
    many, _ = _tagged(Industry, "Retail", 40)

    def statements_of_deleting(tag):
        with CaptureQueriesContext(connection) as queries:
            _admin_delete(client, tag)
        return [query["sql"] for query in queries]

    # A first deletion also fills what a process reads once (content types, the PDM's session): not per tag.
    _admin_delete(client, _tagged(Industry, "Media", 1)[0])
    for_few = statements_of_deleting(few)
    for_many = statements_of_deleting(many)

    assert len(for_many) == len(for_few), for_many
    assert not PartnerSearchEntry.objects.filter(industry_ids__len__gt=0).exists()


def test_deleting_several_tags_at_once_takes_them_all_off_their_partners(client):
    energy, on_energy = _tagged(Industry, "Energy", 2)
    retail, on_retail = _tagged(Industry, "Retail", 2)
    kept, on_kept = _tagged(Industry, "Media", 1)
    since = _an_hour_ago_then_since()
    client.force_login(PdmFactory())

    response = client.post(
        reverse("admin:partners_industry_changelist"),
        {"action": "delete_selected", "_selected_action": [energy.pk, retail.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert list(Industry.objects.values_list("slug", flat=True)) == ["media"]
    assert facet(search(client), "industry") == {"media": 1}
    assert names(search(client, q="energy")) == names(search(client, q="retail")) == []
    assert _changed_slugs(since) == sorted(p.slug for p in on_energy + on_retail)
    assert PartnerSearchEntry.objects.get(partner=on_kept[0]).industry_ids == [kept.pk]


def test_deleting_an_unused_tag_changes_no_partner(client):
    _tagged(Industry, "Energy", 1)
    unused = _industry("Retail")
    since = _an_hour_ago_then_since()
    client.force_login(PdmFactory())

    _admin_delete(client, unused)

    assert _changed_slugs(since) == []
    assert facet(search(client), "industry") == {"energy": 1}


@pytest.mark.parametrize(
    ("model", "deleted"),
    [
        (Industry, "Industry Geothermal deleted"),
        (UseCase, "Use case Geothermal deleted"),
        (ConsultingCategory, "Consulting category Geothermal deleted"),
    ],
    ids=["Industry", "UseCase", "ConsultingCategory"],
)
def test_deleting_a_tag_is_in_its_partners_history_as_the_deleters_change(client, model, deleted):
    tag, (partner,) = _tagged(model, "Geothermal", 1)
    kept = _industry("Retail")
    partner.industries.add(kept)
    bystander = PartnerFactory(description="")
    untouched = bystander.history.count()
    root = SuperUserFactory(first_name="Rita", last_name="Root")
    client.force_login(root)

    _admin_delete(client, tag)

    version = partner.history.order_by("-history_date", "-history_id").first()
    assert (version.history_user, version.history_change_reason) == (root, deleted)
    # The version keeps the partner's tags but the deleted one.
    assert [row.industry_id for row in version.industries.all()] == [kept.pk]
    assert not version.use_cases.exists() and not version.categories.exists()
    assert bystander.history.count() == untouched


def test_the_next_editor_of_a_partner_is_not_shown_as_taking_a_deleted_industry_off(client):
    pdm = PdmFactory(first_name="Petra", last_name="Manager")
    healthcare, retail = _industry("Healthcare"), _industry("Retail")
    partner = PartnerFactory(pdm=pdm)
    partner_update(partner=partner, user=pdm, industries=[healthcare, retail])
    root = SuperUserFactory(first_name="Rita", last_name="Root")
    client.force_login(root)
    _admin_delete(client, healthcare)

    # Later the partner's PDM changes its description, and nothing else.
    client.force_login(pdm)
    edit_in_admin(client, partner, change_form_data, description="A new description")

    newest, deletion = history_page(client, partner).context["page_obj"][:2]
    assert newest.history_user == pdm
    assert [change["field"] for change in newest.history_delta_changes] == ["Description"]
    assert deletion.history_user == root
    # The industry is gone: the page can only say that the partner had a deleted one.
    assert [(c["field"], str(c["new"])) for c in deletion.history_delta_changes] == [
        ("Industries", "[Retail]")
    ]
