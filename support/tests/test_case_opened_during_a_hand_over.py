"""A case opened at the very moment its account's partner-led support ends: it waits for that change and
goes to the provider's support, rather than naming a reseller that no longer answers it (the hand-over in
the change's transaction could not see a case committed after it read the open ones)."""

import threading

import pytest
from django.db import connection

from partners.choices import EnrollmentStatus
from partners.models import Partner, ProgramEnrollment
from support import selectors, services
from support.choices import CaseType, Severity
from support.models import SupportCase, SupportSubscription
from tests.factories import SupportSubscriptionFactory, support_plan
from tests.locks import lock_held, sessions_waiting_for_locks, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _open_case_in_a_thread(user, account) -> tuple[threading.Thread, dict]:
    outcome = {}

    def open_case():
        try:
            outcome["case"] = services.support_case_open(
                user=user,
                account=account,
                subject="Invoice question",
                description="Who bills us for this account now?",
                severity=Severity.GENERAL_GUIDANCE,
                case_type=CaseType.ACCOUNT_AND_BILLING,
            )
        except Exception as error:  # reported, not raised in the thread
            outcome["error"] = f"{type(error).__name__}: {error}"
        finally:
            connection.close()

    thread = threading.Thread(target=open_case)
    thread.start()
    return thread, outcome


@pytest.fixture
def partner_led(alpha, reseller):
    return SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )


def test_a_case_opened_as_the_plan_changes_goes_to_the_provider(alpha, reseller, partner_led):
    table = SupportSubscription._meta.db_table
    with lock_held(
        f"SELECT 1 FROM {alpha.customer._meta.db_table} WHERE id = %s FOR UPDATE", [alpha.customer.pk]
    ):
        thread, outcome = _open_case_in_a_thread(alpha.staff, reseller.account)
        wait_for(lambda: sessions_waiting_for_locks() == 1)
        # The change commits while the case waits: the customer takes the account's support back.
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET ended_at = now() WHERE id = %s", [partner_led.pk])
    thread.join(timeout=30)

    assert "error" not in outcome, outcome
    case = SupportCase.objects.get(pk=outcome["case"].pk)
    assert case.handling_partner is None
    assert case.plan.slug == "basic"


def test_a_case_opened_as_the_resellers_enrollment_ends_goes_to_the_provider(alpha, reseller, partner_led):
    enrollment = ProgramEnrollment.objects.get(partner=reseller.partner)
    with lock_held(f"SELECT 1 FROM {Partner._meta.db_table} WHERE id = %s FOR UPDATE", [reseller.partner.pk]):
        thread, outcome = _open_case_in_a_thread(alpha.staff, reseller.account)
        wait_for(lambda: sessions_waiting_for_locks() == 1)
        ProgramEnrollment.objects.filter(pk=enrollment.pk).update(status=EnrollmentStatus.REVOKED)
    thread.join(timeout=30)

    assert "error" not in outcome, outcome
    case = SupportCase.objects.get(pk=outcome["case"].pk)
    assert case.handling_partner is None
    assert case.plan.slug == "business"


def test_a_case_opened_as_the_plan_with_its_tam_ends_does_not_deadlock(alpha, tam, monkeypatch):
    # Opening a case locks the customer and then, saving the case, its subscription; ending the plan
    # (whose TAM leaves with it, on the customer's row) must take them in that order too.
    subscription = services.support_subscription_change(
        user=alpha.account_manager, customer=alpha.customer, plan=support_plan("enterprise"), tam=tam
    )
    holding_the_customer, go_on = threading.Event(), threading.Event()
    read = selectors.subscription_for_account

    def read_after_a_pause(account, at=None):
        if not holding_the_customer.is_set():
            holding_the_customer.set()
            go_on.wait(20)
        return read(account, at)

    monkeypatch.setattr(selectors, "subscription_for_account", read_after_a_pause)
    opening, outcome = _open_case_in_a_thread(alpha.staff, alpha.account)
    assert holding_the_customer.wait(20)
    ending = threading.Thread(target=_attempt, args=(outcome, "end", subscription, alpha.account_manager))
    ending.start()
    wait_for(lambda: sessions_waiting_for_locks() == 1)  # the plan's end waits for the customer's row
    go_on.set()
    opening.join(timeout=30)
    ending.join(timeout=30)

    assert "error" not in outcome and "end" not in outcome, outcome
    assert SupportSubscription.objects.get(pk=subscription.pk).ended_at is not None


def _attempt(outcome, name, subscription, user):
    try:
        services.support_subscription_end(user=user, subscription=subscription)
    except Exception as error:  # a deadlock, say: reported, not raised in the thread
        outcome[name] = f"{type(error).__name__}: {error}"
    finally:
        connection.close()
