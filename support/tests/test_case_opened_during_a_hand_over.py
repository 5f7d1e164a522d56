"""A case opened at the very moment its account's partner-led support ends: it waits for that change and
goes to the provider's support, rather than naming a reseller that no longer answers it (the hand-over in
the change's transaction could not see a case committed after it read the open ones)."""

import threading

import pytest
from django.db import connection

from partners.choices import EnrollmentStatus
from partners.models import Partner, ProgramEnrollment
from support import services
from support.choices import CaseType, Severity
from support.models import SupportCase, SupportSubscription
from tests.factories import SupportSubscriptionFactory
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
