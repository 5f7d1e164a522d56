"""PDM scope in the admin: a PDM sees every partner but changes only those assigned to them (and their
records); a superuser changes all."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from partners.choices import CertificationLevel
from partners.models import Certification, CustomerReference, Office, Partner, ProgramEnrollment, StaffMember
from partners.tests.test_admin import change_form_data
from tests.factories import (
    CertificationFactory,
    CustomerReferenceFactory,
    OfficeFactory,
    PartnerFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    StaffMemberFactory,
    SuperUserFactory,
    give_certified_people,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_partner(pdm):
    return PartnerFactory(pdm=pdm, name="Mine Ltd", slug="mine")


@pytest.fixture
def other_partner():
    return PartnerFactory(pdm=PdmFactory(), name="Theirs Ltd", slug="theirs")


def test_a_pdm_changes_their_own_partner(client, own_partner):
    url = reverse("admin:partners_partner_change", args=[own_partner.pk])
    data = change_form_data(client, url)
    data["description"] = "Cloud migrations for retailers."

    response = client.post(url, data)

    assert response.status_code == 302
    own_partner.refresh_from_db()
    assert own_partner.description == "Cloud migrations for retailers."


def test_a_pdm_sees_another_pdms_partner_read_only_and_cannot_post_changes(
    client, own_partner, other_partner
):
    url = reverse("admin:partners_partner_change", args=[other_partner.pk])
    data = change_form_data(client, reverse("admin:partners_partner_change", args=[own_partner.pk]))
    data["description"] = "Overwritten"

    page = client.get(url)
    response = client.post(url, data)

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert not page.context["adminform"].form.fields  # every field is shown read-only
    assert response.status_code == 403
    other_partner.refresh_from_db()
    assert other_partner.description != "Overwritten"


def test_a_pdm_sees_every_partner_in_the_list(client, own_partner, other_partner):
    response = client.get(reverse("admin:partners_partner_changelist"))
    assert {p.pk for p in response.context["cl"].result_list} == {own_partner.pk, other_partner.pk}

    mine = client.get(reverse("admin:partners_partner_changelist") + "?pdm=mine")
    assert [p.pk for p in mine.context["cl"].result_list] == [own_partner.pk]


def test_another_pdms_partner_shows_its_inlines_read_only(client, own_partner, other_partner):
    give_certified_people(other_partner, count=1)
    response = client.get(reverse("admin:partners_partner_change", args=[other_partner.pk]))
    inlines = response.context["inline_admin_formsets"]
    assert inlines
    assert all(not inline.has_add_permission and not inline.has_change_permission for inline in inlines)

    own = client.get(reverse("admin:partners_partner_change", args=[own_partner.pk]))
    staff_inline = next(i for i in own.context["inline_admin_formsets"] if i.opts.model is StaffMember)
    assert staff_inline.has_add_permission and staff_inline.has_change_permission


@pytest.mark.parametrize(
    ("admin_name", "make"),
    [
        ("staffmember", lambda partner: StaffMemberFactory(partner=partner)),
        ("certification", lambda partner: CertificationFactory(staff_member__partner=partner)),
        ("programenrollment", lambda partner: ProgramEnrollmentFactory(partner=partner)),
        ("customerreference", lambda partner: CustomerReferenceFactory(partner=partner)),
        ("office", lambda partner: OfficeFactory(partner=partner)),
    ],
)
def test_records_of_another_pdms_partner_are_view_only(client, own_partner, other_partner, admin_name, make):
    theirs, mine = make(other_partner), make(own_partner)
    their_url = reverse(f"admin:partners_{admin_name}_change", args=[theirs.pk])
    my_url = reverse(f"admin:partners_{admin_name}_change", args=[mine.pk])

    assert client.get(their_url).context["has_change_permission"] is False
    assert client.post(their_url, change_form_data(client, my_url)).status_code == 403
    assert client.get(my_url).context["has_change_permission"] is True
    delete_url = reverse(f"admin:partners_{admin_name}_delete", args=[theirs.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert type(theirs).objects.filter(pk=theirs.pk).exists()


def test_a_pdm_cannot_add_a_record_to_another_pdms_partner(client, own_partner, other_partner):
    url = reverse("admin:partners_office_add")
    data = {"partner": other_partner.pk, "country": "GB", "city": "Leeds"}

    response = client.post(url, data)

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Office.objects.filter(city="Leeds").exists()
    assert client.post(url, data | {"partner": own_partner.pk}).status_code == 302
    assert Office.objects.filter(city="Leeds", partner=own_partner).exists()


def test_a_pdm_cannot_add_a_certification_to_another_pdms_staff(client, own_partner, other_partner):
    theirs = StaffMemberFactory(partner=other_partner)
    data = {
        "staff_member": theirs.pk,
        "name": "X",
        "level": CertificationLevel.ASSOCIATE,
        "earned_on": "2025-01-01",
    }

    response = client.post(reverse("admin:partners_certification_add"), data)

    assert "Select a valid choice" in response.content.decode()
    assert not Certification.objects.filter(staff_member=theirs).exists()


def test_partner_autocomplete_offers_a_pdm_only_their_partners_for_a_record(
    client, own_partner, other_partner
):
    url = reverse("admin:autocomplete")
    params = {"app_label": "partners", "model_name": "office", "field_name": "partner", "term": "Ltd"}

    results = client.get(url, params).json()["results"]

    assert [r["text"] for r in results] == ["Mine Ltd"]


def test_actions_skip_another_pdms_partners_with_a_message(client, own_partner, other_partner):
    Partner.objects.filter(pk__in=[own_partner.pk, other_partner.pk]).update(is_published=False)

    response = client.post(
        reverse("admin:partners_partner_changelist"),
        {"action": "publish", ACTION_CHECKBOX_NAME: [own_partner.pk, other_partner.pk], "index": 0},
        follow=True,
    )

    page = response.content.decode()
    assert "Skipped 1 partner not assigned to you" in page
    assert "Theirs Ltd" in page
    assert set(Partner.objects.filter(is_published=True).values_list("slug", flat=True)) == {"mine"}


def run_action(client, url_name, action, objects):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], "index": 0}
    response = client.post(reverse(url_name), data, follow=True)
    return [str(message) for message in response.context["messages"]]


def test_publishing_only_another_pdms_partners_is_refused_without_a_nothing_to_do(client, pdm, other_partner):
    Partner.objects.filter(pk=other_partner.pk).update(is_published=False)

    shown = run_action(client, "admin:partners_partner_changelist", "publish", [other_partner])

    # It did need publishing, by its own PDM: "nothing to do" would contradict the refusal.
    assert len(shown) == 1, shown
    assert shown[0].startswith("Skipped 1 partner not assigned to you")
    assert "Theirs Ltd" in shown[0]
    assert not Partner.objects.get(pk=other_partner.pk).is_published


def test_publishing_own_partners_already_published_says_there_is_nothing_to_do(client, own_partner):
    Partner.objects.filter(pk=own_partner.pk).update(is_published=True)

    shown = run_action(client, "admin:partners_partner_changelist", "publish", [own_partner])

    assert shown == ["Nothing to do: already published: Mine Ltd."]


def test_publishing_a_mixed_selection_publishes_own_and_names_the_skipped(client, own_partner, other_partner):
    Partner.objects.filter(pk__in=[own_partner.pk, other_partner.pk]).update(is_published=False)

    shown = run_action(client, "admin:partners_partner_changelist", "publish", [own_partner, other_partner])

    assert len(shown) == 2, shown
    assert shown[0].startswith("Skipped 1 partner not assigned to you") and "Theirs Ltd" in shown[0]
    assert shown[1] == "Published 1: Mine Ltd."
    assert set(Partner.objects.filter(is_published=True).values_list("slug", flat=True)) == {"mine"}


def test_validating_only_another_pdms_references_is_refused_without_a_nothing_to_do(
    client, pdm, other_partner
):
    theirs = CustomerReferenceFactory(partner=other_partner, customer_name="Globex", is_validated=False)

    shown = run_action(client, "admin:partners_customerreference_changelist", "validate", [theirs])

    assert len(shown) == 1, shown
    assert shown[0].startswith("Skipped 1 customer reference of partners not assigned to you")
    theirs.refresh_from_db()
    assert not theirs.is_validated


def test_validating_own_references_already_validated_says_there_is_nothing_to_do(client, own_partner):
    mine = CustomerReferenceFactory(partner=own_partner, customer_name="Initech", is_validated=True)

    shown = run_action(client, "admin:partners_customerreference_changelist", "validate", [mine])

    assert shown == [f"Nothing to do: already validated: {mine}."]


def test_validating_a_mixed_selection_validates_own_and_names_the_skipped(client, own_partner, other_partner):
    mine = CustomerReferenceFactory(partner=own_partner, customer_name="Initech", is_validated=False)
    theirs = CustomerReferenceFactory(partner=other_partner, customer_name="Globex", is_validated=False)

    shown = run_action(client, "admin:partners_customerreference_changelist", "validate", [mine, theirs])

    assert len(shown) == 2, shown
    assert shown[0].startswith("Skipped 1 customer reference of partners not assigned to you")
    assert str(theirs) in shown[0]
    assert shown[1] == f"Validated 1: {mine}."
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert (mine.is_validated, theirs.is_validated) == (True, False)


def test_bulk_delete_refuses_a_selection_with_another_pdms_records(client, own_partner, other_partner):
    mine, theirs = (
        CustomerReferenceFactory(partner=own_partner),
        CustomerReferenceFactory(partner=other_partner),
    )

    response = client.post(
        reverse("admin:partners_customerreference_changelist"),
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [mine.pk, theirs.pk], "post": "yes"},
        follow=True,
    )

    # Counted, not named, as the bulk delete of an admin that gives reasons (GuardedDeletionMixin) says it.
    assert [str(message) for message in response.context["messages"]] == [
        "Nothing was deleted: the selection includes 1 customer reference that is not yours to delete."
    ]
    assert CustomerReference.objects.count() == 2


def test_a_superuser_changes_any_partner(client, other_partner):
    client.force_login(SuperUserFactory())
    url = reverse("admin:partners_partner_change", args=[other_partner.pk])
    data = change_form_data(client, url)
    data["description"] = "Edited by a superuser"

    assert client.post(url, data).status_code == 302
    other_partner.refresh_from_db()
    assert other_partner.description == "Edited by a superuser"


def test_enrollment_actions_refuse_another_pdms_enrollment(client, own_partner, other_partner):
    theirs = ProgramEnrollmentFactory(partner=other_partner)

    response = client.post(
        reverse("admin:partners_programenrollment_changelist"),
        {"action": "approve", ACTION_CHECKBOX_NAME: [theirs.pk], "index": 0},
        follow=True,
    )

    assert "not assigned to you" in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.status == ProgramEnrollment._meta.get_field("status").default
