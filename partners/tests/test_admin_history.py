"""The admin's history of a partner's record shows who changed what, for every part of it a PDM edits: the
partner's tag lists (categories, industries, use cases), its offices and people, the programs and the tag
lists themselves; and a history page costs the same statements however many versions it shows."""

import importlib
import itertools

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from simple_history.template_utils import HistoricalRecordContextHelper

from partners.choices import PartnerType
from partners.models import ConsultingCategory, Partner, StaffMember, TierRequirement
from partners.services import TierMove, certifications_import_csv, partner_tier_change_many
from partners.services_records import partner_update
from tests.admin_history import changes_shown, edit_in_admin, history_page
from tests.factories import (
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    PdmFactory,
    ProgramFactory,
    StaffMemberFactory,
    SuperUserFactory,
    UseCaseFactory,
    tier,
)

from .test_admin import change_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def pdm(client):
    user = PdmFactory(first_name="Petra", last_name="Manager")
    client.force_login(user)
    return user


def test_removing_an_industry_in_the_admin_shows_in_the_partners_history_with_who(client, pdm):
    healthcare = IndustryFactory(name="Healthcare", slug="healthcare")
    retail = IndustryFactory(name="Retail", slug="retail")
    partner = PartnerFactory(pdm=pdm)
    partner.industries.set([healthcare, retail])

    edit_in_admin(client, partner, change_form_data, industries=[str(retail.pk)])

    response = history_page(client, partner)
    # The newest change of the list is the PDM's (the one before it set the list up, outside a request).
    who, _, old, new = next(change for change in changes_shown(response) if change[1] == "Industries")
    assert who == pdm
    assert "Healthcare" in old and "Retail" in old
    assert "Healthcare" not in new and "Retail" in new
    page = response.content.decode()
    assert "Healthcare" in page and "Petra Manager" in page


def test_a_staff_members_email_changed_in_the_admin_shows_in_its_history_with_who(client, pdm):
    member = StaffMemberFactory(partner=PartnerFactory(pdm=pdm), email="old@partner.example.com")

    edit_in_admin(client, member, change_form_data, email="new@partner.example.com")

    response = history_page(client, member)
    assert ("Email", "old@partner.example.com", "new@partner.example.com") in [
        change[1:] for change in changes_shown(response) if change[0] == pdm
    ]
    page = response.content.decode()
    assert "old@partner.example.com" in page and "Petra Manager" in page


def test_an_offices_address_changed_in_the_admin_shows_in_its_history_with_who(client, pdm):
    office = OfficeFactory(partner=PartnerFactory(pdm=pdm), country="GB", city="London")

    edit_in_admin(client, office, change_form_data, city="Manchester")

    response = history_page(client, office)
    assert (pdm, "City", "London", "Manchester") in changes_shown(response)
    assert "Petra Manager" in response.content.decode()


def test_a_programs_rules_changed_in_the_admin_show_in_its_history_with_who(client, pdm):
    program = ProgramFactory(validity_months=12, minimum_tier=None)
    select = tier(PartnerType.CONSULTING, "select")

    edit_in_admin(client, program, change_form_data, validity_months="24", minimum_tier=str(select.pk))

    shown = changes_shown(history_page(client, program))
    assert (pdm, "Validity months", "12", "24") in shown
    assert (pdm, "Minimum tier", str(select)) in [(who, field, new) for who, field, _, new in shown]


def test_renaming_an_industry_shows_in_its_history_with_who(client, pdm):
    industry = IndustryFactory(name="Health", slug="health")

    edit_in_admin(client, industry, change_form_data, name="Healthcare")

    assert (pdm, "Name", "Health", "Healthcare") in changes_shown(history_page(client, industry))


def test_a_tag_change_through_the_api_services_is_recorded_with_who(pdm):
    healthcare = IndustryFactory(name="Healthcare", slug="healthcare")
    partner = PartnerFactory(pdm=pdm)

    partner_update(partner=partner, user=pdm, industries=[healthcare])

    latest = partner.history.latest("history_date")
    assert latest.history_user == pdm
    assert [row.industry for row in latest.industries.all()] == [healthcare]


def test_a_scheduled_tier_change_does_not_show_the_tags_as_changed(client, pdm):
    partner = PartnerFactory(pdm=pdm, tier=tier(PartnerType.CONSULTING, "select"))
    partner.industries.set([IndustryFactory(name="Healthcare", slug="healthcare")])
    partner.use_cases.set([UseCaseFactory()])

    partner_tier_change_many(
        moves=[
            TierMove(partner=partner, to_tier=tier(PartnerType.CONSULTING, "registered"), reason="Short.")
        ],
        source="scheduled_check",
    )

    shown = changes_shown(history_page(client, partner))
    # Each tag list changed once, when it was set; the tier change changed the tier alone.
    assert [field for _, field, _, _ in shown] == ["Tier", "Use cases", "Industries"]


def _partner_with_versions(n: int) -> Partner:
    """A partner with `n` more versions, alternately renamed and given or losing an industry and a use
    case."""
    partner = PartnerFactory()
    industry, use_case = IndustryFactory(), UseCaseFactory()
    for i in range(n):
        if i % 2:
            partner.name = f"{partner.slug} v{i}"
            partner.save()
        elif i % 4:
            partner.industries.remove(industry)
            partner.use_cases.remove(use_case)
        else:
            partner.industries.add(industry)
            partner.use_cases.add(use_case)
    return partner


def test_a_partners_history_costs_the_same_however_many_tag_changes_it_shows(client):
    client.force_login(SuperUserFactory())
    few, many = _partner_with_versions(3), _partner_with_versions(30)

    def history(partner):
        url = reverse("admin:partners_partner_history", args=[partner.pk])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries), response

    history(few)  # the session's first request reads more
    few_queries, _ = history(few)
    many_queries, response = history(many)

    assert many_queries == few_queries
    records = list(response.context["page_obj"])
    for newer, older in itertools.pairwise(records):
        expected = HistoricalRecordContextHelper(Partner, newer).context_for_delta_changes(
            newer.diff_against(older, foreign_keys_are_objs=True)
        )
        assert newer.history_delta_changes == expected
    shown = [change["field"] for record in records[:-1] for change in record.history_delta_changes]
    assert shown.count("Industries") == 15 and shown.count("Use cases") == 15


def test_people_a_certification_import_adds_or_emails_show_in_their_history_with_who(pdm):
    acme = PartnerFactory(slug="acme", pdm=pdm)
    bruno = StaffMemberFactory(partner=acme, full_name="Bruno Costa", email="")
    header = "partner,staff_name,staff_email,name,level,credential_id,earned_on,expires_on"

    result = certifications_import_csv(
        data="\n".join(
            [
                header,
                "acme,Ana Lima,ana@acme.example,Cloud Practitioner,foundational,,2024-05-10,",
                "acme,Bruno Costa,bruno@acme.example,Cloud Practitioner,foundational,,2024-05-10,",
            ]
        ),
        user=pdm,
    )

    assert result.ok, result.errors
    ana = StaffMember.objects.get(partner=acme, full_name="Ana Lima")
    assert [(v.history_type, v.history_user) for v in ana.history.all()] == [("+", pdm)]
    latest = bruno.history.latest("history_date")
    assert (latest.email, latest.history_user) == ("bruno@acme.example", pdm)


def test_a_programs_first_minimum_tier_shows_as_set_from_empty_not_from_a_deleted_tier(client, pdm):
    program = ProgramFactory(minimum_tier=None)
    select = tier(PartnerType.CONSULTING, "select")

    edit_in_admin(client, program, change_form_data, minimum_tier=str(select.pk))

    response = history_page(client, program)
    assert (pdm, "Minimum tier", "None", str(select)) in changes_shown(response)
    assert "Deleted" not in response.content.decode()


def test_a_partners_pdm_cleared_shows_as_changed_from_the_pdm_to_empty(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    superuser = SuperUserFactory()
    client.force_login(superuser)

    edit_in_admin(client, partner, change_form_data, pdm="")

    response = history_page(client, partner)
    assert (superuser, "PDM", str(pdm), "None") in changes_shown(response)
    assert "Deleted" not in response.content.decode()


def test_a_pdm_since_deleted_still_shows_as_a_deleted_user_in_the_partners_history(client, pdm):
    former = PdmFactory(first_name="Fiona", last_name="Former")
    partner = PartnerFactory(pdm=former)
    partner.pdm = pdm
    partner.save()
    former_pk = former.pk
    former.delete()

    shown = changes_shown(history_page(client, partner))
    assert ("PDM", f"Deleted user (pk={former_pk})", str(pdm)) in [change[1:] for change in shown]


def _versions_recorded_before_partners_0020():
    """What a database upgraded by partners 0020 holds: every version written before it has no tag rows."""
    history = Partner.history.model
    for tags in history._history_m2m_fields:
        getattr(history, tags.name).model.objects.all().delete()


def _tag_upgrade_migration():
    return importlib.import_module("partners.migrations.0021_history_records_current_tags")


def test_a_pdms_first_edit_after_the_upgrade_does_not_show_as_adding_every_tag(client, pdm):
    """Partners 0021 records each partner's tags on its latest version, so the first edit after the
    upgrade shows what the PDM changed, not every tag added by them."""
    healthcare = IndustryFactory(name="Healthcare", slug="healthcare")
    cloud = UseCaseFactory()
    partner = PartnerFactory(pdm=pdm, name="Old name")
    partner.industries.set([healthcare])
    partner.use_cases.set([cloud])
    partner.name = "Renamed"
    partner.save()
    _versions_recorded_before_partners_0020()

    _tag_upgrade_migration().record_current_tags(apps, connection.schema_editor())
    partner_update(partner=partner, user=pdm, description="Now with a longer description.")

    shown = changes_shown(history_page(client, partner))
    assert [field for who, field, _, _ in shown if who == pdm] == ["Description"]
    edited, upgraded, *older = partner.history.all()
    assert [row.industry for row in upgraded.industries.all()] == [healthcare]
    assert [row.industry for row in edited.industries.all()] == [healthcare]
    # Only the latest version of before the upgrade is given the tags: what older ones held is unknown.
    assert older and not any(version.industries.exists() for version in older)


def test_the_tag_upgrade_migration_run_twice_records_each_tag_once(pdm):
    partner = PartnerFactory(pdm=pdm)
    partner.industries.set([IndustryFactory(), IndustryFactory()])
    partner.categories.set(ConsultingCategory.objects.order_by("name")[:1])
    untagged = PartnerFactory()
    _versions_recorded_before_partners_0020()
    migration = _tag_upgrade_migration()

    migration.record_current_tags(apps, connection.schema_editor())
    migration.record_current_tags(apps, connection.schema_editor())

    latest = partner.history.first()
    assert sorted(row.industry_id for row in latest.industries.all()) == sorted(
        partner.industries.values_list("pk", flat=True)
    )
    assert latest.categories.count() == 1
    assert not latest.use_cases.exists()
    assert not untagged.history.first().industries.exists()


# The network's default reference data is seeded in bulk: each row still has a first version, so the first
# edit of a default shows what it was and what it became.


def _superuser_client(client):
    client.force_login(SuperUserFactory())
    return client


def test_the_first_edit_of_a_default_tier_requirement_shows_its_old_and_new_minimum(client):
    requirement = tier(PartnerType.TECHNOLOGY, "select").requirements.get(metric="launched_projects")
    client = _superuser_client(client)

    edit_in_admin(client, requirement, change_form_data, minimum="2")

    shown = changes_shown(history_page(client, requirement))
    assert ("Minimum", "1", "2") in [change[1:] for change in shown]


def test_the_first_rename_of_a_default_consulting_category_shows_its_old_name(client):
    agency = ConsultingCategory.objects.get(slug="agency")
    client = _superuser_client(client)

    edit_in_admin(client, agency, change_form_data, name="Creative agency")

    assert ("Name", "Agency", "Creative agency") in [
        change[1:] for change in changes_shown(history_page(client, agency))
    ]


def test_defaults_seeded_before_the_upgrade_are_given_their_first_version(client):
    """Partners 0032 gives the default rows a database seeded earlier has (no version at all) their first
    one, as they are, once: a row a PDM has edited since keeps the versions it has."""
    requirement = tier(PartnerType.TECHNOLOGY, "select").requirements.get(metric="launched_projects")
    edited = ConsultingCategory.objects.get(slug="agency")
    edited.name = "Creative agency"
    edited.save()
    TierRequirement.history.filter(id=requirement.pk).delete()
    ConsultingCategory.history.filter(id=edited.pk).exclude(history_type="~").delete()
    migration = importlib.import_module("partners.migrations.0032_default_reference_data_first_versions")

    migration.record_first_versions(apps, connection.schema_editor())
    migration.record_first_versions(apps, connection.schema_editor())

    assert [version.history_type for version in requirement.history.all()] == ["+"]
    assert [version.history_type for version in edited.history.all()] == ["~"]
    client = _superuser_client(client)
    edit_in_admin(client, requirement, change_form_data, minimum="2")
    shown = changes_shown(history_page(client, requirement))
    assert ("Minimum", "1", "2") in [change[1:] for change in shown]
