"""Partner-led support ends without a change of plan when the customer takes the resold account back or the
reseller's Solution Provider enrollment ends. The subscription still names the partner, as it was signed,
but from then on the customer's page no longer says the partner answers, the former reseller no longer
reads the subscription, and a plan the portal or the Account Manager moves the customer to does not carry
the partner over (selectors.subscriptions_partner_led, the rule cases_partner_led applies to cases)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engagements.services import aws_account_change, customer_assign_staff
from partners.models import ProgramEnrollment
from partners.services import enrollment_revoke
from support import services
from tests.api.conftest import api_client
from tests.factories import (
    AwsAccountFactory,
    QualifiedTamFactory,
    SuperUserFactory,
    SupportSubscriptionFactory,
)

pytestmark = pytest.mark.django_db

RETIREMENT_DAY = datetime.datetime(2027, 1, 1, 0, 10, tzinfo=datetime.UTC)  # Business retires


def take_the_account_back(alpha, reseller):
    account = reseller.account
    account.paid_by, account.reseller = "customer", None
    aws_account_change(user=alpha.admin, account=account, fields=["paid_by", "reseller"])


def revoke_the_enrollment(alpha, reseller):
    enrollment_revoke(
        enrollment=ProgramEnrollment.objects.get(partner=reseller.partner),
        user=SuperUserFactory(),
        reason="Audit finding",
    )


ENDINGS = [
    pytest.param(take_the_account_back, id="account taken back"),
    pytest.param(revoke_the_enrollment, id="enrollment revoked"),
]


def support_page(client, alpha) -> str:
    client.force_login(alpha.admin)
    response = client.get("/my/support/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("end", ENDINGS)
def test_the_customers_page_no_longer_names_the_reseller_on_the_account(client, alpha, reseller, end):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    assert "111000000009 (Alpha-resold): <strong>Business</strong>, partner-led by Resell Co" in support_page(
        client, alpha
    )

    end(alpha, reseller)

    page = support_page(client, alpha)
    assert "partner-led by Resell Co" not in page
    assert (
        "<strong>Business</strong>, answered by the provider's support "
        "(Resell Co no longer gives it partner-led support)" in page
    )


@pytest.mark.parametrize("end", ENDINGS)
def test_the_customers_page_no_longer_names_the_reseller_of_its_plan(client, alpha, reseller, end):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business", support_partner=reseller.partner)
    assert "with partner-led support from <strong>Resell Co</strong>" in support_page(client, alpha)

    end(alpha, reseller)

    page = support_page(client, alpha)
    assert "with partner-led support from" not in page
    assert "Resell Co no longer gives your accounts partner-led support" in page


def test_a_plan_for_the_whole_customer_stays_partner_led_while_the_partner_resells_one_account(
    client, alpha, reseller
):
    AwsAccountFactory(
        customer=alpha.customer, account_id="111000000010", paid_by="reseller", reseller=reseller.partner
    )
    SupportSubscriptionFactory(customer=alpha.customer, plan="business", support_partner=reseller.partner)

    take_the_account_back(alpha, reseller)

    assert "with partner-led support from <strong>Resell Co</strong>" in support_page(client, alpha)


def test_the_support_page_reads_whether_each_plan_is_partner_led_in_the_same_queries(client, alpha, reseller):
    def queries_reading_the_page() -> int:
        support_page(client, alpha)  # signed in, and what is read once per process read
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/my/support/").status_code == 200
        return len(queries)

    SupportSubscriptionFactory(customer=alpha.customer, plan="business", support_partner=reseller.partner)
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    one = queries_reading_the_page()
    for n in range(3):
        account = AwsAccountFactory(
            customer=alpha.customer,
            account_id=f"1110000001{n:02d}",
            reseller=reseller.partner,
            paid_by="reseller",
        )
        SupportSubscriptionFactory(
            customer=alpha.customer, account=account, plan="business", support_partner=reseller.partner
        )

    assert queries_reading_the_page() == one


@pytest.mark.parametrize("end", ENDINGS)
def test_the_former_reseller_no_longer_reads_the_subscription(alpha, reseller, end):
    subscription = SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    client = api_client(reseller.user)
    listed = client.get("/api/v1/support-subscriptions/").json()["results"]
    assert [row["id"] for row in listed] == [subscription.pk]

    end(alpha, reseller)

    assert client.get("/api/v1/support-subscriptions/").json()["results"] == []
    assert client.get(f"/api/v1/support-subscriptions/{subscription.pk}/").status_code == 404
    # The customer still reads it, naming the partner it chose.
    own = api_client(alpha.admin).get(f"/api/v1/support-subscriptions/{subscription.pk}/").json()
    assert own["support_partner"] == "resell-co"


def test_a_retired_plan_moves_on_without_a_reseller_no_longer_giving_partner_led_support(alpha, reseller):
    old = SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    revoke_the_enrollment(alpha, reseller)

    [new] = services.support_subscriptions_move_retired(now=RETIREMENT_DAY)

    assert new.replaces_id == old.pk
    assert new.support_partner_id is None
    assert new.note == (
        "Business retired on 01 Jan 2027. Resell Co no longer gave partner-led support, so Business Support+ "
        "comes without it."
    )


def test_a_retired_plan_moves_on_with_a_reseller_still_giving_partner_led_support(alpha, reseller):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )

    [new] = services.support_subscriptions_move_retired(now=RETIREMENT_DAY)

    assert new.support_partner == reseller.partner
    assert new.note == "Business retired on 01 Jan 2027."


def test_the_account_manager_names_another_tam_after_the_resellers_enrollment_ended(alpha, reseller, tam):
    SupportSubscriptionFactory(
        customer=alpha.customer, plan="enterprise", tam=tam, support_partner=reseller.partner
    )
    revoke_the_enrollment(alpha, reseller)
    tom = QualifiedTamFactory(username="tam-tom")

    customer_assign_staff(user=alpha.account_manager, customer=alpha.customer, field="tam", member=tom)

    current = alpha.customer.support_subscriptions.get(ended_at__isnull=True)
    assert (current.tam, current.support_partner) == (tom, None)
