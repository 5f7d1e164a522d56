"""The support API: plans are public; subscriptions, cases and replies are each organisation's own (another
organisation's is a 404), writes go through the services with their messages, and lists cost a constant
number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from engagements.services import access_grant_revoke
from support import services
from support.models import SupportCase, SupportSubscription
from tests.factories import SupportSubscriptionFactory, support_plan
from tests.textarea import as_the_browser_sends, typed_in_paragraphs

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def open_case(user, account, severity="production_down", subject="Site down"):
    return services.support_case_open(
        user=user, account=account, subject=subject, description="503 everywhere.", severity=severity
    )


@pytest.fixture
def cases(alpha, bravo, tam):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    SupportSubscriptionFactory(customer=bravo.customer, plan="enterprise", tam=tam)
    return {
        "alpha": open_case(alpha.staff, alpha.account, subject="Alpha checkout down"),
        "alpha_by_partner": open_case(alpha.partner_user, alpha.granted_account, subject="Alpha web slow"),
        "bravo": open_case(bravo.staff, bravo.account, "business_critical_down", subject="Bravo ledger down"),
    }


def test_plans_are_public_with_their_features_and_targets():
    response = api().get("/api/v1/support-plans/")

    assert response.status_code == 200
    plans = {plan["slug"]: plan for plan in response.json()["results"]}
    assert list(plans) == [
        "basic",
        "developer",
        "business",
        "business-support-plus",
        "enterprise-on-ramp",
        "enterprise",
    ]
    developer = plans["developer"]
    assert (
        developer["technical_support"] == "Local business hours access to Cloud Support Associates via email"
    )
    assert developer["retires_on"] == "2027-01-01" and developer["successor"] == "business-support-plus"
    assert {t["severity"]: t["minutes"] for t in plans["enterprise"]["response_targets"]}[
        "business_critical_down"
    ] == 15
    assert api().get("/api/v1/support-plans/enterprise/").json()["tam_coverage"] == "designated"


def test_plans_offered_on_a_day():
    response = api().get("/api/v1/support-plans/", {"offered_on": "2027-01-01"})

    assert "developer" not in {plan["slug"] for plan in response.json()["results"]}


@pytest.mark.parametrize("who", ["admin", "staff", "partner_user", "account_manager"])
def test_nobody_sees_another_organisations_cases_or_subscriptions(alpha, cases, who):
    client = api(getattr(alpha, who))

    for resource in ("support-cases", "support-subscriptions"):
        body = client.get(f"/api/v1/{resource}/")
        assert body.status_code == 200
        assert "bravo" not in body.content.decode().lower()
    assert client.get(f"/api/v1/support-cases/{cases['bravo'].pk}/").status_code == 404
    assert client.get(f"/api/v1/support-cases/{cases['bravo'].pk}/replies/").status_code == 404
    assert (
        client.post(f"/api/v1/support-cases/{cases['bravo'].pk}/replies/", {"body": "hi"}).status_code == 404
    )
    bravo_subscription = SupportSubscription.objects.get(customer=cases["bravo"].customer)
    assert client.get(f"/api/v1/support-subscriptions/{bravo_subscription.pk}/").status_code == 404


def test_a_partner_sees_only_the_cases_it_opened(alpha, cases, stranger):
    ids = {case["id"] for case in api(alpha.partner_user).get("/api/v1/support-cases/").json()["results"]}

    assert ids == {cases["alpha_by_partner"].pk}
    assert api(stranger).get("/api/v1/support-cases/").json()["results"] == []


def test_a_partner_whose_access_was_revoked_no_longer_sees_or_acts_on_the_case_it_opened(alpha, cases):
    case = cases["alpha_by_partner"]
    client = api(alpha.partner_user)
    assert client.get(f"/api/v1/support-cases/{case.pk}/").status_code == 200

    grant = alpha.granted_account.access_grants.get()
    access_grant_revoke(user=alpha.admin, grant=grant, reason="Contract lost")

    assert client.get("/api/v1/support-cases/").json()["results"] == []
    assert client.get(f"/api/v1/support-cases/{case.pk}/").status_code == 404
    assert client.get(f"/api/v1/support-cases/{case.pk}/replies/").status_code == 404
    assert client.post(f"/api/v1/support-cases/{case.pk}/replies/", {"body": "hi"}).status_code == 404
    assert client.post(f"/api/v1/support-cases/{case.pk}/status/", {"status": "closed"}).status_code == 404
    case.refresh_from_db()
    assert case.status == "open" and not case.replies.exists()


def test_a_reseller_the_customer_took_support_from_no_longer_sees_or_answers_the_case(alpha, reseller):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account, subject="Resold account slow")
    client = api(reseller.user)
    assert client.get(f"/api/v1/support-cases/{case.pk}/").json()["handling_partner"] == "resell-co"

    reseller.account.reseller, reseller.account.paid_by = None, "customer"
    reseller.account.save()
    services.support_subscription_change(
        user=alpha.admin, customer=alpha.customer, account=reseller.account, plan=support_plan("business")
    )
    services.support_case_reply(user=alpha.staff, case=case, body="Our DB password is hunter2")

    assert client.get("/api/v1/support-cases/").json()["results"] == []
    assert client.get(f"/api/v1/support-cases/{case.pk}/").status_code == 404
    assert client.get(f"/api/v1/support-cases/{case.pk}/replies/").status_code == 404
    assert client.post(f"/api/v1/support-cases/{case.pk}/replies/", {"body": "Still here"}).status_code == 404
    customer = api(alpha.staff)
    assert customer.get(f"/api/v1/support-cases/{case.pk}/").json()["handling_partner"] is None
    replies = customer.get(f"/api/v1/support-cases/{case.pk}/replies/").json()["results"]
    assert [reply["body"] for reply in replies][-1] == "Our DB password is hunter2"
    assert "now with the provider's support" in replies[0]["body"]


def test_anonymous_callers_get_401_on_cases():
    assert api().get("/api/v1/support-cases/").status_code == 401


def test_a_customer_opens_a_case_and_gets_its_deadline(alpha, cases):
    response = api(alpha.staff).post(
        "/api/v1/support-cases/",
        {
            "account": alpha.account.account_id,
            "severity": "production_impaired",
            "subject": "Replica lag",
            "description": "Lag above 10 minutes.",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customer"] == "alpha-customer"
    assert body["plan"] == "business"
    assert body["response_target_minutes"] == 240
    assert body["first_response_due_at"] and body["status"] == "open"


def test_a_severity_beyond_the_plan_is_a_400_with_the_reason(alpha, cases):
    response = api(alpha.staff).post(
        "/api/v1/support-cases/",
        {
            "account": alpha.account.account_id,
            "severity": "business_critical_down",
            "subject": "x",
            "description": "y",
        },
    )

    assert response.status_code == 400
    assert "On the Business plan a technical case can be" in response.json()["severity"][0]


def test_a_partner_cannot_open_a_case_on_an_account_it_was_not_authorised_for(alpha, bravo, cases, stranger):
    for user, account in (
        (alpha.partner_user, alpha.account),
        (alpha.partner_user, bravo.account),
        (stranger, alpha.account),
    ):
        response = api(user).post(
            "/api/v1/support-cases/",
            {
                "account": account.account_id,
                "severity": "general_guidance",
                "subject": "x",
                "description": "y",
            },
        )
        assert response.status_code == 400
        assert "does not exist" in response.json()["account"][0]
    assert SupportCase.objects.count() == 3


def test_replies_and_status_through_the_api(alpha, cases, engineer):
    case = cases["alpha"]

    answered = api(engineer).post(f"/api/v1/support-cases/{case.pk}/replies/", {"body": "Failing over now."})
    assert answered.status_code == 201
    assert answered.json()["side"] == "provider_support"
    assert (
        api(alpha.staff)
        .post(f"/api/v1/support-cases/{case.pk}/status/", {"status": "in_progress"})
        .status_code
        == 403
    )
    closed = api(alpha.staff).post(f"/api/v1/support-cases/{case.pk}/status/", {"status": "closed"})

    assert closed.status_code == 200
    assert closed.json()["status"] == "closed" and closed.json()["first_responder"] == engineer.username
    replies = api(alpha.admin).get(f"/api/v1/support-cases/{case.pk}/replies/").json()["results"]
    assert [r["body"] for r in replies] == ["Failing over now."]


def test_a_reply_sent_with_cr_lf_up_to_the_pages_limit_is_stored_as_the_page_stores_it(alpha, cases):
    # A client posting what a textarea gave it sends CR LF: stored with LF, as through the page, so the same
    # reply is the same text (and the same length) whichever way it came.
    case = cases["alpha"]
    typed = typed_in_paragraphs(20000)

    response = api(alpha.staff).post(
        f"/api/v1/support-cases/{case.pk}/replies/", {"body": as_the_browser_sends(typed)}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["body"] == typed
    assert case.replies.get().body == typed


def test_subscriptions_through_the_api(alpha, tam):
    client = api(alpha.account_manager)

    created = client.post(
        "/api/v1/support-subscriptions/",
        {"customer": alpha.customer.slug, "plan": "enterprise", "tam": tam.username},
    )
    assert created.status_code == 201, created.content
    assert created.json()["change"] == "started" and created.json()["tam"] == tam.username

    refused = api(alpha.admin).post(
        "/api/v1/support-subscriptions/",
        {"customer": alpha.customer.slug, "plan": "developer", "tam": tam.username},
    )
    assert refused.status_code == 400
    assert "does not come with a designated TAM" in refused.json()["tam"][0]

    moved = api(alpha.admin).post(
        "/api/v1/support-subscriptions/", {"customer": alpha.customer.slug, "plan": "developer"}
    )
    assert moved.status_code == 201
    assert moved.json()["change"] == "downgraded"
    assert moved.json()["moves_to"] == {"successor": "business-support-plus", "on": "2027-01-01"}


def test_a_customers_staff_cannot_change_the_plan(alpha, bravo):
    response = api(alpha.staff).post(
        "/api/v1/support-subscriptions/", {"customer": alpha.customer.slug, "plan": "business"}
    )
    assert response.status_code == 403
    other = api(bravo.admin).post(
        "/api/v1/support-subscriptions/", {"customer": alpha.customer.slug, "plan": "business"}
    )
    assert other.status_code == 400  # Alpha does not exist for Bravo
    assert not SupportSubscription.objects.exists()


def test_ending_a_subscription_through_the_api(alpha):
    subscription = services.support_subscription_change(
        user=alpha.admin, customer=alpha.customer, plan=support_plan("business")
    )

    response = api(alpha.admin).post(f"/api/v1/support-subscriptions/{subscription.pk}/end/", {})

    assert response.status_code == 200 and response.json()["ended_at"]


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("resource", ["support-cases", "support-subscriptions", "support-plans"])
def test_lists_cost_the_same_number_of_queries_however_long(alpha, engineer, cases, resource):
    client = api(engineer)
    before = count_queries(client, f"/api/v1/{resource}/")

    for i in range(6):
        open_case(alpha.staff, alpha.account, subject=f"More trouble {i}")
        SupportSubscriptionFactory(customer=alpha.customer, account=alpha.granted_account, plan="developer")
        SupportSubscription.objects.filter(account=alpha.granted_account, ended_at__isnull=True).update(
            ended_at=SupportSubscription.objects.values("started_at")[:1]
        )

    assert count_queries(client, f"/api/v1/{resource}/") == before


def test_cases_are_walked_only_in_orders_that_never_skip_a_case(alpha, cases):
    """A cursor cannot step past a null: ordering by the deadline, which a case without a target lacks,
    would leave such cases out of a walk. It is refused, naming the orders there are."""
    response = api(alpha.staff).get("/api/v1/support-cases/", {"ordering": "first_response_due_at"})

    assert response.status_code == 400
    assert "ordering" in response.json()
    walked = api(alpha.staff).get("/api/v1/support-cases/", {"ordering": "opened_at"})
    assert walked.status_code == 200
