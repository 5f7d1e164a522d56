"""A customer's or a support plan's new slug reaches integrators who sync on `updated_since`: every record
whose API representation shows that slug counts as changed by the rename, and no other."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from engagements.models import Customer
from partners.tests.test_admin import change_form_data
from support.models import SupportPlan, SupportSubscription
from support.tests.test_api import open_case
from tests.factories import SuperUserFactory, SupportSubscriptionFactory, support_plan

pytestmark = pytest.mark.django_db

# Every resource whose rows show a customer's slug, and where.
CUSTOMER_SHOWN = {
    "customers": lambda row: [row["slug"]],
    "engagements": lambda row: [row["customer"]],
    "aws-accounts": lambda row: [row["customer"]],
    "access-grants": lambda row: [row["customer"]],
    "support-subscriptions": lambda row: [row["customer"]],
    "support-cases": lambda row: [row["customer"]],
}
# Every resource whose rows show a plan's slug, and where.
PLAN_SHOWN = {
    "support-plans": lambda row: [row["slug"], row["successor"]],
    "support-subscriptions": lambda row: [row["plan"], (row["moves_to"] or {}).get("successor")],
    "support-cases": lambda row: [row["plan"]],
}


def api_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _ids(client, resource: str, **params) -> dict:
    response = client.get(f"/api/v1/{resource}/", {"page_size": 100, **params})
    assert response.status_code == 200, response.content
    return {row["id"]: row for row in response.json()["results"]}


def showing_and_changed(client, shown: dict, slug: str, since: datetime.datetime) -> dict:
    """Per resource: the ids of the rows that show `slug`, and those a sync since `since` fetches."""
    report = {}
    for resource, where in shown.items():
        rows = _ids(client, resource)
        showing = {pk for pk, row in rows.items() if slug in where(row)}
        report[resource] = (showing, set(_ids(client, resource, updated_since=since.isoformat())))
    return report


@pytest.fixture
def superuser(db):
    return SuperUserFactory()


@pytest.fixture
def supported(alpha, bravo):
    """Both customers with a subscription and a case each."""
    for org in (alpha, bravo):
        SupportSubscriptionFactory(customer=org.customer, plan="business")
        open_case(org.staff, org.account, subject=f"{org.customer.name} checkout down")


def rename_in_admin(client, superuser, admin_name: str, obj, slug: str) -> None:
    client.force_login(superuser)
    url = reverse(f"admin:{admin_name}_change", args=[obj.pk])
    data = change_form_data(client, url)
    data["slug"] = slug
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_a_customer_renamed_in_the_admin_moves_every_record_showing_its_slug(
    client, superuser, alpha, bravo, supported
):
    since = timezone.now()

    rename_in_admin(client, superuser, "engagements_customer", alpha.customer, "alpha-renamed")

    report = showing_and_changed(api_client(superuser), CUSTOMER_SHOWN, "alpha-renamed", since)
    for resource, (showing, changed) in report.items():
        assert showing, f"no {resource} shows the new slug"
        assert changed == showing, resource  # Bravo's records stay as they were


def test_a_customer_edit_keeping_its_slug_moves_only_the_customer(client, superuser, alpha, supported):
    since = timezone.now()
    alpha.customer.name = "Alpha Customer Group"
    alpha.customer.save()

    report = showing_and_changed(api_client(superuser), CUSTOMER_SHOWN, alpha.customer.slug, since)
    assert {resource: changed for resource, (_, changed) in report.items() if changed} == {
        "customers": {alpha.customer.pk}
    }


def test_a_plan_renamed_in_the_admin_moves_every_record_showing_its_slug(client, superuser, alpha, bravo):
    # Developer and Business retire in favour of Business Support+: their plans name it as successor, and
    # a current subscription on them as what it moves to; an ended one does not.
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    ended = SupportSubscriptionFactory(
        customer=bravo.customer, plan="developer", ended_at=timezone.now() - datetime.timedelta(days=1)
    )
    SupportSubscriptionFactory(customer=bravo.customer, plan="business-support-plus")
    open_case(bravo.staff, bravo.account, subject="Bravo ledger down")
    open_case(alpha.staff, alpha.account, subject="Alpha checkout down")  # under Business
    since = timezone.now()

    rename_in_admin(
        client, superuser, "support_supportplan", support_plan("business-support-plus"), "business-plus"
    )

    report = showing_and_changed(api_client(superuser), PLAN_SHOWN, "business-plus", since)
    for resource, (showing, changed) in report.items():
        assert showing, f"no {resource} shows the new slug"
        assert changed == showing, resource
    renamed_and_retiring = SupportPlan.objects.filter(slug__in=["business-plus", "business", "developer"])
    assert report["support-plans"][0] == set(renamed_and_retiring.values_list("pk", flat=True))
    assert ended.pk not in report["support-subscriptions"][1]
    assert len(report["support-subscriptions"][1]) == 2


def rename_queries(customer: Customer, slug: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        customer.slug = slug
        customer.save()
    return len(queries)


def test_a_customer_rename_costs_the_same_queries_however_many_records_show_it(alpha, bravo, supported):
    for _ in range(3):
        SupportSubscriptionFactory(
            customer=bravo.customer, plan="business", ended_at=timezone.now() - datetime.timedelta(days=1)
        )
        open_case(bravo.staff, bravo.account, subject="Bravo again")
    assert SupportSubscription.objects.filter(customer=bravo.customer).count() == 4
    assert rename_queries(alpha.customer, "alpha-renamed") == rename_queries(bravo.customer, "bravo-renamed")
