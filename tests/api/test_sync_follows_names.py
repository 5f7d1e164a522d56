"""What a record shows of another one (a program's slug, a plan's retirement, a person's username) moves
its `updated_at` and its ETag when that changes: an integrator syncing on `updated_since` fetches every
row whose representation changed, and only those."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engagements.models import AccessGrant
from engagements.services import access_grant_revoke
from partners.models import TierRequirement
from support import services as support_services
from support.tests.conftest import alpha, bravo, tam  # noqa: F401  (fixtures)
from support.tests.test_api import open_case
from tests.api.conftest import api_client
from tests.factories import (
    ApprovedEnrollmentFactory,
    PartnerFactory,
    ProgramFactory,
    SuperUserFactory,
    SupportEngineerFactory,
    SupportSubscriptionFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(db):
    return api_client(SuperUserFactory())


def _rows(client, resource: str, **params) -> dict:
    response = client.get(f"/api/v1/{resource}/", {"page_size": 100, **params})
    assert response.status_code == 200, response.content
    return {row["id"]: row for row in response.json()["results"]}


def _changed_since(client, resource: str, since: datetime.datetime) -> set:
    return set(_rows(client, resource, updated_since=since.isoformat()))


def test_renaming_a_program_moves_its_enrollments_and_no_others(client):
    program = ProgramFactory(slug="old-slug", partner_type="")
    enrolled = ApprovedEnrollmentFactory(partner=PartnerFactory(), program=program)
    elsewhere = ApprovedEnrollmentFactory(partner=PartnerFactory(), program=ProgramFactory(partner_type=""))
    before = client.get(f"/api/v1/enrollments/{enrolled.pk}/")
    since = timezone.now()

    program.slug = "new-slug"
    program.save()  # as ProgramAdmin saves it

    after = client.get(f"/api/v1/enrollments/{enrolled.pk}/")
    assert after.json()["program"] == "new-slug"
    assert after["ETag"] != before["ETag"]
    assert _changed_since(client, "enrollments", since) == {enrolled.pk}, f"not {elsewhere.pk}"


def test_a_program_edit_that_keeps_its_slug_moves_no_enrollment(client):
    program = ProgramFactory(slug="kept", partner_type="")
    ApprovedEnrollmentFactory(partner=PartnerFactory(), program=program)
    since = timezone.now()

    program.name = "Another name"
    program.save()

    assert _changed_since(client, "enrollments", since) == set()


def test_retiring_a_plan_moves_its_current_subscriptions_only(client):
    current = SupportSubscriptionFactory(plan="enterprise-on-ramp")
    ended = SupportSubscriptionFactory(plan="enterprise-on-ramp", ended_at=timezone.now())
    other_plan = SupportSubscriptionFactory(plan="business")
    before = client.get(f"/api/v1/support-subscriptions/{current.pk}/")
    assert before.json()["moves_to"] is None
    since = timezone.now()

    plan = support_plan("enterprise-on-ramp")
    plan.retires_on = timezone.localdate() + datetime.timedelta(days=90)
    plan.successor = support_plan("enterprise")
    plan.save()  # as SupportPlanAdmin's "Availability" fieldset saves it

    after = client.get(f"/api/v1/support-subscriptions/{current.pk}/")
    assert after.json()["moves_to"] == {"successor": "enterprise", "on": plan.retires_on.isoformat()}
    assert after["ETag"] != before["ETag"]
    changed = _changed_since(client, "support-subscriptions", since)
    assert changed == {current.pk}
    assert not {ended.pk, other_plan.pk} & changed

    # A new successor, or a new date, changes `moves_to` again.
    since = timezone.now()
    plan.successor = support_plan("business")
    plan.save()
    assert client.get(f"/api/v1/support-subscriptions/{current.pk}/").json()["moves_to"]["successor"] == (
        "business"
    )
    assert _changed_since(client, "support-subscriptions", since) == {current.pk}


# Every resource whose rows name a person by username, and where.
USERNAME_SHOWN = {
    "customers": lambda row: [row["account_manager"], row["solutions_architect"], row["tam"]],
    "access-grants": lambda row: [row["granted_by"], row["revoked_by"]],
    "support-subscriptions": lambda row: [row["tam"], row["changed_by"]],
    "support-cases": lambda row: [row["opened_by"], row["first_responder"]],
    "tier-changes": lambda row: [row["changed_by"]],
}


@pytest.fixture
def named(alpha, bravo, tam):  # noqa: F811
    """Alpha's TAM, its engineer and its access administrator named across the resources, and Bravo's
    records naming other people."""
    alpha.customer.tam = tam
    alpha.customer.save()
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam, changed_by=tam)
    SupportSubscriptionFactory(customer=bravo.customer, plan="business", changed_by=bravo.admin)
    engineer = SupportEngineerFactory(username="engineer-eli")
    case = open_case(alpha.admin, alpha.account)
    support_services.support_case_reply(user=engineer, case=case, body="Looking at it.")
    open_case(bravo.staff, bravo.account)
    access_grant_revoke(
        user=alpha.admin, grant=AccessGrant.objects.get(account=alpha.granted_account), reason="Done"
    )
    return {"tam": tam, "engineer": engineer, "admin": alpha.admin}


@pytest.mark.parametrize("who", ["tam", "engineer", "admin"])
def test_a_new_username_moves_every_row_that_shows_it_and_no_other(client, named, who):
    user = named[who]
    old = user.username
    showing_before = {
        resource: {pk for pk, row in _rows(client, resource).items() if old in where(row)}
        for resource, where in USERNAME_SHOWN.items()
    }
    assert any(showing_before.values())
    since = timezone.now()

    user.username = f"{old}-renamed"
    with CaptureQueriesContext(connection) as queries:
        user.save()  # as the user admin saves it
    # One UPDATE of the user and one per table showing usernames, however many rows name the person.
    assert len([query for query in queries if query["sql"].startswith("UPDATE")]) == 1 + len(USERNAME_SHOWN)

    for resource, where in USERNAME_SHOWN.items():
        rows = _rows(client, resource)
        showing = {pk for pk, row in rows.items() if user.username in where(row)}
        assert showing == showing_before[resource], resource
        assert _changed_since(client, resource, since) == showing, resource


def test_a_sign_in_or_another_user_edit_moves_nothing(client, named):
    since = timezone.now()
    user = named["tam"]
    user.first_name = "Tara"
    user.save()
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])

    for resource in USERNAME_SHOWN:
        assert _changed_since(client, resource, since) == set(), resource


def _tier_requirement_edited(admin_client, requirement):
    url = f"/admin/partners/tierrequirement/{requirement.pk}/change/"
    data = {"tier": requirement.tier_id, "metric": requirement.metric, "minimum": requirement.minimum + 1}
    return admin_client.post(url, data)


def _tier_requirement_deleted(admin_client, requirement):
    return admin_client.post(f"/admin/partners/tierrequirement/{requirement.pk}/delete/", {"post": "yes"})


@pytest.mark.parametrize(
    "change", [_tier_requirement_edited, _tier_requirement_deleted], ids=["edited", "deleted"]
)
def test_a_requirement_changed_on_its_own_admin_page_moves_its_tier_only(client, change):
    # The highest rung's: deleting it leaves the ladder's rule that an entry tier is kept satisfied.
    requirement = TierRequirement.objects.order_by("-tier__rank", "pk").first()
    admin_client = Client()
    admin_client.force_login(SuperUserFactory())
    before = timezone.now()

    assert change(admin_client, requirement).status_code == 302

    assert set(_rows(client, "tiers", updated_since=before.isoformat())) == {requirement.tier_id}
