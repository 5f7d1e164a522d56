"""A customer's support cases answered in local business hours (Developer) count those hours in its time
zone: when the zone changes, a case still waiting for its first response is due when its business hours
have passed in the new zone, counted from when it was opened; an answered one keeps its history."""

import datetime

import pytest
import time_machine

from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from engagements import services
from support import services as support_services
from tests.factories import (
    AccountManagerFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    SupportEngineerFactory,
    SupportSubscriptionFactory,
)

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
FRIDAY_17_50 = datetime.datetime(2026, 3, 6, 17, 50, tzinfo=UTC)  # 17:50 in London too (GMT)
LONDON_DUE = datetime.datetime(2026, 3, 10, 9, 50, tzinfo=UTC)  # 10 min Friday, 10 h Monday, 1 h 50 Tuesday
# In Tokyo the case was opened at 02:50 on Saturday: 10 h on Monday, 2 h on Tuesday, due 10:00 there.
TOKYO_DUE = datetime.datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


def at(moment: datetime.datetime):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def developer():
    """A London customer on Developer (business hours), with two 12-hour cases opened on a Friday evening:
    one still waiting, one already answered."""
    with at(FRIDAY_17_50 - datetime.timedelta(days=40)):
        customer = CustomerFactory(
            name="Acme", time_zone="Europe/London", account_manager=AccountManagerFactory()
        )
        SupportSubscriptionFactory(customer=customer, plan="developer")
        staff = CustomerUserFactory(customer=customer)
        account = AwsAccountFactory(customer=customer)
    engineer = SupportEngineerFactory(email="support@provider.example")
    with at(FRIDAY_17_50):
        waiting, answered = (
            support_services.support_case_open(
                user=staff,
                account=account,
                subject=subject,
                description="Nothing answers.",
                severity="system_impaired",
            )
            for subject in ("Waiting", "Answered")
        )
    with at(FRIDAY_17_50 + datetime.timedelta(minutes=5)):
        support_services.support_case_reply(user=engineer, case=answered, body="Looking at it.")
    assert waiting.first_response_due_at == answered.first_response_due_at == LONDON_DUE
    return customer, waiting, answered


def test_a_waiting_case_is_due_by_the_new_zones_business_hours(developer):
    customer, waiting, answered = developer

    with at(datetime.datetime(2026, 3, 7, 12, 0, tzinfo=UTC)):
        services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="Asia/Tokyo"
        )

    waiting.refresh_from_db()
    answered.refresh_from_db()
    assert waiting.first_response_due_at == TOKYO_DUE
    assert answered.first_response_due_at == LONDON_DUE  # met: history
    # The SLA check holds the case to its new deadline.
    with at(TOKYO_DUE + datetime.timedelta(minutes=1)):
        assert check_run("support_sla").changed["cases_breached"] == 1
    waiting.refresh_from_db()
    assert waiting.breached_at == TOKYO_DUE


def test_a_case_whose_deadline_is_already_past_in_the_new_zone_is_breached_at_once(developer):
    customer, waiting, _ = developer

    with at(datetime.datetime(2026, 3, 10, 5, 0, tzinfo=UTC)):
        services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="Asia/Tokyo"
        )

    waiting.refresh_from_db()
    assert (waiting.first_response_due_at, waiting.breached_at) == (TOKYO_DUE, TOKYO_DUE)
    assert OutboxMessage.objects.get(dedupe_key=f"support-case-breached:{waiting.pk}").to == [
        "support@provider.example"
    ]
    with at(datetime.datetime(2026, 3, 10, 5, 5, tzinfo=UTC)):
        assert "cases_breached" not in check_run("support_sla").changed  # told once


def test_a_deadline_missed_before_the_zone_changed_stays_missed_though_the_check_had_not_run_yet(developer):
    customer, earlier, _ = developer
    monday_9 = datetime.datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # 09:00 in London
    with at(monday_9):
        case = support_services.support_case_open(
            user=earlier.opened_by,
            account=earlier.account,
            subject="Slow",
            description="x",
            severity="system_impaired",
        )
    london_due = datetime.datetime(2026, 3, 10, 11, 0, tzinfo=UTC)  # 9 h on Monday, 3 h on Tuesday
    assert case.first_response_due_at == london_due

    # Two minutes past it, before the every-5-minutes check has marked it, the customer moves to New York,
    # where the same twelve business hours end later (Tuesday 10:00 there, 14:00 UTC).
    with at(london_due + datetime.timedelta(minutes=2)):
        services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="America/New_York"
        )

    case.refresh_from_db()
    # The deadline the customer was shown passed unanswered: that is recorded, and not moved.
    assert (case.first_response_due_at, case.breached_at) == (london_due, london_due)
    assert OutboxMessage.objects.filter(dedupe_key=f"support-case-breached:{case.pk}").exists()
