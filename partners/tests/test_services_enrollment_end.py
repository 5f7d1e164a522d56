"""A Solution Provider enrollment revoked ends the partner's partner-led support: the open cases it handles,
at every customer, are the provider's support's from then on. Each customer's case page and the API no
longer name the partner, and a line on each case says why."""

from dataclasses import dataclass

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from partners.services import enrollment_revoke
from support.choices import CaseStatus
from support.services import support_case_open, support_case_status_change
from tests.factories import (
    ApprovedEnrollmentFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    PartnerFactory,
    SuperUserFactory,
    SupportSubscriptionFactory,
    program,
)

pytestmark = pytest.mark.django_db


@dataclass
class Resold:
    staff: object
    account: object
    case: object


def _resold_by(partner, name: str, account_id: str) -> Resold:
    customer = CustomerFactory(name=name)
    staff = CustomerUserFactory(customer=customer)
    account = AwsAccountFactory(
        customer=customer, account_id=account_id, paid_by="reseller", reseller=partner
    )
    SupportSubscriptionFactory(customer=customer, account=account, plan="business", support_partner=partner)
    case = support_case_open(
        user=staff, account=account, subject="Checkout down", description="503.", severity="general_guidance"
    )
    assert case.handling_partner == partner
    return Resold(staff, account, case)


@pytest.fixture
def reseller():
    partner = PartnerFactory(name="Resell Co", slug="resell-co")
    enrollment = ApprovedEnrollmentFactory(partner=partner, program=program("solution-provider"))
    return partner, enrollment


def _case_in_api(user, case) -> dict:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api.get(f"/api/v1/support-cases/{case.pk}/").json()


def test_revoking_a_solution_provider_hands_its_cases_at_every_customer_to_the_providers_support(
    client, reseller
):
    partner, enrollment = reseller
    alpha = _resold_by(partner, "Alpha", "111000000009")
    bravo = _resold_by(partner, "Bravo", "222000000009")
    pdm = SuperUserFactory(first_name="Pat", last_name="Manager")

    enrollment_revoke(enrollment=enrollment, user=pdm, reason="Reseller contract breached.")

    for resold in (alpha, bravo):
        client.force_login(resold.staff)
        page = client.get(reverse("support:case-detail", args=[resold.case.pk])).content.decode()
        assert "Resell Co (partner-led support)" not in page
        assert "<dt>Answered by</dt><dd>The provider's support</dd>" in page
        assert (
            f"Resell Co no longer gives account {resold.account.account_id} partner-led support (Pat Manager "
            "revoked its Solution Provider enrollment), so this case is now with the provider&#x27;s support"
        ) in page
        assert "breached" not in page  # the reason is the partner's to read, not its customers'
        assert _case_in_api(resold.staff, resold.case)["handling_partner"] is None


def test_a_closed_case_stays_as_it_was_handled_and_another_programs_revocation_moves_nothing(reseller):
    partner, enrollment = reseller
    alpha = _resold_by(partner, "Alpha", "111000000009")
    closed = support_case_open(
        user=alpha.staff,
        account=alpha.account,
        subject="Old",
        description="Old.",
        severity="general_guidance",
    )
    support_case_status_change(user=alpha.staff, case=closed, status=CaseStatus.CLOSED)
    other = ApprovedEnrollmentFactory(partner=partner, program=program("migration"))

    enrollment_revoke(enrollment=other, user=SuperUserFactory(), reason="Lapsed.")
    alpha.case.refresh_from_db()
    assert alpha.case.handling_partner == partner and not alpha.case.replies.exists()

    enrollment_revoke(enrollment=enrollment, user=SuperUserFactory(), reason="Lapsed.")
    alpha.case.refresh_from_db()
    closed.refresh_from_db()
    assert alpha.case.handling_partner is None and alpha.case.replies.count() == 1
    assert closed.handling_partner == partner and not closed.replies.exists()
