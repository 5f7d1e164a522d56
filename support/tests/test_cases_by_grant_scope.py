"""What a partner's access grant on a customer's account lets it open there: a read-only grant lets it look,
not open cases; a billing grant, account and billing cases only; an operations or administration grant,
every case. A refusal names the field it is about, on the page and in the API alike, and the new-case form
offers only the accounts the partner may open a case on."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apn_portal.exceptions import DomainError, PermissionDeniedError
from engagements.models import AccessGrant
from support import selectors, services
from support.choices import CaseType
from support.models import SupportCase
from tests.factories import SupportSubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alpha_on_enterprise_on_ramp(alpha):
    return SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise-on-ramp")


def grant_scope(alpha, scope):
    AccessGrant.objects.filter(account=alpha.granted_account).update(
        scope=scope, mfa_required=scope == "administration"
    )


def open_case(alpha, case_type=CaseType.TECHNICAL, severity="business_critical_down"):
    return services.support_case_open(
        user=alpha.partner_user,
        account=alpha.granted_account,
        subject="Prod down",
        description="Everything is down.",
        severity=severity,
        case_type=case_type,
    )


def api_post(user, data):
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client.post("/api/v1/support-cases/", data)


def form_data(alpha, case_type="technical", severity="business_critical_down"):
    return {
        "account": alpha.granted_account.pk,
        "case_type": case_type,
        "severity": severity,
        "subject": "Prod down",
        "description": "Everything is down.",
    }


def test_a_read_only_grant_opens_no_case(client, alpha, alpha_on_enterprise_on_ramp):
    grant_scope(alpha, "read_only")

    for case_type, severity in (
        (CaseType.TECHNICAL, "business_critical_down"),
        (CaseType.ACCOUNT_AND_BILLING, "general_guidance"),
    ):
        with pytest.raises(DomainError, match="read-only") as refused:
            open_case(alpha, case_type, severity)
        assert refused.value.field == "account" and refused.value.status_code == 400
    assert not selectors.accounts_open_for_cases(alpha.partner_user).exists()

    client.force_login(alpha.partner_user)
    form_page = client.get(reverse("support:case-new")).content.decode()
    assert alpha.granted_account.account_id not in form_page
    assert "read-only one, none" in form_page  # the notice says why no account is offered

    response = api_post(alpha.partner_user, {**form_data(alpha), "account": alpha.granted_account.account_id})
    assert response.status_code == 400
    assert "read-only" in response.json()["account"][0]
    assert not SupportCase.objects.exists()


def test_a_billing_grant_opens_account_and_billing_cases_only(client, alpha, alpha_on_enterprise_on_ramp):
    grant_scope(alpha, "billing")

    with pytest.raises(DomainError, match="for billing") as refused:
        open_case(alpha)
    assert refused.value.field == "case_type" and refused.value.status_code == 400
    assert (
        open_case(alpha, CaseType.ACCOUNT_AND_BILLING, "general_guidance").opened_by_partner == alpha.partner
    )
    assert list(selectors.accounts_open_for_cases(alpha.partner_user)) == [alpha.granted_account]
    assert not selectors.accounts_open_for_cases(alpha.partner_user, case_type=CaseType.TECHNICAL).exists()

    client.force_login(alpha.partner_user)
    assert alpha.granted_account.account_id in client.get(reverse("support:case-new")).content.decode()
    page = client.post(reverse("support:case-new"), form_data(alpha))
    assert page.status_code == 400
    assert "for billing" in str(page.context["case_form"].errors["case_type"])
    opened = client.post(
        reverse("support:case-new"), form_data(alpha, "account_and_billing", "general_guidance")
    )
    assert opened.status_code == 303

    response = api_post(alpha.partner_user, {**form_data(alpha), "account": alpha.granted_account.account_id})
    assert response.status_code == 400
    assert "for billing" in response.json()["case_type"][0]
    assert SupportCase.objects.filter(case_type=CaseType.TECHNICAL).count() == 0


@pytest.mark.parametrize("scope", ["operations", "administration"])
def test_an_operations_or_administration_grant_opens_every_case(alpha, alpha_on_enterprise_on_ramp, scope):
    grant_scope(alpha, scope)

    case = open_case(alpha)

    assert (case.severity, case.response_target_minutes) == ("business_critical_down", 30)
    assert open_case(alpha, CaseType.ACCOUNT_AND_BILLING, "general_guidance")


def test_an_account_without_a_grant_is_still_refused_as_before(alpha, alpha_on_enterprise_on_ramp):
    with pytest.raises(PermissionDeniedError, match="cannot open a support case on this account"):
        services.support_case_open(
            user=alpha.partner_user,
            account=alpha.account,
            subject="x",
            description="y",
            severity="general_guidance",
            case_type=CaseType.ACCOUNT_AND_BILLING,
        )
