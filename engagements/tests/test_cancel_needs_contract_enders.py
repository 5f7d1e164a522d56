"""Cancelling an engagement ends every contract still running under it, and revokes the access held under
them: it is ending each contract at once, so it is for whoever may end one (user_can_end_contracts), the
customer's access administrators and superusers. The provider's staff looking after the customer, who are
refused ending one contract, are refused cancelling it away too; with no contract left running they may
still cancel the engagement they plan."""

import datetime

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apn_portal.outbox.models import OutboxMessage
from engagements.models import AccessGrant, Engagement, EngagementPartner
from tests.factories import (
    EngagementFactory,
    EngagementPartnerFactory,
    QualifiedTamFactory,
    SolutionsArchitectFactory,
    SuperUserFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _looking_after(alpha, who):
    """The customer's Account Manager, Solutions Architect or TAM, or one of its own people who is not an
    access administrator."""
    customer = alpha.customer
    if who == "sa":
        customer.solutions_architect = SolutionsArchitectFactory()
        customer.save(update_fields=["solutions_architect"])
        return customer.solutions_architect
    if who == "tam":
        from support import services as support_services

        tam = QualifiedTamFactory()
        support_services.support_subscription_change(
            user=alpha.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tam
        )
        return tam
    return {"am": alpha.account_manager, "staff": alpha.staff}[who]


def _cancel(user, engagement, reason="Budget cut"):
    return _api(user).post(
        f"/api/v1/engagements/{engagement.pk}/status/",
        {"status": "cancelled", "reason": reason},
        format="json",
    )


@pytest.mark.parametrize("who", ["am", "sa", "tam", "staff"])
def test_who_may_not_end_a_contract_may_not_cancel_the_engagement_that_runs_it(alpha, who):
    user = _looking_after(alpha, who)
    ended = _api(user).post(
        f"/api/v1/engagement-partners/{alpha.engaged.pk}/end/", {"reason": "In house"}, format="json"
    )
    assert ended.status_code == 403

    response = _cancel(user, alpha.engagement)

    assert response.status_code == 403, response.content
    assert response.json()["detail"] == (
        "Cancelling “Alpha Migration” would end the contracts still running (Alpha Partners Ltd): only "
        "Alpha Customer's access administrators can end them."
    )
    assert Engagement.objects.get(pk=alpha.engagement.pk).status == "active"
    engaged = EngagementPartner.objects.get(pk=alpha.engaged.pk)
    assert (engaged.contract_end, engaged.ended_reason) == (alpha.engaged.contract_end, "")
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is None
    assert not OutboxMessage.objects.filter(dedupe_key__startswith="engagement-partner-ended:").exists()


def test_the_account_manager_still_cancels_an_engagement_with_no_contract_running(alpha):
    yesterday = alpha.customer.local_today() - datetime.timedelta(days=1)
    engagement = EngagementFactory(customer=alpha.customer, title="Alpha Analytics")
    ran_out = EngagementPartnerFactory(
        engagement=engagement, contract_start=yesterday - datetime.timedelta(days=30), contract_end=yesterday
    )

    response = _cancel(alpha.account_manager, engagement)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    ran_out.refresh_from_db()
    assert (ran_out.contract_end, ran_out.ended_reason) == (yesterday, "")


def test_the_access_administrator_cancels_it_and_its_contracts_end(alpha):
    response = _cancel(alpha.admin, alpha.engagement)

    assert response.status_code == 200, response.content
    engaged = EngagementPartner.objects.get(pk=alpha.engaged.pk)
    assert (engaged.contract_end, engaged.ended_reason) == (alpha.customer.local_today(), "Budget cut")


def test_the_admin_says_why_the_account_manager_cannot_cancel_it(client, alpha):
    client.force_login(alpha.account_manager)
    data = {"action": "change_status", "_selected_action": [alpha.engagement.pk], "apply": "1"}

    response = client.post(
        reverse("admin:engagements_engagement_changelist"),
        {**data, "status": "cancelled", "reason": "Budget cut"},
        follow=True,
    )

    assert response.status_code == 200
    page = response.content.decode().replace("&#x27;", "'")
    assert "would end the contracts still running (Alpha Partners Ltd): only Alpha Customer's access" in page
    assert Engagement.objects.get(pk=alpha.engagement.pk).status == "active"
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is None

    client.force_login(SuperUserFactory())
    client.post(
        reverse("admin:engagements_engagement_changelist"),
        {**data, "status": "cancelled", "reason": "Budget cut"},
    )
    assert Engagement.objects.get(pk=alpha.engagement.pk).status == "cancelled"
