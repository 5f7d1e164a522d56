"""What a PDM saves from a partner's page goes through the same rules as everywhere else: its enrollments
change only on their own page, rows that clash with each other are refused beside the row (never a 500),
and the tier ladders keep partners, history and requirements consistent."""

import datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils import timezone

from partners.admin.formsets import UniqueRowsInlineFormSet
from partners.admin.reference_data import tier_deletion_problems
from partners.choices import AuditResult, EnrollmentStatus
from partners.models import Certification, Office, ProgramEnrollment, StaffMember, Tier
from partners.tests.test_admin import change_form_data, page_text
from tests.factories import (
    ApprovedEnrollmentFactory,
    OfficeFactory,
    PartnerFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    StaffMemberFactory,
    program,
    tier,
)

pytestmark = pytest.mark.django_db


def partner_url(partner) -> str:
    return reverse("admin:partners_partner_change", args=[partner.pk])


def with_rows(data: dict, prefix: str, rows: list[dict]) -> dict:
    """The change form's data with new rows added to one inline, as the browser's "Add another" does."""
    start = int(data[f"{prefix}-TOTAL_FORMS"])
    data = data | {f"{prefix}-TOTAL_FORMS": str(start + len(rows))}
    for index, row in enumerate(rows, start=start):
        data |= {f"{prefix}-{index}-{name}": value for name, value in row.items()}
    return data


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# Enrollments on the partner's page: a summary, changed only on their own page ----------------------------


def enrollment_values(enrollment) -> tuple:
    enrollment.refresh_from_db()
    return (enrollment.status, enrollment.applied_on, enrollment.audit_date, enrollment.audit_result)


def test_the_partner_page_cannot_fail_the_audit_of_an_approved_enrollment(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    enrollment = ApprovedEnrollmentFactory(
        partner=partner,
        program=program("migration"),
        audit_date=timezone.localdate() - datetime.timedelta(days=40),
        audit_result=AuditResult.PASSED,
    )
    before = enrollment_values(enrollment)
    data = change_form_data(client, partner_url(partner)) | {"enrollments-0-audit_result": AuditResult.FAILED}

    assert client.post(partner_url(partner), data).status_code == 302

    assert enrollment_values(enrollment) == before


def test_the_partner_page_cannot_redate_a_revoked_enrollment(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    enrollment = ProgramEnrollmentFactory(
        partner=partner,
        program=program("databases"),
        status=EnrollmentStatus.REVOKED,
        status_reason="Lapsed.",
    )
    before = enrollment_values(enrollment)
    future = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    data = change_form_data(client, partner_url(partner)) | {"enrollments-0-applied_on": future}

    client.post(partner_url(partner), data)

    assert enrollment_values(enrollment) == before


def test_the_partner_page_cannot_delete_an_approved_enrollment(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    enrollment = ApprovedEnrollmentFactory(partner=partner, program=program("databases"))
    data = change_form_data(client, partner_url(partner)) | {"enrollments-0-DELETE": "on"}

    client.post(partner_url(partner), data)

    assert ProgramEnrollment.objects.filter(pk=enrollment.pk, status=EnrollmentStatus.APPROVED).exists()


def test_the_partner_page_shows_enrollments_with_links_to_change_and_add_them(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    enrollment = ApprovedEnrollmentFactory(partner=partner, program=program("databases"))

    response = client.get(partner_url(partner))

    inline = next(i for i in response.context["inline_admin_formsets"] if i.opts.model is ProgramEnrollment)
    assert not (inline.has_add_permission or inline.has_change_permission or inline.has_delete_permission)
    page = response.content.decode()
    assert f'href="{reverse("admin:partners_programenrollment_change", args=[enrollment.pk])}">Open' in page
    assert f'href="{reverse("admin:partners_programenrollment_add")}?partner={partner.pk}"' in page
    # The add link opens the application form with the partner chosen.
    add_page = client.get(reverse("admin:partners_programenrollment_add"), {"partner": partner.pk})
    assert add_page.context["adminform"].form.initial["partner"] == str(partner.pk)


def test_another_pdms_partner_page_offers_no_enrollment_to_add(client, pdm):
    theirs = PartnerFactory(pdm=PdmFactory())

    page = client.get(partner_url(theirs)).content.decode()

    assert f"?partner={theirs.pk}" not in page


def test_another_pdms_partner_page_offers_no_certification_to_add_for_its_staff(client, pdm):
    # The add form offers only the PDM's own partners' staff: from there the link could only fail.
    theirs = StaffMemberFactory(partner=PartnerFactory(pdm=PdmFactory()))
    mine = StaffMemberFactory(partner=PartnerFactory(pdm=pdm))
    add_url = reverse("admin:partners_certification_add")

    their_page = client.get(partner_url(theirs.partner)).content.decode()
    my_page = client.get(partner_url(mine.partner)).content.decode()

    assert f"?staff_member={theirs.pk}" not in their_page
    assert f'<a href="{add_url}?staff_member={mine.pk}">Add one</a>' in my_page


# Rows of one save that clash with each other -----------------------------------------------------------


def test_two_new_headquarters_in_one_save_are_refused_beside_the_row(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    data = with_rows(
        change_form_data(client, partner_url(partner)),
        "offices",
        [
            {"is_headquarters": "on", "country": "DE", "city": "Berlin"},
            {"is_headquarters": "on", "country": "FR", "city": "Paris"},
        ],
    )

    response = client.post(partner_url(partner), data)

    assert response.status_code == 200
    assert "Clashes with a row above: A partner has one headquarters" in page_text(response)
    assert not Office.objects.filter(partner=partner).exists()


def test_a_new_office_beside_the_headquarters_is_still_added(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    OfficeFactory(partner=partner, is_headquarters=True, country="DE", city="Berlin")
    data = with_rows(
        change_form_data(client, partner_url(partner)),
        "offices",
        [{"country": "FR", "city": "Paris"}, {"country": "ES", "city": "Madrid"}],
    )

    assert client.post(partner_url(partner), data).status_code == 302

    assert Office.objects.filter(partner=partner).count() == 3


@pytest.mark.parametrize(
    "again", ["ann@acme.example", "Ann@ACME.example"], ids=["as written", "another case"]
)
def test_two_new_staff_members_with_one_email_are_refused_beside_the_row(client, pdm, again):
    partner = PartnerFactory(pdm=pdm)
    data = with_rows(
        change_form_data(client, partner_url(partner)),
        "staff_members",
        [
            {"full_name": "Ann", "email": "ann@acme.example"},
            {"full_name": "Anne", "email": again},
            {"full_name": "Bob", "email": ""},
            {"full_name": "Bo", "email": ""},
        ],
    )

    response = client.post(partner_url(partner), data)

    assert response.status_code == 200
    formset = next(
        i.formset for i in response.context["inline_admin_formsets"] if i.opts.model is StaffMember
    )
    # Only the repeated email: two people without one do not clash.
    assert [form.errors.get("email") for form in formset.forms] == [
        None,
        ["Clashes with a row above: This partner already has a staff member with that email address."],
        None,
        None,
    ]
    assert not StaffMember.objects.filter(partner=partner).exists()


@pytest.mark.parametrize(
    "taken", ["ann@acme.example", "Ann@ACME.example"], ids=["as written", "another case"]
)
def test_a_staff_members_own_page_refuses_another_persons_email_beside_the_field(client, pdm, taken):
    # The partner is read-only on that page, so Django would leave its constraints to the database: a 500.
    partner = PartnerFactory(pdm=pdm)
    StaffMemberFactory(partner=partner, full_name="Ann", email="ann@acme.example")
    bob = StaffMemberFactory(partner=partner, full_name="Bob", email="bob@acme.example")
    url = reverse("admin:partners_staffmember_change", args=[bob.pk])

    response = client.post(url, change_form_data(client, url) | {"email": taken})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "This partner already has a staff member with that email address."
    ]
    assert StaffMember.objects.get(pk=bob.pk).email == "bob@acme.example"


def test_an_offices_own_page_refuses_a_second_headquarters(client, pdm):
    partner = PartnerFactory(pdm=pdm)
    OfficeFactory(partner=partner, is_headquarters=True)
    branch = OfficeFactory(partner=partner, is_headquarters=False)
    url = reverse("admin:partners_office_change", args=[branch.pk])

    response = client.post(url, change_form_data(client, url) | {"is_headquarters": "on"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not Office.objects.get(pk=branch.pk).is_headquarters


def test_two_new_certifications_with_one_credential_id_are_refused_beside_the_row(client, pdm):
    person = StaffMemberFactory(partner=PartnerFactory(pdm=pdm))
    url = reverse("admin:partners_staffmember_change", args=[person.pk])
    certification = {"level": "associate", "credential_id": "DUP-1", "earned_on": "2024-01-01"}
    data = with_rows(
        change_form_data(client, url),
        "certifications",
        [{"name": "Solutions Architect", **certification}, {"name": "Developer", **certification}],
    )

    response = client.post(url, data)

    assert response.status_code == 200
    assert "Clashes with a row above: Another certification already has this credential id." in page_text(
        response
    )
    assert not Certification.objects.filter(staff_member=person).exists()


def test_a_clash_the_database_finds_at_save_is_shown_on_the_form(client, pdm, monkeypatch):
    # As if somebody else saved a headquarters after this form's rows were checked.
    monkeypatch.setattr(UniqueRowsInlineFormSet, "clean", BaseInlineFormSet.clean)
    partner = PartnerFactory(pdm=pdm)
    data = with_rows(
        change_form_data(client, partner_url(partner)) | {"name": "Renamed Ltd"},
        "offices",
        [
            {"is_headquarters": "on", "country": "DE", "city": "Berlin"},
            {"is_headquarters": "on", "country": "FR", "city": "Paris"},
        ],
    )

    response = client.post(partner_url(partner), data)

    assert response.status_code == 200
    assert "Offices: A partner has one headquarters; unmark the current one first." in page_text(response)
    assert not Office.objects.filter(partner=partner).exists()
    partner.refresh_from_db()
    assert partner.name != "Renamed Ltd"


# Tier ladders ------------------------------------------------------------------------------------------


def tier_url(a_tier) -> str:
    return reverse("admin:partners_tier_change", args=[a_tier.pk])


def test_a_tier_partners_hold_cannot_move_to_the_other_ladder(client, pdm):
    select = tier("consulting", "select")
    PartnerFactory(partner_type="consulting", tier=select)
    data = change_form_data(client, tier_url(select)) | {
        "partner_type": "technology",
        "rank": "7",
        "slug": "select-consulting",
    }

    response = client.post(tier_url(select), data)

    assert response.status_code == 200
    assert (
        "This tier stays on the Consulting ladder: partners hold it or qualify for it, a program asks for it "
        "as its minimum tier and it has requirements. Add a new tier to the Technology ladder instead."
    ) in page_text(response)
    select.refresh_from_db()
    assert (select.partner_type, select.rank, select.slug) == ("consulting", 1, "select")


def test_a_tier_nothing_refers_to_still_moves_to_the_other_ladder(client, pdm):
    spare = Tier.objects.create(partner_type="consulting", name="Spare", slug="spare", rank=9)
    data = change_form_data(client, tier_url(spare)) | {"partner_type": "technology"}

    assert client.post(tier_url(spare), data).status_code == 302

    spare.refresh_from_db()
    assert spare.partner_type == "technology"


ENTRY_DELETE_REFUSED = (
    "Registered is the entry tier of the Technology ladder: without it Select would be, and the entry tier, "
    "which every partner holds on joining, cannot have requirements. Delete Select's requirements first."
)


def test_the_entry_tier_cannot_be_deleted_while_the_next_rung_has_requirements(client, pdm):
    registered = tier("technology", "registered")
    delete_url = reverse("admin:partners_tier_delete", args=[registered.pk])

    shown = client.get(delete_url, follow=True)
    response = client.post(delete_url, {"post": "yes"}, follow=True)

    assert messages_of(shown) == [f"Not deleted: {ENTRY_DELETE_REFUSED}"]
    assert messages_of(response) == [f"Not deleted: {ENTRY_DELETE_REFUSED}"]
    assert Tier.objects.filter(pk=registered.pk).exists()


def test_the_bulk_delete_refuses_a_selection_holding_an_entry_tier(client, pdm):
    registered = tier("technology", "registered")
    spare = Tier.objects.create(partner_type="consulting", name="Spare", slug="spare", rank=9)
    data = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [registered.pk, spare.pk], "post": "yes"}

    response = client.post(reverse("admin:partners_tier_changelist"), data, follow=True)

    assert response.status_code == 200
    assert messages_of(response) == [f"Not deleted: {ENTRY_DELETE_REFUSED}"]
    assert Tier.objects.filter(pk__in=[registered.pk, spare.pk]).count() == 2


def test_the_entry_tier_goes_once_the_next_rung_asks_nothing(client, pdm):
    registered, select = Tier.objects.filter(partner_type="technology").order_by("rank")[:2]
    select.requirements.all().delete()

    response = client.post(reverse("admin:partners_tier_delete", args=[registered.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Tier.objects.filter(pk=registered.pk).exists()


def test_a_whole_ladder_may_be_deleted_together():
    # Nothing is left to become the entry tier (as when a ladder's only tier goes).
    technology = list(Tier.objects.filter(partner_type="technology"))

    assert tier_deletion_problems(technology) == []
    assert tier_deletion_problems(technology[:2]) == [
        ENTRY_DELETE_REFUSED.replace("Select", technology[2].name)
    ]
