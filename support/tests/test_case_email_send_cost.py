"""What sending an email about a support case costs: the same however many people it goes to, though each
is checked, when it is sent, as one who may still read the case."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_deliver_message
from support import services
from tests.factories import PartnerUserFactory, SupportSubscriptionFactory

pytestmark = pytest.mark.django_db

OPENED = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=datetime.UTC)


def _queries_to_send_breach(alpha, reseller, subject: str) -> tuple[int, list[str]]:
    """The queries sending the breach email of a new case on the account the reseller supports costs, and
    whom it went to."""
    with time_machine.travel(OPENED, tick=False):
        case = services.support_case_open(
            user=alpha.staff,
            account=reseller.account,
            subject=subject,
            description="503.",
            severity="production_down",
        )
    with time_machine.travel(OPENED + datetime.timedelta(hours=2), tick=False):
        check_run("support_sla")
    message = OutboxMessage.objects.get(dedupe_key=f"support-case-breached:{case.pk}")
    mail.outbox.clear()
    with CaptureQueriesContext(connection) as sending:
        assert outbox_deliver_message(message.pk)
    (sent,) = mail.outbox
    return len(sending.captured_queries), sent.to


def test_a_breach_email_to_twenty_staff_costs_what_one_to_one_does(alpha, reseller, engineer):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    one, to_one = _queries_to_send_breach(alpha, reseller, "Site down")
    for n in range(19):
        PartnerUserFactory(partner=reseller.partner, email=f"staff{n}@resell.example")
    twenty, to_twenty = _queries_to_send_breach(alpha, reseller, "Site down again")

    assert len(to_one) == 1 and len(to_twenty) == 20  # each of them still reads the case
    assert twenty == one
