"""A customer's integration is told of changes to its own records (its grants revoked, its support cases
breached), through endpoints its access administrators register, and of nothing else: not the partners'
events, not another customer's records, not once its owner has left."""

import datetime

import pytest
import time_machine
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from apn_portal.webhooks.services import webhook_endpoint_create, webhook_events_emit_many
from engagements.selectors import access_grants_visible_to
from engagements.services import access_grant_revoke
from partners import services as partner_services
from support.services import support_case_open
from tests.api.conftest import api_client
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    PartnerUserFactory,
    PdmFactory,
    SupportEngineerFactory,
    SupportSubscriptionFactory,
    tier,
)

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:8151/hook"
CUSTOMER_EVENTS = ["access_grant.revoked", "support_case.breached"]
OPENED = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=datetime.UTC)  # a Tuesday


def _register(user, events=CUSTOMER_EVENTS):
    return api_client(user).post("/api/v1/webhook-endpoints/", {"url": URL, "events": events}, format="json")


def _customer_endpoint(customer):
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    response = _register(admin)
    assert response.status_code == 201, response.content
    return admin, WebhookEndpoint.objects.get(pk=response.json()["id"])


def _revoke(grant):
    admin = CustomerUserFactory(customer=grant.account.customer, access_admin=True)
    access_grant_revoke(user=admin, grant=grant, reason="Contract ended")


def _breached_case(customer):
    SupportSubscriptionFactory(customer=customer, plan="business")
    with time_machine.travel(OPENED, tick=False):
        case = support_case_open(
            user=CustomerUserFactory(customer=customer),
            account=AwsAccountFactory(customer=customer),
            subject="Site down",
            description="503 everywhere.",
            severity="production_down",  # due in one hour
        )
    return case


def _run_sla_check():
    with time_machine.travel(OPENED + datetime.timedelta(hours=2), tick=False):
        run = check_run("support_sla")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error


def test_a_customers_access_administrator_hears_of_its_own_grants_revoked_only():
    own = AccessGrantFactory()
    admin, endpoint = _customer_endpoint(own.account.customer)
    assert (endpoint.owner, endpoint.customer, endpoint.partner) == (admin, own.account.customer, None)
    other = AccessGrantFactory()

    _revoke(own)
    _revoke(other)

    (delivery,) = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert delivery.event == "access_grant.revoked"
    assert delivery.payload["data"]["id"] == own.pk
    response = api_client(admin).get("/api/v1/webhook-deliveries/")
    assert [d["payload"]["data"]["id"] for d in response.json()["results"]] == [own.pk]


def test_a_customer_hears_of_its_own_breached_cases_only():
    SupportEngineerFactory()
    customer, other_customer = CustomerFactory(), CustomerFactory()
    _, endpoint = _customer_endpoint(customer)
    own_case = _breached_case(customer)
    _breached_case(other_customer)

    _run_sla_check()

    (delivery,) = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert (delivery.event, delivery.payload["data"]["id"]) == ("support_case.breached", own_case.pk)


def test_a_customer_endpoint_never_hears_partner_events():
    grant = AccessGrantFactory()
    _, endpoint = _customer_endpoint(grant.account.customer)
    # Even one the service let through to a tier change would not be sent it.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(events=["partner.tier_changed", *CUSTOMER_EVENTS])
    partner = grant.engagement_partner.partner
    pdm = PdmFactory()
    partner.pdm = pdm
    partner.save()

    partner_services.partner_tier_change(
        partner=partner, to_tier=tier(slug="select"), reason="Audit", user=pdm
    )

    assert WebhookDelivery.objects.filter(event="partner.tier_changed").count() == 0
    assert not WebhookDelivery.objects.filter(endpoint=endpoint).exists()


@pytest.mark.parametrize("event", ["partner.tier_changed", "contact_request.created", "enrollment.expired"])
def test_a_customer_cannot_subscribe_to_partner_events(event):
    admin = CustomerUserFactory(access_admin=True)

    response = _register(admin, ["access_grant.revoked", event])

    assert response.status_code == 400
    assert list(response.json()) == ["events"]
    assert not WebhookEndpoint.objects.exists()

    endpoint = webhook_endpoint_create(user=admin, url=URL, events=["access_grant.revoked"])
    response = api_client(admin).patch(
        f"/api/v1/webhook-endpoints/{endpoint.pk}/", {"events": [event]}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["events"]


def test_only_a_customers_access_administrators_register_its_webhooks():
    response = _register(CustomerUserFactory())

    assert response.status_code == 403
    assert not WebhookEndpoint.objects.exists()


def test_another_customers_staff_cannot_read_the_endpoint_or_its_deliveries():
    grant = AccessGrantFactory()
    customer = grant.account.customer
    _, endpoint = _customer_endpoint(customer)
    _revoke(grant)
    colleague = api_client(CustomerUserFactory(customer=customer, access_admin=True))
    outsider = api_client(CustomerUserFactory(access_admin=True))
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    for client in (outsider, colleague):  # endpoints are their owner's, even within the customer
        assert client.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/").status_code == 404
        assert client.get(f"/api/v1/webhook-deliveries/{delivery.pk}/").status_code == 404
        assert client.get("/api/v1/webhook-deliveries/").json()["results"] == []
        assert (
            client.patch(
                f"/api/v1/webhook-endpoints/{endpoint.pk}/", {"is_active": False}, format="json"
            ).status_code
            == 404
        )


@pytest.mark.parametrize("moves", ["to another customer", "to a partner"])
def test_someone_who_left_the_customer_no_longer_receives_or_reads_its_events(moves):
    customer = CustomerFactory()
    grants = [AccessGrantFactory(engagement_partner__engagement__customer=customer) for _ in range(2)]
    admin, endpoint = _customer_endpoint(customer)
    _revoke(grants[0])
    client = api_client(admin)
    assert len(client.get("/api/v1/webhook-deliveries/").json()["results"]) == 1

    if moves == "to another customer":
        admin.customer = CustomerFactory()
    else:
        admin.customer, admin.partner = None, PartnerUserFactory().partner
    admin.save()
    _revoke(grants[1])

    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1  # nothing more queued
    # The move ends the token their old customer held (docs/api.md); a new one reads nothing of it.
    assert client.get("/api/v1/webhook-deliveries/").status_code == 401
    client = api_client(admin)
    assert client.get("/api/v1/webhook-deliveries/").json()["results"] == []
    assert client.get("/api/v1/webhook-endpoints/").json()["results"] == []
    assert client.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/").status_code == 404


def test_an_endpoint_belongs_to_a_partner_or_a_customer_not_both():
    endpoint = webhook_endpoint_create(user=PartnerUserFactory(), url=URL, events=["partner.tier_changed"])
    with pytest.raises(IntegrityError):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(customer=CustomerFactory())


def _revoked_events(grants) -> tuple[int, int]:
    """Emit access_grant.revoked for `grants` (all of one customer): the deliveries queued and the queries
    it took."""
    items = [(grant.engagement_partner.partner, {"id": grant.pk}) for grant in grants]
    customer_ids = [grant.account.customer_id for grant in grants]
    with CaptureQueriesContext(connection) as queries:
        deliveries = webhook_events_emit_many(
            event="access_grant.revoked",
            items=items,
            records=grants,
            visible_to=access_grants_visible_to,
            record_customer_ids=customer_ids,
        )
    return len(deliveries), len(queries)


def test_emitting_to_customer_endpoints_costs_the_same_queries_for_one_record_or_many():
    customer = CustomerFactory()
    grants = [AccessGrantFactory(engagement_partner__engagement__customer=customer) for _ in range(4)]
    _customer_endpoint(customer)
    _customer_endpoint(CustomerFactory())

    one, many = _revoked_events(grants[:1]), _revoked_events(grants)
    assert (one[0], many[0]) == (1, 4)  # the customer's endpoint only, once per grant
    assert one[1] == many[1]
    # Other customers' endpoints are not even read: however many there are, the event costs the same.
    for _ in range(3):
        _customer_endpoint(CustomerFactory())
    assert _revoked_events(grants) == many


def test_an_access_administrator_no_longer_one_stops_changing_and_receiving_its_endpoint():
    SupportEngineerFactory()
    customer = CustomerFactory()
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    registered = _register(admin)
    assert registered.status_code == 201
    customer.access_administrators.remove(admin)

    changed = api_client(admin).patch(
        f"/api/v1/webhook-endpoints/{registered.json()['id']}/", {"url": URL + "/elsewhere"}, format="json"
    )
    _breached_case(customer)
    _run_sla_check()

    assert changed.status_code in (403, 404)
    assert WebhookEndpoint.objects.get(pk=registered.json()["id"]).url == URL
    assert not WebhookDelivery.objects.filter(endpoint_id=registered.json()["id"]).exists()


def test_emitting_costs_the_same_queries_however_many_endpoints_may_be_told():
    customer = CustomerFactory()
    grants = [AccessGrantFactory(engagement_partner__engagement__customer=customer) for _ in range(4)]
    _customer_endpoint(customer)

    def partner_endpoint(grant):
        owner = PartnerUserFactory(partner=grant.engagement_partner.partner)
        webhook_endpoint_create(user=owner, url=URL, events=["access_grant.revoked"])

    partner_endpoint(grants[0])
    told_few, queries_few = _revoked_events(grants)
    for grant in grants[1:]:
        partner_endpoint(grant)
    webhook_endpoint_create(user=PdmFactory(), url=URL, events=["access_grant.revoked"])
    told_many, queries_many = _revoked_events(grants)

    # The customer's endpoint hears of all four; each partner of its own grant; the PDM sees none of them
    # (the customer is not one they look after).
    assert (told_few, told_many) == (4 + 1, 4 + 4)
    assert queries_many == queries_few


def test_emitting_costs_the_same_queries_however_many_provider_staff_endpoints():
    # Whether provider staff look after the customer depends on their roles: every owner's roles are read
    # in one query, not one per owner.
    customer = CustomerFactory()
    grants = [AccessGrantFactory(engagement_partner__engagement__customer=customer) for _ in range(2)]
    _customer_endpoint(customer)
    webhook_endpoint_create(user=PdmFactory(), url=URL, events=["access_grant.revoked"])
    _, queries_one = _revoked_events(grants)
    for _ in range(5):
        webhook_endpoint_create(user=AccountManagerFactory(), url=URL, events=["access_grant.revoked"])
    _, queries_six = _revoked_events(grants)

    assert queries_six == queries_one
