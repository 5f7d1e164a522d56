"""An account's reseller changes, or goes, in the admin: the partner-led support it gave goes with it. The
customer's open cases it handled are the provider's from then on, its case page and the API no longer name
the old partner, and a line on each case says who changed what."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apn_portal.exceptions import DomainError, PermissionDeniedError
from engagements import services
from engagements.models import AwsAccount
from partners.models import ProgramEnrollment
from partners.services import enrollment_revoke
from support.services import support_case_open
from tests.factories import (
    ApprovedEnrollmentFactory,
    AwsAccountFactory,
    PartnerFactory,
    SuperUserFactory,
    SupportSubscriptionFactory,
    program,
)

from .test_admin_isolation import _change_form

pytestmark = pytest.mark.django_db


def solution_provider(name: str, slug: str):
    partner = PartnerFactory(name=name, slug=slug)
    ApprovedEnrollmentFactory(partner=partner, program=program("solution-provider"))
    return partner


@pytest.fixture
def resold(alpha):
    """An account of Alpha's that Resell Co resells, with partner-led support, and an open case on it."""
    partner = solution_provider("Resell Co", "resell-co")
    account = AwsAccountFactory(
        customer=alpha.customer,
        account_id="111000000009",
        name="Alpha-resold",
        paid_by="reseller",
        reseller=partner,
    )
    SupportSubscriptionFactory(
        customer=alpha.customer, account=account, plan="business", support_partner=partner
    )
    case = support_case_open(
        user=alpha.staff,
        account=account,
        subject="Checkout down",
        description="503 everywhere.",
        severity="general_guidance",
    )
    assert case.handling_partner == partner
    return account, case


def _case_page(client, user, case) -> str:
    client.force_login(user)
    return client.get(reverse("support:case-detail", args=[case.pk])).content.decode()


def _case_in_api(user, case) -> dict:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api.get(f"/api/v1/support-cases/{case.pk}/").json()


def test_removing_the_reseller_in_the_admin_hands_its_cases_to_the_providers_support(client, alpha, resold):
    account, case = resold
    assert "Resell Co (partner-led support)" in _case_page(client, alpha.staff, case)

    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_awsaccount_change", args=[account.pk])
    response = client.post(url, _change_form(client.get(url), paid_by="customer", reseller=""))
    assert response.status_code == 302

    page = _case_page(client, alpha.staff, case)
    assert "Resell Co (partner-led support)" not in page
    assert "<dt>Answered by</dt><dd>The provider's support</dd>" in page
    line = (
        f"Resell Co no longer gives account 111000000009 partner-led support ({alpha.account_manager} "
        "removed Resell Co as account 111000000009&#x27;s reseller), so this case is now with the "
        "provider&#x27;s support"
    )
    assert line in page
    assert _case_in_api(alpha.staff, case)["handling_partner"] is None
    assert AwsAccount.objects.get(pk=account.pk).history.first().history_user == alpha.account_manager


def test_another_reseller_named_in_its_place_does_not_take_the_old_ones_cases(client, alpha, resold):
    account, case = resold
    other = solution_provider("Other Reseller", "other-reseller")

    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_awsaccount_change", args=[account.pk])
    response = client.post(url, _change_form(client.get(url), reseller=other.pk))
    assert response.status_code == 302

    case.refresh_from_db()
    assert case.handling_partner is None
    assert (
        f"({alpha.account_manager} made Other Reseller account 111000000009's reseller in place of Resell Co)"
        in case.replies.get().body
    )
    assert _case_in_api(alpha.staff, case)["handling_partner"] is None


def test_renaming_a_resold_account_leaves_its_cases_with_the_reseller(client, alpha, resold):
    account, case = resold
    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_awsaccount_change", args=[account.pk])
    response = client.post(url, _change_form(client.get(url), name="Alpha shop"))
    assert response.status_code == 302

    case.refresh_from_db()
    assert case.handling_partner.name == "Resell Co" and not case.replies.exists()
    assert AwsAccount.objects.get(pk=account.pk).name == "Alpha shop"


def test_an_accounts_reseller_is_changed_only_by_whom_may_add_accounts(alpha, bravo, resold):
    account, case = resold
    account.reseller, account.paid_by = None, "customer"
    with pytest.raises(PermissionDeniedError):
        services.aws_account_change(
            user=bravo.account_manager, account=account, fields=["reseller", "paid_by"]
        )
    with pytest.raises(DomainError, match="customer cannot change"):
        services.aws_account_change(user=alpha.account_manager, account=account, fields=["customer"])
    case.refresh_from_db()
    assert case.handling_partner.name == "Resell Co"
    assert AwsAccount.objects.get(pk=account.pk).reseller_id is not None


def test_a_resold_account_is_still_renamed_once_its_resellers_enrollment_is_revoked(client, alpha, resold):
    """The account keeps the reseller that bills it, as the record of who did: renaming it is not naming
    a reseller, so the reseller's Solution Provider standing now is not asked."""
    account, _case = resold
    enrollment = ProgramEnrollment.objects.get(partner=account.reseller, program__slug="solution-provider")
    enrollment_revoke(enrollment=enrollment, user=SuperUserFactory(), reason="Lapsed")

    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_awsaccount_change", args=[account.pk])
    response = client.post(url, _change_form(client.get(url), name="Alpha shop"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    account.name = "Alpha shop billing"
    services.aws_account_change(user=alpha.admin, account=account, fields=["name"])

    stored = AwsAccount.objects.get(pk=account.pk)
    assert (stored.name, stored.reseller.name, stored.paid_by) == (
        "Alpha shop billing",
        "Resell Co",
        "reseller",
    )


def test_a_partner_whose_enrollment_was_revoked_is_not_named_reseller_again(client, alpha, resold):
    account, _case = resold
    partner = account.reseller
    enrollment = ProgramEnrollment.objects.get(partner=partner, program__slug="solution-provider")
    enrollment_revoke(enrollment=enrollment, user=SuperUserFactory(), reason="Lapsed")
    refused = "Resell Co is not an approved Solution Provider, so it cannot resell accounts."

    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_awsaccount_change", args=[alpha.member.pk])
    response = client.post(url, _change_form(client.get(url), paid_by="reseller", reseller=partner.pk))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reseller"] == [refused]
    alpha.member.paid_by, alpha.member.reseller = "reseller", partner
    with pytest.raises(DomainError, match=refused):
        services.aws_account_change(user=alpha.admin, account=alpha.member, fields=["paid_by", "reseller"])
    assert AwsAccount.objects.get(pk=alpha.member.pk).reseller is None
    # Nor put back on the account it billed, once taken off.
    url = reverse("admin:engagements_awsaccount_change", args=[account.pk])
    assert client.post(url, _change_form(client.get(url), paid_by="customer", reseller="")).status_code == 302
    response = client.post(url, _change_form(client.get(url), paid_by="reseller", reseller=partner.pk))
    assert response.context["adminform"].form.errors["reseller"] == [refused]
