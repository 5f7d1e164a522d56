"""A customer's TAM follows its support plan (set, replaced, cleared, and moved by the retirement check):
the customer's history records each change and who made it, so the History page never pins it on the
next person to edit the customer."""

import datetime

import pytest
import time_machine

from engagements.tests.test_admin_services_rules import _change_form
from support import services
from support.choices import TamCoverage
from support.models import SupportSubscription
from support.services import RETIREMENT_CHANGE_REASON
from tests.admin_history import changes_shown, edit_in_admin, history_page
from tests.api.conftest import api_client
from tests.factories import QualifiedTamFactory, SuperUserFactory, SupportPlanFactory, support_plan

pytestmark = pytest.mark.django_db

FOLLOWS = "The TAM follows the customer's support plan"


def latest_version(customer):
    return customer.history.order_by("-history_date", "-history_id").first()


def test_a_tam_a_plan_brings_is_in_the_customers_history_with_who(alpha, tam):
    response = api_client(alpha.account_manager).post(
        "/api/v1/support-subscriptions/",
        {"customer": alpha.customer.slug, "plan": "enterprise", "tam": tam.username},
        format="json",
    )
    assert response.status_code == 201, response.content

    version = latest_version(alpha.customer)
    assert (version.tam_id, version.history_user, version.history_change_reason) == (
        tam.pk,
        alpha.account_manager,
        FOLLOWS,
    )
    # The version keeps the customer's access administrators: it does not show them removed.
    assert [a.user_id for a in version.access_administrators.all()] == [alpha.admin.pk]


def test_the_next_editor_of_a_customer_is_not_shown_as_changing_its_tam(client, alpha, tam):
    services.support_subscription_change(
        user=alpha.account_manager, customer=alpha.customer, plan=support_plan("enterprise"), tam=tam
    )

    root = SuperUserFactory(first_name="Rita", last_name="Root")
    client.force_login(root)
    edit_in_admin(client, alpha.customer, lambda c, url: _change_form(c.get(url)), name="Alpha Renamed")

    shown = changes_shown(history_page(client, alpha.customer))
    assert [field for who, field, _, _ in shown if who == root] == ["Name"]
    assert ("TAM", "None", str(tam)) in [
        (f, old, new) for who, f, old, new in shown if who == alpha.account_manager
    ]


def test_naming_another_tam_and_ending_the_plan_are_each_recorded_with_who(alpha, tam):
    other = QualifiedTamFactory(username="tam-tom")
    before = alpha.customer.history.count()
    services.support_subscription_change(
        user=alpha.account_manager, customer=alpha.customer, plan=support_plan("enterprise"), tam=tam
    )

    services.support_customer_tam_name(user=alpha.account_manager, customer=alpha.customer, tam=other)
    assert (latest_version(alpha.customer).tam_id, latest_version(alpha.customer).history_user) == (
        other.pk,
        alpha.account_manager,
    )

    current = SupportSubscription.objects.get(customer=alpha.customer, ended_at__isnull=True)
    services.support_subscription_end(user=alpha.admin, subscription=current)
    version = latest_version(alpha.customer)
    assert (version.tam_id, version.history_user, version.history_change_reason) == (
        None,
        alpha.admin,
        FOLLOWS,
    )
    assert alpha.customer.history.count() == before + 3  # one version per change of TAM, none besides


def test_a_tam_the_retirement_check_takes_away_is_recorded_as_the_checks(alpha, tam):
    legacy = SupportPlanFactory(
        name="Legacy Enterprise",
        tam_coverage=TamCoverage.DESIGNATED,
        retires_on=datetime.date(2027, 1, 1),
        successor=support_plan("business-support-plus"),
    )
    with time_machine.travel(datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC), tick=False):
        services.support_subscription_change(
            user=alpha.account_manager, customer=alpha.customer, plan=legacy, tam=tam
        )

    services.support_subscriptions_move_retired(now=datetime.datetime(2027, 1, 1, 0, 10, tzinfo=datetime.UTC))

    alpha.customer.refresh_from_db()
    assert alpha.customer.tam is None
    version = latest_version(alpha.customer)
    assert (version.tam_id, version.history_user, version.history_change_reason) == (
        None,
        None,
        f"{RETIREMENT_CHANGE_REASON}: {FOLLOWS[0].lower()}{FOLLOWS[1:]}",
    )
