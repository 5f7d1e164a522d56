"""Support cases: who may open one for whom, severities limited by the plan, the deadline the plan
promised at opening, first responses, partner-led routing, and the case's status."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apn_portal.exceptions import ConflictError, DomainError, PermissionDeniedError
from engagements.models import Customer
from support import selectors, services
from support.choices import CaseStatus, CaseType, ReplySide
from support.models import SupportCase
from tests.factories import (
    AccessGrantFactory,
    AwsAccountFactory,
    QualifiedTamFactory,
    SupportSubscriptionFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
FRIDAY_17_50 = datetime.datetime(2026, 11, 27, 17, 50, tzinfo=LONDON)


def open_case(user, account, severity="general_guidance", case_type=CaseType.TECHNICAL, at=FRIDAY_17_50):
    with time_machine.travel(at, tick=False):
        return services.support_case_open(
            user=user,
            account=account,
            subject="Instances unreachable",
            description="Since 17:30 nothing answers on port 443.",
            severity=severity,
            case_type=case_type,
        )


def reply(user, case, at=FRIDAY_17_50 + datetime.timedelta(minutes=5)):
    with time_machine.travel(at, tick=False):
        return services.support_case_reply(user=user, case=case, body="Looking into it.")


# Severity and the plan -------------------------------------------------------------------------------------


def test_basic_opens_no_technical_case_but_account_and_billing_questions(alpha):
    with pytest.raises(DomainError, match="Basic plan includes no technical support"):
        open_case(alpha.staff, alpha.account)

    case = open_case(alpha.staff, alpha.account, case_type=CaseType.ACCOUNT_AND_BILLING)

    assert case.plan.slug == "basic" and case.subscription is None
    assert case.first_response_due_at is None  # no response-time target
    with pytest.raises(DomainError, match="opened as general guidance"):
        open_case(alpha.staff, alpha.account, "production_down", CaseType.ACCOUNT_AND_BILLING)


@pytest.mark.parametrize(
    ("plan", "allowed", "refused"),
    [
        ("developer", ["general_guidance", "system_impaired"], "production_impaired"),
        ("business", ["system_impaired", "production_impaired", "production_down"], "business_critical_down"),
    ],
)
def test_a_plan_limits_the_severity_of_technical_cases(alpha, plan, allowed, refused):
    SupportSubscriptionFactory(
        customer=alpha.customer, plan=plan, started_at=FRIDAY_17_50 - datetime.timedelta(days=1)
    )

    for severity in allowed:
        assert open_case(alpha.staff, alpha.account, severity).severity == severity
    with pytest.raises(DomainError, match=f"On the {plan.capitalize()} plan a technical case can be: "):
        open_case(alpha.staff, alpha.account, refused)


@pytest.mark.parametrize(("plan", "minutes"), [("enterprise-on-ramp", 30), ("enterprise", 15)])
def test_a_business_critical_system_down_is_answered_in_30_or_15_minutes(alpha, tam, plan, minutes):
    SupportSubscriptionFactory(
        customer=alpha.customer,
        plan=plan,
        tam=tam if plan == "enterprise" else None,
        started_at=FRIDAY_17_50 - datetime.timedelta(days=1),
    )

    case = open_case(alpha.staff, alpha.account, "business_critical_down")

    assert case.response_target_minutes == minutes
    assert case.first_response_due_at == FRIDAY_17_50 + datetime.timedelta(minutes=minutes)
    assert not case.business_hours_only


def test_developer_deadlines_run_in_the_customers_business_hours(alpha):
    SupportSubscriptionFactory(
        customer=alpha.customer, plan="developer", started_at=FRIDAY_17_50 - datetime.timedelta(days=1)
    )

    case = open_case(alpha.staff, alpha.account, "system_impaired")

    assert case.business_hours_only
    assert timezone.localtime(case.first_response_due_at, LONDON).replace(tzinfo=None) == datetime.datetime(
        2026, 12, 1, 9, 50
    )


def test_the_deadline_is_the_one_promised_at_opening_whatever_the_plan_becomes(alpha):
    SupportSubscriptionFactory(
        customer=alpha.customer, plan="developer", started_at=FRIDAY_17_50 - datetime.timedelta(days=1)
    )
    case = open_case(alpha.staff, alpha.account, "system_impaired")
    due = case.first_response_due_at

    with time_machine.travel(FRIDAY_17_50 + datetime.timedelta(minutes=1), tick=False):
        services.support_subscription_change(
            user=alpha.admin, customer=alpha.customer, plan=selectors.SupportPlan.objects.get(slug="business")
        )

    case.refresh_from_db()
    assert case.first_response_due_at == due and case.plan.slug == "developer"
    assert open_case(
        alpha.staff, alpha.account, "production_down", at=FRIDAY_17_50 + datetime.timedelta(minutes=2)
    )


# Who may open a case for whom ------------------------------------------------------------------------------


def test_a_customers_staff_open_cases_on_their_own_accounts_only(alpha, bravo):
    SupportSubscriptionFactory(customer=bravo.customer, plan="business")

    case = open_case(alpha.staff, alpha.account, case_type=CaseType.ACCOUNT_AND_BILLING)

    assert (case.customer, case.opened_by, case.opened_by_partner) == (alpha.customer, alpha.staff, None)
    with pytest.raises(PermissionDeniedError, match="cannot open a support case on this account"):
        open_case(alpha.staff, bravo.account, case_type=CaseType.ACCOUNT_AND_BILLING)


def test_a_partner_with_a_live_access_grant_opens_cases_on_that_account(alpha):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")

    case = open_case(alpha.partner_user, alpha.granted_account, "production_down")

    assert case.opened_by_partner == alpha.partner
    assert case.handling_partner is None  # its question goes to the provider
    with pytest.raises(PermissionDeniedError):
        open_case(alpha.partner_user, alpha.account)  # no grant on this one


def test_a_partner_whose_grant_ended_cannot_open_cases(alpha):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    grant = alpha.granted_account.access_grants.get()

    with pytest.raises(PermissionDeniedError):
        open_case(
            alpha.partner_user, alpha.granted_account, at=grant.expires_at + datetime.timedelta(minutes=1)
        )


def test_the_reselling_partner_opens_cases_on_the_accounts_it_supports(alpha, reseller):
    with pytest.raises(PermissionDeniedError):
        open_case(reseller.user, reseller.account, case_type=CaseType.ACCOUNT_AND_BILLING)  # resale alone

    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(reseller.user, reseller.account, "production_down")

    assert case.opened_by_partner == reseller.partner
    assert case.handling_partner is None  # a partner's own case is its question to the provider
    with pytest.raises(PermissionDeniedError):
        open_case(reseller.user, alpha.account)


def test_a_partner_the_customer_did_not_authorise_cannot_open_cases(alpha, stranger):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    AccessGrantFactory()  # somebody else's grant, elsewhere

    for account in (alpha.account, alpha.granted_account):
        with pytest.raises(PermissionDeniedError):
            open_case(stranger, account)
    with pytest.raises(PermissionDeniedError):
        open_case(alpha.account_manager, alpha.account)  # the provider's staff answer, they do not ask
    assert not selectors.accounts_open_for_cases(stranger).exists()


# Answers ---------------------------------------------------------------------------------------------------


def test_a_resold_customers_case_goes_to_the_partner_first_whose_reply_is_the_first_response(alpha, reseller):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account, "production_down")
    assert case.handling_partner == reseller.partner and case.with_partner
    assert case in selectors.cases_visible_to(reseller.user)

    reply(alpha.staff, case)  # the customer adding detail is no response
    case.refresh_from_db()
    assert case.first_responded_at is None

    answered_at = FRIDAY_17_50 + datetime.timedelta(minutes=20)
    answer = reply(reseller.user, case, at=answered_at)

    case.refresh_from_db()
    assert answer.side == ReplySide.PARTNER_SUPPORT
    assert (case.first_responded_at, case.first_responder) == (answered_at, reseller.user)
    assert case.status == CaseStatus.IN_PROGRESS


def test_the_provider_answers_other_cases_and_only_the_first_reply_counts(alpha, engineer, stranger):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    case = open_case(alpha.partner_user, alpha.granted_account, "production_down")

    reply(alpha.partner_user, case)  # the requesting partner
    with pytest.raises(PermissionDeniedError):
        reply(stranger, case)
    with pytest.raises(PermissionDeniedError):
        reply(alpha.account_manager, case)  # looks after the customer, but does not answer cases
    first = FRIDAY_17_50 + datetime.timedelta(minutes=30)
    reply(engineer, case, at=first)
    reply(engineer, case, at=first + datetime.timedelta(minutes=30))

    case.refresh_from_db()
    assert case.first_responded_at == first and case.first_responder == engineer


def test_the_customers_designated_tam_answers_its_cases(alpha, tam):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)
    case = open_case(alpha.staff, alpha.account, "business_critical_down")

    assert reply(tam, case).side == ReplySide.PROVIDER_SUPPORT
    assert case in selectors.cases_visible_to(tam)


def test_a_tam_answers_only_on_the_accounts_whose_plan_designates_them(alpha):
    """Two accounts of a customer on Business, each with its own Enterprise plan and TAM: the customer's TAM
    (one of the two) does not answer the other account's cases, whose TAM is told of their breaches."""
    ann = QualifiedTamFactory(username="tam-ann", email="ann@provider.example")
    ben = QualifiedTamFactory(username="tam-ben", email="ben@provider.example")
    accounts = {
        ann: AwsAccountFactory(customer=alpha.customer, account_id="111000000050"),
        ben: AwsAccountFactory(customer=alpha.customer, account_id="111000000060"),
    }
    am = alpha.account_manager
    services.support_subscription_change(user=am, customer=alpha.customer, plan=support_plan("business"))
    for tam, account in accounts.items():
        services.support_subscription_change(
            user=am, customer=alpha.customer, account=account, plan=support_plan("enterprise"), tam=tam
        )
    alpha.customer.refresh_from_db()
    customers_tam = alpha.customer.tam
    other_tam = ann if customers_tam == ben else ben
    case = services.support_case_open(
        user=alpha.staff,
        account=accounts[other_tam],
        subject="DB down",
        description="Gone.",
        severity="production_down",
    )

    assert selectors.responder_side(customers_tam, case) is None
    with pytest.raises(PermissionDeniedError):
        services.support_case_reply(user=customers_tam, case=case, body="On it.")
    answer = services.support_case_reply(user=other_tam, case=case, body="On it.")
    assert answer.side == ReplySide.PROVIDER_SUPPORT


def test_the_partner_passes_a_case_on_to_the_provider(alpha, reseller, stranger):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account, "production_down")

    with pytest.raises(PermissionDeniedError):
        services.support_case_escalate(user=stranger, case=case)
    services.support_case_escalate(user=reseller.user, case=case)

    case.refresh_from_db()
    assert case.escalated_at is not None and not case.with_partner
    with pytest.raises(ConflictError, match="already passed on"):
        services.support_case_escalate(user=reseller.user, case=case)


def test_after_escalating_the_partners_reply_no_longer_stops_the_providers_clock(alpha, reseller, engineer):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account, "production_down")  # due in an hour
    with time_machine.travel(FRIDAY_17_50 + datetime.timedelta(minutes=5), tick=False):
        services.support_case_escalate(user=reseller.user, case=case)

    holding = reply(reseller.user, case, at=FRIDAY_17_50 + datetime.timedelta(minutes=10))

    case.refresh_from_db()
    assert holding.side == ReplySide.PARTNER_SUPPORT  # still part of the conversation
    assert (case.first_responded_at, case.first_responder) == (None, None)
    assert case.status == CaseStatus.OPEN  # still waiting for the provider

    answered_at = FRIDAY_17_50 + datetime.timedelta(minutes=40)
    reply(engineer, case, at=answered_at)
    case.refresh_from_db()
    assert (case.first_responded_at, case.first_responder) == (answered_at, engineer)
    assert case.status == CaseStatus.IN_PROGRESS and case.breached_at is None


# When partner-led support ends ------------------------------------------------------------------------------


@pytest.fixture
def resold_on_partner_led(alpha, reseller):
    return SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )


def test_a_reseller_the_customer_takes_the_account_back_from_no_longer_sees_or_answers_its_cases(
    alpha, reseller, resold_on_partner_led, engineer
):
    case = open_case(alpha.staff, reseller.account, "production_down")
    assert case.handling_partner == reseller.partner

    # The customer takes the account back: no reseller, support from the provider directly.
    reseller.account.reseller, reseller.account.paid_by = None, "customer"
    reseller.account.save()
    services.support_subscription_change(
        user=alpha.admin, customer=alpha.customer, account=reseller.account, plan=support_plan("business")
    )
    services.support_case_reply(user=alpha.staff, case=case, body="Our DB password is hunter2")

    assert case not in selectors.cases_visible_to(reseller.user)
    with pytest.raises(PermissionDeniedError):
        services.support_case_reply(user=reseller.user, case=case, body="We still answer")
    with pytest.raises(PermissionDeniedError):
        services.support_case_escalate(user=reseller.user, case=case)
    case.refresh_from_db()
    assert case.handling_partner is None and not case.with_partner  # now the provider's
    assert case in selectors.cases_visible_to(alpha.staff)
    bodies = list(case.replies.order_by("created_at", "id").values_list("author__username", "body"))
    assert bodies[0][0] == "alpha-admin"
    assert "Resell Co no longer gives account 111000000009 partner-led support" in bodies[0][1]
    assert "now with the provider's support" in bodies[0][1]
    assert bodies[1] == ("alpha-staff", "Our DB password is hunter2")
    assert services.support_case_reply(user=engineer, case=case, body="On it.").side == (
        ReplySide.PROVIDER_SUPPORT
    )
    case.refresh_from_db()
    assert case.first_responder == engineer


def test_a_new_plan_without_the_partner_moves_its_cases_to_the_provider_but_keeps_closed_ones(
    alpha, reseller, resold_on_partner_led
):
    waiting = open_case(alpha.staff, reseller.account, "production_down")
    escalated = open_case(alpha.staff, reseller.account, "production_down")
    services.support_case_escalate(user=reseller.user, case=escalated)
    closed = open_case(alpha.staff, reseller.account, "production_down")
    services.support_case_status_change(user=alpha.staff, case=closed, status=CaseStatus.CLOSED)

    # The account stays resold, but its support is no longer the partner's.
    services.support_subscription_change(
        user=alpha.admin, customer=alpha.customer, account=reseller.account, plan=support_plan("business")
    )

    assert set(selectors.cases_visible_to(reseller.user)) == set()
    for case in (waiting, escalated):
        case.refresh_from_db()
        assert (case.handling_partner, case.escalated_at) == (None, None)
        assert "changed account 111000000009's support plan" in case.replies.get().body
    assert "It had passed the case on to the provider" in escalated.replies.get().body
    closed.refresh_from_db()
    assert closed.handling_partner == reseller.partner and not closed.replies.exists()  # as it was handled


def test_ending_the_partner_led_plan_moves_its_cases_to_the_provider(alpha, reseller, resold_on_partner_led):
    case = open_case(alpha.staff, reseller.account, "production_down")

    services.support_subscription_end(user=alpha.admin, subscription=resold_on_partner_led)

    case.refresh_from_db()
    assert case.handling_partner is None
    assert "ended account 111000000009's Business plan" in case.replies.get().body
    assert case not in selectors.cases_visible_to(reseller.user)


def test_a_change_that_keeps_the_partner_leading_the_account_leaves_its_cases_with_it(
    alpha, reseller, resold_on_partner_led
):
    case = open_case(alpha.staff, reseller.account, "production_down")

    # The customer's own plan changes; the account's own, which names the partner, still applies to it.
    services.support_subscription_change(
        user=alpha.admin, customer=alpha.customer, plan=support_plan("business")
    )

    case.refresh_from_db()
    assert case.handling_partner == reseller.partner and not case.replies.exists()
    assert case in selectors.cases_visible_to(reseller.user)
    assert reply(reseller.user, case).side == ReplySide.PARTNER_SUPPORT


def test_a_partner_that_no_longer_resells_the_account_no_longer_sees_or_answers_its_cases(
    alpha, reseller, resold_on_partner_led
):
    """The resale ends outside support (engagements): whatever the case records, the partner handles it only
    while it still gives the account partner-led support."""
    case = open_case(alpha.staff, reseller.account, "production_down")

    reseller.account.reseller, reseller.account.paid_by = None, "customer"
    reseller.account.save()

    assert case not in selectors.cases_visible_to(reseller.user)
    assert selectors.responder_side(reseller.user, case) is None
    with pytest.raises(PermissionDeniedError):
        services.support_case_reply(user=reseller.user, case=case, body="We still answer")
    with pytest.raises(PermissionDeniedError):
        services.support_case_escalate(user=reseller.user, case=case)


def test_a_former_tam_no_longer_answers_once_the_plan_has_none(alpha, tam, engineer):
    with time_machine.travel(FRIDAY_17_50 - datetime.timedelta(days=10), tick=False):
        services.support_subscription_change(
            user=alpha.account_manager, customer=alpha.customer, plan=support_plan("enterprise"), tam=tam
        )
        services.support_subscription_change(
            user=alpha.account_manager, customer=alpha.customer, plan=support_plan("business")
        )
    case = open_case(alpha.staff, alpha.account, "production_down")

    with pytest.raises(PermissionDeniedError):
        reply(tam, case)
    assert case not in selectors.cases_visible_to(tam)
    assert reply(engineer, case).side == ReplySide.PROVIDER_SUPPORT


def test_a_tam_the_customer_names_without_a_designated_tam_plan_answers_nothing(alpha, tam):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    # Named before customer_assign_staff refused it (support 0005 clears such TAMs): still nothing to answer.
    Customer.objects.filter(pk=alpha.customer.pk).update(tam=tam)
    case = open_case(alpha.staff, alpha.account, "production_down")

    with pytest.raises(PermissionDeniedError):
        reply(tam, case)


def test_statuses_support_works_the_case_and_the_requester_resolves_or_closes_it(alpha, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    case = open_case(alpha.staff, alpha.account, "system_impaired")

    with pytest.raises(PermissionDeniedError, match="resolved or closed"):
        services.support_case_status_change(
            user=alpha.staff, case=case, status=CaseStatus.WAITING_ON_CUSTOMER
        )
    services.support_case_status_change(user=engineer, case=case, status=CaseStatus.WAITING_ON_CUSTOMER)
    reply(alpha.staff, case)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN  # back to support, still unanswered

    services.support_case_status_change(user=engineer, case=case, status=CaseStatus.RESOLVED)
    case.refresh_from_db()
    assert case.resolved_at is not None
    reply(alpha.staff, case)  # not fixed after all: reopens
    case.refresh_from_db()
    assert (case.status, case.resolved_at) == (CaseStatus.OPEN, None)

    services.support_case_status_change(user=alpha.staff, case=case, status=CaseStatus.CLOSED)
    with pytest.raises(ConflictError, match="closed"):
        reply(engineer, case)


def test_who_sees_which_case(alpha, bravo, reseller, engineer, tam, stranger):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    SupportSubscriptionFactory(customer=bravo.customer, plan="enterprise", tam=tam)
    by_customer = open_case(alpha.staff, alpha.account, "production_down")
    by_partner = open_case(alpha.partner_user, alpha.granted_account, "production_down")
    bravos = open_case(bravo.staff, bravo.account, "production_down")

    def seen(user):
        return set(selectors.cases_visible_to(user))

    assert seen(alpha.admin) == {by_customer, by_partner}
    assert seen(alpha.partner_user) == {by_partner}
    assert seen(bravo.staff) == {bravos}
    assert seen(tam) == {bravos}
    assert seen(alpha.account_manager) == {by_customer, by_partner}
    assert seen(engineer) == {by_customer, by_partner, bravos}
    assert seen(stranger) == seen(reseller.user) == set()


def test_a_partner_acts_on_a_case_it_opened_only_while_the_customer_authorises_it(alpha, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    case = open_case(alpha.partner_user, alpha.granted_account, "production_down")
    grant = alpha.granted_account.access_grants.get()
    after_expiry = grant.expires_at + datetime.timedelta(minutes=1)

    with time_machine.travel(after_expiry, tick=False):
        assert not selectors.cases_visible_to(alpha.partner_user).exists()
        assert not selectors.user_is_case_requester(alpha.partner_user, case)
        with pytest.raises(PermissionDeniedError):
            services.support_case_reply(user=alpha.partner_user, case=case, body="Still there?")
        with pytest.raises(PermissionDeniedError):
            services.support_case_status_change(user=alpha.partner_user, case=case, status=CaseStatus.CLOSED)
        # A new grant on the account gives the partner its case back.
        AccessGrantFactory(engagement_partner=grant.engagement_partner, account=alpha.granted_account)
        assert list(selectors.cases_visible_to(alpha.partner_user)) == [case]
        services.support_case_status_change(user=alpha.partner_user, case=case, status=CaseStatus.CLOSED)
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED


def test_the_database_keeps_a_cases_account_and_subscription_within_its_customer(alpha, bravo):
    subscription = SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    case = open_case(alpha.staff, alpha.account, "production_down")

    with pytest.raises(IntegrityError), transaction.atomic():
        SupportCase.objects.filter(pk=case.pk).update(account=bravo.account)
    bravo_subscription = SupportSubscriptionFactory(customer=bravo.customer, plan="business")
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportCase.objects.filter(pk=case.pk).update(subscription=bravo_subscription)
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportCase.objects.filter(pk=case.pk).update(
            first_response_due_at=None
        )  # a target without a deadline
    assert SupportCase.objects.get(pk=case.pk).subscription == subscription


def test_the_database_refuses_a_first_responder_without_the_time_of_the_response(alpha, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    case = open_case(alpha.staff, alpha.account, "production_down")

    with pytest.raises(IntegrityError, match="support_case_first_responder_has_time"), transaction.atomic():
        SupportCase.objects.filter(pk=case.pk).update(first_responder=engineer)
    case.first_responder = engineer
    with pytest.raises(ValidationError, match="with the time of the first response"):
        case.full_clean()
