"""Support in the admin: support staff keep the plans; plan changes and case statuses go through the
services; everyone sees only the cases and subscriptions they may."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from support import services
from support.models import PlanResponseTarget, SupportCase, SupportSubscription
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    PdmFactory,
    StaffCertificationFactory,
    SupportPlanFactory,
    SupportSubscriptionFactory,
    TamFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db


def open_case(user, account, subject="Site down"):
    return services.support_case_open(
        user=user, account=account, subject=subject, description="503.", severity="production_down"
    )


def plan_form_data(client, plan, rows=None) -> dict:
    """The plan's change form as the page posts it back, its response target rows as `rows` gives them
    (severity, minutes), in the page's order; as stored by default."""
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    targets = list(plan.response_targets.order_by("-minutes", "id"))
    rows = rows or [(target.severity, target.minutes) for target in targets]
    data.update(
        {
            "successor": plan.successor_id,
            "response_targets-TOTAL_FORMS": str(len(targets)),
            "response_targets-INITIAL_FORMS": str(len(targets)),
            "response_targets-MIN_NUM_FORMS": "0",
            "response_targets-MAX_NUM_FORMS": "1000",
        }
    )
    for i, (target, (severity, minutes)) in enumerate(zip(targets, rows, strict=True)):
        data.update(
            {
                f"response_targets-{i}-id": target.pk,
                f"response_targets-{i}-plan": plan.pk,
                f"response_targets-{i}-severity": severity,
                f"response_targets-{i}-minutes": minutes,
            }
        )
    for field in (
        "customer_service_24x7",
        "health_dashboard",
        "health_api",
        "support_forums",
        "documentation",
        "via_email",
        "via_chat",
        "via_phone",
    ):
        data[field] = "on"
    return data


def test_support_staff_edit_a_plans_response_targets(client, engineer):
    plan = support_plan("business")
    target = plan.response_targets.get(severity="production_down")
    client.force_login(engineer)
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    rows = [
        (row.severity, 45 if row.pk == target.pk else row.minutes)
        for row in plan.response_targets.order_by("-minutes", "id")
    ]

    response = client.post(url, plan_form_data(client, plan, rows))

    assert response.status_code == 302, response.context["errors"]
    assert PlanResponseTarget.objects.get(pk=target.pk).minutes == 45


def test_two_plans_cannot_be_made_each_others_successor(client, engineer):
    """Else the retirement check would move their customers from one to the other and back every day."""
    retired = datetime.date(2026, 10, 1)
    first, second = SupportPlanFactory(name="First"), SupportPlanFactory(name="Second")
    for plan in (first, second):
        plan.response_targets.create(severity="general_guidance", minutes=1440)
    client.force_login(engineer)
    url = reverse("admin:support_supportplan_change", args=[first.pk])
    response = client.post(
        url, {**plan_form_data(client, first), "retires_on": retired, "successor": second.pk}
    )
    assert response.status_code == 302, response.context["errors"]

    url = reverse("admin:support_supportplan_change", args=[second.pk])
    response = client.post(
        url, {**plan_form_data(client, second), "retires_on": retired, "successor": first.pk}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "retires_on": [
            "First moves its customers to this plan on 01 Oct 2026: this plan retires after that day."
        ],
        "successor": [
            "First is not offered on 01 Oct 2026, the day this plan retires: choose a plan its customers can "
            "move to that day."
        ],
    }
    second.refresh_from_db()
    assert (second.retires_on, second.successor) == (None, None)


def test_swapping_two_targets_severities_is_refused_on_the_row_saying_what_to_do(client, engineer):
    plan = support_plan("business")
    stored = {t.pk: (t.severity, t.minutes) for t in plan.response_targets.all()}
    client.force_login(engineer)
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    rows = [(row.severity, row.minutes) for row in plan.response_targets.order_by("-minutes", "id")]
    (first, first_minutes), (second, second_minutes) = rows[0], rows[1]
    rows[0], rows[1] = (second, first_minutes), (first, second_minutes)  # each row given the other's severity

    response = client.post(url, plan_form_data(client, plan, rows))

    assert response.status_code == 200
    assert "Another row has this severity" in response.content.decode()
    assert {t.pk: (t.severity, t.minutes) for t in plan.response_targets.all()} == stored


def test_a_plan_change_page_costs_the_same_queries_for_1_and_4_response_targets(client, engineer):
    plan = support_plan("business")
    kept, *others = plan.response_targets.all()
    plan.response_targets.exclude(pk=kept.pk).delete()
    client.force_login(engineer)
    url = reverse("admin:support_supportplan_change", args=[plan.pk])

    def query_count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    query_count()  # what a first request caches
    with_1 = query_count()
    for target in others:
        plan.response_targets.create(severity=target.severity, minutes=target.minutes)
    assert plan.response_targets.count() == 4
    assert query_count() == with_1


def test_other_roles_read_plans_but_do_not_change_them(client, tam):
    plan = support_plan("enterprise")
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    client.force_login(tam)

    response = client.get(url)

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    client.force_login(PdmFactory())
    assert client.get(url).status_code == 403


def test_the_account_manager_changes_a_plan_through_the_service(client, alpha, tam):
    uncertified = TamFactory()
    client.force_login(alpha.account_manager)
    url = reverse("admin:support_supportsubscription_add")
    assert client.get(url).status_code == 200

    refused = client.post(url, {"customer": alpha.customer.pk, "plan": support_plan("enterprise").pk})
    assert refused.status_code == 200
    assert "needs a designated TAM" in refused.content.decode()
    assert uncertified not in refused.context["form"].fields["tam"].queryset

    done = client.post(
        url, {"customer": alpha.customer.pk, "plan": support_plan("enterprise").pk, "tam": tam.pk}
    )

    assert done.status_code == 302
    subscription = SupportSubscription.objects.get()
    assert (subscription.plan.slug, subscription.tam, subscription.changed_by) == (
        "enterprise",
        tam,
        alpha.account_manager,
    )


# Tue 1 Dec 2026 08:00 in Auckland, Mon 30 Nov 19:00 in UTC; and Tue 1 Dec 02:00 in UTC, Mon 30 Nov 21:00 in
# New York: the admin offers the plans and TAMs of the customer's own day, as the service judges them.
AUCKLAND_MORNING = datetime.datetime(2026, 11, 30, 19, 0, tzinfo=datetime.UTC)
NEW_YORK_EVENING = datetime.datetime(2026, 12, 1, 2, 0, tzinfo=datetime.UTC)
DEC_1 = datetime.date(2026, 12, 1)


def change_plan(client, moment, time_zone, **data):
    customer = CustomerFactory(time_zone=time_zone, account_manager=AccountManagerFactory())
    client.force_login(customer.account_manager)
    with time_machine.travel(moment, tick=False):
        response = client.post(
            reverse("admin:support_supportsubscription_add"), {"customer": customer.pk, **data}
        )
    return customer, response


def test_the_admin_offers_a_plan_that_began_on_the_customers_day(client):
    plan = SupportPlanFactory(name="Developer Plus", available_from=DEC_1)

    customer, response = change_plan(client, AUCKLAND_MORNING, "Pacific/Auckland", plan=plan.pk)

    assert response.status_code == 302, response.context["form"].errors
    assert SupportSubscription.objects.get(customer=customer).plan == plan


def test_the_admin_offers_a_plan_until_it_retires_on_the_customers_day(client):
    plan = SupportPlanFactory(name="Developer Classic", retires_on=DEC_1)

    customer, response = change_plan(client, NEW_YORK_EVENING, "America/New_York", plan=plan.pk)

    assert response.status_code == 302, response.context["form"].errors
    assert SupportSubscription.objects.get(customer=customer).plan == plan


def test_a_plan_not_begun_on_the_customers_day_is_refused_saying_when_it_begins(client):
    plan = SupportPlanFactory(name="Developer Plus", available_from=DEC_1)
    # Their Account Manager looks after a customer in Auckland too, where the plan has begun: it is listed.
    auckland = CustomerFactory(time_zone="Pacific/Auckland", account_manager=AccountManagerFactory())
    new_york = CustomerFactory(time_zone="America/New_York", account_manager=auckland.account_manager)
    client.force_login(auckland.account_manager)
    url = reverse("admin:support_supportsubscription_add")

    with time_machine.travel(NEW_YORK_EVENING, tick=False):
        assert plan in client.get(url).context["form"].fields["plan"].queryset
        response = client.post(url, {"customer": new_york.pk, "plan": plan.pk})

    assert response.status_code == 200
    assert response.context["form"].errors["plan"] == [
        "Developer Plus can be subscribed to from 01 Dec 2026."
    ]
    assert not SupportSubscription.objects.exists()


def test_a_plan_offered_on_none_of_the_customers_days_is_not_listed(client):
    plan = SupportPlanFactory(name="Developer Plus", available_from=DEC_1)
    customer = CustomerFactory(time_zone="America/New_York", account_manager=AccountManagerFactory())
    client.force_login(customer.account_manager)

    with time_machine.travel(NEW_YORK_EVENING, tick=False):
        offered = client.get(reverse("admin:support_supportsubscription_add")).context["form"].fields["plan"]

    assert plan not in offered.queryset


def test_the_admin_offers_a_tam_qualified_on_the_customers_day(client):
    newly_certified = StaffCertificationFactory(earned_on=DEC_1).user

    customer, response = change_plan(
        client,
        AUCKLAND_MORNING,
        "Pacific/Auckland",
        plan=support_plan("enterprise").pk,
        tam=newly_certified.pk,
    )

    assert response.status_code == 302, response.context["form"].errors
    assert SupportSubscription.objects.get(customer=customer).tam == newly_certified


def test_support_staff_resolve_cases_with_an_action(client, alpha, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    case = open_case(alpha.staff, alpha.account)
    client.force_login(engineer)

    client.post(
        reverse("admin:support_supportcase_changelist"),
        {"action": "mark_resolved", "_selected_action": [case.pk]},
    )

    case.refresh_from_db()
    assert case.status == "resolved" and case.resolved_at is not None


def test_the_admin_shows_each_person_only_the_cases_they_may_see(client, alpha, bravo, engineer, tam):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    SupportSubscriptionFactory(customer=bravo.customer, plan="enterprise", tam=tam)
    alphas = open_case(alpha.staff, alpha.account, subject="Alpha outage")
    bravos = open_case(bravo.staff, bravo.account, subject="Bravo outage")
    url = reverse("admin:support_supportcase_changelist")

    client.force_login(tam)
    assert list(client.get(url).context["cl"].result_list) == [bravos]
    assert client.get(reverse("admin:support_supportcase_change", args=[alphas.pk])).status_code == 302
    client.force_login(engineer)
    assert set(client.get(url).context["cl"].result_list) == {alphas, bravos}


def test_the_case_list_costs_the_same_number_of_queries_however_long(client, alpha, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    open_case(alpha.staff, alpha.account)
    client.force_login(engineer)
    url = reverse("admin:support_supportcase_changelist")

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    before = count()
    for i in range(6):
        open_case(alpha.staff, alpha.account, subject=f"More {i}")
    assert count() == before
    assert SupportCase.objects.count() == 7


def test_a_staff_certification_earned_near_the_calendars_end_is_refused_on_the_form(client, engineer, tam):
    client.force_login(engineer)
    response = client.post(
        reverse("admin:support_staffcertification_add"),
        {
            "user": tam.pk,
            "track": "solutions_architect",
            "level": "associate",
            "name": "Solutions Architect - Associate",
            "earned_on": "9999-12-31",
        },
    )
    assert response.status_code == 200
    assert "no later than" in response.context["adminform"].form.errors["earned_on"][0]


@pytest.mark.parametrize("slug", ["basic", "business"])
def test_an_earlier_version_of_a_plan_opens_from_its_history(client, engineer, slug):
    plan = support_plan(slug)
    for summary in ("Before the new price list.", "After the new price list."):
        plan.summary = summary
        plan.save()
    earlier = plan.history.get(summary="Before the new price list.")
    client.force_login(engineer)

    response = client.get(reverse("admin:support_supportplan_simple_history", args=[plan.pk, earlier.pk]))

    assert response.status_code == 200
    assert response.context["adminform"].form.initial["summary"] == "Before the new price list."
