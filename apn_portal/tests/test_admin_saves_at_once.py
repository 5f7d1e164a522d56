"""Two staff members adding the same unique thing in the admin at the same moment: both forms pass their
checks (nothing is stored yet), the database refuses the second insert. That one is shown its form again
with the rule it broke and nothing saved, never a server error."""

import threading

import pytest
from django.test import Client
from django.urls import reverse

from partners.choices import RequirementMetric
from partners.models import Tier
from support.models import PlanResponseTarget
from support.tests.test_admin import plan_form_data
from tests.factories import PdmFactory, SupportEngineerFactory, SupportPlanFactory, tier
from tests.locks import in_a_thread, lock_held, sent_twice_at_once, sessions_waiting_for_locks, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def posting_as_each_of(users, url, data):
    """A send() posting `data` to `url` as the first user in one thread and as the second in the other;
    it answers the status and the page."""
    pending = iter(users)
    mine = {}

    def send():
        user = mine.setdefault(threading.current_thread().name, next(pending))
        client = Client()  # raises what the view raised: a 500 lands in the outcome as "... error"
        client.force_login(user)
        response = client.post(url, data)
        return response.status_code, response.content.decode()

    return send


def both_held_on(lock_sql: str, send) -> dict:
    outcome = {}
    with lock_held(lock_sql):
        threads = [in_a_thread(outcome, name, send) for name in ("one", "other")]
        wait_for(lambda: sessions_waiting_for_locks() == 2)
    for thread in threads:
        thread.join(timeout=30)
    return outcome


def refused_one(outcome: dict) -> str:
    """The page of the save that was refused; the other was saved (a redirect)."""
    assert not any(key.endswith("error") for key in outcome), outcome
    statuses = sorted(status for status, _page in outcome.values())
    assert statuses == [200, 302], statuses
    return next(page for status, page in outcome.values() if status == 200)


def test_two_engineers_adding_the_same_severity_to_a_plan_at_once():
    engineers = [SupportEngineerFactory(username="eli"), SupportEngineerFactory(username="ola")]
    plan = SupportPlanFactory()
    PlanResponseTarget.objects.create(plan=plan, severity="general_guidance", minutes=1440)
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    setup = Client()
    setup.force_login(engineers[0])
    data = plan_form_data(setup, plan) | {
        "successor": "",
        "response_targets-TOTAL_FORMS": "2",
        "response_targets-1-plan": plan.pk,
        "response_targets-1-severity": "system_impaired",
        "response_targets-1-minutes": "720",
    }

    # Both wait at the plan's row lock, each having checked its rows against the stored ones.
    outcome = sent_twice_at_once(plan, posting_as_each_of(engineers, url, data))

    assert PlanResponseTarget.objects.filter(plan=plan, severity="system_impaired").count() == 1
    assert "The plan already has a target for this severity." in refused_one(outcome)


def test_two_pdms_adding_the_same_tier_requirement_at_once():
    pdms = [PdmFactory(username="pam"), PdmFactory(username="pat")]
    select = tier(slug="select")
    held = set(select.requirements.values_list("metric", flat=True))
    metric = next(m for m in RequirementMetric.values if m not in held)
    url = reverse("admin:partners_tierrequirement_add")

    outcome = both_held_on(
        "LOCK TABLE partners_tierrequirement IN EXCLUSIVE MODE",
        posting_as_each_of(pdms, url, {"tier": select.pk, "metric": metric, "minimum": "3"}),
    )

    assert select.requirements.filter(metric=metric).count() == 1
    assert "This tier already has a requirement on that measure." in refused_one(outcome)


def test_two_pdms_adding_a_tier_at_the_same_rank_at_once():
    pdms = [PdmFactory(username="pam"), PdmFactory(username="pat")]
    top = Tier.objects.filter(partner_type="consulting").order_by("-rank").first()
    data = {
        "partner_type": "consulting",
        "name": "Elite",
        "slug": "elite",
        "rank": str(top.rank + 1),
        "description": "",
        "grace_period_days": "90",
        "requirements-TOTAL_FORMS": "0",
        "requirements-INITIAL_FORMS": "0",
        "requirements-MIN_NUM_FORMS": "0",
        "requirements-MAX_NUM_FORMS": "1000",
    }

    outcome = both_held_on(
        "LOCK TABLE partners_tier IN EXCLUSIVE MODE",
        posting_as_each_of(pdms, reverse("admin:partners_tier_add"), data),
    )

    assert Tier.objects.filter(partner_type="consulting", rank=top.rank + 1).count() == 1
    assert "This partner type already has a tier at that rank." in refused_one(outcome)
