"""The API for customers, accounts, engagements, engagement partners and access grants: nobody sees or
names another organisation's records (404), the services' refusals come back as clear 4xx messages, and
lists cost a constant number of queries."""

import datetime
import zoneinfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from engagements import services
from engagements.choices import TeamRole
from engagements.models import AccessGrant
from tests.factories import PartnerFactory, SolutionsArchitectFactory

from .test_pages import grow

pytestmark = pytest.mark.django_db

RESOURCES = ("customers", "aws-accounts", "engagements", "engagement-partners", "access-grants")


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def detail_url(resource, org):
    key = {
        "customers": org.customer.slug,
        "aws-accounts": org.member.pk,
        "engagements": org.engagement.pk,
        "engagement-partners": org.engaged.pk,
        "access-grants": org.grant.pk,
    }[resource]
    return f"/api/v1/{resource}/{key}/"


def listed(response) -> str:
    assert response.status_code == 200, response.content
    return response.content.decode()


@pytest.mark.parametrize("who", ["admin", "staff", "partner_user", "account_manager"])
@pytest.mark.parametrize("resource", RESOURCES)
def test_nobody_sees_another_organisations_records(alpha, bravo, who, resource):
    client = api(getattr(alpha, who))
    body = listed(client.get(f"/api/v1/{resource}/"))
    for marker in (
        bravo.customer.slug,
        bravo.member.account_id,
        bravo.engagement.title,
        bravo.grant.role_arn,
    ):
        assert marker not in body
    assert client.get(detail_url(resource, bravo)).status_code == 404


@pytest.mark.parametrize("resource", RESOURCES)
def test_the_api_needs_credentials(alpha, resource):
    assert api().get(f"/api/v1/{resource}/").status_code == 401


def test_partner_sees_only_the_accounts_it_can_act_in(alpha):
    response = api(alpha.partner_user).get("/api/v1/aws-accounts/")
    assert [row["account_id"] for row in response.json()["results"]] == [alpha.member.account_id]


def grant_body(org, **overrides):
    return {
        "account": org.management.account_id,
        "engagement_partner": org.engaged.pk,
        "role_arn": f"arn:aws:iam::{org.management.account_id}:role/Finance",
        "scope": "billing",
        **overrides,
    }


def test_access_administrator_grants_through_the_api(alpha):
    response = api(alpha.admin).post("/api/v1/access-grants/", grant_body(alpha), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["role_name"] == "Finance" and data["is_live"] and data["mfa_required"]
    assert data["granted_by"] == alpha.admin.username and data["partner"] == alpha.partner.slug


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"role_arn": "arn:aws:iam::999999999999:role/Finance"}, "role_arn", "names account 999999999999"),
        ({"role_arn": "Finance"}, "role_arn", "A role ARN reads arn:aws:iam::"),
        (
            {"scope": "administration", "mfa_required": False},
            "mfa_required",
            "always requires the customer's MFA",
        ),
        ({"expires_at": "2150-01-01T00:00:00Z"}, "expires_at", "the grant must expire by then"),
        ({"expires_at": "2026-02-30"}, "expires_at", "or a date alone (2026-12-31)"),
    ],
)
def test_bad_grants_are_refused_with_a_clear_message(alpha, overrides, field, message):
    response = api(alpha.admin).post("/api/v1/access-grants/", grant_body(alpha, **overrides), format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


@pytest.mark.parametrize("spelling", ["{:%Y-%m-%d}", "{:%Y%m%d}"])
def test_a_date_without_a_time_grants_access_through_that_last_day_in_the_customers_zone(alpha, spelling):
    # As on the access page: the day given is the last day of access, ending at midnight in Tokyo, not
    # at the start of that day in UTC (which would cut the partner off 15 hours early).
    alpha.customer.time_zone = "Asia/Tokyo"
    alpha.customer.save(update_fields=["time_zone"])
    day = timezone.localdate() + datetime.timedelta(days=10)
    body = grant_body(alpha, expires_at=spelling.format(day))
    response = api(alpha.admin).post("/api/v1/access-grants/", body, format="json")
    assert response.status_code == 201, response.content
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tokyo)
    data = response.json()
    assert data["last_day"] == day.isoformat()
    assert datetime.datetime.fromisoformat(data["expires_at"]) == end
    grant = AccessGrant.objects.get(pk=data["id"])
    assert grant.expires_at == end and grant.last_day == day
    assert grant.is_live(end - datetime.timedelta(seconds=1)) and not grant.is_live(end)


def test_a_date_and_time_with_its_offset_still_ends_the_grant_at_that_moment(alpha):
    alpha.customer.time_zone = "Asia/Tokyo"
    alpha.customer.save(update_fields=["time_zone"])
    day = timezone.localdate() + datetime.timedelta(days=10)
    body = grant_body(alpha, expires_at=f"{day:%Y-%m-%d}T23:59:59+01:00")
    response = api(alpha.admin).post("/api/v1/access-grants/", body, format="json")
    assert response.status_code == 201, response.content
    end = datetime.datetime.combine(
        day, datetime.time(23, 59, 59), datetime.timezone(datetime.timedelta(hours=1))
    )
    data = response.json()
    assert datetime.datetime.fromisoformat(data["expires_at"]) == end and data["last_day"] is None


def test_a_date_and_time_without_its_offset_is_refused_not_read_as_utc(alpha):
    # Noon in Tokyo, or noon UTC (21:00 there)? Only the client knows: it is asked, not guessed for.
    alpha.customer.time_zone = "Asia/Tokyo"
    alpha.customer.save(update_fields=["time_zone"])
    day = timezone.localdate() + datetime.timedelta(days=10)
    body = grant_body(alpha, expires_at=f"{day:%Y-%m-%d}T12:00:00")
    response = api(alpha.admin).post("/api/v1/access-grants/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["expires_at"] == [
        "No offset: give the date and time with its offset (2026-12-31T23:59:59+01:00, or Z for UTC), "
        "or a date alone (2026-12-31) for the last day of access."
    ]
    assert not AccessGrant.objects.filter(role_arn=body["role_arn"]).exists()


def test_a_last_day_after_the_contract_is_refused_naming_expires_at(alpha):
    day = alpha.engaged.contract_end + datetime.timedelta(days=1)
    body = grant_body(alpha, expires_at=f"{day:%Y-%m-%d}")
    response = api(alpha.admin).post("/api/v1/access-grants/", body, format="json")
    assert response.status_code == 400
    assert "the grant must expire by then" in " ".join(response.json()["expires_at"])


def test_grants_only_by_the_customers_access_administrators(alpha, bravo):
    for user in (alpha.staff, alpha.partner_user, alpha.account_manager):
        response = api(user).post("/api/v1/access-grants/", grant_body(alpha), format="json")
        assert response.status_code in (400, 403), response.content
    # Another customer's administrator cannot even name alpha's account or partner.
    response = api(bravo.admin).post("/api/v1/access-grants/", grant_body(alpha), format="json")
    assert response.status_code == 400
    assert "does not exist" in response.json()["account"][0]
    assert not AccessGrant.objects.filter(role_name="Finance").exists()


def test_revoke_through_the_api(alpha, bravo):
    url = f"/api/v1/access-grants/{alpha.grant.pk}/revoke/"
    assert api(alpha.partner_user).post(url, {"reason": "mine"}, format="json").status_code == 403
    assert api(bravo.admin).post(url, {"reason": "theirs"}, format="json").status_code == 404
    assert api(alpha.admin).post(url, {}, format="json").status_code == 400
    response = api(alpha.admin).post(url, {"reason": "Audit finding"}, format="json")
    assert response.status_code == 200
    assert response.json()["revocation_reason"] == "Audit finding" and not response.json()["is_live"]
    again = api(alpha.admin).post(url, {"reason": "again"}, format="json")
    assert again.status_code == 409 and "already revoked" in again.json()["detail"]


def test_replace_through_the_api(alpha):
    winner = PartnerFactory(slug="winner")
    end = (timezone.localdate() + datetime.timedelta(days=365)).isoformat()
    response = api(alpha.admin).post(
        f"/api/v1/engagement-partners/{alpha.engaged.pk}/replace/",
        {"new_partner": "winner", "reason": "New procurement", "contract_end": end},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["partner"] == winner.slug
    alpha.grant.refresh_from_db()
    assert alpha.grant.revocation_reason == "Contract ended: New procurement"


@pytest.mark.parametrize(
    ("winner", "last_day", "field", "message"),
    [
        ({"partner_type": "technology"}, 365, "new_partner", "is a Technology partner"),
        ({}, -10, "contract_end", "The new contract cannot end before it starts"),
    ],
    ids=["a partner that cannot take the role", "a contract ending before it starts"],
)
def test_a_refused_replacement_names_the_field_the_request_sent(alpha, winner, last_day, field, message):
    PartnerFactory(slug="winner", **winner)
    end = (alpha.customer.local_today() + datetime.timedelta(days=last_day)).isoformat()

    response = api(alpha.admin).post(
        f"/api/v1/engagement-partners/{alpha.engaged.pk}/replace/",
        {"new_partner": "winner", "reason": "New procurement", "contract_end": end},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert message in response.json()[field][0]
    alpha.grant.refresh_from_db()
    assert alpha.grant.revoked_at is None  # nothing was done


def test_stages_through_the_api(alpha):
    url = f"/api/v1/engagements/{alpha.engagement.pk}/advance/"
    skipped = api(alpha.partner_user).post(url, {"stage": "operated"}, format="json")
    assert skipped.status_code == 400
    assert "Operated cannot come before Copy moved to a region" in skipped.json()["stage"][0]
    response = api(alpha.partner_user).post(url, {"stage": "copied"}, format="json")
    assert response.status_code == 200 and response.json()["stage"] == "copied"
    assert [event["stage"] for event in response.json()["stage_events"]] == ["copied"]


def test_completion_in_advance_is_refused_through_the_api(alpha):
    url = f"/api/v1/engagements/{alpha.engagement.pk}/complete/"
    future = (alpha.customer.local_today() + datetime.timedelta(days=400)).isoformat()
    response = api(alpha.admin).post(url, {"completed_on": future}, format="json")
    assert response.status_code == 400
    assert "not in advance" in response.json()["completed_on"][0]
    assert api(alpha.admin).get(f"/api/v1/engagements/{alpha.engagement.pk}/").json()["status"] != "completed"


def test_a_created_engagement_is_answered_as_a_read_shows_it(alpha):
    client = api(alpha.admin)
    created = client.post(
        "/api/v1/engagements/",
        {"customer": alpha.customer.slug, "title": "Data lake", "workload": "Analytics"},
        format="json",
    )
    assert created.status_code == 201, created.content
    read = client.get(f"/api/v1/engagements/{created.json()['id']}/")
    assert created.json() == read.json()
    assert created.json()["partners"] == []


def test_accounts_through_the_api(alpha, bravo):
    client = api(alpha.staff)
    bad = client.post(
        "/api/v1/aws-accounts/",
        {"customer": alpha.customer.slug, "account_id": "12345", "name": "x"},
        format="json",
    )
    assert bad.status_code == 400 and "exactly 12 digits" in bad.json()["account_id"][0]
    ok = client.post(
        "/api/v1/aws-accounts/",
        {
            "customer": alpha.customer.slug,
            "account_id": "0099-8877-6655",
            "name": "analytics",
            "management_account": alpha.management.account_id,
        },
        format="json",
    )
    assert ok.status_code == 201 and ok.json()["account_id"] == "009988776655"
    foreign = client.post(
        "/api/v1/aws-accounts/",
        {"customer": bravo.customer.slug, "account_id": "009988776600", "name": "x"},
        format="json",
    )
    assert foreign.status_code == 400 and "does not exist" in foreign.json()["customer"][0]


def test_only_account_managers_register_customers(alpha):
    body = {"name": "New Co", "agreement": "enterprise", "time_zone": "Europe/Paris"}
    assert api(alpha.admin).post("/api/v1/customers/", body, format="json").status_code == 403
    response = api(alpha.account_manager).post("/api/v1/customers/", body, format="json")
    assert response.status_code == 201 and response.json()["slug"] == "new-co"
    bad_zone = api(alpha.account_manager).post(
        "/api/v1/customers/", {**body, "name": "Other", "time_zone": "Mars/Olympus"}, format="json"
    )
    assert bad_zone.status_code == 400 and "is not a time zone name" in bad_zone.json()["time_zone"][0]


def test_two_customers_of_one_name_registered_at_once_both_get_a_slug(alpha, rival_saves_the_customer_first):
    # Another Account Manager registers a customer of the same name between this one's check and its save.
    body = {"name": "Northwind Traders", "agreement": "enterprise", "time_zone": "Europe/Paris"}

    response = api(alpha.account_manager).post("/api/v1/customers/", body, format="json")

    assert response.status_code == 201, response.content
    [rival] = rival_saves_the_customer_first
    assert (rival.slug, response.json()["slug"]) == ("northwind-traders", "northwind-traders-2")


@pytest.mark.parametrize("resource", RESOURCES)
def test_list_query_count_is_constant(alpha, resource):
    client = api(alpha.admin)
    with CaptureQueriesContext(connection) as first:
        listed(client.get(f"/api/v1/{resource}/"))
    grow(alpha, 5)
    with CaptureQueriesContext(connection) as second:
        listed(client.get(f"/api/v1/{resource}/"))
    assert len(second) == len(first)


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_malformed_id_is_a_json_404(alpha, resource):
    response = api(alpha.admin).get(f"/api/v1/{resource}/-7.5e-96/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_provider_staff_who_left_the_team_no_longer_see_the_customers_engagements(client, alpha, bravo):
    """Joining a customer's project team opens its engagements to a provider staffer; leaving it closes
    them again, on the pages and in the API alike."""
    architect = SolutionsArchitectFactory(username="visiting-architect")
    member = services.team_member_add(
        user=alpha.account_manager,
        engagement=alpha.engagement,
        role=TeamRole.SOLUTIONS_ARCHITECT,
        member=architect,
    )
    client.force_login(architect)
    detail = f"/my/engagements/{alpha.engagement.pk}/"
    assert alpha.engagement.title in listed(api(architect).get("/api/v1/engagements/"))
    assert client.get(detail).status_code == 200

    member.left_on = member.joined_on
    member.save(update_fields=["left_on"])

    assert alpha.engagement.title not in listed(api(architect).get("/api/v1/engagements/"))
    assert api(architect).get(f"/api/v1/engagements/{alpha.engagement.pk}/").status_code == 404
    assert client.get(detail).status_code == 404
    assert alpha.engagement.title not in client.get("/my/engagements/").content.decode()


def test_grants_filtered_by_state_read_as_the_pages_label_them(alpha):
    """Live, past its expiry (until the hourly check ends it), or ended: the API's `state` and the admin's
    status filter agree."""
    now = timezone.now()
    expired = AccessGrant.objects.create(
        engagement_partner=alpha.engaged,
        account=alpha.management,
        role_arn=f"arn:aws:iam::{alpha.management.account_id}:role/OldOps",
        role_name="OldOps",
        scope=alpha.grant.scope,
        granted_by=alpha.admin,
        granted_at=now - datetime.timedelta(days=10),
        expires_at=now - datetime.timedelta(hours=1),
    )
    client = api(alpha.admin)

    def states(state):
        body = client.get("/api/v1/access-grants/", {"state": state}).json()
        return {row["id"] for row in body["results"]}

    assert states("live") == {alpha.grant.pk}
    assert states("expired") == {expired.pk}
    assert states("revoked") == set()
    admin_client = Client()
    admin_client.force_login(alpha.account_manager)
    changelist = admin_client.get("/admin/engagements/accessgrant/", {"state": "expired"}).context["cl"]
    assert [grant.pk for grant in changelist.result_list] == [expired.pk]


def test_grants_are_filtered_by_when_they_end(alpha):
    """Not ordered by it: a cursor walk by an end that can move earlier would miss a grant."""
    soon = alpha.grant.expires_at
    client = api(alpha.admin)

    def ending(**bounds):
        body = client.get("/api/v1/access-grants/", {k: v.isoformat() for k, v in bounds.items()}).json()
        return {row["id"] for row in body["results"]}

    assert ending(expires_before=soon) == ending(expires_after=soon) == {alpha.grant.pk}
    assert ending(expires_before=soon - datetime.timedelta(seconds=1)) == set()
    assert ending(expires_after=soon + datetime.timedelta(seconds=1)) == set()
    assert client.get("/api/v1/access-grants/", {"expires_before": "soon"}).status_code == 400


def test_a_stage_already_passed_is_a_conflict_answered_with_detail(alpha):
    url = f"/api/v1/engagements/{alpha.engagement.pk}/advance/"
    assert api(alpha.partner_user).post(url, {"stage": "copied"}, format="json").status_code == 200

    again = api(alpha.partner_user).post(url, {"stage": "copied"}, format="json")

    assert again.status_code == 409
    assert list(again.json()) == ["detail"]  # as docs/api.md and the schema's Error say


def test_the_schema_says_which_fields_are_null_until_something_happens(alpha):
    schema = api().get("/api/v1/schema/", {"format": "json"}).json()["components"]["schemas"]
    grant = api(alpha.admin).get(f"/api/v1/access-grants/{alpha.grant.pk}/").json()
    engaged = api(alpha.admin).get(f"/api/v1/engagement-partners/{alpha.engaged.pk}/").json()

    assert grant["revoked_by"] is None and schema["AccessGrant"]["properties"]["revoked_by"]["nullable"]
    assert engaged["replaced_by"] is None
    assert schema["EngagementPartner"]["properties"]["replaced_by"]["nullable"]


def test_a_partner_is_not_told_the_customers_management_account(alpha):
    """Alpha's partner acts in a member account only: it is not shown, and cannot confirm by filtering,
    which account runs Alpha's organisation. Alpha's own staff see the whole tree."""
    partner = api(alpha.partner_user)
    body = listed(partner.get("/api/v1/aws-accounts/"))
    assert alpha.management.account_id not in body
    assert partner.get(f"/api/v1/aws-accounts/{alpha.member.pk}/").json()["management_account"] is None
    probe = partner.get("/api/v1/aws-accounts/", {"management_account": alpha.management.account_id})
    assert probe.json()["results"] == []

    staff = api(alpha.staff)
    assert staff.get(f"/api/v1/aws-accounts/{alpha.member.pk}/").json()["management_account"] == (
        alpha.management.account_id
    )
    members = staff.get("/api/v1/aws-accounts/", {"management_account": alpha.management.account_id})
    assert [row["account_id"] for row in members.json()["results"]] == [alpha.member.account_id]


def test_a_partner_acting_in_the_management_account_too_sees_it(alpha):
    from tests.factories import AccessGrantFactory

    AccessGrantFactory(engagement_partner=alpha.engaged, account=alpha.management, granted_by=alpha.admin)
    response = api(alpha.partner_user).get(f"/api/v1/aws-accounts/{alpha.member.pk}/")
    assert response.json()["management_account"] == alpha.management.account_id
