"""A PDM's save in the admin writes back what its page edits, nothing more: a column the page does not show
(or shows read-only) that a scheduled check or another person's action changed while the save was on its
way is kept as they left it, on the record's own page and on a row of an inline alike."""

import pytest
from django.urls import reverse
from django.utils import timezone

from partners.models import Certification, CustomerReference
from partners.tests.test_admin import change_form_data
from tests.factories import CertificationFactory, CustomerReferenceFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def meanwhile(monkeypatch, model, **stored):
    """As the form is checked (after the page read the row, before it writes it), somebody else's change to
    the row commits."""
    checked = model.clean

    def checked_then_changed_by_somebody_else(instance):
        checked(instance)
        if instance.pk is not None:
            model.objects.filter(pk=instance.pk).update(**stored)

    monkeypatch.setattr(model, "clean", checked_then_changed_by_somebody_else)


def test_a_certification_saved_as_the_expiry_check_reminds_it_keeps_the_reminder(client, pdm, monkeypatch):
    certification = CertificationFactory(staff_member__partner=PartnerFactory(pdm=pdm), credential_id="AB-1")
    url = reverse("admin:partners_certification_change", args=[certification.pk])
    data = change_form_data(client, url) | {"credential_id": "AB-12"}
    # certification_expiry marks what it reminded, so the next day's run does not remind it again.
    meanwhile(monkeypatch, Certification, last_reminder_days=7)

    assert client.post(url, data).status_code == 302

    certification.refresh_from_db()
    assert (certification.credential_id, certification.last_reminder_days) == ("AB-12", 7)


def test_a_certification_row_saved_on_its_persons_page_keeps_the_reminder(client, pdm, monkeypatch):
    certification = CertificationFactory(staff_member__partner=PartnerFactory(pdm=pdm), credential_id="AB-1")
    url = reverse("admin:partners_staffmember_change", args=[certification.staff_member.pk])
    data = change_form_data(client, url) | {"certifications-0-credential_id": "AB-12"}
    meanwhile(monkeypatch, Certification, last_reminder_days=7)

    assert client.post(url, data).status_code == 302

    certification.refresh_from_db()
    assert (certification.credential_id, certification.last_reminder_days) == ("AB-12", 7)


def test_a_reference_row_saved_on_its_partners_page_keeps_a_validation_given_meanwhile(
    client, pdm, monkeypatch
):
    partner = PartnerFactory(pdm=pdm)
    reference = CustomerReferenceFactory(partner=partner, is_validated=False, validated_at=None)
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    data = change_form_data(client, url) | {"references-0-summary": "Moved 40 workloads in a quarter."}
    # Another PDM validates it from the reference list, in another tab.
    validated = {"is_validated": True, "validated_by": pdm, "validated_at": timezone.now()}
    meanwhile(monkeypatch, CustomerReference, **validated)

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    reference.refresh_from_db()
    assert reference.summary == "Moved 40 workloads in a quarter."
    assert (reference.is_validated, reference.validated_by) == (True, pdm)
