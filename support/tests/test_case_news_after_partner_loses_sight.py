"""A partner's user who opened a support case on the customer's account (under its access grant) is emailed
its news only while the customer still lets the partner see the case: once the grant is revoked (or the
partner replaced), an answer or a resolution reaches the customer's own people instead, and nothing of
the case reaches the partner, whether the change comes before the email is queued or while it waits in
the outbox. So with the other case emails: a breach email waiting for a reseller the customer took the
account's support from goes to the support desk instead."""

import datetime

import pytest
import time_machine
from django.core import mail

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.outbox.services import outbox_flush
from engagements.models import AccessGrant
from engagements.services import access_grant_revoke
from support import services
from support.choices import CaseStatus
from support.models import SupportPlan
from tests.factories import SupportSubscriptionFactory

pytestmark = pytest.mark.django_db

SECRET = "The database password is hunter2."


@pytest.fixture
def partner_case(alpha):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    return services.support_case_open(
        user=alpha.partner_user,
        account=alpha.granted_account,
        subject="Disk full",
        description="The production disk is full.",
        severity="system_impaired",
    )


def revoke(alpha):
    access_grant_revoke(
        user=alpha.admin, grant=AccessGrant.objects.get(account=alpha.granted_account), reason="New partner"
    )


def sent_to(address):
    """The case's emails to `address` (the grant's revocation is told to both sides too)."""
    return [email for email in mail.outbox if address in email.to and email.subject.startswith("Case #")]


def test_the_partner_still_let_in_is_told_of_the_answer(alpha, partner_case, engineer):
    services.support_case_reply(user=engineer, case=partner_case, body=SECRET)
    mail.outbox.clear()
    outbox_flush()

    (email,) = sent_to(alpha.partner_user.email)
    assert SECRET in email.body


def test_a_partner_no_longer_let_in_is_not_told_and_the_customer_is(alpha, partner_case, engineer):
    revoke(alpha)
    services.support_case_reply(user=engineer, case=partner_case, body=SECRET)
    services.support_case_status_change(user=engineer, case=partner_case, status=CaseStatus.RESOLVED)
    mail.outbox.clear()
    outbox_flush()

    assert sent_to(alpha.partner_user.email) == []
    told = sent_to(alpha.admin.email)
    assert sorted(email.subject for email in told) == [
        f"Case #{partner_case.pk} answered: Disk full",
        f"Case #{partner_case.pk} resolved: Disk full",
    ]
    assert any(SECRET in email.body for email in told)


def test_an_answer_waiting_in_the_outbox_when_the_grant_ends_goes_to_the_customer(
    alpha, partner_case, engineer
):
    # Queued while the partner may still see the case; the mail server is down until after the revocation.
    services.support_case_reply(user=engineer, case=partner_case, body=SECRET)
    revoke(alpha)
    mail.outbox.clear()
    outbox_flush()

    assert sent_to(alpha.partner_user.email) == []
    (email,) = sent_to(alpha.admin.email)
    assert email.to == [alpha.admin.email]
    assert SECRET in email.body
    message = OutboxMessage.objects.get(subject__startswith=f"Case #{partner_case.pk} answered")
    assert message.status == OutboxStatus.SENT
    assert f"Not sent to {alpha.partner_user.email}" in message.last_error
    assert "may no longer read what it tells of" in message.last_error


def test_news_waiting_when_the_grant_ends_reads_to_the_customer_as_written_for_them(
    alpha, partner_case, engineer
):
    # Queued for the partner's user who opened the case, greeted by name; sent to the customer's access
    # administrator instead, who did not open it and reads what an email queued straight to them says.
    alpha.partner_user.first_name = "Petra"
    alpha.partner_user.save()
    services.support_case_reply(user=engineer, case=partner_case, body=SECRET)
    services.support_case_status_change(user=engineer, case=partner_case, status=CaseStatus.RESOLVED)
    revoke(alpha)
    mail.outbox.clear()
    outbox_flush()

    told = sent_to(alpha.admin.email)
    assert len(told) == 2
    for email in told:
        assert email.body.startswith("Hello,\n"), email.body
        assert "Petra" not in email.body and "Petra" not in email.alternatives[0][0]
    answered = next(email for email in told if "answered" in email.subject)
    assert f'of support answered your support case #{partner_case.pk}, "Disk full"' in answered.body
    assert SECRET in answered.body


def test_the_partner_still_let_in_is_greeted_by_name(alpha, partner_case, engineer):
    alpha.partner_user.first_name = "Petra"
    alpha.partner_user.save()
    services.support_case_reply(user=engineer, case=partner_case, body=SECRET)
    mail.outbox.clear()
    outbox_flush()

    (email,) = sent_to(alpha.partner_user.email)
    assert email.body.startswith("Hello Petra,\n")


def test_a_breach_email_waiting_when_the_reseller_loses_the_account_goes_to_the_desk(
    alpha, reseller, engineer, settings
):
    settings.SUPPORT_TEAM_EMAIL = "desk@provider.example"
    opened = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=datetime.UTC)  # a Tuesday
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    with time_machine.travel(opened, tick=False):
        case = services.support_case_open(
            user=alpha.staff,
            account=reseller.account,
            subject="Site down",
            description="503 everywhere.",
            severity="production_down",
        )
    with time_machine.travel(opened + datetime.timedelta(hours=2), tick=False):
        assert check_run("support_sla").status == CheckRunStatus.SUCCEEDED
        # Queued for the reseller; before it goes out, the customer takes the account's support back.
        services.support_subscription_change(
            user=alpha.admin,
            customer=alpha.customer,
            account=reseller.account,
            plan=SupportPlan.objects.get(slug="business"),
        )
    mail.outbox.clear()
    outbox_flush()

    (email,) = [email for email in mail.outbox if email.subject.startswith("Past its response deadline")]
    assert email.to == ["desk@provider.example"]
    assert f"case #{case.pk}" in email.subject
    assert not [email for email in mail.outbox if reseller.user.email in email.to]
