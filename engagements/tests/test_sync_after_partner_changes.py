"""An integrator syncing with `updated_since` (and a client holding an ETag) notices a partner joining an
engagement, or replacing another: the engagement lists its partners, and the joining partner's people see
the engagement, its partners and its customer from then on; an account, once it is granted access to it;
and a member account that no longer names its management account, once the grant on that one ends."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from tests.factories import AccessGrantFactory, AwsAccountFactory, PartnerFactory, PartnerUserFactory

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


def accounts_changed_since(user, since) -> dict:
    """The accounts the user's sync finds changed since `since`, by account id."""
    response = api(user).get("/api/v1/aws-accounts/", {"updated_since": since.isoformat()})
    assert response.status_code == 200, response.content
    return {row["account_id"]: row for row in response.json()["results"]}


def grant_management_account(org, **kwargs):
    """The partner, already acting in the member account, is granted the management account too: it sees
    the member named as the management account's."""
    grant = AccessGrantFactory(engagement_partner=org.engaged, account=org.management, **kwargs)
    member = api(org.partner_user).get(f"/api/v1/aws-accounts/{org.member.pk}/").json()
    assert member["management_account"] == org.management.account_id
    return grant


def test_revoking_the_management_account_shows_in_the_members_updated_since(alpha, bravo):
    grant = grant_management_account(alpha)
    since = timezone.now()

    response = api(alpha.admin).post(
        f"/api/v1/access-grants/{grant.pk}/revoke/", {"reason": "Billing moved in-house"}, format="json"
    )

    assert response.status_code == 200, response.content
    # The partner no longer sees the management account; the member it still acts in no longer names it.
    rows = accounts_changed_since(alpha.partner_user, since)
    assert sorted(rows) == [alpha.member.account_id]
    assert rows[alpha.member.account_id]["management_account"] is None
    assert accounts_changed_since(bravo.partner_user, since) == {}


def expire_in_the_hourly_check(moment):
    with time_machine.travel(moment + datetime.timedelta(minutes=1), tick=False):
        run = check_run("access_grant_expiry")
        assert run.status == CheckRunStatus.SUCCEEDED, run.error
        assert run.changed["grants_expired"] == 1


def test_the_management_account_running_out_shows_in_the_members_updated_since(alpha, bravo):
    soon = timezone.now() + datetime.timedelta(days=1)
    grant_management_account(alpha, expires_at=soon)
    since = timezone.now()

    expire_in_the_hourly_check(soon)

    with time_machine.travel(soon + datetime.timedelta(minutes=2), tick=False):
        rows = accounts_changed_since(alpha.partner_user, since)
        assert sorted(rows) == [alpha.member.account_id]
        assert rows[alpha.member.account_id]["management_account"] is None
        assert accounts_changed_since(bravo.partner_user, since) == {}


def test_the_expiry_check_costs_the_same_queries_however_many_members_it_moves(
    alpha, bravo, django_assert_max_num_queries
):
    # Bravo's partner acts in four member accounts; Alpha's in one. Each loses its management account.
    members = [bravo.member]
    for number in range(3):
        member = AwsAccountFactory(
            customer=bravo.customer,
            account_id=f"{222_000_000_010 + number:012d}",
            management_account=bravo.management,
        )
        AccessGrantFactory(engagement_partner=bravo.engaged, account=member, granted_by=bravo.admin)
        members.append(member)
    soon, later = timezone.now() + datetime.timedelta(days=1), timezone.now() + datetime.timedelta(days=2)
    grant_management_account(alpha, expires_at=soon)
    grant_management_account(bravo, expires_at=later)
    since = timezone.now()

    with CaptureQueriesContext(connection) as one_member:
        expire_in_the_hourly_check(soon)
    with django_assert_max_num_queries(len(one_member.captured_queries)):
        expire_in_the_hourly_check(later)

    with time_machine.travel(later + datetime.timedelta(minutes=2), tick=False):
        rows = accounts_changed_since(bravo.partner_user, since)
    assert sorted(rows) == sorted(member.account_id for member in members)
    assert all(row["management_account"] is None for row in rows.values())
