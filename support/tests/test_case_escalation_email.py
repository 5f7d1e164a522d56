"""A case the reselling partner passes on to the provider is told, when it is, to whom the provider's
breach email would go: the designated TAM, else the Cloud Support Engineers, else the support desk."""

import datetime

import pytest
import time_machine

from apn_portal.outbox.models import OutboxMessage
from support import services
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


def test_a_case_passed_on_to_the_provider_is_told_to_its_engineers_at_once(alpha, reseller, engineer):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account)
    with at(OPENED + datetime.timedelta(minutes=50)):
        services.support_case_escalate(user=reseller.user, case=case)

    email = OutboxMessage.objects.get(dedupe_key=f"support-case-escalated:{case.pk}")
    assert email.to == [engineer.email]
    assert f"#{case.pk}" in email.subject and "Resell Co" in email.subject
    assert "Site down" in email.body_text
    assert f"/my/support/cases/{case.pk}/" in email.body_html


def test_a_case_passed_on_goes_to_the_designated_tam(alpha, reseller, tam, engineer):
    SupportSubscriptionFactory(
        customer=alpha.customer,
        account=reseller.account,
        plan="enterprise",
        tam=tam,
        support_partner=reseller.partner,
    )
    case = open_case(alpha.staff, reseller.account)
    with at(OPENED + datetime.timedelta(minutes=5)):
        services.support_case_escalate(user=reseller.user, case=case)

    assert OutboxMessage.objects.get(dedupe_key=f"support-case-escalated:{case.pk}").to == [tam.email]


def test_a_case_passed_on_with_no_engineer_to_write_to_goes_to_the_support_desk(alpha, reseller, settings):
    settings.SUPPORT_TEAM_EMAIL = "desk@provider.example"
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account)
    with at(OPENED + datetime.timedelta(minutes=5)):
        services.support_case_escalate(user=reseller.user, case=case)

    assert OutboxMessage.objects.get(dedupe_key=f"support-case-escalated:{case.pk}").to == [
        "desk@provider.example"
    ]
