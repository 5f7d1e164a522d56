"""The support pages: the customer's support page, the case pages customers, partners and support staff
share, isolation between organisations on every page, and constant query counts."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from engagements.services import access_grant_revoke
from support import services
from support.choices import CaseStatus
from support.models import SupportCase
from tests.factories import SupportSubscriptionFactory, support_plan
from tests.textarea import as_the_browser_sends, typed_in_paragraphs

pytestmark = pytest.mark.django_db


def open_case(user, account, severity="production_down", subject="Site down"):
    return services.support_case_open(
        user=user, account=account, subject=subject, description="503 everywhere.", severity=severity
    )


@pytest.fixture
def alpha_on_business(alpha):
    return SupportSubscriptionFactory(customer=alpha.customer, plan="business")


def test_the_customers_support_page_shows_plan_comparison_tam_cases_and_a_form(client, alpha, tam):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)
    open_case(alpha.staff, alpha.account, subject="Database failover stuck")
    client.force_login(alpha.staff)

    response = client.get(reverse("support:home"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Your support plan: Enterprise" in page
    assert f"{tam.get_full_name()} is your designated TAM." in page
    assert "Database failover stuck" in page
    assert 'action="/my/support/cases/new/"' in page
    assert "Compare support plans" in page
    for cell in ("7 core checks", "Full checks", "Personal Health Dashboard &amp; Health API", "15 minutes"):
        assert cell in page
    assert "Local business hours access to Cloud Support Associates via email" in page


def test_a_customer_on_a_retiring_plan_sees_what_it_moves_to_and_when(client, alpha):
    SupportSubscriptionFactory(customer=alpha.customer, plan="developer")
    client.force_login(alpha.admin)

    page = client.get(reverse("support:home")).content.decode()

    assert "Developer retires on 1 Jan 2027." in page
    assert "moves to <strong>Business Support+</strong>" in page


def test_a_customer_without_a_subscription_is_on_basic(client, alpha):
    client.force_login(alpha.staff)

    page = client.get(reverse("support:home")).content.decode()

    assert "Your support plan: Basic" in page
    assert "includes no technical support" in page


def test_the_severity_help_follows_the_plans_of_the_customers_accounts(client, alpha):
    # Alpha is on Basic; its production account has Business support of its own.
    SupportSubscriptionFactory(customer=alpha.customer, account=alpha.account, plan="business")
    client.force_login(alpha.staff)

    for name in ("home", "case-new"):
        url = reverse(f"support:{name}")
        response = client.get(url)
        help_text = str(response.context["case_form"]["severity"].help_text)
        assert "includes no technical support" not in help_text, name
        assert help_text.startswith("Technical cases depend on the account's plan."), name
        assert (
            f"Business (account {alpha.account.account_id}): general guidance, system impaired, production "
            "system impaired, production system down" in help_text
        ), name
        assert "Basic (your other accounts): none, account and billing only" in help_text, name
        assert help_text in response.content.decode().replace("&#x27;", "'"), name

        # Another account on a plan of its own is named too, in the same number of queries.
        before = count_queries(client, url)
        developer = SupportSubscriptionFactory(
            customer=alpha.customer, account=alpha.granted_account, plan="developer"
        )
        assert count_queries(client, url) == before, name
        help_text = str(client.get(url).context["case_form"]["severity"].help_text)
        assert f"Developer (account {alpha.granted_account.account_id}): general guidance" in help_text
        developer.delete()


def test_opening_a_case_from_the_page(client, alpha, alpha_on_business):
    client.force_login(alpha.staff)

    response = client.post(
        reverse("support:case-new"),
        {
            "account": alpha.account.pk,
            "case_type": "technical",
            "severity": "production_down",
            "subject": "Checkout fails",
            "description": "Payments time out since 10:00.",
        },
    )

    case = SupportCase.objects.get()
    assert response.status_code == 303
    assert response["Location"] == reverse("support:case-detail", args=[case.pk])
    assert (case.opened_by, case.subject) == (alpha.staff, "Checkout fails")
    detail = client.get(response["Location"]).content.decode()
    assert "A first response is due by" in detail


def test_a_description_typed_in_paragraphs_up_to_the_pages_limit_is_taken_as_typed(
    client, alpha, alpha_on_business
):
    # The page's maxlength counts each line break as one character; the browser sends it as two.
    client.force_login(alpha.staff)
    typed = typed_in_paragraphs(20000)

    response = client.post(
        reverse("support:case-new"),
        {
            "account": alpha.account.pk,
            "case_type": "technical",
            "severity": "general_guidance",
            "subject": "Slow",
            "description": as_the_browser_sends(typed),
        },
    )

    assert response.status_code == 303
    assert SupportCase.objects.get().description == typed


def test_a_severity_beyond_the_plan_is_refused_on_the_page(client, alpha, alpha_on_business):
    client.force_login(alpha.staff)

    response = client.post(
        reverse("support:case-new"),
        {
            "account": alpha.account.pk,
            "case_type": "technical",
            "severity": "business_critical_down",
            "subject": "Down",
            "description": "All down.",
        },
    )

    assert response.status_code == 400
    assert "On the Business plan a technical case can be" in response.content.decode()
    assert not SupportCase.objects.exists()


def test_a_partner_opens_cases_only_on_accounts_it_was_authorised_for(
    client, alpha, bravo, alpha_on_business
):
    client.force_login(alpha.partner_user)

    form_page = client.get(reverse("support:case-new")).content.decode()
    assert alpha.granted_account.account_id in form_page
    assert alpha.account.account_id not in form_page
    assert bravo.account.account_id not in form_page

    refused = client.post(
        reverse("support:case-new"),
        {
            "account": bravo.account.pk,
            "case_type": "technical",
            "severity": "general_guidance",
            "subject": "x",
            "description": "y",
        },
    )
    assert refused.status_code == 400
    assert not SupportCase.objects.exists()


def test_the_reselling_partner_sees_and_answers_the_cases_that_come_to_it(client, alpha, reseller):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account, subject="Resold account slow")
    client.force_login(reseller.user)

    listing = client.get(reverse("support:case-list")).content.decode()
    assert "Resold account slow" in listing
    detail = client.get(reverse("support:case-detail", args=[case.pk])).content.decode()
    assert "Pass this case on to the provider" in detail

    response = client.post(reverse("support:case-reply", args=[case.pk]), {"body": "We are on it."})

    assert response.status_code == 303
    case.refresh_from_db()
    assert case.first_responder == reseller.user and case.status == CaseStatus.IN_PROGRESS


def test_a_reseller_the_customer_took_support_from_no_longer_reaches_the_case_page(client, alpha, reseller):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account, subject="Resold account slow")
    reseller.account.reseller, reseller.account.paid_by = None, "customer"
    reseller.account.save()
    services.support_subscription_change(
        user=alpha.admin, customer=alpha.customer, account=reseller.account, plan=support_plan("business")
    )
    services.support_case_reply(user=alpha.staff, case=case, body="Our DB password is hunter2")
    client.force_login(reseller.user)

    assert "Resold account slow" not in client.get(reverse("support:case-list")).content.decode()
    assert client.get(reverse("support:case-detail", args=[case.pk])).status_code == 404
    assert (
        client.post(reverse("support:case-reply", args=[case.pk]), {"body": "Still here"}).status_code == 404
    )
    assert client.post(reverse("support:case-escalate", args=[case.pk])).status_code == 404

    client.force_login(alpha.staff)
    page = client.get(reverse("support:case-detail", args=[case.pk])).content.decode()
    assert "Resold account slow" in page and "hunter2" in page
    assert "now with the provider&#x27;s support" in page
    assert "<dt>Answered by</dt><dd>The provider's support</dd>" in page
    assert not case.replies.filter(body="Still here").exists()


def test_support_staff_answer_from_the_case_page(client, alpha, alpha_on_business, engineer):
    case = open_case(alpha.staff, alpha.account)
    client.force_login(engineer)

    assert "Site down" in client.get(reverse("support:case-list")).content.decode()
    client.post(reverse("support:case-reply", args=[case.pk]), {"body": "Restarted the load balancer."})
    client.post(reverse("support:case-status", args=[case.pk]), {"status": "waiting_on_customer"})

    case.refresh_from_db()
    assert case.first_responder == engineer and case.status == CaseStatus.WAITING_ON_CUSTOMER
    client.force_login(alpha.staff)
    page = client.get(reverse("support:case-detail", args=[case.pk])).content.decode()
    assert "Restarted the load balancer." in page


def test_the_case_list_shows_the_cases_waiting_for_an_answer_first_the_most_overdue_at_the_top(
    client, alpha, alpha_on_business, engineer
):
    overdue = open_case(alpha.staff, alpha.account, subject="Overdue since this morning")
    due_later = open_case(alpha.staff, alpha.account, subject="Due this afternoon")
    answered = open_case(alpha.staff, alpha.account, subject="Answered just now")
    now = timezone.now()
    hour = datetime.timedelta(hours=1)
    SupportCase.objects.filter(pk=overdue.pk).update(
        opened_at=now - 3 * hour, first_response_due_at=now - 2 * hour, breached_at=now - 2 * hour
    )
    SupportCase.objects.filter(pk=due_later.pk).update(opened_at=now - hour, first_response_due_at=now + hour)
    SupportCase.objects.filter(pk=answered.pk).update(opened_at=now - hour / 2, first_responded_at=now)
    client.force_login(engineer)

    page = client.get(reverse("support:case-list")).content.decode()

    shown = [page.index(subject) for subject in (overdue.subject, due_later.subject, answered.subject)]
    assert shown == sorted(shown)


def test_a_reply_typed_in_paragraphs_up_to_the_pages_limit_is_taken_as_typed(
    client, alpha, alpha_on_business
):
    # The page's maxlength counts each line break as one character; the browser sends it as two.
    case = open_case(alpha.staff, alpha.account)
    client.force_login(alpha.staff)
    typed = typed_in_paragraphs(20000)

    response = client.post(
        reverse("support:case-reply", args=[case.pk]), {"body": as_the_browser_sends(typed)}
    )

    assert response.status_code == 303
    assert case.replies.get().body == typed


def test_an_empty_reply_is_refused_with_a_message(client, alpha, alpha_on_business):
    case = open_case(alpha.staff, alpha.account)
    client.force_login(alpha.staff)

    response = client.post(reverse("support:case-reply", args=[case.pk]), {"body": "   "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_nobody_reaches_another_organisations_case(client, alpha, bravo, reseller, stranger):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    case = open_case(alpha.staff, alpha.account)
    urls = [
        reverse("support:case-detail", args=[case.pk]),
    ]
    posts = [
        (reverse("support:case-reply", args=[case.pk]), {"body": "hello"}),
        (reverse("support:case-status", args=[case.pk]), {"status": "closed"}),
    ]
    for outsider in (
        bravo.staff,
        bravo.admin,
        bravo.partner_user,
        alpha.partner_user,
        reseller.user,
        stranger,
        bravo.account_manager,
    ):
        client.force_login(outsider)
        for url in urls:
            assert client.get(url).status_code == 404, (outsider, url)
        for url, data in posts:
            assert client.post(url, data).status_code == 404, (outsider, url)
        listing = client.get(reverse("support:case-list")).content.decode()
        assert "Site down" not in listing
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and not case.replies.exists()


def test_a_partner_loses_the_cases_it_opened_once_the_customer_revokes_its_access(
    client, alpha, alpha_on_business
):
    case = open_case(alpha.partner_user, alpha.granted_account, subject="Web tier slow")
    services.support_case_reply(user=alpha.staff, case=case, body="Only for our own eyes now.")
    grant = alpha.granted_account.access_grants.get()
    access_grant_revoke(user=alpha.admin, grant=grant, reason="Contract lost")
    client.force_login(alpha.partner_user)

    attempts = (("case-detail", None), ("case-reply", {"body": "hi"}), ("case-status", {"status": "closed"}))
    for name, data in attempts:
        url = reverse(f"support:{name}", args=[case.pk])
        response = client.get(url) if data is None else client.post(url, data)
        assert response.status_code == 404, name
    assert "Web tier slow" not in client.get(reverse("support:case-list")).content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.replies.count() == 1
    # The customer keeps the case, and sees who opened it.
    client.force_login(alpha.staff)
    detail = client.get(reverse("support:case-detail", args=[case.pk])).content.decode()
    assert "Web tier slow" in detail and "Only for our own eyes now." in detail
    assert alpha.partner.name in detail


def test_each_customer_sees_only_its_own_support_page(client, alpha, bravo):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    SupportSubscriptionFactory(customer=bravo.customer, plan="developer")
    open_case(alpha.staff, alpha.account, subject="Alpha's own trouble")
    client.force_login(bravo.staff)

    page = client.get(reverse("support:home")).content.decode()

    assert "Support for Bravo Customer" in page
    assert "Your support plan: Developer" in page
    assert "Alpha" not in page


def test_signing_in_is_needed(client):
    response = client.get(reverse("support:home"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("who", "name"), [("staff", "home"), ("engineer", "case-list"), ("partner_user", "case-list")]
)
def test_query_counts_do_not_grow_with_the_number_of_cases(client, alpha, engineer, who, name):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    opener = alpha.partner_user if who == "partner_user" else alpha.staff
    accounts = [alpha.granted_account] if who == "partner_user" else [alpha.account, alpha.granted_account]
    open_case(opener, accounts[0])
    client.force_login(engineer if who == "engineer" else getattr(alpha, who))
    url = reverse(f"support:{name}")

    before = count_queries(client, url)
    for i in range(8):
        open_case(opener, accounts[i % len(accounts)], subject=f"Trouble {i}")

    assert count_queries(client, url) == before


def test_the_reselling_partners_case_list_costs_the_same_queries_however_many_it_handles(
    client, alpha, reseller
):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    open_case(alpha.staff, reseller.account)
    client.force_login(reseller.user)
    url = reverse("support:case-list")

    before = count_queries(client, url)
    for i in range(8):
        open_case(alpha.staff, reseller.account, subject=f"Trouble {i}")

    assert count_queries(client, url) == before


def test_case_detail_query_count_does_not_grow_with_replies(client, alpha, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    case = open_case(alpha.staff, alpha.account)
    services.support_case_reply(user=engineer, case=case, body="First.")
    client.force_login(alpha.staff)
    url = reverse("support:case-detail", args=[case.pk])

    before = count_queries(client, url)
    for i in range(6):
        services.support_case_reply(user=engineer if i % 2 else alpha.staff, case=case, body=f"Reply {i}")

    assert count_queries(client, url) == before
