"""A partner's certifications and customer references, changed through their services outside a request (a
script, a task, an import), name who changed them in their History, as a partner's other records do."""

import datetime

import pytest

from partners.choices import CertificationLevel
from partners.models import Certification, CustomerReference
from partners.services_records import (
    certification_create,
    certification_delete,
    certification_update,
    reference_delete,
    reference_update,
)
from tests.factories import (
    CertificationFactory,
    CustomerReferenceFactory,
    PartnerFactory,
    PdmFactory,
    StaffMemberFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pdm():
    return PdmFactory()


@pytest.fixture
def partner(pdm):
    return PartnerFactory(pdm=pdm)


def _latest(model, pk):
    return model.history.filter(id=pk).order_by("-history_date", "-history_id").first()


def test_a_certification_recorded_names_who_recorded_it(partner, pdm):
    certification = certification_create(
        staff_member=StaffMemberFactory(partner=partner),
        user=pdm,
        name="Solutions Architect",
        level=CertificationLevel.ASSOCIATE,
        earned_on=datetime.date(2026, 1, 5),
    )

    assert _latest(Certification, certification.pk).history_user == pdm


def test_a_certification_corrected_names_who_corrected_it(partner, pdm):
    certification = CertificationFactory(staff_member=StaffMemberFactory(partner=partner))

    certification_update(certification=certification, user=pdm, name="Developer")

    latest = _latest(Certification, certification.pk)
    assert (latest.name, latest.history_user) == ("Developer", pdm)


def test_a_certification_removed_names_who_removed_it(partner, pdm):
    certification = CertificationFactory(staff_member=StaffMemberFactory(partner=partner))
    pk = certification.pk

    certification_delete(certification=certification, user=pdm)

    latest = _latest(Certification, pk)
    assert (latest.history_type, latest.history_user) == ("-", pdm)


def test_a_reference_corrected_names_who_corrected_it(partner, pdm):
    reference = CustomerReferenceFactory(partner=partner)

    reference_update(reference=reference, user=pdm, summary="Moved the shop to containers.")

    latest = _latest(CustomerReference, reference.pk)
    assert (latest.summary, latest.history_user) == ("Moved the shop to containers.", pdm)


def test_a_reference_withdrawn_names_who_withdrew_it(partner, pdm):
    reference = CustomerReferenceFactory(partner=partner)
    pk = reference.pk

    reference_delete(reference=reference, user=pdm)

    latest = _latest(CustomerReference, pk)
    assert (latest.history_type, latest.history_user) == ("-", pdm)
