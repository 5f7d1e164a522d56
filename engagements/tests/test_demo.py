"""The demo data: customers, accounts, engagements and grants linked to the demo partner network, a
customer user who can sign in, and nothing created twice."""

import datetime
import random
import zoneinfo

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.test import RequestFactory
from django.urls import reverse

from engagements import selectors
from engagements.choices import EngagementStage, EngagementStatus
from engagements.demo import ACCOUNT_MANAGER, CUSTOMER_USER, seed_engagements
from engagements.models import AccessGrant, Customer, Engagement
from partners.demo.seeding import seed_demo_network

pytestmark = pytest.mark.django_db


def test_demo_customers_follow_every_rule_and_seeding_twice_changes_nothing(client):
    seed_demo_network(partners=60)
    assert seed_engagements(random.Random(2026)) == {"customers": 3, "engagements": 3}
    counts = (Customer.objects.count(), Engagement.objects.count(), AccessGrant.objects.count())
    assert seed_engagements(random.Random(7)) == {}
    assert (Customer.objects.count(), Engagement.objects.count(), AccessGrant.objects.count()) == counts

    request = RequestFactory().post("/accounts/login/")
    customer_user = authenticate(request, username=CUSTOMER_USER.username, password=CUSTOMER_USER.password)
    assert customer_user is not None and customer_user.customer.name == "Northwind Charity"
    assert selectors.user_can_manage_access(customer_user, customer_user.customer)
    client.force_login(customer_user)
    access = client.get(reverse("engagements:access")).content.decode()
    assert "WebServicesGuruMigration" in access
    # The demo partner user's company leads the WordPress engagement; the Account Manager sees all three.
    partner_user = authenticate(request, username="partner", password="apn-demo-partner-2026")
    assert "Move the WordPress site to the cloud" in {
        e.title for e in selectors.engagements_visible_to(partner_user)
    }
    am = authenticate(request, username=ACCOUNT_MANAGER.username, password=ACCOUNT_MANAGER.password)
    assert selectors.customers_assigned_to(am).count() == 3
    # The agency's old operator was replaced and lost its access.
    replaced = AccessGrant.objects.get(role_name="OperatorAccess")
    assert replaced.revocation_reason.startswith("Contract ended: Another company won")


@pytest.mark.parametrize("utc_hour", [1, 22])
def test_the_demo_seeds_at_any_hour_though_its_customers_days_start_before_utcs(utc_hour):
    # From 21:00 UTC it is already tomorrow in Nairobi, the agency's time zone, where its old operator's
    # contract ends "today": seeding then refused that operator's grant, and `run.sh` stopped.
    moment = datetime.datetime(2026, 11, 30, utc_hour, 30, tzinfo=datetime.UTC)
    with time_machine.travel(moment, tick=True):
        seed_demo_network(partners=60)
        assert seed_engagements(random.Random(2026)) == {"customers": 3, "engagements": 3}
    replaced = AccessGrant.objects.get(role_name="OperatorAccess")
    assert replaced.revocation_reason.startswith("Contract ended: Another company won")
    assert (
        replaced.engagement_partner.contract_end
        == moment.astimezone(zoneinfo.ZoneInfo("Africa/Nairobi")).date()
    )


def test_without_a_partner_network_there_is_nothing_to_link_to():
    assert seed_engagements() == {}
    assert not Customer.objects.exists()


def test_the_demo_engagements_tell_one_story():
    seed_demo_network(partners=60)
    seed_engagements(random.Random(2026))

    # The agency's workload has been operated for over a year: the engagement is under way, not proposed.
    operated = Engagement.objects.get(title="Operate the vehicle licensing service")
    assert (operated.stage, operated.status) == (EngagementStage.OPERATED, EngagementStatus.ACTIVE)
    assert operated.stage_events.get().note != "Where the engagement starts."
    for engagement in Engagement.objects.all():
        started_beyond_the_first_step = engagement.stage != EngagementStage.ON_PREMISES
        assert engagement.status == (
            EngagementStatus.ACTIVE if started_beyond_the_first_step else EngagementStatus.PROPOSED
        ), engagement.title
    # Every grant lies within its contract, as the customer's grant form would have it: the replaced
    # operator's was granted when its contract began, not on the day it was revoked, and ends with it.
    for grant in AccessGrant.objects.select_related("engagement_partner__engagement__customer"):
        contract = grant.engagement_partner
        zone = zoneinfo.ZoneInfo(contract.engagement.customer.time_zone)
        assert grant.granted_at.astimezone(zone).date() >= contract.contract_start, grant.role_name
        assert grant.expires_at.astimezone(zone) <= datetime.datetime.combine(
            contract.contract_end + datetime.timedelta(days=1), datetime.time(), tzinfo=zone
        ), grant.role_name
    replaced = AccessGrant.objects.get(role_name="OperatorAccess")
    zone = zoneinfo.ZoneInfo(operated.customer.time_zone)
    assert replaced.granted_at.astimezone(zone).date() == replaced.engagement_partner.contract_start
    assert replaced.revoked_at.astimezone(zone).date() == replaced.engagement_partner.contract_end


def test_the_demo_consultant_sees_the_engagement_whose_services_they_are_delivering():
    seed_demo_network(partners=60)
    seed_engagements(random.Random(2026))
    services = Engagement.objects.get(professional_services__isnull=False).professional_services.get()
    consultant = services.consultant

    visible = selectors.engagements_visible_to(consultant)

    assert list(visible.values_list("professional_services__consultant", flat=True)) == [consultant.pk]
