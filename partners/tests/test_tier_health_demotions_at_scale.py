"""tier_health's demotions when many grace periods end the same day (a tier's requirements raised, say):
demoted together in a few statements, with what a tier change leaves for each partner."""

import datetime
import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apn_portal.checks.services import check_run
from apn_portal.exceptions import ConflictError, DomainError
from apn_portal.outbox.models import OutboxMessage
from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_endpoint_create
from partners.api.serializers import TierChangeSerializer
from partners.checks import tier_health
from partners.choices import TierChangeSource
from partners.models import Partner, PartnerSearchEntry, TierChange
from partners.services import TierMove, partner_tier_change, partner_tier_change_many
from tests.checks import check_run_on, on
from tests.factories import (
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    SuperUserFactory,
    give_select_evidence,
    tier,
)

pytestmark = pytest.mark.django_db

START = datetime.date(2026, 3, 2)


def run_on(day: datetime.date):
    return check_run_on("tier_health", day)


def grace_ends(started: datetime.date) -> datetime.date:
    return started + datetime.timedelta(days=tier(slug="select").grace_period_days)


def select_partners_short_of_it(count: int, day: datetime.date = START) -> list[Partner]:
    """Select partners with none of Select's evidence, each with its own staff and PDM."""
    partners = []
    with on(day):
        for _ in range(count):
            partner = PartnerFactory(tier=tier(slug="select"), pdm=PdmFactory())
            PartnerUserFactory(partner=partner)
            partners.append(partner)
    return partners


@pytest.fixture
def tier_change_hook():
    """An endpoint told of every partner's tier changes (port 1 refuses: nothing is sent in a test)."""
    return webhook_endpoint_create(
        user=SuperUserFactory(), url="http://127.0.0.1:1/hook", events=["partner.tier_changed"]
    )


def test_demoting_twenty_partners_costs_the_statements_of_demoting_two(tier_change_hook):
    select_partners_short_of_it(2)
    run_on(START)  # their grace periods start
    with on(grace_ends(START)), CaptureQueriesContext(connection) as two:
        two_run = check_run("tier_health")

    later = grace_ends(START) + datetime.timedelta(days=1)
    select_partners_short_of_it(20, later)
    run_on(later)
    with on(grace_ends(later)), CaptureQueriesContext(connection) as twenty:
        twenty_run = check_run("tier_health")

    assert (two_run.changed["demoted"], twenty_run.changed["demoted"]) == (2, 20)
    assert (two_run.changed["emails"], twenty_run.changed["emails"]) == (2, 20)
    assert WebhookDelivery.objects.filter(endpoint=tier_change_hook).count() == 22
    assert len(twenty.captured_queries) == len(two.captured_queries)


def test_a_demoted_partner_is_left_what_a_tier_change_leaves(tier_change_hook):
    demoted, moved = select_partners_short_of_it(2)
    run_on(START)
    day = grace_ends(START)
    with on(day):
        # Its twin moved, the same day, by the service a person's or a check's single move goes through.
        partner_tier_change(
            partner=moved,
            to_tier=tier(slug="registered"),
            reason="Moved alone.",
            source=TierChangeSource.SCHEDULED_CHECK,
        )
    history_before = demoted.history.count()

    run = run_on(day)

    assert run.changed["demoted"] == 1
    demoted.refresh_from_db()
    assert demoted.tier == tier(slug="registered")
    assert (demoted.grace_started_on, demoted.grace_ends_on) == (None, None)
    assert demoted.updated_at.date() == day  # integrators syncing on updated_since see the move
    change = TierChange.objects.get(partner=demoted)
    assert (change.from_tier, change.to_tier) == (tier(slug="select"), tier(slug="registered"))
    assert (change.source, change.changed_by) == (TierChangeSource.SCHEDULED_CHECK, None)
    assert change.reason.startswith(f"Grace period ended on {day:%d %b %Y} and the partner still needs ")
    assert change.reason.endswith(" to stay Select.")

    # The partner's history: one row, as the single move's save writes.
    assert demoted.history.count() == history_before + 1
    row, twin_row = demoted.history.latest(), moved.history.latest()
    assert (row.history_type, row.history_user, row.history_change_reason) == (
        twin_row.history_type,
        twin_row.history_user,
        twin_row.history_change_reason,
    )
    assert (row.tier, row.grace_started_on, row.grace_ends_on) == (tier(slug="registered"), None, None)

    # Find-a-Partner shows its new tier.
    entry = PartnerSearchEntry.objects.get(partner=demoted)
    assert (entry.tier, entry.tier_rank) == (tier(slug="registered"), tier(slug="registered").rank)

    # Integrators are told, with the tier change as the API shows it.
    [delivery] = WebhookDelivery.objects.filter(endpoint=tier_change_hook, payload__data__id=change.pk)
    [twin_delivery] = WebhookDelivery.objects.filter(
        endpoint=tier_change_hook, payload__data__partner=moved.slug
    )
    assert delivery.event == twin_delivery.event == "partner.tier_changed"
    assert delivery.payload["data"] == json.loads(
        json.dumps(TierChangeSerializer(change).data, cls=DjangoJSONEncoder)
    )
    assert delivery.payload.keys() == twin_delivery.payload.keys()

    # Its staff and PDM get one email, saying why.
    [message] = OutboxMessage.objects.filter(dedupe_key=f"tier-demoted:{change.pk}")
    staff = demoted.users.get()
    assert sorted(message.to) == sorted([staff.email, demoted.pdm.email])
    assert message.subject == f"{demoted.name} is now Registered"
    assert change.reason in message.body_text


def test_a_second_run_the_same_day_demotes_nobody_again_and_tells_nobody_again(tier_change_hook):
    partners = select_partners_short_of_it(3)
    run_on(START)
    first = run_on(grace_ends(START))
    told = (OutboxMessage.objects.count(), WebhookDelivery.objects.count())
    history = [partner.history.count() for partner in partners]

    again = run_on(grace_ends(START))

    assert first.changed["demoted"] == 3
    assert not again.changed.get("demoted") and not again.changed.get("emails")
    assert TierChange.objects.count() == 3
    assert (OutboxMessage.objects.count(), WebhookDelivery.objects.count()) == told
    assert [partner.history.count() for partner in partners] == history


def test_a_partner_that_meets_its_tier_again_once_locked_is_not_demoted(monkeypatch):
    recovered, still_short = select_partners_short_of_it(2)
    run_on(START)
    read_evidence = tier_health.evidence_last_days

    def evidence_arrives_after_the_chunk_is_read(*args, **kwargs):
        days = read_evidence(*args, **kwargs)
        give_select_evidence(recovered)  # before the check locks the partners it is about to demote
        return days

    monkeypatch.setattr(tier_health, "evidence_last_days", evidence_arrives_after_the_chunk_is_read)
    run = run_on(grace_ends(START))
    monkeypatch.undo()

    assert run.changed["demoted"] == 1
    recovered.refresh_from_db()
    still_short.refresh_from_db()
    assert (recovered.tier.slug, still_short.tier.slug) == ("select", "registered")
    assert not TierChange.objects.filter(partner=recovered).exists()
    demotion_emails = OutboxMessage.objects.filter(dedupe_key__startswith="tier-demoted:")
    assert list(demotion_emails.values_list("dedupe_key", flat=True)) == [
        f"tier-demoted:{TierChange.objects.get(partner=still_short).pk}"
    ]
    # The next run finds it meeting Select and closes its grace period.
    next_run = run_on(grace_ends(START) + datetime.timedelta(days=1))
    recovered.refresh_from_db()
    assert next_run.changed["grace_closed"] == 1
    assert (recovered.tier.slug, recovered.grace_started_on) == ("select", None)


def test_moving_many_partners_keeps_the_rules_of_moving_one():
    on_select, other = select_partners_short_of_it(2)
    with pytest.raises(ConflictError, match="is already Select"):
        partner_tier_change_many(
            moves=[
                TierMove(partner=other, to_tier=tier(slug="registered"), reason="Demoted."),
                TierMove(partner=on_select, to_tier=tier(slug="select"), reason="Kept."),
            ],
            source=TierChangeSource.SCHEDULED_CHECK,
        )
    with pytest.raises(DomainError, match="ladder"):
        partner_tier_change_many(
            moves=[TierMove(partner=other, to_tier=tier("technology", "registered"), reason="Wrong ladder.")],
            source=TierChangeSource.SCHEDULED_CHECK,
        )
    with pytest.raises(DomainError, match="Say why"):
        partner_tier_change_many(
            moves=[TierMove(partner=other, to_tier=tier(slug="registered"), reason="  ")],
            source=TierChangeSource.SCHEDULED_CHECK,
        )
    with pytest.raises(DomainError, match="one partner's tier at a time"):
        partner_tier_change_many(
            moves=[TierMove(partner=other, to_tier=tier(slug="registered"), reason="By hand.")],
            source=TierChangeSource.MANUAL,
        )

    # Refused as a whole: nobody moved.
    assert not TierChange.objects.exists()
    assert set(Partner.objects.values_list("tier__slug", flat=True)) == {"select"}
