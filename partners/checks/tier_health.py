"""tier_health: every partner re-evaluated; grace, demotion and the date a partner's tier is at risk.

Each partner is evaluated with partners.selectors.tier_evaluate_many, in chunks of partners:

- meeting its tier: any grace period closes; `at_risk_from` is the first day it would fall short if
  nothing is renewed (warnings go 90 and 30 days before); `qualifies_for_tier` flags a higher tier its
  evidence earns, for its PDM to decide: the check never promotes.
- short of its tier: a grace period starts (the tier's `grace_period_days`) and the partner's staff and
  PDM are told; on the day it ends, a partner still short is demoted to the highest tier it qualifies
  for (partners.services.partner_tier_change_many, recorded as a change by the scheduled check; the
  partners whose grace period ends are demoted together, a few statements for a whole batch).

The at-risk date. Certifications and program enrollments lapse; validated references do not. A measure
with minimum m holds while m items count (a person per line, an approved program), and each item counts
until its last day: for a person, the latest expiry of their certifications of that line counting
today; for a program, its enrollment's expiry. So the measure fails on the day after the m-th latest
last day, and the partner falls short of its tier on the earliest such day over the tier's measures
(every rung up to it, with the largest minimum per measure, as in the evaluation). That is the earliest
day d on which tier_evaluate(on=d) falls below the tier, found from the candidates "expiry + 1 day" in
one pass over each chunk, without evaluating day by day (partners.selectors.at_risk_from, which the
partner's scorecard uses too, live). Evidence that only starts counting in the
future is left out, so the date errs early, never late.

A PDM may move a partner (partners.services.partner_tier_change) while its chunk is evaluated: what was
worked out for the tier it held then is stored only where the partner still holds it (the UPDATE asks),
and nobody is told of it; the next run evaluates the partner on its new tier.

A second run on the same day re-evaluates nobody when nothing it reads has changed since the first
began (evidence_digest: each table's row count and the sum of its `updated_at`). A write that bypasses
`updated_at` (a QuerySet.update() that leaves it out) is seen by the next day's full run.
"""

import datetime
import hashlib
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.urls import reverse

from apn_portal.checks.registry import scheduled_check
from apn_portal.checks.results import CheckResult
from apn_portal.checks.selectors import check_last_state
from apn_portal.outbox.services import OutboxEmail, outbox_email_enqueue_many
from apn_portal.text import plural
from partners.checks.contacts import PartnerContacts, partner_contacts
from partners.choices import (
    RequirementMetric,
    TierChangeSource,
)
from partners.models import (
    Certification,
    CustomerReference,
    Partner,
    Program,
    ProgramEnrollment,
    StaffMember,
    Tier,
    TierRequirement,
)
from partners.selectors import (
    METRIC_NOUNS,
    TierEvaluation,
    at_risk_from,
    evidence_last_days,
    hold_minimums,
    tier_evaluate_many,
    tier_ladders,
)
from partners.services import TierMove, partner_tier_change_many

PARTNERS_PER_CHUNK = 10_000
# Partners demoted together, with a few statements for each batch.
DEMOTIONS_PER_BATCH = 1_000
AT_RISK_WARNING_DAYS = (90, 30)


@dataclass(frozen=True)
class TierHealth:
    """The stored tier-health fields of one partner."""

    grace_started_on: datetime.date | None = None
    grace_ends_on: datetime.date | None = None
    at_risk_from: datetime.date | None = None
    qualifies_for_tier_id: int | None = None

    FIELDS = ("grace_started_on", "grace_ends_on", "at_risk_from", "qualifies_for_tier_id")

    @property
    def in_grace(self) -> bool:
        return self.grace_started_on is not None


def _partner_id_ranges(size: int):
    last_id = 0
    while ids := list(
        Partner.objects.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:size]
    ):
        yield ids[0], ids[-1]
        last_id = ids[-1]


@dataclass
class _Notice:
    kind: str
    partner_id: int
    evaluation: TierEvaluation
    health: TierHealth
    measure: str | None = None  # for an at-risk warning: the measure that fails first, and its minimum
    minimum: int = 0


@scheduled_check(
    "tier_health",
    order=20,
    description=(
        "Every partner re-evaluated: grace periods open and close, demotion when one ends, the at-risk "
        "date with warnings, partners that qualify for more flagged for their PDM."
    ),
)
def tier_health_check(*, today: datetime.date) -> CheckResult:
    result = CheckResult()
    # Taken before anything is read, so a change made while this run reads is seen by the next one.
    digest = evidence_digest()
    result.state = {"day": today.isoformat(), "evidence": digest}
    if digest is not None and check_last_state("tier_health") == result.state:
        result.note("Nothing it reads has changed since today's earlier run: no partner re-evaluated.")
        return result
    minimums = hold_minimums(tier_ladders())
    evaluated = 0
    for first_id, last_id in _partner_id_ranges(PARTNERS_PER_CHUNK):
        partners = Partner.objects.filter(pk__gte=first_id, pk__lte=last_id)
        evaluated += _check_chunk(partners, minimums, today, result)
    _summarise(result, evaluated)
    return result


EVIDENCE_MODELS = (
    Partner,
    Tier,
    TierRequirement,
    Program,
    StaffMember,
    Certification,
    CustomerReference,
    ProgramEnrollment,
)


def evidence_digest() -> str | None:
    """A digest of every table tier evaluation reads: its row count and the exact sum of its rows'
    `updated_at`, which any insert, deletion or save moves (whatever the clocks of the servers that wrote
    them). PostgreSQL only; elsewhere (the embedded SQLite default, a small network) None: every run
    evaluates every partner."""
    if connection.vendor != "postgresql":
        return None
    quote = connection.ops.quote_name
    # EXTRACT gives a numeric: the sum is exact to the microsecond however many rows there are.
    selects = " UNION ALL ".join(
        f"SELECT '{model._meta.label}', count(*), coalesce(sum(extract(epoch FROM updated_at)), 0) "
        f"FROM {quote(model._meta.db_table)}"
        for model in EVIDENCE_MODELS
    )
    with connection.cursor() as cursor:
        cursor.execute(selects)
        # Sorted: a parallel plan returns the UNION's rows in any order.
        rows = sorted(cursor.fetchall())
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _check_chunk(partners, minimums, today: datetime.date, result: CheckResult) -> int:
    evaluations = tier_evaluate_many(partners, on=today)
    stored = {
        row[0]: (row[1], TierHealth(*row[2:]))
        for row in partners.order_by().values_list("pk", "tier_id", *TierHealth.FIELDS)
    }
    # Only a tier above the entry rung has requirements that count (tier_hold_minimums), and so evidence
    # that can lapse.
    last_days = evidence_last_days(partners.filter(tier__rank__gt=0), today)
    changed: dict[int, TierHealth] = {}
    outcomes = []
    for partner_id, evaluation in evaluations.items():
        tier_id, old = stored.get(partner_id, (None, None))
        if old is None:  # deleted between the two reads: nothing left to check or tell
            continue
        if tier_id != evaluation.current_tier.pk:
            # Moved by its PDM between the two reads: `old` is not the health of the tier evaluated.
            continue
        new, kinds, measure = _next_health(evaluation, old, minimums, last_days.get(partner_id, {}), today)
        if new != old:
            changed[partner_id] = new
        outcomes.append((partner_id, evaluation, new, kinds, measure))
    moved = set(changed) - _store(changed, {pk: evaluations[pk].current_tier.pk for pk in changed})
    # A partner with nothing to store may still have something to be told (a warning ahead of the day it
    # falls short): asked again whether it holds the tier that was evaluated, as the store asks.
    told_unchanged = [pk for pk, _, _, kinds, _ in outcomes if kinds and pk not in changed]
    if told_unchanged:
        tiers_now = dict(Partner.objects.filter(pk__in=told_unchanged).values_list("pk", "tier_id"))
        moved.update(pk for pk in told_unchanged if tiers_now.get(pk) != evaluations[pk].current_tier.pk)
    notices: list[_Notice] = []
    grace_over: list[int] = []
    for partner_id, evaluation, new, kinds, measure in outcomes:
        if partner_id in moved:
            continue  # what it would say is about a tier the partner no longer holds
        notices.extend(_notices(partner_id, evaluation, new, kinds, measure, minimums))
        if new.in_grace and new.grace_ends_on <= today:
            grace_over.append(partner_id)
    written = [pk for pk in changed if pk not in moved]
    result.add("partners_updated", len(written))
    result.add(
        "at_risk_dates_changed", sum(changed[pk].at_risk_from != stored[pk][1].at_risk_from for pk in written)
    )
    _notify(notices, today, result)
    for start in range(0, len(grace_over), DEMOTIONS_PER_BATCH):
        _demote_many(grace_over[start : start + DEMOTIONS_PER_BATCH], minimums, last_days, today, result)
    return len(evaluations)


def _next_health(
    evaluation: TierEvaluation, old: TierHealth, minimums, last_days, today: datetime.date
) -> tuple[TierHealth, list[str], str | None]:
    """The partner's tier health today, what to tell whom about it, and the measure at risk."""
    kinds = []
    if evaluation.meets_current_tier:
        risk_day, measure = at_risk_from(minimums[evaluation.current_tier.pk], last_days, today)
        qualifies = evaluation.qualified_tier.pk if evaluation.qualifies_for_more else None
        if old.in_grace:
            kinds.append("grace_closed")
        if qualifies is not None and qualifies != old.qualifies_for_tier_id:
            kinds.append("qualifies_for_more")
        if risk_day is not None and (risk_day - today).days <= max(AT_RISK_WARNING_DAYS):
            kinds.append("at_risk_warning")
        return TierHealth(at_risk_from=risk_day, qualifies_for_tier_id=qualifies), kinds, measure
    if old.in_grace:
        return (
            TierHealth(old.grace_started_on, old.grace_ends_on, old.at_risk_from or old.grace_started_on),
            [],
            None,
        )
    # Fell short: from the day the check knew it would (when it ran then), else from today.
    fell_short_on = old.at_risk_from if old.at_risk_from and old.at_risk_from <= today else today
    grace_days = datetime.timedelta(days=evaluation.current_tier.grace_period_days)
    return TierHealth(today, today + grace_days, fell_short_on), ["grace_started"], None


def _notices(partner_id: int, evaluation: TierEvaluation, health: TierHealth, kinds, measure, minimums):
    minimum = minimums[evaluation.current_tier.pk].get(measure, 0) if measure else 0
    return [_Notice(kind, partner_id, evaluation, health, measure, minimum) for kind in kinds]


def partner_tier_health(partner: Partner, today: datetime.date) -> TierHealth | None:
    """The health this check would store for a partner with none stored (just moved to another ladder,
    say), worked out as a run does; None when the partner falls short of its tier: the grace period that
    starts is left to the next run, which tells its staff and PDM."""
    partners = Partner.objects.filter(pk=partner.pk)
    evaluation = tier_evaluate_many(partners, on=today)[partner.pk]
    if not evaluation.meets_current_tier:
        return None
    last_days = evidence_last_days(partners.filter(tier__rank__gt=0), today).get(partner.pk, {})
    health, _, _ = _next_health(evaluation, TierHealth(), hold_minimums(tier_ladders()), last_days, today)
    return health


# A partner whose tier is no longer the one evaluated is left as it is: its PDM moved it since it was read
# (partner_tier_change, which clears the grace period of the tier it leaves, locks the row: a move not yet
# committed is waited for, and the row read again as it left it).
_STORE_SQL = """
UPDATE {table} AS partner
SET grace_started_on = new.grace_started_on, grace_ends_on = new.grace_ends_on,
    at_risk_from = new.at_risk_from, qualifies_for_tier_id = new.qualifies_for_tier_id
FROM unnest(%s::bigint[], %s::bigint[], %s::date[], %s::date[], %s::date[], %s::bigint[])
    AS new(id, tier_id, grace_started_on, grace_ends_on, at_risk_from, qualifies_for_tier_id)
WHERE partner.id = new.id AND partner.tier_id = new.tier_id
RETURNING partner.id
"""


def _store(changed: dict[int, TierHealth], tiers: dict[int, int]) -> set[int]:
    """Write the partners' new states, each where the partner still holds the tier (`tiers`, by partner)
    they were worked out for, and return the partners written: on PostgreSQL one UPDATE from arrays for
    the whole chunk; elsewhere a read and an UPDATE per distinct state (few on any day but the first)."""
    if not changed:
        return set()
    if connection.vendor == "postgresql":
        columns = [
            list(changed),
            [tiers[pk] for pk in changed],
            *([getattr(h, name) for h in changed.values()] for name in TierHealth.FIELDS),
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                _STORE_SQL.format(table=connection.ops.quote_name(Partner._meta.db_table)), columns
            )
            return {row[0] for row in cursor.fetchall()}
    by_state: dict[tuple[int, TierHealth], list[int]] = defaultdict(list)
    for partner_id, health in changed.items():
        by_state[tiers[partner_id], health].append(partner_id)
    written: set[int] = set()
    for (tier_id, health), partner_ids in by_state.items():
        still = Partner.objects.filter(pk__in=partner_ids, tier_id=tier_id)
        ids = list(still.values_list("pk", flat=True))
        still.filter(pk__in=ids).update(**{name: getattr(health, name) for name in TierHealth.FIELDS})
        written.update(ids)
    return written


def _demote(partner_id: int, minimums, last_days, today: datetime.date, result: CheckResult) -> None:
    """_demote_many for one partner, with its own `last_days`."""
    _demote_many([partner_id], minimums, {partner_id: last_days}, today, result)


def _demote_many(
    partner_ids: list[int], minimums, last_days, today: datetime.date, result: CheckResult
) -> None:
    """At the end of their grace period, move the partners still short of their tier to the highest each
    qualifies for: a few statements for the whole batch, however many partners it holds."""
    # Locked in pk order, as every write of many partners locks them, and with no join to their tier: a
    # partner whose tier changed while this waited would not be found (see partners.services._lock).
    # Their tiers are read once the locks are held.
    locked = [
        partner
        for partner in Partner.objects.select_for_update().filter(pk__in=partner_ids).order_by("pk")
        if partner.grace_ends_on is not None and partner.grace_ends_on <= today
    ]  # one deleted since it was read, or with no grace period that ends today, is left
    if not locked:
        return
    evaluations = tier_evaluate_many(locked, on=today)
    # One whose evidence arrived since the chunk was read is left: the next run closes its grace period.
    short = [
        (partner, evaluations[partner.pk])
        for partner in locked
        if not evaluations[partner.pk].meets_current_tier
    ]
    if not short:
        return
    changes = partner_tier_change_many(
        moves=[
            TierMove(
                partner=partner,
                to_tier=evaluation.qualified_tier,
                reason=(
                    f"Grace period ended on {partner.grace_ends_on:%d %b %Y} and the partner still "
                    f"{'; '.join(shortfall.message for shortfall in evaluation.current_tier_shortfalls)} "
                    f"to stay {evaluation.current_tier.name}."
                ),
            )
            for partner, evaluation in short
        ],
        source=TierChangeSource.SCHEDULED_CHECK,
    )
    # The health of the tier each now holds (the grace period was closed with the move), and what to tell
    # of it, worked out as tomorrow's run would: a warning that the new tier is at risk goes now, so a
    # second run today finds nothing left to send.
    demoted = Partner.objects.filter(pk__in=[partner.pk for partner, _ in short])
    now_held = tier_evaluate_many(demoted, on=today)
    healths, notices = {}, []
    for partner_id, evaluation in now_held.items():
        health, kinds, measure = _next_health(
            evaluation, TierHealth(), minimums, last_days.get(partner_id, {}), today
        )
        healths[partner_id] = health
        notices.extend(_notices(partner_id, evaluation, health, kinds, measure, minimums))
    _store(healths, {partner_id: evaluation.current_tier.pk for partner_id, evaluation in now_held.items()})
    result.add("demoted", len(changes))
    contacts = partner_contacts([partner.pk for partner, _ in short])
    stored = outbox_email_enqueue_many(
        [
            OutboxEmail(
                dedupe_key=f"tier-demoted:{change.pk}",
                to=contacts[partner.pk].staff_and_pdm,
                for_partner=partner.pk,
                subject=f"{contacts[partner.pk].name} is now {change.to_tier.name}",
                template="emails/checks/tier_demoted",
                context={
                    "partner": contacts[partner.pk],
                    "change": change,
                    "shortfalls": evaluation.current_tier_shortfalls,
                    "scorecard_path": reverse("my:scorecard"),
                    "pdm_path": contacts[partner.pk].pdm_path_with_staff,
                },
            )
            for (partner, evaluation), change in zip(short, changes, strict=True)
        ]
    )
    result.add("emails", len(stored))
    _notify(notices, today, result)


def _notify(notices: list[_Notice], today: datetime.date, result: CheckResult) -> None:
    if not notices:
        return
    contacts = partner_contacts({notice.partner_id for notice in notices})
    emails = [_email(notice, contacts[notice.partner_id], today) for notice in notices]
    stored = outbox_email_enqueue_many(emails)
    for notice, email in zip(notices, emails, strict=True):
        if notice.kind != "at_risk_warning" or email.dedupe_key in stored:
            # A warning is counted when sent; a state change counts whether or not anyone could be told.
            result.add(notice.kind)
    result.add("emails", len(stored))


def _email(notice: _Notice, contacts: PartnerContacts, today: datetime.date) -> OutboxEmail:
    evaluation, health = notice.evaluation, notice.health
    tier = evaluation.current_tier
    context = {
        "partner": contacts,
        "tier": tier,
        "evaluation": evaluation,
        "health": health,
        "shortfalls": [shortfall.message for shortfall in evaluation.current_tier_shortfalls],
        "scorecard_path": reverse("my:scorecard"),
        "admin_path": reverse("admin:partners_partner_change", args=[notice.partner_id]),
        "pdm_path": contacts.pdm_path_with_staff,
    }
    if notice.kind == "grace_started":
        return OutboxEmail(
            dedupe_key=f"tier-grace:{notice.partner_id}:{health.grace_started_on.isoformat()}",
            to=contacts.staff_and_pdm,
            for_partner=notice.partner_id,
            subject=f"{contacts.name} no longer meets the {tier.name} tier: grace period until "
            f"{health.grace_ends_on:%d %b %Y}",
            template="emails/checks/tier_grace_started",
            context=context,
        )
    if notice.kind == "grace_closed":
        return OutboxEmail(
            dedupe_key=f"tier-grace-closed:{notice.partner_id}:{today.isoformat()}",
            to=contacts.staff_and_pdm,
            for_partner=notice.partner_id,
            subject=f"{contacts.name} meets the {tier.name} tier again",
            template="emails/checks/tier_grace_closed",
            context=context,
        )
    if notice.kind == "qualifies_for_more":
        return OutboxEmail(
            dedupe_key=f"tier-qualifies:{notice.partner_id}:{evaluation.qualified_tier.pk}:{today.isoformat()}",
            to=[contacts.pdm_email],
            for_partner=notice.partner_id,
            subject=f"{contacts.name} qualifies for {evaluation.qualified_tier.name}",
            template="emails/checks/tier_qualifies_for_more",
            context=context,
        )
    days_left = (health.at_risk_from - today).days
    threshold = min(days for days in AT_RISK_WARNING_DAYS if days_left <= days)
    singular, plural_noun = METRIC_NOUNS[RequirementMetric(notice.measure)]
    minimum = notice.minimum
    return OutboxEmail(
        # Keyed on the date at risk: after a renewal moves it, the new date gets its own warnings.
        dedupe_key=f"tier-at-risk:{notice.partner_id}:{health.at_risk_from.isoformat()}:{threshold}",
        to=contacts.staff_and_pdm,
        for_partner=notice.partner_id,
        subject=f"{contacts.name} falls below {tier.name} on {health.at_risk_from:%d %b %Y} unless it renews",
        template="emails/checks/tier_at_risk",
        context={
            **context,
            "days_left": days_left,
            "requirement": f"{minimum} {singular if minimum == 1 else plural_noun}",
        },
    )


def _summarise(result: CheckResult, evaluated: int) -> None:
    lines = {
        "grace_started": "entered a grace period",
        "grace_closed": "met their tier again (grace period closed)",
        "demoted": "demoted at the end of their grace period",
        "qualifies_for_more": "newly qualify for a higher tier (their PDM was told)",
        "at_risk_warning": "warned that their tier is at risk within 90 days",
    }
    for kind, text in lines.items():
        if result.count(kind):
            result.note(f"{plural(result.count(kind), 'partner')} {text}.")
    if result.count("at_risk_dates_changed"):
        result.note(
            f"At-risk date set or moved for {plural(result.count('at_risk_dates_changed'), 'partner')}."
        )
    result.note(f"Evaluated {plural(evaluated, 'partner')}.")
