"""The world API tests run in: three organisations (partners A and B, and the provider), and a client
for each role, authenticated by its API token."""

from dataclasses import dataclass

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from partners.choices import PartnerType, TierChangeSource
from partners.models import TierChange
from tests.factories import (
    CertificationFactory,
    ContactRequestFactory,
    CustomerReferenceFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    StaffMemberFactory,
    SuperUserFactory,
    tier,
)

ROLES = ("anonymous", "user_a", "user_b", "pdm_a", "other_pdm", "superuser")


@dataclass
class World:
    partner_a: object
    partner_b: object
    users: dict
    program: object
    staff_member_a: object
    certification_a: object
    reference_a: object
    enrollment_a: object
    tier_change_a: object
    contact_request_a: object

    def client(self, role: str) -> APIClient:
        return api_client(self.users.get(role))


def api_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def world(db) -> World:
    pdm_a, other_pdm = PdmFactory(username="pdm_a"), PdmFactory(username="other_pdm")
    partner_a = PartnerFactory(slug="alpha", name="Alpha Cloud", pdm=pdm_a)
    partner_b = PartnerFactory(slug="bravo", name="Bravo Systems", pdm=other_pdm)
    users = {
        "user_a": PartnerUserFactory(username="user_a", partner=partner_a),
        "user_b": PartnerUserFactory(username="user_b", partner=partner_b),
        "pdm_a": pdm_a,
        "other_pdm": other_pdm,
        "superuser": SuperUserFactory(username="root"),
    }
    staff_member_a = StaffMemberFactory(partner=partner_a)
    program = ProgramFactory(slug="open-program", partner_type="")
    return World(
        partner_a=partner_a,
        partner_b=partner_b,
        users=users,
        program=program,
        staff_member_a=staff_member_a,
        certification_a=CertificationFactory(staff_member=staff_member_a),
        reference_a=CustomerReferenceFactory(partner=partner_a, is_public=False),
        enrollment_a=ProgramEnrollmentFactory(partner=partner_a, program=program),
        tier_change_a=TierChange.objects.create(
            partner=partner_a,
            from_tier=tier(PartnerType.CONSULTING, "select"),
            to_tier=tier(PartnerType.CONSULTING, "registered"),
            reason="Demoted: certifications lapsed",
            source=TierChangeSource.SCHEDULED_CHECK,
            changed_at=timezone.now(),
        ),
        contact_request_a=ContactRequestFactory(partner=partner_a),
    )
