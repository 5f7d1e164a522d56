"""A cancelled engagement stays in the history of a partner whose contract the cancellation ended, not of
one whose contract had been ended early before: both carry an `ended_reason`, and the rule read only that,
so a contractor let go weeks before the engagement was cancelled saw it again, its successor and team, once
it was cancelled."""

import datetime
import importlib

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from engagements import services
from engagements.models import EngagementPartner
from tests.factories import EngagementPartnerFactory, PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _page_status(user, engagement) -> int:
    client = Client()
    client.force_login(user)
    return client.get(f"/my/engagements/{engagement.pk}/").status_code


def _cancel_weeks_later(alpha):
    with time_machine.travel(timezone.now() + 21 * DAY, tick=False):
        services.engagement_status_change(
            user=alpha.admin, engagement=alpha.engagement, status="cancelled", reason="Budget cut"
        )
        return _page_status(alpha.partner_user, alpha.engagement)


def test_a_contract_ended_early_weeks_before_the_cancellation_does_not_show_the_engagement_again(alpha):
    services.engagement_partner_end(user=alpha.admin, engagement_partner=alpha.engaged, reason="In house")
    assert _page_status(alpha.partner_user, alpha.engagement) == 404

    assert _cancel_weeks_later(alpha) == 404
    ended = EngagementPartner.objects.get(pk=alpha.engaged.pk)
    assert (ended.ended_reason, ended.ended_by_cancellation) == ("In house", False)


def test_a_contract_ended_early_before_its_first_day_is_not_ended_again_by_the_cancellation(alpha):
    later = EngagementPartnerFactory(
        engagement=alpha.engagement,
        partner=PartnerFactory(name="Later Ltd"),
        role="reseller",
        contract_start=alpha.customer.local_today() + 60 * DAY,
    )
    later_user = PartnerUserFactory(partner=later.partner)
    services.engagement_partner_end(user=alpha.admin, engagement_partner=later, reason="Not needed")

    _cancel_weeks_later(alpha)

    later.refresh_from_db()
    assert (later.ended_reason, later.ended_by_cancellation) == ("Not needed", False)
    assert _page_status(later_user, alpha.engagement) == 404


def test_a_contract_in_force_when_the_engagement_was_cancelled_keeps_it_in_the_partner_s_history(alpha):
    assert _cancel_weeks_later(alpha) == 200
    ended = EngagementPartner.objects.get(pk=alpha.engaged.pk)
    assert (ended.ended_reason, ended.ended_by_cancellation) == ("Budget cut", True)


def test_the_upgrade_marks_the_contracts_that_earlier_cancellations_ended_and_only_those(alpha):
    """Migration 0013, run on contracts ended before it recorded which ended with the cancellation."""
    from django.apps import apps

    marking = importlib.import_module("engagements.migrations.0013_engagement_partner_ended_by_cancellation")
    in_force = EngagementPartnerFactory(
        engagement=alpha.engagement, partner=PartnerFactory(name="Stayer Ltd"), role="reseller"
    )
    not_started = EngagementPartnerFactory(
        engagement=alpha.engagement,
        partner=PartnerFactory(name="Later Ltd"),
        role="technology",
        contract_start=alpha.customer.local_today() + 60 * DAY,
    )
    for early in (alpha.engaged, not_started):
        services.engagement_partner_end(user=alpha.admin, engagement_partner=early, reason="In house")
    _cancel_weeks_later(alpha)
    EngagementPartner.objects.update(ended_by_cancellation=False)

    marking.mark_contracts_ended_by_cancellation(apps, None)

    marked = dict(EngagementPartner.objects.values_list("pk", "ended_by_cancellation"))
    assert marked == {alpha.engaged.pk: False, not_started.pk: False, in_force.pk: True}
