"""An urgent case the reselling partner was answering, which the customer's change of plan takes from it
(partner-led support removed), is told at once to whoever at the provider now answers it, in the words
of the email a case passed on to the provider sends: not first by its breach email."""

import pytest
from django.core import mail

from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_deliver_message
from support import services
from tests.factories import SupportSubscriptionFactory, support_plan

pytestmark = pytest.mark.django_db


def resold_enterprise(alpha, reseller, tam):
    SupportSubscriptionFactory(
        customer=alpha.customer,
        account=reseller.account,
        plan="enterprise",
        tam=tam,
        support_partner=reseller.partner,
    )


def open_case(alpha, reseller, severity):
    case = services.support_case_open(
        user=alpha.staff,
        account=reseller.account,
        subject="Checkout down",
        description="500s",
        severity=severity,
    )
    assert case.handling_partner == reseller.partner
    return case


def take_partner_led_support_away(alpha, reseller, tam):
    # Same plan, same TAM: only the support partner goes.
    services.support_subscription_change(
        user=alpha.account_manager,
        customer=alpha.customer,
        account=reseller.account,
        plan=support_plan("enterprise"),
        tam=tam,
    )


def told_of(case):
    return list(OutboxMessage.objects.filter(dedupe_key__contains=f"support-case-to-provider:{case.pk}"))


def test_the_tam_is_told_of_a_business_critical_case_taken_from_the_reseller(alpha, reseller, tam):
    resold_enterprise(alpha, reseller, tam)
    case = open_case(alpha, reseller, "business_critical_down")

    take_partner_led_support_away(alpha, reseller, tam)
    # Asked again (another change of the customer's reseller), nothing more is sent.
    services.support_cases_follow_partner_led_support(
        user=alpha.account_manager, customer=alpha.customer, why="x"
    )

    case.refresh_from_db()
    assert case.handling_partner is None
    [email] = told_of(case)
    assert email.to == [tam.email]
    assert email.subject == (
        f"No longer with Resell Co: case #{case.pk} (Business-critical system down) for Alpha Customer"
    )
    assert "Resell Co no longer gives the account partner-led support" in email.body_text
    assert f"({alpha.account_manager} changed account 111000000009's support plan)" in email.body_text
    assert "it is yours to answer now" in email.body_text
    mail.outbox.clear()
    outbox_deliver_message(email.pk)
    assert [message.to for message in mail.outbox] == [[tam.email]]


def test_a_case_of_lower_severity_waits_for_its_breach_email(alpha, reseller, tam):
    resold_enterprise(alpha, reseller, tam)
    case = open_case(alpha, reseller, "production_impaired")

    take_partner_led_support_away(alpha, reseller, tam)

    assert not told_of(case)


def test_an_urgent_case_passed_on_already_is_not_told_twice(alpha, reseller, tam):
    resold_enterprise(alpha, reseller, tam)
    case = open_case(alpha, reseller, "production_down")
    services.support_case_escalate(user=reseller.user, case=case)

    take_partner_led_support_away(alpha, reseller, tam)

    assert not told_of(case)
    assert OutboxMessage.objects.get(dedupe_key=f"support-case-escalated:{case.pk}").to == [tam.email]
