"""A partner registers its own customer projects (the design's "a completed project the partner registers"),
corrects or withdraws them until its PDM validates them, and never validates one itself."""

import datetime

import pytest
from django.utils import timezone

from apn_portal.outbox.models import OutboxMessage
from partners.models import CustomerReference
from tests.api.conftest import api_client
from tests.factories import CustomerReferenceFactory, PartnerFactory, PartnerUserFactory, PdmFactory

pytestmark = pytest.mark.django_db

LAUNCHED = (timezone.localdate() - datetime.timedelta(days=30)).isoformat()


@pytest.fixture
def acme(db):
    return PartnerFactory(name="Acme Cloud", slug="acme", pdm=PdmFactory(username="pdm-pat"))


@pytest.fixture
def staff(acme):
    return PartnerUserFactory(partner=acme)


def _register(user, **fields):
    body = {"partner": "acme", "customer_name": "Contoso", "summary": "Moved 40 VMs", "launched_on": LAUNCHED}
    return api_client(user).post("/api/v1/references/", {**body, **fields}, format="json")


def test_the_partners_staff_register_a_reference_its_pdm_then_validates(acme, staff):
    registered = _register(staff, is_public=True, is_validated=False)

    assert registered.status_code == 201, registered.content
    reference = CustomerReference.objects.get(pk=registered.json()["id"])
    assert reference.partner == acme and not reference.is_validated
    told = OutboxMessage.objects.get(subject="Acme Cloud registered a customer reference to validate")
    assert told.to == [acme.pdm.email]
    validated = api_client(acme.pdm).patch(
        f"/api/v1/references/{reference.pk}/", {"is_validated": True}, format="json"
    )
    assert validated.status_code == 200 and validated.json()["is_validated"] is True


VALIDATES = (
    "Only Acme Cloud's PDM validates a reference: its own staff register and correct theirs until then."
)


def test_the_partners_staff_do_not_validate_their_own_reference(acme, staff):
    refused = _register(staff, is_validated=True)
    reference = CustomerReferenceFactory(partner=acme, is_validated=False, validated_at=None)
    not_validated = api_client(staff).patch(
        f"/api/v1/references/{reference.pk}/", {"is_validated": True}, format="json"
    )

    # Said before as "You cannot change Acme Cloud: only its assigned PDM or a superuser can.", though
    # they may register and correct the partner's references: only validating one is the PDM's.
    assert refused.status_code == not_validated.status_code == 403
    assert refused.json() == not_validated.json() == {"detail": VALIDATES}
    assert list(CustomerReference.objects.values_list("pk", "is_validated")) == [(reference.pk, False)]


def test_an_unvalidated_reference_is_corrected_or_withdrawn_by_the_partner(acme, staff):
    reference = CustomerReferenceFactory(partner=acme, is_validated=False, validated_at=None)
    client = api_client(staff)

    corrected = client.patch(
        f"/api/v1/references/{reference.pk}/", {"summary": "Moved 60 VMs"}, format="json"
    )
    assert corrected.status_code == 200 and corrected.json()["summary"] == "Moved 60 VMs"
    assert client.delete(f"/api/v1/references/{reference.pk}/").status_code == 204
    assert not CustomerReference.objects.filter(pk=reference.pk).exists()


def test_a_validated_reference_changes_only_through_the_pdm(acme, staff):
    reference = CustomerReferenceFactory(partner=acme, summary="As validated")
    client = api_client(staff)

    patched = client.patch(f"/api/v1/references/{reference.pk}/", {"summary": "Bigger"}, format="json")
    deleted = client.delete(f"/api/v1/references/{reference.pk}/")

    assert patched.status_code == deleted.status_code == 403
    assert (
        patched.json()["detail"]
        == "Acme Cloud's PDM has validated this reference: it now changes only through them."
    )
    assert CustomerReference.objects.get(pk=reference.pk).summary == "As validated"


def test_another_partners_staff_register_nothing_for_it(acme):
    outsider = PartnerUserFactory(partner=PartnerFactory(name="Other Ltd"))
    PartnerFactory(slug="hidden", is_published=False)

    refused = _register(outsider)
    unpublished = _register(outsider, partner="hidden")

    # A published partner is public: told why, as its PDM's colleagues are; an unpublished one stays unknown.
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Only Acme Cloud's own staff or its PDM can keep its customer references."
    }
    assert unpublished.status_code == 400
    assert unpublished.json() == {"partner": ["Object with slug=hidden does not exist."]}
    assert not CustomerReference.objects.exists()
