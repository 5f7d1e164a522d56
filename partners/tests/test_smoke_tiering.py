import pytest

from partners.choices import CertificationLevel
from partners.selectors import tier_evaluate
from tests.factories import CustomerReferenceFactory, PartnerFactory, give_certified_people

pytestmark = pytest.mark.django_db


def test_partner_with_select_evidence_qualifies_for_select_and_sees_what_advanced_needs():
    partner = PartnerFactory()
    give_certified_people(partner, CertificationLevel.FOUNDATIONAL, 2)
    give_certified_people(partner, CertificationLevel.ASSOCIATE, 2)
    CustomerReferenceFactory.create_batch(3, partner=partner)

    evaluation = tier_evaluate(partner)

    assert evaluation.qualified_tier.slug == "select"
    assert evaluation.next_tier.slug == "advanced"
    assert [s.message for s in evaluation.next_tier_shortfalls] == [
        "needs 2 more people with a foundational certification",
        "needs 4 more people with a technical certification",
        "needs 3 more professional-level people (professional or specialty)",
        "needs 17 more launched customer projects",
    ]
