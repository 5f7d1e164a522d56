"""A designated TAM answers an account's cases while the plan that applies to the account designates them,
as the customer's other people change: a TAM the customer moved on from no longer reads its cases, and
the one it named instead reads, answers and hears of the cases already open."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from apn_portal.outbox.models import OutboxMessage
from support import selectors, services
from support.choices import ReplySide
from support.models import SupportCase
from support.tests.test_sla_check import OPENED, open_case, run_at
from tests.factories import QualifiedTamFactory, support_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def successor(db):
    return QualifiedTamFactory(username="tam-tom", email="tom@provider.example")


def _enterprise(org, tam, *, account=None, at):
    with time_machine.travel(at, tick=False):
        return services.support_subscription_change(
            user=org.account_manager,
            customer=org.customer,
            account=account,
            plan=support_plan("enterprise"),
            tam=tam,
        )


@pytest.fixture(params=["account", "customer"])
def handed_over(request, alpha, tam, successor):
    """An Enterprise case opened while `tam` was designated (for the account alone, or for the whole
    customer), then the Account Manager names `successor` instead."""
    account = alpha.account if request.param == "account" else None
    _enterprise(alpha, tam, account=account, at=OPENED - datetime.timedelta(days=1))
    case = open_case(alpha.staff, alpha.account, "business_critical_down")
    _enterprise(alpha, successor, account=account, at=OPENED + datetime.timedelta(minutes=5))
    return case


def test_the_former_tam_no_longer_reads_the_case_anywhere(client, handed_over, tam):
    assert not selectors.cases_visible_to(tam).filter(pk=handed_over.pk).exists()
    client.force_login(tam)
    assert client.get(reverse("support:case-detail", args=[handed_over.pk])).status_code == 404
    assert handed_over.subject not in client.get(reverse("support:case-list")).content.decode()
    api = APIClient()
    api.force_authenticate(tam)
    assert api.get(f"/api/v1/support-cases/{handed_over.pk}/").status_code == 404


def test_the_tam_named_instead_reads_and_answers_the_case(client, handed_over, successor, tam):
    case = SupportCase.objects.select_related("customer", "account").get(pk=handed_over.pk)
    assert selectors.responder_side(successor, case) == ReplySide.PROVIDER_SUPPORT
    assert selectors.responder_side(tam, case) is None
    client.force_login(successor)
    page = client.get(reverse("support:case-detail", args=[handed_over.pk]))
    assert page.status_code == 200

    services.support_case_reply(user=successor, case=handed_over, body="Looking at it now.")

    handed_over.refresh_from_db()
    assert handed_over.first_responder == successor


def test_the_tam_named_instead_hears_of_the_breach(handed_over, engineer):
    run_at(OPENED + datetime.timedelta(minutes=16))

    assert OutboxMessage.objects.get(dedupe_key=f"support-case-breached:{handed_over.pk}").to == [
        "tom@provider.example"
    ]
