"""The customer who opened a support case is told by email when the answering side (the provider's
support, or the reselling partner handling it) replies, when the case is resolved or closed by
anyone but them, and when support waits on their reply."""

import datetime

import pytest
import time_machine

from apn_portal.exceptions import ConflictError
from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_message_bodies
from support import services
from support.choices import CaseStatus
from tests.factories import SupportSubscriptionFactory

pytestmark = pytest.mark.django_db

OPENED = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=datetime.UTC)  # a Tuesday


def at(moment):
    return time_machine.travel(moment, tick=False)


def open_case(user, account, severity="production_down"):
    with at(OPENED):
        return services.support_case_open(
            user=user, account=account, subject="Site down", description="503 everywhere.", severity=severity
        )


def emails(prefix):
    return list(OutboxMessage.objects.filter(dedupe_key__startswith=prefix).order_by("dedupe_key"))


@pytest.fixture
def business_case(alpha, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    return open_case(alpha.staff, alpha.account)


def test_the_customer_who_opened_the_case_is_told_of_each_answer_with_its_text(
    alpha, business_case, engineer
):
    with at(OPENED + datetime.timedelta(minutes=10)):
        first = services.support_case_reply(
            user=engineer, case=business_case, body="Restart the load balancer."
        )
        second = services.support_case_reply(user=engineer, case=business_case, body="Any better?")

    told = emails("support-case-reply:")
    assert [email.dedupe_key for email in told] == sorted(
        [f"support-case-reply:{first.pk}", f"support-case-reply:{second.pk}"]
    )
    email = OutboxMessage.objects.get(dedupe_key=f"support-case-reply:{first.pk}")
    assert email.to == [alpha.staff.email]
    assert f"#{business_case.pk}" in email.subject and "Site down" in email.subject
    assert "Restart the load balancer." in outbox_message_bodies(email)[0]
    assert f"/my/support/cases/{business_case.pk}/" in outbox_message_bodies(email)[0]
    assert f"/my/support/cases/{business_case.pk}/" in outbox_message_bodies(email)[1]


def test_the_customers_own_replies_tell_nobody(alpha, business_case):
    with at(OPENED + datetime.timedelta(minutes=10)):
        services.support_case_reply(user=alpha.staff, case=business_case, body="Still down.")
        services.support_case_reply(user=alpha.admin, case=business_case, body="Me too.")

    assert not OutboxMessage.objects.exists()


def test_the_reselling_partners_answer_is_told_to_the_customer(alpha, reseller):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account)
    with at(OPENED + datetime.timedelta(minutes=10)):
        reply = services.support_case_reply(user=reseller.user, case=case, body="Looking into it.")

    assert OutboxMessage.objects.get(dedupe_key=f"support-case-reply:{reply.pk}").to == [alpha.staff.email]


def test_the_customer_is_told_once_when_support_resolves_the_case(alpha, business_case, engineer):
    with at(OPENED + datetime.timedelta(minutes=10)):
        services.support_case_reply(user=engineer, case=business_case, body="Fixed.")
        resolved = services.support_case_status_change(
            user=engineer, case=business_case, status=CaseStatus.RESOLVED
        )

    (email,) = emails("support-case-status:")
    assert email.dedupe_key == f"support-case-status:{business_case.pk}:{resolved.steps}"
    assert email.to == [alpha.staff.email]
    assert f"#{business_case.pk}" in email.subject and "resolved" in email.subject
    assert "Resolved" in outbox_message_bodies(email)[0]
    assert f"/my/support/cases/{business_case.pk}/" in outbox_message_bodies(email)[1]


def test_a_case_resolved_reopened_and_resolved_again_is_told_twice(alpha, business_case, engineer):
    with at(OPENED + datetime.timedelta(minutes=10)):
        services.support_case_reply(user=engineer, case=business_case, body="On it.")
        services.support_case_status_change(user=engineer, case=business_case, status=CaseStatus.RESOLVED)
        services.support_case_reply(user=alpha.staff, case=business_case, body="It is back.")
        services.support_case_status_change(user=engineer, case=business_case, status=CaseStatus.RESOLVED)

    assert len(emails("support-case-status:")) == 2


def test_the_customer_closing_their_own_case_is_not_told_of_it(alpha, business_case, engineer):
    with at(OPENED + datetime.timedelta(minutes=10)):
        services.support_case_status_change(user=alpha.staff, case=business_case, status=CaseStatus.CLOSED)

    assert not emails("support-case-status:")


def test_the_customer_is_told_when_support_waits_on_them_and_nobody_else_is(alpha, business_case, engineer):
    with at(OPENED + datetime.timedelta(minutes=10)):
        waiting = services.support_case_status_change(
            user=engineer, case=business_case, status=CaseStatus.WAITING_ON_CUSTOMER
        )

    # One email, to the one who opened the case: not their colleague, not the engineer who set it.
    (email,) = OutboxMessage.objects.all()
    assert email.dedupe_key == f"support-case-status:{business_case.pk}:{waiting.steps}"
    assert email.to == [alpha.staff.email]
    assert email.subject == f"Case #{business_case.pk} waits for your reply: Site down"
    assert (
        f'Your support case #{business_case.pk}, "Site down", is now waiting on customer'
        in outbox_message_bodies(email)[0]
    )
    assert (
        f"{engineer} is waiting for your reply: the case goes back to them when you answer"
        in (outbox_message_bodies(email)[0])
    )
    assert "Reply on the case: http" in outbox_message_bodies(email)[0]
    assert f"/my/support/cases/{business_case.pk}/" in outbox_message_bodies(email)[0]
    assert f"{engineer} is waiting for your reply" in outbox_message_bodies(email)[1]
    assert f"/my/support/cases/{business_case.pk}/" in outbox_message_bodies(email)[1]


def test_each_wait_on_the_customer_is_told_and_a_retry_of_one_is_not(alpha, business_case, engineer):
    with at(OPENED + datetime.timedelta(minutes=10)):
        services.support_case_reply(user=engineer, case=business_case, body="Which region?")
        services.support_case_status_change(
            user=engineer, case=business_case, status=CaseStatus.WAITING_ON_CUSTOMER
        )
        with pytest.raises(ConflictError):  # the same change sent again
            services.support_case_status_change(
                user=engineer, case=business_case, status=CaseStatus.WAITING_ON_CUSTOMER
            )
        services.support_case_reply(user=alpha.staff, case=business_case, body="eu-west-1.")
        services.support_case_status_change(
            user=engineer, case=business_case, status=CaseStatus.WAITING_ON_CUSTOMER
        )

    waits = emails("support-case-status:")
    assert len(waits) == 2
    assert all(email.to == [alpha.staff.email] for email in waits)
    assert all("is waiting for your reply" in outbox_message_bodies(email)[0] for email in waits)
    # Besides them, the answer alone: one email for each of support's steps, none for the customer's.
    assert OutboxMessage.objects.count() == 3


def test_the_reselling_partner_waiting_on_the_customer_tells_them(alpha, reseller):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account)
    with at(OPENED + datetime.timedelta(minutes=10)):
        services.support_case_status_change(
            user=reseller.user, case=case, status=CaseStatus.WAITING_ON_CUSTOMER
        )

    (email,) = OutboxMessage.objects.all()
    assert email.to == [alpha.staff.email]
    assert f"{reseller.user} is waiting for your reply" in outbox_message_bodies(email)[0]


def test_moving_a_case_back_in_progress_tells_nobody(alpha, business_case, engineer):
    with at(OPENED + datetime.timedelta(minutes=10)):
        services.support_case_status_change(
            user=engineer, case=business_case, status=CaseStatus.WAITING_ON_CUSTOMER
        )
        services.support_case_status_change(user=engineer, case=business_case, status=CaseStatus.IN_PROGRESS)

    assert len(emails("support-case-status:")) == 1
