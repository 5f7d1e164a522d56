"""A partner whose contract in a role is over (ended early, or ran out) cannot take that role again on the
same engagement (one row per partner and role: engagement_partner_once_per_role). The refusal read
"Alpha Partners Ltd is already consulting lead on “Alpha Migration”", which it no longer is; it now says
that its earlier contract in that role ended, and when, and what to do instead."""

import datetime

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apn_portal.exceptions import ConflictError
from engagements import services
from engagements.models import EngagementPartner

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _add_again(alpha):
    today = alpha.customer.local_today()
    return services.engagement_partner_add(
        user=alpha.admin,
        engagement=alpha.engagement,
        partner=alpha.partner,
        role=alpha.engaged.role,
        contract_start=today,
        contract_end=today + 90 * DAY,
    )


def _refusal(alpha, ended: str) -> str:
    role = alpha.engaged.get_role_display().lower()
    return (
        f"{alpha.partner}'s earlier contract as {role} on “{alpha.engagement.title}” {ended}, and for now a "
        "partner cannot take the same role twice on one engagement: put the new work on a new engagement "
        f"for {alpha.customer}."
    )


def test_a_partner_whose_contract_was_ended_early_is_told_it_ended_not_that_it_is_there(alpha):
    services.engagement_partner_end(user=alpha.admin, engagement_partner=alpha.engaged, reason="In house")
    today = alpha.customer.local_today()

    with pytest.raises(ConflictError) as refused:
        _add_again(alpha)

    assert refused.value.message == _refusal(alpha, f"ended on {today:%-d %b %Y}")
    assert refused.value.field == "partner"


def test_a_partner_whose_contract_ran_out_is_told_so_through_the_api(alpha):
    last_day = alpha.customer.local_today() - 3 * DAY
    alpha.grant.delete()  # no grant outlives its contract
    EngagementPartner.objects.filter(pk=alpha.engaged.pk).update(
        contract_start=last_day - 30 * DAY, contract_end=last_day
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=alpha.admin)[0].key}")
    today = alpha.customer.local_today()

    answer = client.post(
        "/api/v1/engagement-partners/",
        {
            "engagement": alpha.engagement.pk,
            "partner": alpha.partner.slug,
            "role": alpha.engaged.role,
            "contract_start": today.isoformat(),
            "contract_end": (today + 90 * DAY).isoformat(),
        },
        format="json",
    )

    assert answer.status_code == 409
    assert answer.json() == {"detail": _refusal(alpha, f"ended on {last_day:%-d %b %Y}")}


def test_a_partner_whose_contract_runs_on_is_told_it_is_already_there(alpha):
    role = alpha.engaged.get_role_display().lower()

    with pytest.raises(
        ConflictError, match=f"^{alpha.partner} is already {role} on “{alpha.engagement.title}”"
    ):
        _add_again(alpha)
