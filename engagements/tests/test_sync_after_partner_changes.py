"""An integrator syncing with `updated_since` (and a client holding an ETag) notices a partner joining an
engagement, or replacing another: the engagement lists its partners, and the joining partner's people see
the engagement, its partners and its customer from then on; an account, once it is granted access to it."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def changed_since(user, resource, since, key="id") -> list:
    response = api(user).get(f"/api/v1/{resource}/", {"updated_since": since.isoformat()})
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


def etag(user, engagement) -> str:
    response = api(user).get(f"/api/v1/engagements/{engagement.pk}/")
    assert response.status_code == 200, response.content
    return response["ETag"]


def test_adding_a_partner_shows_in_updated_since_and_the_etag(alpha, bravo):
    newcomer = PartnerFactory(slug="new-vendor")
    newcomer_user = PartnerUserFactory(partner=newcomer)
    before = etag(alpha.admin, alpha.engagement)
    since = timezone.now()
    today = timezone.localdate()

    response = api(alpha.admin).post(
        "/api/v1/engagement-partners/",
        {
            "engagement": alpha.engagement.pk,
            "partner": "new-vendor",
            "role": "consulting_lead",
            "contract_start": str(today),
            "contract_end": str(today + datetime.timedelta(days=30)),
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert changed_since(alpha.admin, "engagements", since) == [alpha.engagement.pk]
    assert etag(alpha.admin, alpha.engagement) != before
    # The newcomer's own sync finds what it sees from now on: the engagement, its other partner, the
    # customer. Nothing of another customer's moved.
    assert changed_since(newcomer_user, "engagements", since) == [alpha.engagement.pk]
    assert sorted(changed_since(newcomer_user, "engagement-partners", since)) == sorted(
        [alpha.engaged.pk, response.json()["id"]]
    )
    assert changed_since(newcomer_user, "customers", since, key="slug") == [alpha.customer.slug]
    assert changed_since(bravo.admin, "engagements", since) == []
    assert changed_since(bravo.admin, "customers", since) == []


def test_replacing_a_partner_shows_in_updated_since_and_the_etag(alpha):
    winner = PartnerFactory(slug="winner")
    winner_user = PartnerUserFactory(partner=winner)
    before = etag(alpha.admin, alpha.engagement)
    since = timezone.now()

    response = api(alpha.admin).post(
        f"/api/v1/engagement-partners/{alpha.engaged.pk}/replace/",
        {
            "new_partner": "winner",
            "reason": "New procurement",
            "contract_end": str(timezone.localdate() + datetime.timedelta(days=90)),
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert changed_since(alpha.admin, "engagements", since) == [alpha.engagement.pk]
    engagement = api(alpha.admin).get(f"/api/v1/engagements/{alpha.engagement.pk}/").json()
    assert [partner["partner"] for partner in engagement["partners"]] == ["winner"]
    assert etag(alpha.admin, alpha.engagement) != before
    assert changed_since(winner_user, "engagements", since) == [alpha.engagement.pk]
    assert changed_since(winner_user, "customers", since, key="slug") == [alpha.customer.slug]


def test_an_account_granted_to_a_partner_shows_in_its_updated_since(alpha):
    # The partner already acts in the member account; now it is granted the management account too, and
    # sees it named as the member's management account.
    assert changed_since(alpha.partner_user, "aws-accounts", timezone.now()) == []
    member = api(alpha.partner_user).get(f"/api/v1/aws-accounts/{alpha.member.pk}/").json()
    assert member["management_account"] is None
    since = timezone.now()

    response = api(alpha.admin).post(
        "/api/v1/access-grants/",
        {
            "account": alpha.management.account_id,
            "engagement_partner": alpha.engaged.pk,
            "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Billing",
            "scope": "read_only",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    rows = {
        row["account_id"]: row
        for row in api(alpha.partner_user)
        .get("/api/v1/aws-accounts/", {"updated_since": since.isoformat()})
        .json()["results"]
    }
    assert sorted(rows) == sorted([alpha.management.account_id, alpha.member.account_id])
    assert rows[alpha.member.account_id]["management_account"] == alpha.management.account_id
