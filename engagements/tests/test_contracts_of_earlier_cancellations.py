"""An engagement cancelled before cancelling ended its contracts (a1fe6f7) left them running: no
`ended_reason`, their original dates, so its page and the API showed a cancelled engagement's contracts
running on, and one that was to start later as a contract still to come. Migration 0012 ends them as a
cancellation does now, on the day it was cancelled; the contracts already ended are left as they are."""

import datetime
import importlib

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from engagements import services
from engagements.models import AccessGrant, Engagement, EngagementPartner
from engagements.tests.test_cancel_ends_contracts import _api
from tests.factories import (
    AccessGrantFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
)

DAY = datetime.timedelta(days=1)
AFTER = ("engagements", "0012_end_contracts_of_engagements_cancelled_earlier")


def _upgrade():
    """Migration 0012's data step, on today's schema: it only writes data, and later migrations add columns
    that the factories fill (0013's ended_by_cancellation), so the tables cannot go back to 0011's."""
    from django.apps import apps

    importlib.import_module(
        f"engagements.migrations.{AFTER[1]}"
    ).end_contracts_of_engagements_cancelled_earlier(apps, None)


def _migrate_to_the_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _as_stored(contract):
    stored = EngagementPartner.objects.get(pk=contract.pk)
    return (
        stored.contract_end,
        stored.ended_reason,
        stored.ended_before_start,
        stored.updated_at,
        stored.history.count(),
    )


def _cancelled_the_old_way(engagement, at, by, reason="Budget cut"):
    """What engagement_status_change did before a1fe6f7: the grants revoked, the status saved (with its
    version), the contracts untouched."""
    with time_machine.travel(at, tick=False):
        for grant in AccessGrant.objects.filter(engagement_partner__engagement=engagement):
            grant.revoked_at, grant.revoked_by = timezone.now(), by
            grant.revocation_reason = f"Engagement cancelled: {reason}"
            grant.save()
        engagement.status = "cancelled"
        engagement.save()


@pytest.mark.django_db(transaction=True)
def test_the_contracts_of_an_engagement_cancelled_before_the_upgrade_end_on_the_day_it_was_cancelled(
    client,
):
    customer = CustomerFactory(time_zone="Pacific/Kiritimati")  # UTC+14: its day is not the server's
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    today = customer.local_today()
    # At 11:00 UTC it is already the next day on Kiritimati: the cancellation's day is that one.
    cancelled_at = datetime.datetime.combine(today - 21 * DAY, datetime.time(11, 0), tzinfo=datetime.UTC)
    cancel_day = today - 20 * DAY
    long_ago = timezone.now() - 60 * DAY
    try:
        old = EngagementFactory(customer=customer, title="Old Migration")
        started = EngagementPartnerFactory(
            engagement=old, contract_start=today - 60 * DAY, contract_end=today + 300 * DAY
        )
        AccessGrantFactory(engagement_partner=started, granted_by=admin, granted_at=cancelled_at - 9 * DAY)
        later = EngagementPartnerFactory(
            engagement=old,
            role="technology",
            contract_start=today + 10 * DAY,
            contract_end=today + 100 * DAY,
        )
        done = EngagementPartnerFactory(
            engagement=old, role="reseller", contract_start=today - 200 * DAY, contract_end=today - 30 * DAY
        )
        _cancelled_the_old_way(old, cancelled_at, admin)
        # Cancelled by a hand that wrote no version: its last change is the only date it has.
        unrecorded = EngagementFactory(customer=customer, title="Unrecorded")
        unrecorded_later = EngagementPartnerFactory(
            engagement=unrecorded, contract_start=today + 5 * DAY, contract_end=today + 50 * DAY
        )
        Engagement.objects.filter(pk=unrecorded.pk).update(
            status="cancelled", updated_at=cancelled_at + 3 * DAY
        )
        # Cancelled since, by the service: already right, and to stay exactly so.
        recent = EngagementFactory(customer=customer, title="Recent")
        recent_started = EngagementPartnerFactory(engagement=recent)
        recent_later = EngagementPartnerFactory(
            engagement=recent,
            role="technology",
            contract_start=today + 7 * DAY,
            contract_end=today + 70 * DAY,
        )
        services.engagement_status_change(user=admin, engagement=recent, status="cancelled", reason="Merged")
        running = EngagementPartnerFactory(engagement=EngagementFactory(customer=customer))
        EngagementPartner.objects.filter(pk__in=[done.pk, recent_started.pk, recent_later.pk]).update(
            updated_at=long_ago
        )
        untouched = {
            contract.pk: _as_stored(contract) for contract in (done, recent_started, recent_later, running)
        }
        Engagement.objects.filter(pk=recent.pk).update(updated_at=long_ago)

        _upgrade()

        stored = {contract.pk: _as_stored(contract)[:3] for contract in (started, later, unrecorded_later)}
        assert stored == {
            started.pk: (cancel_day, "Budget cut", False),
            later.pk: (later.contract_start, "Budget cut", True),
            unrecorded_later.pk: (unrecorded_later.contract_start, "The engagement was cancelled.", True),
        }
        assert {pk: _as_stored(EngagementPartner(pk=pk)) for pk in untouched} == untouched
        assert Engagement.objects.get(pk=recent.pk).updated_at == long_ago
        # Integrators syncing on updated_since see the contracts, and the engagements listing them, change.
        for pk in (started.pk, later.pk, unrecorded_later.pk):
            assert EngagementPartner.objects.get(pk=pk).updated_at > cancelled_at + 3 * DAY
        assert Engagement.objects.get(pk=old.pk).updated_at > cancelled_at
        assert EngagementPartner.objects.get(pk=later.pk).history.first().history_change_reason

        # The page as the upgrade leaves it: 0013 then records these as ended by the cancellation.
        importlib.import_module(
            "engagements.migrations.0013_engagement_partner_ended_by_cancellation"
        ).mark_contracts_ended_by_cancellation(apps, None)
        client.force_login(admin)
        page = client.get(reverse("engagements:engagement-detail", args=[old.pk])).content.decode()
        assert f"{started.contract_start:%-d %b %Y} to {cancel_day:%-d %b %Y}" in page
        assert "Ended early: Budget cut" in page
        assert (
            f"Was to start {later.contract_start:%-d %b %Y}; cancelled before it started: Budget cut" in page
        )
        assert f"to {later.contract_end:%-d %b %Y}" not in page
        assert f"{done.contract_start:%-d %b %Y} to {done.contract_end:%-d %b %Y}" in page
        shown = _api(admin).get(f"/api/v1/engagement-partners/{later.pk}/").json()
        assert (shown["contract_end"], shown["ended_before_start"]) == (str(later.contract_start), True)

        # Run again, it finds nothing left to do.
        after_once = {
            contract.pk: _as_stored(contract) for contract in (started, later, unrecorded_later, done)
        }
        _upgrade()
        assert {pk: _as_stored(EngagementPartner(pk=pk)) for pk in after_once} == after_once
    finally:
        _migrate_to_the_latest()
