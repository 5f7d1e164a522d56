"""The demo support data: follows every rule (it goes through the services), shows a history of upgrades,
a designated TAM, a retiring plan and partner-led support, and is not created twice."""

import random

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory
from django.urls import reverse

from apn_portal.checks.services import check_run
from engagements.choices import TeamRole
from engagements.demo import CUSTOMER_USER, seed_engagements
from engagements.models import TeamMember
from partners.demo.seeding import seed_demo_network
from support.demo import SUPPORT_ENGINEER, seed_support
from support.models import SupportCase, SupportSubscription

pytestmark = pytest.mark.django_db


def test_demo_support_data_and_seeding_twice_changes_nothing(client):
    seed_demo_network(partners=60)
    seed_engagements(random.Random(2026))

    counts = seed_support(random.Random(2026))

    assert counts["subscriptions"] >= 4 and counts["cases"] >= 4
    assert seed_support(random.Random(7)) == {}
    assert SupportSubscription.objects.count() == counts["subscriptions"]
    assert SupportCase.objects.count() == counts["cases"]

    northwind = SupportSubscription.objects.filter(customer__slug="northwind-charity").order_by("started_at")
    assert [s.get_change_display() for s in northwind] == ["Subscribed", "Upgraded", "Upgraded"]
    current = northwind.last()
    assert current.plan.slug == "enterprise" and current.tam.username == "tam.kofi"
    # The TAM the upgrade brought is on Northwind's WordPress team, as its Technical Account Manager.
    team = TeamMember.objects.filter(engagement__customer__slug="northwind-charity", role=TeamRole.TAM)
    assert [member.user for member in team] == [current.tam]
    assert SupportSubscription.objects.get(customer__name="Contoso Ministry of Transport").plan.retires_on

    run = check_run("support_sla")  # the overdue demo case
    assert run.changed["cases_breached"] == 1

    request = RequestFactory().post("/accounts/login/")
    customer = authenticate(request, username=CUSTOMER_USER.username, password=CUSTOMER_USER.password)
    client.force_login(customer)
    page = client.get(reverse("support:home")).content.decode()
    assert "Your support plan: Enterprise" in page and "Kofi Mensah is your designated TAM." in page
    engineer = authenticate(request, username=SUPPORT_ENGINEER.username, password=SUPPORT_ENGINEER.password)
    assert engineer is not None
    client.force_login(engineer)
    assert client.get(reverse("support:case-list")).status_code == 200


def test_without_the_demo_customers_there_is_nothing_to_do():
    assert seed_support() == {}
