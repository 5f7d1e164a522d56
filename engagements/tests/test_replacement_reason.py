"""Why a partner's contract ended is between the customer and that partner: the partners who stay on the
engagement (the replacement among them) see that it was replaced and by whom, never the reason."""

import datetime

import pytest
from django.utils import timezone

from engagements.services import engagement_partner_replace
from tests.factories import EngagementPartnerFactory, PartnerFactory, PartnerUserFactory

from .test_api import api
from .test_pages import page, text

pytestmark = pytest.mark.django_db

REASON = "Missed three deadlines and leaked a password"


@pytest.fixture
def replaced(alpha):
    """Alpha's consulting lead is replaced; a technology partner stays on the engagement throughout."""
    staying = EngagementPartnerFactory(engagement=alpha.engagement, role="technology")
    winner = PartnerFactory(name="Winner Consulting")
    new = engagement_partner_replace(
        user=alpha.admin,
        engagement_partner=alpha.engaged,
        new_partner=winner,
        reason=REASON,
        contract_end=timezone.localdate() + datetime.timedelta(days=365),
    )
    return {
        "technology partner": PartnerUserFactory(partner=staying.partner),
        "replacement": PartnerUserFactory(partner=winner),
        "new": new,
    }


@pytest.mark.parametrize("who", ["technology partner", "replacement"])
def test_other_partners_see_the_replacement_but_not_why(client, alpha, replaced, who):
    body = text(page(client, replaced[who], "engagement-detail", alpha.engagement.pk))
    assert "Replaced by Winner Consulting" in body
    assert REASON not in body

    rows = api(replaced[who]).get(f"/api/v1/engagement-partners/?engagement={alpha.engagement.pk}").json()
    old = next(row for row in rows["results"] if row["id"] == alpha.engaged.pk)
    assert old["replaced_by"] == replaced["new"].pk
    assert old["ended_reason"] == ""
    one = api(replaced[who]).get(f"/api/v1/engagement-partners/{alpha.engaged.pk}/").json()
    assert one["ended_reason"] == ""


@pytest.mark.parametrize("who", ["admin", "staff", "account_manager"])
def test_the_customer_and_its_account_manager_see_why(client, alpha, replaced, who):
    user = getattr(alpha, who)
    assert REASON in text(page(client, user, "engagement-detail", alpha.engagement.pk))
    one = api(user).get(f"/api/v1/engagement-partners/{alpha.engaged.pk}/").json()
    assert one["ended_reason"] == REASON


def test_a_partner_replaced_in_one_role_but_staying_in_another_sees_why(client, alpha, replaced):
    EngagementPartnerFactory(engagement=alpha.engagement, partner=alpha.partner, role="reseller")
    assert REASON in text(page(client, alpha.partner_user, "engagement-detail", alpha.engagement.pk))
    one = api(alpha.partner_user).get(f"/api/v1/engagement-partners/{alpha.engaged.pk}/").json()
    assert one["ended_reason"] == REASON
