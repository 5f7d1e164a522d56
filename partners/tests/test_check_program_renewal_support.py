"""program_renewal ends Solution Provider enrollments (expiry, minimum tier) as enrollment_revoke does: the
partner's open partner-led cases, at every customer, go to the provider's support, and a line by the portal
on each tells the customer why."""

import datetime
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from partners.choices import EnrollmentStatus, TierChangeSource
from partners.services import partner_tier_change
from support.models import CaseReply
from support.services import support_case_open
from tests.factories import (
    ApprovedEnrollmentFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    PartnerFactory,
    SupportSubscriptionFactory,
    program,
    tier,
)

from .test_check_program_renewal import EXPIRY, START, on, run_on

pytestmark = pytest.mark.django_db


@dataclass
class Resold:
    staff: object
    account: object
    case: object


def reseller(name: str, expires_on=EXPIRY):
    with on(START):
        partner = PartnerFactory(name=name, tier=tier(slug="select"))
        enrollment = ApprovedEnrollmentFactory(
            partner=partner,
            program=program("solution-provider"),
            approved_on=START - datetime.timedelta(days=300),
            expires_on=expires_on,
        )
    return partner, enrollment


_account_ids = iter(range(111000000001, 111000009999))


def resold_by(partner, name: str) -> Resold:
    with on(START):
        customer = CustomerFactory(name=name)
        staff = CustomerUserFactory(customer=customer)
        account = AwsAccountFactory(
            customer=customer, account_id=str(next(_account_ids)), paid_by="reseller", reseller=partner
        )
        SupportSubscriptionFactory(
            customer=customer, account=account, plan="business", support_partner=partner
        )
        case = support_case_open(
            user=staff, account=account, subject="Down", description="503.", severity="general_guidance"
        )
    assert case.handling_partner == partner
    return Resold(staff, account, case)


def case_page(client, resold: Resold) -> str:
    client.force_login(resold.staff)
    return client.get(reverse("support:case-detail", args=[resold.case.pk])).content.decode()


def case_in_api(resold: Resold) -> dict:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=resold.staff)[0].key}")
    return api.get(f"/api/v1/support-cases/{resold.case.pk}/").json()


def replies_in_api(resold: Resold) -> list[dict]:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=resold.staff)[0].key}")
    return api.get(f"/api/v1/support-cases/{resold.case.pk}/replies/").json()["results"]


def test_an_expired_solution_provider_enrollment_hands_its_cases_to_the_providers_support(client):
    partner, enrollment = reseller("Resell Co")
    alpha = resold_by(partner, "Alpha")
    assert "Resell Co (partner-led support)" in case_page(client, alpha)

    run = run_on(EXPIRY + datetime.timedelta(days=1))

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.EXPIRED
    assert run.changed["enrollments_expired"] == 1
    page = case_page(client, alpha)
    assert "Resell Co (partner-led support)" not in page
    assert "<dt>Answered by</dt><dd>The provider's support</dd>" in page
    assert (
        f"Resell Co no longer gives account {alpha.account.account_id} partner-led support (its Solution "
        "Provider enrollment expired on 30 Sep 2026), so this case is now with the provider&#x27;s support"
    ) in page
    assert "APN Portal · Provider support" in page
    assert case_in_api(alpha)["handling_partner"] is None
    [line] = replies_in_api(alpha)
    assert (line["author"], line["author_name"], line["side"]) == (None, "APN Portal", "provider_support")

    run_on(EXPIRY + datetime.timedelta(days=2))
    assert CaseReply.objects.filter(case=alpha.case).count() == 1


def test_a_solution_provider_enrollment_revoked_below_its_minimum_tier_hands_its_cases_over(client):
    solution_provider = program("solution-provider")
    solution_provider.minimum_tier = tier(slug="select")
    solution_provider.save()
    partner, enrollment = reseller("Resell Co", expires_on=datetime.date(2027, 12, 31))
    alpha = resold_by(partner, "Alpha")
    partner_tier_change(
        partner=partner,
        to_tier=tier(slug="registered"),
        reason="Test",
        source=TierChangeSource.SCHEDULED_CHECK,
        at=datetime.datetime(2026, 4, 1, 3, 0, tzinfo=datetime.UTC),
    )
    revoke_on = datetime.date(2026, 4, 1) + datetime.timedelta(days=tier(slug="select").grace_period_days)

    run_on(revoke_on - datetime.timedelta(days=1))
    alpha.case.refresh_from_db()
    assert alpha.case.handling_partner == partner and not alpha.case.replies.exists()

    run_on(revoke_on)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REVOKED
    page = case_page(client, alpha)
    assert "Resell Co (partner-led support)" not in page
    assert (
        "partner-led support (its Solution Provider enrollment was revoked: the partner is below the Select "
        "tier the program requires)"
    ) in page
    assert case_in_api(alpha)["handling_partner"] is None

    run_on(revoke_on + datetime.timedelta(days=1))
    assert CaseReply.objects.filter(case=alpha.case).count() == 1


def test_the_hand_over_takes_as_many_queries_for_many_partners_and_customers_as_for_one():
    first_expiry = EXPIRY - datetime.timedelta(days=30)
    one, _ = reseller("Solo", expires_on=first_expiry)
    solo = resold_by(one, "Solo customer")
    many = [reseller(f"Partner {n}")[0] for n in range(3)]
    moved = [resold_by(partner, f"Customer {n}-{i}") for n, partner in enumerate(many) for i in range(2)]
    # Another program's expiry leaves partner-led support alone.
    with on(START):
        ApprovedEnrollmentFactory(
            partner=many[0], program=program("migration"), approved_on=START, expires_on=first_expiry
        )

    with CaptureQueriesContext(connection) as for_one:
        run_on(first_expiry + datetime.timedelta(days=1))
    for resold in moved:
        resold.case.refresh_from_db()
        assert resold.case.handling_partner is not None and not resold.case.replies.exists()
    with CaptureQueriesContext(connection) as for_many:
        run_on(EXPIRY + datetime.timedelta(days=1))

    for resold in [solo, *moved]:
        resold.case.refresh_from_db()
        assert resold.case.handling_partner is None
        assert resold.case.replies.get().author is None
    assert len(for_many) == len(for_one)
