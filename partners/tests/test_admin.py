"""The PDM's admin: every page loads, lists cost a constant number of queries, large lists are not
counted in full, and the partner page shows its tier evaluation and history."""

import datetime
import html
import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apn_portal.admin import CappedCountPaginator
from partners.choices import CertificationLevel, EnrollmentStatus, RequirementMetric
from partners.models import Partner, ProgramEnrollment, Tier, TierRequirement
from partners.selectors_partner_area import partner_scorecard
from partners.services import partner_tier_change
from tests.factories import (
    ApprovedEnrollmentFactory,
    CertificationFactory,
    ContactRequestFactory,
    CustomerReferenceFactory,
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    StaffMemberFactory,
    SuperUserFactory,
    give_certified_people,
    program,
    tier,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(client):
    user = SuperUserFactory()
    client.force_login(user)
    return user


def a_full_partner(pdm=None, **kwargs):
    """A partner with something in every inline and list column."""
    partner = PartnerFactory(pdm=pdm, **kwargs)
    OfficeFactory(partner=partner, is_headquarters=True, country="DE", city="Berlin")
    OfficeFactory(partner=partner, country="FR", city="Paris")
    give_certified_people(partner, CertificationLevel.PROFESSIONAL, 2)
    CustomerReferenceFactory.create_batch(2, partner=partner)
    ApprovedEnrollmentFactory(partner=partner)
    ContactRequestFactory(partner=partner)
    partner.industries.add(IndustryFactory())
    return partner


def query_count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(queries)


def partners_app_admin_urls():
    return [
        (model, reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        for model in admin.site._registry
        if model._meta.app_label in ("partners", "accounts")
    ]


def test_every_partner_and_user_changelist_and_change_page_loads_for_a_superuser(client, superuser):
    a_full_partner(pdm=PdmFactory())
    registered = partners_app_admin_urls()
    assert {model.__name__ for model, _ in registered} >= {
        "User",
        "Tier",
        "TierRequirement",
        "TierChange",
        "Program",
        "ProgramEnrollment",
        "Partner",
        "StaffMember",
        "Certification",
        "CustomerReference",
        "ContactRequest",
        "Office",
        "ConsultingCategory",
        "Industry",
        "UseCase",
    }
    for model, changelist_url in registered:
        assert client.get(changelist_url).status_code == 200, changelist_url
        obj = model._default_manager.first()
        if obj is not None:
            change_url = reverse(
                f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk]
            )
            assert client.get(change_url).status_code == 200, change_url


def test_add_pages_load_for_a_superuser(client, superuser):
    for name in ("partner", "certification", "programenrollment", "staffmember", "office", "tier"):
        assert client.get(reverse(f"admin:partners_{name}_add")).status_code == 200
    assert client.get(reverse("admin:accounts_user_add")).status_code == 200


def test_partner_changelist_costs_the_same_queries_for_3_and_30_partners(client, superuser):
    pdms = PdmFactory.create_batch(3)
    for index in range(3):
        a_full_partner(pdm=pdms[index % 3])
    url = reverse("admin:partners_partner_changelist")
    # Every filter and a search at once.
    filtered = (
        f"{url}?partner_type__exact=consulting&country=DE&expiring=soon&is_published__exact=1"
        f"&pdm={pdms[0].pk}&program=migration&health=at_risk&industries=retail&q=Partner"
    )
    client.get(url)  # warm per-process caches (content types)
    with_3 = query_count(client, url), query_count(client, filtered)
    for index in range(27):
        a_full_partner(pdm=pdms[index % 3])

    assert (query_count(client, url), query_count(client, filtered)) == with_3


def test_partner_changelist_shows_counts_and_headquarters_per_row(client, superuser):
    partner = a_full_partner()
    expired_holder = StaffMemberFactory(partner=partner)
    CertificationFactory(
        staff_member=expired_holder,
        earned_on=timezone.localdate() - datetime.timedelta(days=2000),
        expires_on=timezone.localdate() - datetime.timedelta(days=1),
    )
    CustomerReferenceFactory(partner=partner, is_validated=False, validated_at=None)

    response = client.get(reverse("admin:partners_partner_changelist"))

    row = next(r for r in response.context["cl"].result_list if r.pk == partner.pk)
    assert (row.active_certification_count, row.validated_reference_count) == (2, 2)
    assert "Berlin, DE" in response.content.decode()


@pytest.mark.parametrize(
    ("admin_name", "make_rows"),
    [
        ("certification", lambda n: give_certified_people(PartnerFactory(), count=n)),
        ("programenrollment", lambda n: [ProgramEnrollmentFactory() for _ in range(n)]),
        ("staffmember", lambda n: give_certified_people(PartnerFactory(), count=n)),
        ("customerreference", lambda n: CustomerReferenceFactory.create_batch(n)),
        ("office", lambda n: OfficeFactory.create_batch(n)),
        ("contactrequest", lambda n: ContactRequestFactory.create_batch(n)),
    ],
)
def test_large_changelists_cost_the_same_queries_for_3_and_30_rows(client, superuser, admin_name, make_rows):
    url = reverse(f"admin:partners_{admin_name}_changelist")
    make_rows(3)
    client.get(url)
    with_3 = query_count(client, url)
    make_rows(27)
    assert query_count(client, url) == with_3


def test_expiring_soon_in_the_admin_is_the_scorecards_window(client, settings):
    """Expiring on the horizon day still counts that day: the scorecard leaves it out, and the admin too."""
    pdm = PdmFactory()
    horizon = timezone.localdate() + datetime.timedelta(days=settings.PARTNER_EXPIRING_SOON_DAYS)
    on_horizon = PartnerFactory(pdm=pdm, name="On the horizon")
    CertificationFactory(staff_member=StaffMemberFactory(partner=on_horizon), expires_on=horizon)
    ApprovedEnrollmentFactory(partner=on_horizon, expires_on=horizon)
    day_before = PartnerFactory(pdm=pdm, name="Day before")
    CertificationFactory(
        staff_member=StaffMemberFactory(partner=day_before), expires_on=horizon - datetime.timedelta(days=1)
    )
    ApprovedEnrollmentFactory(partner=day_before, expires_on=horizon - datetime.timedelta(days=1))
    client.force_login(pdm)

    def listed(admin_name, params, partner_of):
        response = client.get(reverse(f"admin:partners_{admin_name}_changelist"), params)
        return {partner_of(row).name for row in response.context["cl"].result_list}

    assert listed("partner", {"expiring": "soon"}, lambda p: p) == {"Day before"}
    assert listed("certification", {"expiry": "soon"}, lambda c: c.staff_member.partner) == {"Day before"}
    assert listed("programenrollment", {"expiry": "soon"}, lambda e: e.partner) == {"Day before"}
    for partner, expected in ((on_horizon, []), (day_before, [horizon - datetime.timedelta(days=1)])):
        scorecard = partner_scorecard(partner)
        assert [c.expires_on for c in scorecard.expiring_certifications] == expected
        assert [e.expires_on for e in scorecard.expiring_enrollments] == expected


def test_partner_change_page_costs_the_same_queries_for_2_and_20_staff(client, superuser):
    partner = a_full_partner()
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    client.get(url)
    with_2 = query_count(client, url)
    for person in give_certified_people(partner, CertificationLevel.ASSOCIATE, 18):
        CertificationFactory(staff_member=person, level=CertificationLevel.FOUNDATIONAL)
    for slug in ("security", "devops", "databases"):
        ProgramEnrollmentFactory(partner=partner, program=program(slug))
    CustomerReferenceFactory.create_batch(5, partner=partner)
    OfficeFactory.create_batch(3, partner=partner)
    for slug in ("select", "advanced", "registered"):
        partner_tier_change(partner=partner, to_tier=tier(slug=slug), reason="Test.", user=superuser)
    assert query_count(client, url) == with_2


def test_a_tier_change_page_costs_the_same_queries_for_1_and_every_requirement(client, superuser):
    select = tier(slug="select")
    select.requirements.all().delete()
    metrics = list(RequirementMetric.values)
    TierRequirement.objects.create(tier=select, metric=metrics[0], minimum=1)
    url = reverse("admin:partners_tier_change", args=[select.pk])
    client.get(url)  # what a first request caches
    with_1 = query_count(client, url)
    for metric in metrics[1:]:
        TierRequirement.objects.create(tier=select, metric=metric, minimum=2)
    assert query_count(client, url) == with_1


def test_a_large_list_is_counted_only_up_to_the_cap_and_later_pages_still_open(
    client, superuser, monkeypatch
):
    monkeypatch.setattr(CappedCountPaginator, "count_cap", 5)
    PartnerFactory.create_batch(8)
    url = reverse("admin:partners_partner_changelist") + "?is_published__exact=1"

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert "5+ partners" in response.content.decode()
    assert not any(
        "COUNT(*)" in q["sql"] and "LIMIT" not in q["sql"] and "partners_partner" in q["sql"]
        for q in queries.captured_queries
    ), "a full COUNT(*) of the partners table ran"

    monkeypatch.setattr(admin.site._registry[Partner], "list_per_page", 3)
    page_3 = client.get(url + "&p=3")  # past the 5 rows that were counted
    assert page_3.status_code == 200
    assert len(page_3.context["cl"].result_list) == 2


@pytest.mark.parametrize("page", [str(10**30), str(2**62)])
def test_a_page_past_any_row_of_a_large_list_is_past_the_end(client, superuser, monkeypatch, page):
    # Beyond the capped count pages are served; one whose offset no row number reaches is not a query.
    monkeypatch.setattr(CappedCountPaginator, "count_cap", 5)
    monkeypatch.setattr(admin.site._registry[Partner], "list_per_page", 3)
    PartnerFactory.create_batch(8)

    response = client.get(reverse("admin:partners_partner_changelist"), {"p": page})

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_an_unfiltered_large_list_shows_the_database_estimate(client, superuser, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "count_cap", 5)
    PartnerFactory.create_batch(8)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE partners_partner")

    response = client.get(reverse("admin:partners_partner_changelist"))

    assert "about 8 partners" in response.content.decode()


def page_text(response) -> str:
    return " ".join(response.content.decode().split())


def test_partner_change_page_shows_the_tier_evaluation(client, superuser):
    partner = PartnerFactory()
    give_certified_people(partner, CertificationLevel.FOUNDATIONAL, 2)
    give_certified_people(partner, CertificationLevel.ASSOCIATE, 2)
    CustomerReferenceFactory.create_batch(3, partner=partner)

    page = page_text(client.get(reverse("admin:partners_partner_change", args=[partner.pk])))

    assert "Holds <strong>Registered</strong>; its evidence qualifies it for <strong>Select</strong>." in page
    assert "It can be promoted." in page
    assert "For Advanced it needs 2 more people with a foundational certification;" in page
    assert "needs 17 more launched customer projects." in page


def test_partner_change_page_says_what_holding_its_tier_lacks(client, superuser):
    partner = PartnerFactory(tier=tier(slug="select"))
    give_certified_people(partner, CertificationLevel.ASSOCIATE, 2)
    CustomerReferenceFactory.create_batch(3, partner=partner)

    page = page_text(client.get(reverse("admin:partners_partner_change", args=[partner.pk])))

    assert "It falls short of its tier." in page
    assert "To keep Select it needs 2 more people with a foundational certification." in page


def test_partner_change_page_names_the_tier_held_as_the_top_when_its_evidence_lapsed(client, superuser):
    partner = PartnerFactory(tier=tier(slug="premier"))

    page = page_text(client.get(reverse("admin:partners_partner_change", args=[partner.pk])))

    assert "its evidence qualifies it for <strong>Registered</strong>" in page
    assert "<p>Premier is the top of the ladder.</p>" in page
    assert "Registered is the top of the ladder" not in page


def test_the_tier_of_an_existing_partner_cannot_be_changed_by_editing_it(client, superuser):
    partner = PartnerFactory(name="Acme Cloud", slug="acme-cloud")
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    form = client.get(url).context["adminform"].form
    assert "tier" not in form.fields

    data = change_form_data(client, url)
    data["tier"] = tier(slug="premier").pk
    data["name"] = "Acme Cloud Services"
    response = client.post(url, data)

    assert response.status_code == 302
    partner.refresh_from_db()
    assert (partner.name, partner.tier.slug) == ("Acme Cloud Services", "registered")


def test_a_partner_added_in_the_admin_joins_on_its_ladders_entry_tier(client, superuser):
    data = {
        "name": "New Co",
        "slug": "new-co",
        "partner_type": "technology",
        # Not on the page: a higher tier is a promotion, with its reason, through the tier-change action.
        "tier": tier("technology", "premier").pk,
        **empty_inline_management_forms(),
    }
    assert "tier" not in client.get(reverse("admin:partners_partner_add")).context["adminform"].form.fields

    response = client.post(reverse("admin:partners_partner_add"), data)

    assert response.status_code == 302
    partner = Partner.objects.get(slug="new-co")
    assert (partner.tier.partner_type, partner.tier.slug) == ("technology", "registered")


def test_a_partner_of_a_type_without_a_ladder_is_refused_in_the_admin(client, superuser):
    Tier.objects.filter(partner_type="technology").delete()
    data = {
        "name": "New Co",
        "slug": "new-co",
        "partner_type": "technology",
        **empty_inline_management_forms(),
    }

    response = client.post(reverse("admin:partners_partner_add"), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["partner_type"] == [
        "There is no tier ladder for this partner type."
    ]
    assert not Partner.objects.filter(slug="new-co").exists()


def test_enrollment_status_and_approval_are_read_only_on_its_page(client, superuser):
    enrollment = ProgramEnrollmentFactory()
    url = reverse("admin:partners_programenrollment_change", args=[enrollment.pk])
    form = client.get(url).context["adminform"].form
    assert not {"status", "approved_on", "approved_by", "expires_on"} & set(form.fields)

    client.post(url, {"applied_on": enrollment.applied_on.isoformat(), "status": EnrollmentStatus.APPROVED})
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED


def enrollment_add_data(partner, program_slug, **fields) -> dict:
    return {
        "partner": partner.pk,
        "program": program(program_slug).pk,
        "applied_on": timezone.localdate().isoformat(),
        "audit_date": "",
        "audit_result": "",
        **fields,
    }


def test_adding_an_enrollment_the_api_would_refuse_is_refused_on_the_form(client, superuser):
    technology = PartnerFactory(partner_type="technology", tier=tier("technology", "select"))

    response = client.post(
        reverse("admin:partners_programenrollment_add"), enrollment_add_data(technology, "solution-provider")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["program"] == [
        "Solution Provider is only open to Consulting partners."
    ]
    assert not ProgramEnrollment.objects.filter(partner=technology).exists()


def test_adding_a_second_live_enrollment_in_a_program_is_refused_on_the_form(client, superuser):
    partner = PartnerFactory(name="Acme Cloud")
    ProgramEnrollmentFactory(partner=partner, program=program("databases"))

    response = client.post(
        reverse("admin:partners_programenrollment_add"), enrollment_add_data(partner, "databases")
    )

    assert response.status_code == 200
    assert "Acme Cloud already has an enrollment in" in page_text(response)
    assert ProgramEnrollment.objects.filter(partner=partner).count() == 1


def test_adding_an_enrollment_in_the_admin_files_the_application(client, superuser):
    partner = PartnerFactory()
    applied_on = timezone.localdate() - datetime.timedelta(days=3)

    response = client.post(
        reverse("admin:partners_programenrollment_add"),
        enrollment_add_data(partner, "databases", applied_on=applied_on.isoformat()),
    )

    assert response.status_code == 302
    enrollment = ProgramEnrollment.objects.get(partner=partner)
    assert (enrollment.program.slug, enrollment.status, enrollment.applied_on) == (
        "databases",
        EnrollmentStatus.APPLIED,
        applied_on,
    )
    assert enrollment.history.get().history_user == superuser


def test_the_partner_page_adds_no_enrollment_around_the_application_rules(client, superuser):
    partner = a_full_partner()

    response = client.get(reverse("admin:partners_partner_change", args=[partner.pk]))

    enrollments = next(
        i for i in response.context["inline_admin_formsets"] if i.opts.model is ProgramEnrollment
    )
    assert not enrollments.has_add_permission
    assert "program" not in enrollments.formset.forms[0].fields


def test_history_shows_who_changed_a_partner_in_the_admin(client, superuser):
    partner = PartnerFactory(name="Before Ltd", slug="before")
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    data = change_form_data(client, url)
    data["name"] = "After Ltd"

    assert client.post(url, data).status_code == 302

    latest = partner.history.latest("history_date")
    assert (latest.name, latest.history_user) == ("After Ltd", superuser)
    history_page = client.get(reverse("admin:partners_partner_history", args=[partner.pk])).content.decode()
    assert "After Ltd" in history_page
    assert str(superuser) in history_page
    assert "Before Ltd" in history_page


def test_an_old_version_cannot_be_restored_from_history(client, superuser):
    partner = PartnerFactory(name="Before Ltd", slug="before")
    first = partner.history.earliest("history_date")
    Partner.objects.filter(pk=partner.pk).update(name="After Ltd")
    url = reverse("admin:partners_partner_simple_history", args=[partner.pk, first.history_id])

    assert client.get(url).status_code == 200
    assert client.post(url, {"name": "Before Ltd"}).status_code == 403
    partner.refresh_from_db()
    assert partner.name == "After Ltd"


def _history_pages(client, model_name, record) -> tuple:
    """The record's history list and its first version's page, as (status, title) pairs."""
    version = record.history.earliest("history_date").history_id
    pages = []
    for url in (
        reverse(f"admin:partners_{model_name}_history", args=[record.pk]),
        reverse(f"admin:partners_{model_name}_simple_history", args=[record.pk, version]),
    ):
        response = client.get(url, follow=True)
        pages.append((response.status_code, response.context["title"]))
    return pages


def test_the_history_of_records_whose_partner_was_deleted_still_shows(client, superuser):
    partner = PartnerFactory(name="Gone Ltd")
    reference = CustomerReferenceFactory(partner=partner, customer_name="Initech")
    enrollment = ProgramEnrollmentFactory(partner=partner)
    certification = CertificationFactory(staff_member=StaffMemberFactory(partner=partner), name="SA Pro")
    certification.name = "SA Professional"
    certification.save()
    Partner.objects.filter(pk=partner.pk).delete()

    assert _history_pages(client, "customerreference", reference) == [
        (200, "View history: Initech (deleted partner)"),
        (200, "View Initech (deleted partner)"),
    ]
    assert [status for status, _ in _history_pages(client, "programenrollment", enrollment)] == [200, 200]
    assert (
        "View history: deleted partner in " in _history_pages(client, "programenrollment", enrollment)[0][1]
    )
    assert [status for status, _ in _history_pages(client, "certification", certification)] == [200, 200]


def test_the_history_of_a_certification_whose_holder_was_deleted_still_shows(client, superuser):
    certification = CertificationFactory(name="SA Pro")
    certification.staff_member.delete()

    assert [status for status, _ in _history_pages(client, "certification", certification)] == [200, 200]


def test_a_pdm_still_cannot_read_the_history_of_a_deleted_partners_records(client):
    pdm = PdmFactory()
    partner = PartnerFactory(pdm=pdm)
    reference = CustomerReferenceFactory(partner=partner)
    version = reference.history.get().history_id
    Partner.objects.filter(pk=partner.pk).delete()
    client.force_login(pdm)

    for url in (
        reverse("admin:partners_customerreference_history", args=[reference.pk]),
        reverse("admin:partners_customerreference_simple_history", args=[reference.pk, version]),
    ):
        response = client.get(url, follow=True)
        assert response.status_code == 200
        assert "doesn\N{RIGHT SINGLE QUOTATION MARK}t exist" in response.content.decode()


# Helpers ------------------------------------------------------------------------------------------------


def empty_inline_management_forms() -> dict:
    data = {}
    for prefix in ("offices", "staff_members", "enrollments", "references", "tier_changes"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


def change_form_data(client, url) -> dict:
    """What the browser would post back from the change page, unchanged."""
    response = client.get(url)
    data = {}
    for form in [response.context["adminform"].form] + [
        f for formset in response.context["inline_admin_formsets"] for f in formset.formset.forms
    ]:
        for name in form.fields:
            value = form[name].value()
            if value is None:
                continue
            key = form.add_prefix(name)
            if isinstance(value, list | tuple):
                data[key] = [str(v) for v in value]
            elif isinstance(value, bool):
                if value:
                    data[key] = "on"
            elif hasattr(value, "isoformat"):
                data[key] = value.isoformat()
            else:
                data[key] = str(value)
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management[name].value())
    state = re.search(r'name="_page_state" value="([^"]*)"', response.content.decode())
    assert state, "a change page carries what it showed"
    data["_page_state"] = html.unescape(state.group(1))
    return data


# Odd input in the admin: a message or a "not found", never a 500 -------------------------------------


@pytest.mark.parametrize("object_id", ["x", "%00", "%3Cscript%3E"])
def test_the_history_of_an_id_that_cannot_exist_is_not_found(client, superuser, object_id):
    partner = PartnerFactory()
    for url in (
        f"/admin/partners/partner/{object_id}/history/",
        f"/admin/partners/partner/{object_id}/history/1/",
        f"/admin/partners/partner/{partner.pk}/history/{object_id}/",
    ):
        response = client.get(url, follow=True)
        assert response.status_code == 200
        assert "doesn\N{RIGHT SINGLE QUOTATION MARK}t exist" in response.content.decode()


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/admin/partners/certification/", {"level__exact": "\x00"}),
        ("/admin/partners/partner/", {"q": "Alpha\x00"}),
        ("/admin/partners/program/", {"kind__exact": "\x00"}),
        ("/admin/outbox/outboxmessage/", {"status__exact": "\x00"}),
        ("/admin/engagements/engagement/", {"created_at__year": str(10**20)}),
    ],
)
def test_a_changelist_filter_it_cannot_read_is_an_invalid_lookup(client, superuser, url, params):
    response = client.get(url, params)
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_a_certification_earned_near_the_calendars_end_is_refused_on_the_form(client, superuser):
    person = StaffMemberFactory()
    response = client.post(
        "/admin/partners/certification/add/",
        {"staff_member": person.pk, "name": "SA", "level": "associate", "earned_on": "9999-12-31"},
    )
    assert response.status_code == 200
    assert "in the future" in response.content.decode()


@pytest.mark.parametrize("value", ["abc", "\x00", "1.5"])
def test_an_autocomplete_choice_that_cannot_be_an_id_is_an_invalid_choice(client, superuser, value):
    response = client.post("/admin/partners/staffmember/add/", {"partner": value, "full_name": "Jo"})
    assert response.status_code == 200
    assert "partner" in response.context["adminform"].form.errors


# The entry tier asks nothing --------------------------------------------------------------------------

ENTRY_TIER_REFUSED = "Registered is the entry tier of its ladder: every partner holds it on joining"


def test_a_requirement_on_the_entry_tier_is_refused_on_the_requirement_form(client, superuser):
    registered = tier(slug="registered")

    response = client.post(
        reverse("admin:partners_tierrequirement_add"),
        {"tier": registered.pk, "metric": "foundational_people", "minimum": "1"},
    )

    assert response.status_code == 200
    assert ENTRY_TIER_REFUSED in page_text(response)
    assert not registered.requirements.exists()


def requirement_row(data: dict, metric: str, minimum: int) -> dict:
    """Add one row to the requirements inline of a tier's change form data."""
    index = int(data["requirements-TOTAL_FORMS"])
    return data | {
        "requirements-TOTAL_FORMS": str(index + 1),
        f"requirements-{index}-metric": metric,
        f"requirements-{index}-minimum": str(minimum),
    }


def test_a_requirement_on_the_entry_tier_is_refused_in_the_tiers_inline(client, superuser):
    registered = tier(slug="registered")
    url = reverse("admin:partners_tier_change", args=[registered.pk])

    response = client.post(url, requirement_row(change_form_data(client, url), "foundational_people", 1))

    assert response.status_code == 200
    assert ENTRY_TIER_REFUSED in page_text(response)
    assert not registered.requirements.exists()


def test_a_requirement_on_a_higher_tier_is_still_added_in_the_tiers_inline(client, superuser):
    select = tier(slug="select")
    url = reverse("admin:partners_tier_change", args=[select.pk])

    response = client.post(url, requirement_row(change_form_data(client, url), "approved_programs", 1))

    assert response.status_code == 302
    assert select.requirements.filter(metric="approved_programs", minimum=1).exists()


def test_moving_the_entry_tier_up_is_refused_while_the_tier_above_it_has_requirements(client, superuser):
    registered = tier(slug="registered")
    url = reverse("admin:partners_tier_change", args=[registered.pk])
    data = change_form_data(client, url) | {"rank": "9"}

    response = client.post(url, data)

    assert response.status_code == 200
    assert "Select would become the entry tier of its ladder" in page_text(response)
    registered.refresh_from_db()
    assert registered.rank == 0


def test_the_tier_list_says_a_requirement_stored_on_the_entry_tier_is_not_applied(client, superuser):
    TierRequirement.objects.create(tier=tier(slug="registered"), metric="foundational_people", minimum=1)

    response = client.get(reverse("admin:partners_tier_changelist"))

    assert "nothing (not applied on the entry tier: 1 " in page_text(response)
