"""Support plans as dated data: Table 1's features, first-response targets, and retirement in favour of
a successor."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.exceptions import DomainError
from support import selectors, services
from support.choices import SubscriptionChange, TamCoverage
from support.models import SupportPlan, SupportSubscription
from tests.factories import (
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    SupportPlanFactory,
    SupportSubscriptionFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db

BEFORE_RETIREMENT = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC)
RETIREMENT_DAY = datetime.datetime(2027, 1, 1, 0, 10, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


def at(moment):
    return time_machine.travel(moment, tick=False)


@pytest.mark.parametrize(
    ("slug", "trusted_advisor", "health_api", "technical_support", "tam"),
    [
        ("basic", "7 core checks", False, "None", "No TAM"),
        (
            "developer",
            "7 core checks",
            False,
            "Local business hours access to Cloud Support Associates via email",
            "No TAM",
        ),
        (
            "business",
            "Full checks",
            True,
            "24x7 access to Cloud Support Engineers via email, chat & phone",
            "No TAM",
        ),
        (
            "enterprise-on-ramp",
            "Full checks",
            True,
            "24x7 access to Sr. Cloud Support Engineers via email, chat & phone",
            "A pool of Technical Account Managers",
        ),
        (
            "enterprise",
            "Full checks",
            True,
            "24x7 access to Sr. Cloud Support Engineers via email, chat & phone",
            "A designated Technical Account Manager",
        ),
    ],
)
def test_the_seeded_plans_have_the_features_of_table_1(
    slug, trusted_advisor, health_api, technical_support, tam
):
    plan = support_plan(slug)

    assert plan.customer_service_24x7 and plan.support_forums and plan.documentation and plan.health_dashboard
    assert plan.get_trusted_advisor_display() == trusted_advisor
    assert plan.health_api is health_api
    assert selectors.technical_support_text(plan) == technical_support
    assert plan.get_tam_coverage_display() == tam


@pytest.mark.parametrize(
    ("slug", "targets"),
    [
        ("basic", {}),
        ("developer", {"general_guidance": 1440, "system_impaired": 720}),
        (
            "business",
            {
                "general_guidance": 1440,
                "system_impaired": 720,
                "production_impaired": 240,
                "production_down": 60,
            },
        ),
        (
            "enterprise-on-ramp",
            {
                "general_guidance": 1440,
                "system_impaired": 720,
                "production_impaired": 240,
                "production_down": 60,
                "business_critical_down": 30,
            },
        ),
        (
            "enterprise",
            {
                "general_guidance": 1440,
                "system_impaired": 720,
                "production_impaired": 240,
                "production_down": 60,
                "business_critical_down": 15,
            },
        ),
    ],
)
def test_each_plan_promises_its_first_response_targets(slug, targets):
    assert selectors.plan_targets(support_plan(slug)) == targets


def test_developer_and_business_retire_on_1_january_2027_in_favour_of_business_support_plus():
    successor = support_plan("business-support-plus")

    for slug in ("developer", "business"):
        plan = support_plan(slug)
        assert plan.retires_on == datetime.date(2027, 1, 1)
        assert plan.successor == successor
    assert successor.retires_on is None
    assert successor.is_offered_on(datetime.date(2026, 11, 27))


def test_which_plans_are_offered_depends_on_the_day():
    def offered(day):
        return set(selectors.plans_offered(day).values_list("slug", flat=True))

    everything = {
        "basic",
        "developer",
        "business",
        "business-support-plus",
        "enterprise-on-ramp",
        "enterprise",
    }
    assert offered(datetime.date(2026, 12, 31)) == everything
    assert offered(datetime.date(2027, 1, 1)) == everything - {"developer", "business"}
    assert "business-support-plus" not in offered(datetime.date(2026, 9, 30))


def test_a_plan_can_be_subscribed_to_until_it_retires(alpha):
    with at(BEFORE_RETIREMENT):
        subscription = services.support_subscription_change(
            user=alpha.admin, customer=alpha.customer, plan=support_plan("developer")
        )
    assert subscription.plan.slug == "developer"

    with at(RETIREMENT_DAY), pytest.raises(DomainError, match="retired on 01 Jan 2027") as refused:
        services.support_subscription_change(
            user=alpha.admin, customer=alpha.customer, plan=support_plan("business")
        )
    assert "Choose Business Support+, its successor." in refused.value.message
    assert SupportSubscription.objects.filter(customer=alpha.customer).count() == 1


def test_a_plan_is_not_offered_before_its_first_day(alpha):
    with (
        at(datetime.datetime(2026, 9, 1, 12, 0, tzinfo=datetime.UTC)),
        pytest.raises(DomainError, match="from 01 Oct 2026"),
    ):
        services.support_subscription_change(
            user=alpha.admin, customer=alpha.customer, plan=support_plan("business-support-plus")
        )


def test_an_existing_subscription_shows_what_it_moves_to_and_when(alpha):
    subscription = SupportSubscriptionFactory(customer=alpha.customer, plan="developer")

    move = selectors.plan_move(subscription.plan)

    assert move.successor.name == "Business Support+"
    assert move.on == datetime.date(2027, 1, 1)
    assert selectors.plan_move(support_plan("enterprise")) is None


def test_on_the_retirement_day_the_check_moves_subscriptions_to_the_successor_once(alpha, bravo, tam):
    # Alpha is in London: 00:10 UTC on 1 January is its retirement day.
    with at(BEFORE_RETIREMENT):
        developer = SupportSubscriptionFactory(customer=alpha.customer, plan="developer")
        business = SupportSubscriptionFactory(customer=alpha.customer, account=alpha.account, plan="business")
        enterprise = SupportSubscriptionFactory(customer=bravo.customer, plan="enterprise", tam=tam)

    with at(RETIREMENT_DAY):
        first = check_run("support_plan_retirement")
        second = check_run("support_plan_retirement")

    assert first.status == second.status == CheckRunStatus.SUCCEEDED
    assert first.changed == {"subscriptions_moved": 2}
    assert second.changed == {"subscriptions_moved": 0}
    for old in (developer, business):
        old.refresh_from_db()
        assert old.ended_at == RETIREMENT_DAY
        new = old.replaced_by
        assert new.plan.slug == "business-support-plus"
        assert new.change == SubscriptionChange.SUCCESSOR
        assert (new.customer_id, new.account_id, new.ended_at) == (old.customer_id, old.account_id, None)
        assert new.history.count() == 1
    enterprise.refresh_from_db()
    assert enterprise.ended_at is None


def test_a_subscription_the_check_ended_says_so_in_its_history(alpha):
    with at(BEFORE_RETIREMENT):
        olds = [
            SupportSubscriptionFactory(customer=alpha.customer, plan="developer"),
            SupportSubscriptionFactory(customer=alpha.customer, account=alpha.account, plan="business"),
        ]

    with at(RETIREMENT_DAY):
        check_run("support_plan_retirement")

    for old in olds:
        latest = (
            SupportSubscription.history.filter(id=old.pk).order_by("-history_date", "-history_id").first()
        )
        assert (latest.history_type, latest.ended_at, latest.history_date) == (
            "~",
            RETIREMENT_DAY,
            RETIREMENT_DAY,
        )
        assert latest.history_change_reason == "By the scheduled check support_plan_retirement"
        assert SupportSubscription.history.filter(id=old.pk).count() == 2  # started, ended


def test_the_retirement_check_moves_a_batch_in_a_fixed_number_of_statements(alpha):
    def statements_moving(customers) -> int:
        with at(BEFORE_RETIREMENT):
            for customer in customers:
                SupportSubscriptionFactory(customer=customer, plan="developer")
        with CaptureQueriesContext(connection) as queries:
            moved = services.support_subscriptions_move_retired(now=RETIREMENT_DAY)
        assert len(moved) == len(customers)
        return len(queries)

    one = statements_moving([alpha.customer])
    # Customers whose calendar is on the retirement day too (as Alpha's London).
    several = statements_moving([CustomerFactory(time_zone="Europe/London") for _ in range(5)])

    assert several == one


def test_a_plan_retires_on_each_customers_own_calendar(alpha, bravo):
    """New York is still on 31 December when London's retirement day begins; Auckland is already on 1
    January the afternoon before (UTC)."""
    auckland = CustomerFactory(name="Kiwi Ltd", time_zone="Pacific/Auckland")
    with at(BEFORE_RETIREMENT):
        in_new_york = SupportSubscriptionFactory(customer=bravo.customer, plan="developer")
        in_auckland = SupportSubscriptionFactory(customer=auckland, plan="developer")

    new_years_eve_in_utc = datetime.datetime(2026, 12, 31, 12, 0, tzinfo=datetime.UTC)  # 01:00 in Auckland
    with at(new_years_eve_in_utc):
        assert check_run("support_plan_retirement").changed == {"subscriptions_moved": 1}
    in_auckland.refresh_from_db()
    assert in_auckland.replaced_by.plan.slug == "business-support-plus"

    with at(RETIREMENT_DAY):  # 19:10 on 31 December in New York
        assert check_run("support_plan_retirement").changed == {"subscriptions_moved": 0}
        # ...where Business can still be subscribed to today, but no longer in London.
        services.support_subscription_change(
            user=bravo.admin, customer=bravo.customer, plan=support_plan("business")
        )
        with pytest.raises(DomainError, match="retired on 01 Jan 2027"):
            services.support_subscription_change(
                user=alpha.admin, customer=alpha.customer, plan=support_plan("business")
            )
    in_new_york.refresh_from_db()
    assert in_new_york.ended_at == RETIREMENT_DAY  # by the change, not by the check
    assert in_new_york.replaced_by.plan.slug == "business"

    new_years_day_in_new_york = datetime.datetime(2027, 1, 1, 5, 5, tzinfo=datetime.UTC)
    with at(new_years_day_in_new_york):
        first = check_run("support_plan_retirement")
        second = check_run("support_plan_retirement")
    assert first.changed == {"subscriptions_moved": 1}
    assert second.changed == {"subscriptions_moved": 0}
    current = SupportSubscription.objects.get(customer=bravo.customer, ended_at=None)
    assert current.plan.slug == "business-support-plus"


def _scheduled(task: str, start: datetime.datetime, end: datetime.datetime) -> list[datetime.datetime]:
    """When celery beat runs `task` from `start` to `end` (UTC), by the portal's CELERY_BEAT_SCHEDULE."""
    schedule = next(entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == task)[
        "schedule"
    ]
    moment, runs = start.replace(second=0, microsecond=0), []
    while moment <= end:
        if moment.hour in schedule.hour and moment.minute in schedule.minute and moment >= start:
            runs.append(moment)
        moment += datetime.timedelta(minutes=1)
    return runs


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kathmandu", "Pacific/Chatham"])
def test_from_the_first_minutes_of_its_retirement_day_a_customer_is_on_the_successor(alpha, zone):
    """As beat runs the check: a customer anywhere (UTC-8, +5:45, +13:45) opening a production-down case a
    few minutes into its own 1 January is served by Business Support+, not refused by Developer."""
    customer = CustomerFactory(name="Far Away Ltd", time_zone=zone)
    staff = CustomerUserFactory(customer=customer)
    account = AwsAccountFactory(customer=customer)
    with at(BEFORE_RETIREMENT):
        SupportSubscriptionFactory(customer=customer, plan="developer")
    midnight = datetime.datetime(2027, 1, 1, tzinfo=zoneinfo.ZoneInfo(zone))
    soon_after = midnight + datetime.timedelta(minutes=2)

    for moment in _scheduled("checks.support_plan_retirement", midnight - HOUR, soon_after):
        with at(moment):
            check_run("support_plan_retirement")
    with at(soon_after):
        case = services.support_case_open(
            user=staff,
            account=account,
            subject="Site down",
            description="Everything is down.",
            severity="production_down",
        )

    assert case.plan.slug == "business-support-plus"


def test_the_comparison_on_the_support_page_offers_plans_by_the_customers_calendar(client, alpha, bravo):
    def columns(user):
        with at(RETIREMENT_DAY):  # 1 January in London, still 31 December in New York
            client.force_login(user)
            return client.get(reverse("support:home")).content.decode()

    assert '<th scope="col">Developer</th>' in columns(bravo.staff)
    assert '<th scope="col">Developer</th>' not in columns(alpha.staff)


def test_a_plans_tam_coverage_cannot_change_under_its_subscribers(alpha, tam):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)
    plan = support_plan("enterprise")
    plan.tam_coverage = TamCoverage.POOL

    with pytest.raises(ValidationError, match="Retire it in favour of a new plan"):
        plan.full_clean()
    # The database refuses too: the coverage cascades to the subscription, which then names a TAM that a
    # pool plan has no place for.
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportPlan.objects.filter(pk=plan.pk).update(tam_coverage=TamCoverage.POOL)


def test_a_plan_retires_after_it_becomes_available_and_only_a_retiring_plan_has_a_successor():
    plan = support_plan("enterprise")

    with pytest.raises(IntegrityError), transaction.atomic():
        SupportPlan.objects.filter(pk=plan.pk).update(retires_on=datetime.date(2000, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        SupportPlan.objects.filter(pk=plan.pk).update(successor=support_plan("business-support-plus"))


def _retiring(plan, retires_on, successor):
    plan.retires_on, plan.successor = retires_on, successor
    return plan


def test_a_successor_is_one_its_predecessors_customers_can_move_to_on_the_retirement_day():
    retires_on = datetime.date(2027, 3, 1)
    gone_first = SupportPlanFactory(name="Gone first", retires_on=datetime.date(2027, 2, 1))
    gone_the_same_day = SupportPlanFactory(name="Gone the same day", retires_on=retires_on)
    not_yet = SupportPlanFactory(name="Not yet", available_from=datetime.date(2027, 3, 2))

    for successor in (gone_first, gone_the_same_day, not_yet):
        with pytest.raises(ValidationError) as refused:
            _retiring(SupportPlanFactory.build(), retires_on, successor).full_clean()
        assert refused.value.message_dict == {
            "successor": [
                f"{successor.name} is not offered on 01 Mar 2027, the day this plan retires: choose a "
                "plan its customers can move to that day."
            ]
        }
    _retiring(
        SupportPlanFactory.build(slug="fine"), retires_on, SupportPlanFactory(available_from=retires_on)
    ).full_clean()


def test_a_plan_whose_customers_have_no_designated_tam_cannot_retire_to_one_that_needs_one():
    """Each customer would need its own TAM named there, which the retirement check cannot choose: they
    would stay on the retired plan for good, the check reporting nothing to do."""
    retires_on = datetime.date(2027, 3, 1)
    designated = support_plan("enterprise")
    pooled = SupportPlanFactory.build(slug="pooled", tam_coverage=TamCoverage.POOL)

    with pytest.raises(ValidationError) as refused:
        _retiring(pooled, retires_on, designated).full_clean()

    assert refused.value.message_dict["successor"][0].startswith(
        "Enterprise comes with a designated TAM, which this plan's customers have not"
    )
    _retiring(
        SupportPlanFactory.build(slug="designated-too", tam_coverage=TamCoverage.DESIGNATED),
        retires_on,
        designated,
    ).full_clean()


def test_a_successor_cannot_later_be_given_a_designated_tam_its_predecessors_customers_lack():
    newer = SupportPlanFactory(name="Newer", tam_coverage=TamCoverage.NONE)
    SupportPlanFactory(
        name="Legacy", tam_coverage=TamCoverage.NONE, retires_on=datetime.date(2027, 3, 1), successor=newer
    )

    newer.tam_coverage = TamCoverage.DESIGNATED
    with pytest.raises(ValidationError) as refused:
        newer.full_clean()

    assert refused.value.message_dict["tam_coverage"] == [
        "Legacy moves its customers to this plan on 01 Mar 2027, whose customers have no designated TAM: "
        "the retirement check cannot name one for each."
    ]


def test_a_successor_stays_offered_until_its_predecessors_have_retired():
    successor = SupportPlanFactory(name="Newer")
    SupportPlanFactory(name="Older", retires_on=datetime.date(2027, 3, 1), successor=successor)

    successor.retires_on = datetime.date(2027, 3, 1)
    with pytest.raises(ValidationError) as refused:
        successor.full_clean()
    assert refused.value.message_dict == {
        "retires_on": [
            "Older moves its customers to this plan on 01 Mar 2027: this plan retires after that day."
        ]
    }
    successor.retires_on, successor.available_from = None, datetime.date(2027, 3, 2)
    with pytest.raises(ValidationError) as refused:
        successor.full_clean()
    assert refused.value.message_dict == {
        "available_from": [
            "Older moves its customers to this plan on 01 Mar 2027: this plan is offered from that day "
            "at the latest."
        ]
    }


def test_the_comparison_table_reads_like_table_1():
    plans = list(selectors.plans_with_targets(SupportPlan.objects.order_by("rank")))

    rows = {row.label: row.cells for row in selectors.plan_comparison(plans)}

    names = [plan.name for plan in plans]
    assert names == [
        "Basic",
        "Developer",
        "Business",
        "Business Support+",
        "Enterprise On-Ramp",
        "Enterprise",
    ]
    assert rows["Trusted Advisor"][:3] == ["7 core checks", "7 core checks", "Full checks"]
    assert rows["System impaired"][:3] == ["Not available", "12 hours (business hours)", "12 hours"]
    assert rows["Business-critical system down"][-2:] == ["30 minutes", "15 minutes"]
    assert rows["Availability"][1] == "Until 31 Dec 2026, then Business Support+"
