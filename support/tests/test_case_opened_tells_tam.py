"""A case of the most urgent severities (production or a business-critical system down) opened at a
customer with a designated TAM is told to that TAM at once, not first by its breach email; a less
urgent one, or one the reselling partner answers, is not."""

import datetime

import pytest
import time_machine

from apn_portal.outbox.models import OutboxMessage
from support import services
from tests.factories import SupportSubscriptionFactory

pytestmark = pytest.mark.django_db

OPENED = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=datetime.UTC)  # a Tuesday


def open_case(user, account, severity):
    with time_machine.travel(OPENED, tick=False):
        return services.support_case_open(
            user=user, account=account, subject="Site down", description="503 everywhere.", severity=severity
        )


@pytest.mark.parametrize("severity", ["production_down", "business_critical_down"])
def test_the_designated_tam_hears_of_an_urgent_case_at_once(alpha, tam, severity):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)

    case = open_case(alpha.staff, alpha.account, severity)

    email = OutboxMessage.objects.get(dedupe_key=f"support-case-opened:{case.pk}:tam")
    assert email.to == [tam.email]
    assert f"#{case.pk}" in email.subject and "Alpha Customer" in email.subject
    assert "Site down" in email.body_text
    assert f"/my/support/cases/{case.pk}/" in email.body_html


def test_a_less_urgent_case_is_not_told(alpha, tam):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)

    case = open_case(alpha.staff, alpha.account, "production_impaired")

    assert not OutboxMessage.objects.filter(dedupe_key=f"support-case-opened:{case.pk}:tam").exists()


def test_a_case_the_reselling_partner_answers_is_not_told_to_the_tam(alpha, reseller, tam):
    SupportSubscriptionFactory(
        customer=alpha.customer,
        account=reseller.account,
        plan="enterprise",
        tam=tam,
        support_partner=reseller.partner,
    )

    case = open_case(alpha.staff, reseller.account, "business_critical_down")

    assert case.handling_partner == reseller.partner
    assert not OutboxMessage.objects.filter(dedupe_key=f"support-case-opened:{case.pk}:tam").exists()
