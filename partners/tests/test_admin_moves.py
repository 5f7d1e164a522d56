"""A partner's records stay with the partner they were added for: their change pages show the owner but do
not move the record (a validated reference or a certification would count toward another partner's tier),
as the API refuses it. And a reference's validation keeps a history of who gave or withdrew it."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from partners.models import CustomerReference
from partners.selectors import validated_references
from partners.tests.test_admin import change_form_data, page_text
from tests.factories import (
    CertificationFactory,
    CustomerReferenceFactory,
    OfficeFactory,
    PartnerFactory,
    PdmFactory,
    StaffMemberFactory,
)

pytestmark = pytest.mark.django_db


def change_url(record) -> str:
    return reverse(f"admin:partners_{record._meta.model_name}_change", args=[record.pk])


# A record's owner is read-only on its change page -----------------------------------------------------

# Each record of one partner of the PDM's; the owner the change form would move it to (of their other
# partner); a field edited in the same save, and its new value.
RECORDS = {
    "customer reference": (
        lambda a: CustomerReferenceFactory(partner=a),
        "partner",
        lambda b: b.pk,
        ("customer_name", "Renamed customer"),
    ),
    "office": (lambda a: OfficeFactory(partner=a), "partner", lambda b: b.pk, ("city", "Leeds")),
    "staff member": (
        lambda a: StaffMemberFactory(partner=a),
        "partner",
        lambda b: b.pk,
        ("job_title", "Architect"),
    ),
    "certification": (
        lambda a: CertificationFactory(staff_member__partner=a),
        "staff_member",
        lambda b: StaffMemberFactory(partner=b).pk,
        ("name", "Renamed certification"),
    ),
}


@pytest.mark.parametrize("kind", RECORDS)
def test_a_change_page_cannot_move_a_record_to_another_partner(client, pdm, kind):
    make, owner_field, other_owner, (edited, new_value) = RECORDS[kind]
    a, b = PartnerFactory(pdm=pdm), PartnerFactory(pdm=pdm)
    record = make(a)
    owner_before = getattr(record, f"{owner_field}_id")
    data = change_form_data(client, change_url(record))

    response = client.post(change_url(record), data | {owner_field: str(other_owner(b)), edited: new_value})

    assert response.status_code == 302
    record.refresh_from_db()
    assert getattr(record, f"{owner_field}_id") == owner_before
    assert getattr(record, edited) == new_value  # the rest of the form is saved as usual


def test_a_validated_reference_stays_with_its_partner_and_its_validation(client, pdm):
    a, b = PartnerFactory(pdm=pdm), PartnerFactory(pdm=pdm)
    reference = CustomerReferenceFactory(partner=a, validated_by=pdm)
    data = change_form_data(client, change_url(reference))

    client.post(change_url(reference), data | {"partner": str(b.pk)})

    reference.refresh_from_db()
    assert (reference.partner, reference.is_validated, reference.validated_by) == (a, True, pdm)
    assert not validated_references().filter(partner=b).exists()


def test_the_add_form_still_lets_a_pdm_choose_one_of_their_partners(client, pdm):
    mine, others = PartnerFactory(pdm=pdm), PartnerFactory(pdm=PdmFactory())
    url = reverse("admin:partners_customerreference_add")
    assert "partner" in client.get(url).context["adminform"].form.fields
    data = {"customer_name": "Globex", "summary": "A migration.", "launched_on": "2024-03-01"}

    refused = client.post(url, data | {"partner": str(others.pk)})
    added = client.post(url, data | {"partner": str(mine.pk)})

    assert refused.status_code == 200 and "partner" in refused.context["adminform"].form.errors
    assert added.status_code == 302
    assert list(CustomerReference.objects.values_list("partner", "customer_name")) == [(mine.pk, "Globex")]


# Who validated a reference, and who withdrew it --------------------------------------------------------


def test_the_history_of_a_reference_names_the_pdm_who_withdrew_its_validation(client, pdm):
    pdm.first_name, pdm.last_name = "Pat", "Manager"
    pdm.save()
    reference = CustomerReferenceFactory(partner=PartnerFactory(pdm=pdm), validated_by=pdm)

    client.post(
        reverse("admin:partners_customerreference_changelist"),
        {"action": "withdraw_validation", ACTION_CHECKBOX_NAME: [reference.pk], "index": 0},
    )

    reference.refresh_from_db()
    assert (reference.is_validated, reference.validated_by) == (False, None)
    latest = reference.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (pdm, "Validation withdrawn")
    page = page_text(client.get(reverse("admin:partners_customerreference_history", args=[reference.pk])))
    assert "Validation withdrawn" in page
    assert "Pat Manager" in page


def test_the_history_of_a_reference_names_the_pdm_who_validated_it(client, pdm):
    reference = CustomerReferenceFactory(
        partner=PartnerFactory(pdm=pdm), is_validated=False, validated_at=None
    )

    client.post(
        reverse("admin:partners_customerreference_changelist"),
        {"action": "validate", ACTION_CHECKBOX_NAME: [reference.pk], "index": 0},
    )

    latest = reference.history.latest()
    assert (latest.is_validated, latest.history_user, latest.history_change_reason) == (
        True,
        pdm,
        "Validated",
    )
