"""Subscriptions: who is on which plan from when to when, upgrades and downgrades as history, one current
subscription per customer or account, designated TAMs for Enterprise, and partner-led (resold) support."""

import datetime

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apn_portal.checks.services import check_run
from apn_portal.exceptions import ConflictError, DomainError, PermissionDeniedError
from apn_portal.outbox.models import OutboxMessage
from engagements.models import Customer
from engagements.services import customer_assign_staff
from support import selectors, services
from support.choices import SubscriptionChange
from support.models import SupportPlan, SupportSubscription
from tests.factories import (
    AccountManagerFactory,
    PartnerFactory,
    QualifiedTamFactory,
    StaffCertificationFactory,
    SupportSubscriptionFactory,
    TamFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db

MONDAY = datetime.datetime(2026, 11, 23, 9, 0, tzinfo=datetime.UTC)


def change(org, slug, *, user=None, at=MONDAY, **kwargs):
    with time_machine.travel(at, tick=False):
        return services.support_subscription_change(
            user=user or org.admin, customer=org.customer, plan=support_plan(slug), **kwargs
        )


def test_each_change_of_plan_is_a_new_row_and_the_old_one_ends(alpha):
    first = change(alpha, "developer")
    upgrade = change(alpha, "business", at=MONDAY + datetime.timedelta(days=1))
    downgrade = change(alpha, "developer", at=MONDAY + datetime.timedelta(days=2))

    history = list(selectors.subscription_history(alpha.customer))
    assert [(s.plan.slug, s.change) for s in history] == [
        ("developer", SubscriptionChange.DOWNGRADED),
        ("business", SubscriptionChange.UPGRADED),
        ("developer", SubscriptionChange.STARTED),
    ]
    first.refresh_from_db()
    upgrade.refresh_from_db()
    assert first.ended_at == upgrade.started_at == MONDAY + datetime.timedelta(days=1)
    assert upgrade.ended_at == downgrade.started_at
    assert downgrade.ended_at is None and downgrade.replaces == upgrade and upgrade.replaces == first
    assert downgrade.changed_by == alpha.admin
    assert selectors.current_customer_subscription(alpha.customer) == downgrade


def test_the_plan_that_applied_at_a_moment_is_found_in_the_history(alpha):
    change(alpha, "developer")
    change(alpha, "business", at=MONDAY + datetime.timedelta(days=1))

    on_monday = selectors.subscription_for_account(alpha.account, MONDAY + datetime.timedelta(hours=3))
    on_tuesday = selectors.subscription_for_account(
        alpha.account, MONDAY + datetime.timedelta(days=1, hours=3)
    )

    assert on_monday.plan.slug == "developer"
    assert on_tuesday.plan.slug == "business"
    assert selectors.subscription_for_account(alpha.account, MONDAY - datetime.timedelta(days=1)) is None


def test_an_accounts_own_subscription_applies_to_it_instead_of_its_customers(alpha):
    change(alpha, "developer")
    change(alpha, "business", account=alpha.account)

    later = MONDAY + datetime.timedelta(hours=1)
    assert selectors.subscription_for_account(alpha.account, later).plan.slug == "business"
    assert selectors.subscription_for_account(alpha.granted_account, later).plan.slug == "developer"


def test_the_database_keeps_one_current_subscription_per_customer_and_per_account(alpha):
    SupportSubscriptionFactory(customer=alpha.customer, plan="developer")
    SupportSubscriptionFactory(customer=alpha.customer, account=alpha.account, plan="business")

    with pytest.raises(IntegrityError), transaction.atomic():
        SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportSubscriptionFactory(customer=alpha.customer, account=alpha.account, plan="developer")
    # Ended ones are history, as many as there were.
    SupportSubscriptionFactory(
        customer=alpha.customer,
        plan="business",
        started_at=timezone.now() - datetime.timedelta(days=9),
        ended_at=timezone.now() - datetime.timedelta(days=2),
    )


def test_a_subscriptions_account_belongs_to_its_customer(alpha, bravo):
    with pytest.raises(DomainError, match="does not belong to Alpha Customer"):
        change(alpha, "business", account=bravo.account)
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportSubscriptionFactory(customer=alpha.customer, account=bravo.account)


def test_the_same_plan_again_is_refused(alpha):
    change(alpha, "business")

    with pytest.raises(ConflictError, match="already"):
        change(alpha, "business", at=MONDAY + datetime.timedelta(hours=1))


def test_who_may_change_a_customers_plan(alpha, bravo):
    change(alpha, "developer", user=alpha.account_manager)  # its Account Manager
    change(
        alpha, "business", user=alpha.admin, at=MONDAY + datetime.timedelta(hours=1)
    )  # access administrator

    for outsider in (
        alpha.staff,
        bravo.admin,
        bravo.account_manager,
        alpha.partner_user,
        AccountManagerFactory(),
    ):
        with pytest.raises(PermissionDeniedError, match="Only Alpha Customer's access administrators"):
            change(alpha, "developer", user=outsider, at=MONDAY + datetime.timedelta(hours=2))


def test_enterprise_comes_with_a_designated_tam_whom_the_account_manager_names(alpha, tam):
    with pytest.raises(PermissionDeniedError, match="ask Alpha Customer's Account Manager"):
        change(alpha, "enterprise", tam=tam)
    with pytest.raises(DomainError, match="needs a designated TAM"):
        change(alpha, "enterprise", user=alpha.account_manager)

    subscription = change(alpha, "enterprise", user=alpha.account_manager, tam=tam)

    assert subscription.tam == tam
    alpha.customer.refresh_from_db()
    assert alpha.customer.tam == tam  # the customer's TAM, for the engagements too


def test_a_tam_holds_a_current_associate_level_solutions_architect_certification(alpha):
    uncertified = TamFactory()
    developer_only = TamFactory()
    StaffCertificationFactory(user=developer_only, track="developer", name="Developer - Associate")
    expired = TamFactory()
    StaffCertificationFactory(
        user=expired, earned_on=datetime.date(2022, 1, 10), expires_on=datetime.date(2025, 1, 10)
    )
    foundational = TamFactory()
    StaffCertificationFactory(user=foundational, level="foundational")
    professional = TamFactory()
    StaffCertificationFactory(
        user=professional, level="professional", name="Solutions Architect - Professional"
    )

    for unqualified in (uncertified, developer_only, expired, foundational):
        with pytest.raises(DomainError, match="no current Solutions Architect certification"):
            change(alpha, "enterprise", user=alpha.account_manager, tam=unqualified)
    assert change(alpha, "enterprise", user=alpha.account_manager, tam=professional).tam == professional
    assert set(selectors.qualified_tams(MONDAY.date())) == {professional}


def test_only_a_provider_tam_can_be_designated(alpha):
    not_a_tam = AccountManagerFactory()
    StaffCertificationFactory(user=not_a_tam)

    with pytest.raises(DomainError, match="is not one of the provider's Technical Account Managers"):
        change(alpha, "enterprise", user=alpha.account_manager, tam=not_a_tam)


def test_plans_without_a_designated_tam_name_none(alpha, tam):
    with pytest.raises(DomainError, match="does not come with a designated TAM"):
        change(alpha, "enterprise-on-ramp", user=alpha.account_manager, tam=tam)
    assert change(alpha, "enterprise-on-ramp", user=alpha.account_manager).tam is None


def test_the_database_refuses_enterprise_without_a_tam_and_a_tam_elsewhere(alpha, tam):
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise")
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportSubscriptionFactory(customer=alpha.customer, plan="business", tam=tam)
    # The coverage is the plan's: claiming another one breaks the composite foreign key.
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam_coverage="none")


def test_partner_led_support_is_by_the_solution_provider_reselling_the_account(alpha, reseller):
    subscription = change(alpha, "business", account=reseller.account, support_partner=reseller.partner)

    assert subscription.support_partner == reseller.partner
    assert list(selectors.subscriptions_visible_to(reseller.user)) == [subscription]


def test_a_partner_the_customer_took_support_back_from_no_longer_reads_its_subscriptions(alpha, reseller):
    resold = change(alpha, "business", account=reseller.account, support_partner=reseller.partner)
    taken_back = change(alpha, "developer", account=reseller.account, at=MONDAY + datetime.timedelta(days=1))

    resold.refresh_from_db()
    assert resold.ended_at is not None and taken_back.support_partner is None
    # Like the account's cases, its subscriptions are the customer's own again: the note and who changed
    # them are none of the partner's business now.
    assert list(selectors.subscriptions_visible_to(reseller.user)) == []
    assert list(selectors.subscriptions_visible_to(alpha.admin)) == [taken_back, resold]


def test_a_tam_the_customer_moved_on_from_no_longer_reads_its_subscriptions(alpha, tam):
    tom = QualifiedTamFactory(username="tam-tom")
    with_tara = change(alpha, "enterprise", user=alpha.account_manager, tam=tam)
    next_day = MONDAY + datetime.timedelta(days=1)
    with_tom = change(alpha, "enterprise", user=alpha.account_manager, tam=tom, at=next_day)

    assert list(selectors.subscriptions_visible_to(tam)) == []
    assert set(selectors.subscriptions_visible_to(tom)) == {with_tom, with_tara}  # the customer's TAM now


def test_partner_led_support_is_refused_to_a_partner_that_does_not_resell(alpha, reseller):
    not_a_provider = PartnerFactory()
    with pytest.raises(DomainError, match="not an approved Solution Provider"):
        change(alpha, "business", support_partner=not_a_provider)
    with pytest.raises(DomainError, match="does not resell account 111000000000"):
        change(alpha, "business", account=alpha.account, support_partner=reseller.partner)


def test_ending_a_subscription_puts_the_customer_back_on_basic(alpha):
    subscription = change(alpha, "business")

    services.support_subscription_end(user=alpha.admin, subscription=subscription)

    assert selectors.current_customer_subscription(alpha.customer) is None
    with pytest.raises(ConflictError, match="already ended"):
        services.support_subscription_end(user=alpha.admin, subscription=subscription)
    assert SupportSubscription.objects.get(pk=subscription.pk).ended_at is not None


# The designated TAM follows the plan -------------------------------------------------------------------


def test_downgrading_from_enterprise_takes_the_tam_away_everywhere(client, alpha, tam, engineer):
    change(alpha, "enterprise", user=alpha.account_manager, tam=tam)
    change(alpha, "business", user=alpha.account_manager, at=MONDAY + datetime.timedelta(minutes=30))
    with time_machine.travel(MONDAY + datetime.timedelta(hours=1), tick=False):
        case = services.support_case_open(
            user=alpha.staff,
            account=alpha.account,
            subject="Down",
            description="503",
            severity="production_down",
        )
    with time_machine.travel(MONDAY + datetime.timedelta(hours=3), tick=False):
        check_run("support_sla")

    alpha.customer.refresh_from_db()
    assert alpha.customer.tam is None
    # Past its deadline, the case is the Cloud Support Engineers' to hear of, not the former TAM's.
    assert OutboxMessage.objects.get(dedupe_key=f"support-case-breached:{case.pk}").to == [engineer.email]
    client.force_login(alpha.staff)
    organisation = client.get(reverse("engagements:organisation")).content.decode()
    home = client.get(reverse("support:home")).content.decode()
    assert tam.email not in organisation and tam.email not in home
    assert "None (comes with Enterprise Support)" in organisation
    assert "Your plan comes without a Technical Account Manager." in home


def test_a_new_designated_tam_replaces_the_former_one(alpha, tam):
    successor = QualifiedTamFactory(username="tam-tom")
    change(alpha, "enterprise", user=alpha.account_manager, tam=tam)

    change(
        alpha,
        "enterprise",
        user=alpha.account_manager,
        tam=successor,
        at=MONDAY + datetime.timedelta(hours=1),
    )

    assert alpha.customer.tam == successor
    alpha.customer.refresh_from_db()
    assert alpha.customer.tam == successor


def test_ending_enterprise_takes_the_tam_away(alpha, tam):
    subscription = change(alpha, "enterprise", user=alpha.account_manager, tam=tam)

    services.support_subscription_end(user=alpha.account_manager, subscription=subscription)

    alpha.customer.refresh_from_db()
    assert alpha.customer.tam is None


def test_a_tam_named_apart_from_any_plan_leaves_when_the_plan_changes(alpha, tam):
    # Named before the rule (customer_assign_staff used to allow it), serving the customer with nothing.
    Customer.objects.filter(pk=alpha.customer.pk).update(tam=tam)

    change(alpha, "business")

    alpha.customer.refresh_from_db()
    assert alpha.customer.tam is None


def test_the_account_manager_cannot_name_a_tam_that_no_plan_brings(alpha, tam):
    change(alpha, "business")

    with pytest.raises(DomainError, match="Business, which comes without a designated TAM") as refused:
        customer_assign_staff(user=alpha.account_manager, customer=alpha.customer, field="tam", member=tam)

    assert refused.value.field == "tam"
    alpha.customer.refresh_from_db()
    assert alpha.customer.tam is None


def test_a_retiring_designated_plan_moving_to_one_without_takes_the_tam_away(alpha, tam):
    enterprise = support_plan("enterprise")
    SupportPlan.objects.filter(pk=enterprise.pk).update(
        retires_on=datetime.date(2027, 1, 1), successor=support_plan("business-support-plus")
    )
    change(alpha, "enterprise", user=alpha.account_manager, tam=tam)

    with time_machine.travel(datetime.datetime(2027, 1, 1, 0, 10, tzinfo=datetime.UTC), tick=False):
        assert check_run("support_plan_retirement").changed == {"subscriptions_moved": 1}

    alpha.customer.refresh_from_db()
    assert alpha.customer.tam is None


def test_the_migration_clears_tams_no_plan_brings_and_keeps_designated_ones(alpha, bravo, tam):
    import importlib

    from django.apps import apps

    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    SupportSubscriptionFactory(customer=bravo.customer, plan="enterprise", tam=tam)
    Customer.objects.filter(pk=alpha.customer.pk).update(tam=tam)

    importlib.import_module("support.migrations.0005_customer_tam_follows_plan").forward(apps, None)

    alpha.customer.refresh_from_db()
    bravo.customer.refresh_from_db()
    assert (alpha.customer.tam, bravo.customer.tam) == (None, tam)
