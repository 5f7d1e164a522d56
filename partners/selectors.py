"""Reads of the partner domain. Tier evaluation lives here: one function for the scorecard, the admin,
the API and the scheduled checks alike."""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Aggregate,
    CharField,
    Count,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from apn_portal.accounts.selectors import user_is_signed_in
from apn_portal.deletion import kept_by
from apn_portal.text import and_list, plural, short_list
from partners.choices import (
    ADVANCED_TECHNICAL_LEVELS,
    TECHNICAL_LEVELS,
    CertificationLevel,
    EnrollmentStatus,
    PartnerType,
    RequirementMetric,
)
from partners.models import (
    Certification,
    CustomerReference,
    Office,
    Partner,
    Program,
    ProgramEnrollment,
    Tier,
    TierChange,
)

# How a shortfall reads: "needs 2 more professional-level people".
METRIC_NOUNS = {
    RequirementMetric.FOUNDATIONAL_PEOPLE: (
        "person with a foundational certification",
        "people with a foundational certification",
    ),
    RequirementMetric.TECHNICAL_PEOPLE: (
        "person with a technical certification",
        "people with a technical certification",
    ),
    RequirementMetric.ADVANCED_TECHNICAL_PEOPLE: (
        "professional-level person (professional or specialty)",
        "professional-level people (professional or specialty)",
    ),
    RequirementMetric.LAUNCHED_PROJECTS: ("launched customer project", "launched customer projects"),
    RequirementMetric.APPROVED_PROGRAMS: ("approved program validation", "approved program validations"),
    RequirementMetric.QUALIFYING_PROGRAMS: (
        "approved Managed Service Provider (or qualifying) program",
        "approved Managed Service Provider (or qualifying) programs",
    ),
}


@dataclass(frozen=True)
class Shortfall:
    metric: str
    required: int
    actual: int

    @property
    def missing(self) -> int:
        return self.required - self.actual

    @property
    def message(self) -> str:
        singular, plural = METRIC_NOUNS[RequirementMetric(self.metric)]
        return f"needs {self.missing} more {singular if self.missing == 1 else plural}"

    def __str__(self):
        return self.message


@dataclass(frozen=True)
class TierEvaluation:
    partner_id: int
    current_tier: Tier
    qualified_tier: Tier
    next_tier: Tier | None
    metrics: dict[str, int]
    # What holding each tier takes, every rung up to it counted (tier_hold_minimums).
    current_tier_minimums: dict[str, int] = field(default_factory=dict)
    next_tier_minimums: dict[str, int] = field(default_factory=dict)
    next_tier_shortfalls: list[Shortfall] = field(default_factory=list)
    current_tier_shortfalls: list[Shortfall] = field(default_factory=list)

    @property
    def meets_current_tier(self) -> bool:
        return self.qualified_tier.rank >= self.current_tier.rank

    @property
    def qualifies_for_more(self) -> bool:
        return self.qualified_tier.rank > self.current_tier.rank

    @property
    def standing_tier(self) -> Tier:
        """Where the partner stands on its ladder: the tier it holds, or the higher one its evidence
        qualifies it for. `next_tier` is the rung above this one."""
        return self.qualified_tier if self.qualifies_for_more else self.current_tier


def expiry_window_end(today: datetime.date, days: int | None = None) -> datetime.date:
    """The end of "expires within the next `days` days" (PARTNER_EXPIRING_SOON_DAYS unless given): the first
    day past the window. Something expiring on that day still counts on it, so an expiry date is within the
    window when it is before this day: the scorecard, the certification reminders and the admin's
    "expiring soon" filters all read it so, or a reminder would point to a scorecard that does not list
    what it reminds of."""
    return today + datetime.timedelta(days=settings.PARTNER_EXPIRING_SOON_DAYS if days is None else days)


def active_certifications(on: datetime.date | None = None) -> QuerySet[Certification]:
    """Certifications that count on the given day: earned, and not yet past their expiry date."""
    on = on or timezone.localdate()
    return Certification.objects.filter(earned_on__lte=on, expires_on__gte=on)


def validated_references(on: datetime.date | None = None) -> QuerySet[CustomerReference]:
    """References that count on the given day: validated, for a project already launched."""
    on = on or timezone.localdate()
    return CustomerReference.objects.filter(is_validated=True, launched_on__lte=on)


def programs_open_to(partner_type: str, programs: QuerySet[Program] | None = None) -> QuerySet[Program]:
    """The programs a partner of this type may join: those of its type and those open to both (a blank
    `partner_type`), as partners.services.enrollment_program_closed decides."""
    programs = Program.objects.all() if programs is None else programs
    return programs.filter(partner_type__in=[partner_type, ""])


def active_enrollments(on: datetime.date | None = None) -> QuerySet[ProgramEnrollment]:
    on = on or timezone.localdate()
    return ProgramEnrollment.objects.filter(
        status=EnrollmentStatus.APPROVED, approved_on__lte=on, expires_on__gte=on
    )


def partner_metrics(partner_ids, on: datetime.date | None = None) -> dict[int, dict[str, int]]:
    """Every tier metric for many partners in three grouped queries, whatever their number.

    `partner_ids` is a list of ids or a queryset of partners (kept as a subquery).
    """
    on = on or timezone.localdate()
    if isinstance(partner_ids, QuerySet):
        partner_ids = partner_ids.values("pk")
    metrics: dict[int, dict[str, int]] = {}

    def merge(rows):
        for row in rows:
            partner_id = row.pop("partner_id")
            metrics.setdefault(partner_id, {}).update(row)

    # A person counts once per line, however many certifications of that line they hold.
    merge(
        active_certifications(on)
        .filter(staff_member__partner_id__in=partner_ids)
        .values(partner_id=F("staff_member__partner_id"))
        .annotate(
            **{
                RequirementMetric.FOUNDATIONAL_PEOPLE: Count(
                    "staff_member", filter=Q(level=CertificationLevel.FOUNDATIONAL), distinct=True
                ),
                RequirementMetric.TECHNICAL_PEOPLE: Count(
                    "staff_member", filter=Q(level__in=TECHNICAL_LEVELS), distinct=True
                ),
                RequirementMetric.ADVANCED_TECHNICAL_PEOPLE: Count(
                    "staff_member", filter=Q(level__in=ADVANCED_TECHNICAL_LEVELS), distinct=True
                ),
            }
        )
        .order_by()
    )
    merge(
        validated_references(on)
        .filter(partner_id__in=partner_ids)
        .values("partner_id")
        .annotate(**{RequirementMetric.LAUNCHED_PROJECTS: Count("id")})
        .order_by()
    )
    merge(
        active_enrollments(on)
        .filter(partner_id__in=partner_ids)
        .values("partner_id")
        .annotate(
            **{
                RequirementMetric.APPROVED_PROGRAMS: Count("program", distinct=True),
                RequirementMetric.QUALIFYING_PROGRAMS: Count(
                    "program", filter=Q(program__qualifies_for_tier=True), distinct=True
                ),
            }
        )
        .order_by()
    )
    return metrics


def tier_ladders() -> dict[str, list[Tier]]:
    """Each partner type's tiers, lowest first, with their requirements loaded (two queries)."""
    ladders: dict[str, list[Tier]] = {}
    for tier in Tier.objects.prefetch_related("requirements").order_by("partner_type", "rank"):
        ladders.setdefault(tier.partner_type, []).append(tier)
    return ladders


# RequirementMetric.values builds a new list on each access; evaluation runs per partner, 100,000 times.
_METRICS = tuple(RequirementMetric.values)


def _shortfalls(minimums: dict[str, int], metrics: dict[str, int]) -> list[Shortfall]:
    return [
        Shortfall(metric=metric, required=minimums[metric], actual=metrics.get(metric, 0))
        for metric in _METRICS
        if metric in minimums and metrics.get(metric, 0) < minimums[metric]
    ]


def tier_shortfalls(tier: Tier, metrics: dict[str, int]) -> list[Shortfall]:
    return _shortfalls({req.metric: req.minimum for req in tier.requirements.all()}, metrics)


def tier_hold_minimums(tier: Tier, ladder: list[Tier]) -> dict[str, int]:
    """What holding `tier` takes: a rung below it that is not met is lacking too, so every rung up to it
    counts, with the largest minimum per measure.

    The entry rung (the ladder's lowest) is what every partner holds on joining, and asks nothing: a
    requirement stored on it anyway (TierRequirement.clean refuses one) is left out here as it is by
    _evaluate, or the scorecard would show a shortfall nothing acts on and tier_health would warn of it
    every day."""
    minimums: dict[str, int] = {}
    for rung in ladder[1:]:
        if rung.rank <= tier.rank:
            for req in rung.requirements.all():
                minimums[req.metric] = max(minimums.get(req.metric, 0), req.minimum)
    return minimums


def hold_minimums(ladders: dict[str, list[Tier]]) -> dict[int, dict[str, int]]:
    """tier_hold_minimums of every tier, by tier id: worked out once for an evaluation of many partners."""
    return {tier.pk: tier_hold_minimums(tier, ladder) for ladder in ladders.values() for tier in ladder}


def _evaluate(
    partner_id: int,
    current_tier: Tier,
    ladder: list[Tier],
    metrics: dict[str, int],
    minimums: dict[int, dict[str, int]],
) -> TierEvaluation:
    # A ladder is climbed rung by rung: a partner qualifies for a tier only if it meets every tier below it.
    # Every partner holds the entry rung, whatever is stored on it (tier_hold_minimums).
    qualified = ladder[0]
    for tier in ladder[1:]:
        if tier_shortfalls(tier, metrics):
            break
        qualified = tier
    current = next((tier for tier in ladder if tier.pk == current_tier.pk), current_tier)
    # The next tier up from where the partner stands: above the tier it holds, or above the one it
    # qualifies for when that is higher (a promotion its PDM has still to make).
    reached = max(current.rank, qualified.rank)
    next_tier = next((tier for tier in ladder if tier.rank > reached), None)
    current_minimums = minimums[current.pk]
    next_minimums = minimums[next_tier.pk] if next_tier else {}
    return TierEvaluation(
        partner_id=partner_id,
        current_tier=current,
        qualified_tier=qualified,
        next_tier=next_tier,
        metrics={metric: metrics.get(metric, 0) for metric in _METRICS},
        current_tier_minimums=current_minimums,
        next_tier_minimums=next_minimums,
        next_tier_shortfalls=_shortfalls(next_minimums, metrics),
        current_tier_shortfalls=_shortfalls(current_minimums, metrics),
    )


def tier_evaluate_many(partners: Iterable[Partner] | QuerySet[Partner], on: datetime.date | None = None):
    """Evaluate many partners set-wise: a constant number of queries, yielding one TierEvaluation each.

    Given a queryset, the metrics are computed with it as a subquery; the partners themselves are read
    once, with only the columns evaluation needs.
    """
    on = on or timezone.localdate()
    ladders = tier_ladders()
    tiers_by_id = {tier.pk: tier for ladder in ladders.values() for tier in ladder}
    minimums = hold_minimums(ladders)
    if isinstance(partners, QuerySet):
        # A page (a sliced queryset) keeps its ordering, which decides what the page holds.
        unordered = partners if partners.query.is_sliced else partners.order_by()
        rows = list(unordered.values_list("pk", "partner_type", "tier_id"))
        metrics = partner_metrics(partners, on)
    else:
        rows = [(p.pk, p.partner_type, p.tier_id) for p in partners]
        metrics = partner_metrics([row[0] for row in rows], on)
    return {
        pk: _evaluate(pk, tiers_by_id[tier_id], ladders[partner_type], metrics.get(pk, {}), minimums)
        for pk, partner_type, tier_id in rows
    }


def tier_evaluate(partner: Partner, on: datetime.date | None = None) -> TierEvaluation:
    return tier_evaluate_many([partner], on)[partner.pk]


# The at-risk date (partners.checks.tier_health explains it) ----------------------------------------------

ONE_DAY = datetime.timedelta(days=1)

# The certification levels behind each measure counted in people.
PEOPLE_MEASURES = {
    RequirementMetric.FOUNDATIONAL_PEOPLE: (CertificationLevel.FOUNDATIONAL,),
    RequirementMetric.TECHNICAL_PEOPLE: TECHNICAL_LEVELS,
    RequirementMetric.ADVANCED_TECHNICAL_PEOPLE: ADVANCED_TECHNICAL_LEVELS,
}


def evidence_last_days(partners, today: datetime.date) -> dict[int, dict[str, list[datetime.date]]]:
    """For each partner (a queryset) and each measure that can lapse, the last day every item counting
    today keeps counting if nothing is renewed, latest first. Two grouped queries."""
    last_days: dict[int, dict[str, list[datetime.date]]] = defaultdict(lambda: defaultdict(list))
    people = (
        active_certifications(today)
        .filter(staff_member__partner__in=partners.values("pk"))
        .values("staff_member__partner_id", "staff_member_id")
        .annotate(
            **{
                measure: Max("expires_on", filter=Q(level__in=levels))
                for measure, levels in PEOPLE_MEASURES.items()
            }
        )
        .order_by()
    )
    for row in people:
        partner_days = last_days[row["staff_member__partner_id"]]
        for measure in PEOPLE_MEASURES:
            if row[measure] is not None:
                partner_days[measure].append(row[measure])
    programs = (
        active_enrollments(today)
        .filter(partner__in=partners.values("pk"))
        .values("partner_id", "program_id", "program__qualifies_for_tier")
        .annotate(last_day=Max("expires_on"))
        .order_by()
    )
    for row in programs:
        partner_days = last_days[row["partner_id"]]
        partner_days[RequirementMetric.APPROVED_PROGRAMS].append(row["last_day"])
        if row["program__qualifies_for_tier"]:
            partner_days[RequirementMetric.QUALIFYING_PROGRAMS].append(row["last_day"])
    for partner_days in last_days.values():
        for days in partner_days.values():
            days.sort(reverse=True)
    return last_days


def at_risk_from(
    minimums: dict[str, int], last_days: dict[str, list[datetime.date]], today: datetime.date
) -> tuple[datetime.date | None, str | None]:
    """The first day a partner falls short of the tier with these minimums if nothing is renewed, and the
    measure that fails then; (None, None) when nothing that holds the tier up can lapse."""
    earliest: tuple[datetime.date, str] | None = None
    for measure, minimum in minimums.items():
        if measure == RequirementMetric.LAUNCHED_PROJECTS:
            continue  # validated references do not lapse
        days = last_days.get(measure, [])
        fails_on = today if len(days) < minimum else days[minimum - 1] + ONE_DAY
        if earliest is None or fails_on < earliest[0]:
            earliest = (fails_on, measure)
    return earliest if earliest else (None, None)


@dataclass(frozen=True)
class TierOutlook:
    """What the partner's scorecard warns of about the tier it holds, which its evaluation in the API
    gives too, so the page, the emails and the API name the same days."""

    # The grace period tier_health gave the partner when it fell short (the day it is demoted on, if still
    # short then, as the grace email says): only while its evidence is short of its tier today.
    grace_started_on: datetime.date | None = None
    grace_ends_on: datetime.date | None = None
    # The first day it falls short of its tier unless something is renewed, worked out now as tier_health
    # does each night (the stored partner.at_risk_from is a night old): only while it meets its tier.
    at_risk_from: datetime.date | None = None


def tier_outlook(partner: Partner, evaluation: TierEvaluation, today: datetime.date) -> TierOutlook:
    """The partner's grace period or at-risk day, given its evaluation today. At most two queries."""
    if not evaluation.meets_current_tier:
        if partner.grace_ends_on is None:  # short since the night's check ran: it starts one tonight
            return TierOutlook()
        return TierOutlook(grace_started_on=partner.grace_started_on, grace_ends_on=partner.grace_ends_on)
    last_days = evidence_last_days(Partner.objects.filter(pk=partner.pk), today).get(partner.pk, {})
    falls_short_on, _ = at_risk_from(evaluation.current_tier_minimums, last_days, today)
    return TierOutlook(at_risk_from=falls_short_on)


# A program's minimum tier (partners.checks.program_renewal enforces it) ------------------------------------


@dataclass
class EnrollmentShortOfTier:
    enrollment: ProgramEnrollment
    short_since: datetime.date
    # The day program_renewal revokes it unless the partner holds the program's minimum tier again by then;
    # None when it expires before that day: program_renewal expires it the day after its expires_on, and
    # a partner below the minimum cannot renew it (_enrollment_term), so that revocation never comes.
    revoke_on: datetime.date | None


def minimum_tier_rungs(partner_type, minimum_tier_slug) -> QuerySet[Tier]:
    """The rung a program's minimum tier asks of a partner of `partner_type` (values or OuterRefs): the
    tier of that type's own ladder with the minimum's slug. A program open to both types names a rung of one
    ladder, and each ladder ranks its own rungs: a rank is never compared across ladders, so an edit of one
    ladder leaves the other type's partners where they stand. Empty when that ladder has no such rung: no
    partner of that type holds the minimum then."""
    return Tier.objects.filter(partner_type=partner_type, slug=minimum_tier_slug)


def enrollment_minimum_rank() -> Subquery:
    """The rank of the enrollment's minimum_tier_rungs (NULL when its partner's ladder has none)."""
    return Subquery(
        minimum_tier_rungs(OuterRef("partner__partner_type"), OuterRef("program__minimum_tier__slug")).values(
            "rank"
        )[:1]
    )


def enrollments_below_minimum_tier(enrollments: QuerySet) -> QuerySet:
    """Those of these enrollments whose partner is below its program's minimum tier now (the rung of its
    own ladder, minimum_tier_rungs, or any tier when there is none), annotated with that rung's
    `minimum_rank`."""
    return (
        enrollments.filter(program__minimum_tier__isnull=False)
        .annotate(minimum_rank=enrollment_minimum_rank())
        .filter(Q(minimum_rank__isnull=True) | Q(partner__tier__rank__lt=F("minimum_rank")))
    )


def minimum_tier_shortfall(partner: Partner, program: Program) -> str | None:
    """Why the partner, holding its tier now, does not meet the program's minimum tier (the rule of
    enrollments_below_minimum_tier), or None when it does or there is none. At most one query."""
    minimum = program.minimum_tier
    if minimum is None:
        return None
    if minimum.partner_type == partner.partner_type:
        rung = minimum
    else:
        rung = minimum_tier_rungs(partner.partner_type, minimum.slug).first()
    if rung is None:
        label = PartnerType(partner.partner_type).label
        return (
            f"{program.name} needs at least the {minimum.name} tier, which the {label} ladder does not "
            f"have: no {label.lower()} partner holds it."
        )
    if partner.tier.rank < rung.rank:
        return f"{program.name} needs at least the {rung.name} tier; {partner.name} is {partner.tier.name}."
    return None


def enrollments_short_of_minimum_tier(
    enrollments: QuerySet, today: datetime.date
) -> list[EnrollmentShortOfTier]:
    """Of these enrollments, the approved ones whose partner is below the program's minimum tier
    (enrollments_below_minimum_tier), each with the day program_renewal revokes it, or None when it
    expires first (what its warning email, the API's `revocation_due_on` and /my/programs/ say). One
    query, however many."""
    # The countdown starts when the partner fell below the program's minimum tier, however it moved
    # since while still below it (a second demotion does not restart it). A partner that was never at
    # or above it counts from its latest tier change, or from its creation. A change of the minimum or of
    # the partner's ladder that left it short (at or above the minimum before it) gives it its grace
    # period, and its warning, from the day of the change; one short before it keeps its countdown
    # (minimum_tier_short_from, kept by partners.signals.minimum_tier_standing_change).
    changes = TierChange.objects.filter(partner=OuterRef("partner_id")).order_by("-changed_at", "-id")
    minimum_rank = OuterRef("minimum_rank")
    fell_below = changes.filter(from_tier__rank__gte=minimum_rank, to_tier__rank__lt=minimum_rank)
    rows = (
        enrollments_below_minimum_tier(
            enrollments.filter(status=EnrollmentStatus.APPROVED, expires_on__gte=today)
        )
        .annotate(
            fell_below_at=Subquery(fell_below.values("changed_at")[:1]),
            tier_changed_at=Subquery(changes.values("changed_at")[:1]),
        )
        .select_related("program__minimum_tier", "partner__tier")
        .order_by("pk")
    )
    short = []
    for enrollment in rows:
        since = timezone.localdate(
            enrollment.fell_below_at or enrollment.tier_changed_at or enrollment.partner.created_at
        )
        if enrollment.minimum_tier_short_from is not None:
            since = max(since, enrollment.minimum_tier_short_from)
        revoke_on = since + datetime.timedelta(days=enrollment.program.minimum_tier.grace_period_days)
        # Due on its last day, it is still revoked: the check expires an enrollment only the day after.
        expires_first = revoke_on > enrollment.expires_on
        short.append(EnrollmentShortOfTier(enrollment, since, None if expires_first else revoke_on))
    return short


def enrollments_revocation_due(
    enrollments: Iterable[ProgramEnrollment], today: datetime.date
) -> dict[int, EnrollmentShortOfTier]:
    """{enrollment id: its countdown (enrollments_short_of_minimum_tier)} for those of these enrollments
    whose partner is below the program's minimum tier. One query for any number; none when none is
    approved."""
    ids = [e.pk for e in enrollments if e.status == EnrollmentStatus.APPROVED]
    if not ids:
        return {}
    short = enrollments_short_of_minimum_tier(ProgramEnrollment.objects.filter(pk__in=ids), today)
    return {item.enrollment.pk: item for item in short}


def partners_editable_by(user) -> QuerySet[Partner]:
    """A superuser edits every partner; a PDM the partners assigned to them; nobody else any."""
    if not user_is_signed_in(user):
        return Partner.objects.none()
    if user.is_superuser:
        return Partner.objects.all()
    if user.is_pdm:
        return Partner.objects.filter(pdm=user)
    return Partner.objects.none()


def partner_is_editable_by(partner: Partner, user) -> bool:
    if not user_is_signed_in(user):
        return False
    return user.is_superuser or (user.is_pdm and partner.pdm_id == user.pk)


def pdm_leaving_problems(users) -> list[str]:
    """Why the people (`users`: pks, or a query of them) cannot stop being PDMs (be deactivated, lose the
    PDM role, stop being provider staff), one sentence per PDM, or none: partners record them as their PDM,
    and would be left with one who is none (User.is_pdm), told nothing and with nobody to review
    what they send. Naming another PDM there (or none) comes first."""
    by_pdm: dict[int, list[Partner]] = {}
    for partner in (
        Partner.objects.filter(pdm__in=users).select_related("pdm").order_by("pdm_id", "name", "pk")
    ):
        by_pdm.setdefault(partner.pdm_id, []).append(partner)
    problems = []
    for partners in by_pdm.values():
        names = [partner.name for partner in partners[:5]]
        if len(partners) > 5:
            names.append(f"{len(partners) - 5} more")
        problems.append(f"{partners[0].pdm} is the PDM of {and_list(names)}: name another PDM there first.")
    return problems


# How many partners a refused deletion names, one message each: a big selection would bury the page.
_NAMED_HOLDING = 10


def partner_deletion_problems(partners) -> list[str]:
    """Why the partners (a query of them) cannot be deleted, a sentence for each thing that holds one, or
    none. An approved enrollment is the partner's standing in a program, which ends by a revocation (with
    its reason, the partner told, the enrollment.revoked webhook), never by disappearing with its partner,
    as the enrollment's own deletion is refused. Its people, its leads and the records of others it is on
    (engagements, accounts it resells, support) keep it (PROTECT): a person belongs to it, deactivated or
    not, until moved out of it, and a lead is never lost. Unpublishing takes a partner off Find a Partner
    meanwhile, which is what deleting one that stays in the records can be for."""
    approved = (
        ProgramEnrollment.objects.filter(partner__in=partners.values("pk"), status=EnrollmentStatus.APPROVED)
        .order_by("partner_id", "program__name")
        .values_list("partner_id", "program__name")
    )
    programs_of: dict[int, list[str]] = {}
    for partner_id, program in approved:
        programs_of.setdefault(partner_id, []).append(program)
    kept = kept_by(partners)
    held = list(
        Partner.objects.filter(pk__in=programs_of.keys() | kept.keys())
        .order_by("name", "pk")
        .values_list("pk", "name")[: _NAMED_HOLDING + 1]
    )
    named = held[:_NAMED_HOLDING]
    people_of: dict[int, list[str]] = {}
    with_people = [pk for pk, _ in named if "users" in kept.get(pk, {})]
    for partner_id, username in (
        get_user_model()
        .objects.filter(partner__in=with_people)
        .order_by("partner_id", "username")
        .values_list("partner_id", "username")
    ):
        people_of.setdefault(partner_id, []).append(username)
    problems = []
    for pk, name in named:
        if programs := programs_of.get(pk):
            one = len(programs) == 1
            problems.append(
                f"{name} holds {'an approved enrollment' if one else 'approved enrollments'} in "
                f"{short_list(programs, 5)}: revoke {'it' if one else 'them'} with a reason first, or "
                "unpublish the partner to take it off Find a Partner."
            )
        problems += _partner_kept_problems(name, kept.get(pk, {}), people_of.get(pk, []))
    if len(held) > _NAMED_HOLDING:
        more = len(programs_of.keys() | kept.keys()) - _NAMED_HOLDING
        problems.append(
            f"{more} more of the selected partners hold approved enrollments, or have people, leads or "
            "records of others that keep them: deselect them, or unpublish them instead."
        )
    return problems


# What else records a partner on, each kept with it: "recorded on 2 engagements it takes part in".
_PARTNER_KEPT_ON = {
    "engagements": ("engagement it takes part in", "engagements it takes part in"),
    "resold_accounts": ("AWS account it resells", "AWS accounts it resells"),
    "professional_services_bought": (
        "Professional Services engagement it bought",
        "Professional Services engagements it bought",
    ),
    "marketplace_subscriptions": (
        "marketplace subscription to its software",
        "marketplace subscriptions to its software",
    ),
    "support_subscriptions": ("support subscription it answers for", "support subscriptions it answers for"),
    "support_cases_opened": ("support case it opened", "support cases it opened"),
    "support_cases_handled": ("support case it handled", "support cases it handled"),
}


def _partner_kept_problems(name: str, kept: dict[str, int], people: list[str]) -> list[str]:
    problems = []
    if count := kept.get("users"):
        problems.append(
            f"{name} still has {plural(count, 'person, who belongs', 'people, who belong')} to it even "
            f"deactivated ({short_list(people, 5)}): move them to another organisation, or none, in the user "
            "admin first, or unpublish the partner to take it off Find a Partner."
        )
    if count := kept.get("contact_requests"):
        problems.append(
            f"{name} has been sent {plural(count, 'lead, which is', 'leads, which are')} kept for good: "
            "unpublish the partner to take it off Find a Partner instead."
        )
    records = {
        relation: count for relation, count in kept.items() if relation not in ("users", "contact_requests")
    }
    if records:
        listed = and_list(
            plural(count, *_PARTNER_KEPT_ON.get(relation, (relation.replace("_", " "),) * 2))
            for relation, count in records.items()
        )
        problems.append(
            f"{name} is recorded on {listed}, which {'keeps' if sum(records.values()) == 1 else 'keep'} it: "
            "unpublish the partner to take it off Find a Partner instead."
        )
    return problems


# Records that keep a program (PROTECT), as a refusal counts them: "3 enrollments".
_PROGRAM_KEPT_BY = {"enrollments": ("enrollment", "enrollments")}


def program_deletion_problems(programs) -> list[str]:
    """Why the programs (a query of them) cannot be deleted, one sentence each, or none: an enrollment,
    whatever its status, is its partner's record in the program (PROTECT), and a program has no retired
    state to put it in instead. An approved one is revoked with a reason, never deleted (the enrollment
    admin refuses it), and a partner's enrollments are deleted by its PDM, so the sentence names the
    partners and says how many are approved still."""
    kept = kept_by(programs)
    held = list(Program.objects.filter(pk__in=kept.keys()).order_by("name", "pk").values_list("pk", "name"))
    named = held[:_NAMED_HOLDING]
    partners_of: dict[int, list[str]] = {}
    approved_in: dict[int, int] = {}
    for program_id, partner, status in (
        ProgramEnrollment.objects.filter(program__in=[pk for pk, _ in named])
        .order_by("program_id", "partner__name", "partner_id")
        .values_list("program_id", "partner__name", "status")
    ):
        names = partners_of.setdefault(program_id, [])
        if partner not in names:
            names.append(partner)
        if status == EnrollmentStatus.APPROVED:
            approved_in[program_id] = approved_in.get(program_id, 0) + 1
    problems = []
    for pk, name in named:
        if count := kept[pk].get("enrollments"):
            one = count == 1
            approved = approved_in.get(pk, 0)
            if one:
                of_them = ", approved" if approved else ""
                advice = "revoke it with a reason, then delete it" if approved else "delete it first"
                advice += ", on its own page, by its partner's PDM."
            elif approved:
                of_them = f", {approved} of them approved"
                advice = (
                    f"revoke the approved {'one' if approved == 1 else 'ones'} with a reason, then delete "
                    "them, each on its own page, by its partner's PDM."
                )
            else:
                of_them = ""
                advice = "delete them first, each on its own page, by its partner's PDM."
            problems.append(
                f"{name} has {plural(count, *_PROGRAM_KEPT_BY['enrollments'])} "
                f"({short_list(partners_of.get(pk, []), 5)}){of_them}, which {'keeps' if one else 'keep'} "
                f"it: {advice}"
            )
        if others := {relation: n for relation, n in kept[pk].items() if relation != "enrollments"}:
            listed = and_list(
                plural(n, *_PROGRAM_KEPT_BY.get(relation, (relation.replace("_", " "),) * 2))
                for relation, n in others.items()
            )
            one = sum(others.values()) == 1
            problems.append(
                f"{name} has {listed}, which {'keeps' if one else 'keep'} it: delete "
                f"{'it' if one else 'them'} first, on {'its' if one else 'their'} own page."
            )
    if len(held) > _NAMED_HOLDING:
        problems.append(
            f"{len(held) - _NAMED_HOLDING} more of the selected programs have enrollments that keep them: "
            "deselect them."
        )
    return problems


# Admin lists and exports ------------------------------------------------------------------------------


def count_of(queryset) -> Coalesce:
    """COUNT(*) of a correlated queryset, as a scalar subquery: evaluated only for the rows a page shows."""
    counted = queryset.order_by().annotate(_count=Func(F("pk"), function="COUNT")).values("_count")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def partners_with_list_columns(queryset: QuerySet[Partner], on: datetime.date | None = None):
    """Partners with what a list row shows: headquarters country and city, active certifications and
    validated references. Each is a correlated subquery, so a page costs one query whatever its size and
    the list's ordering still walks an index."""
    on = on or timezone.localdate()
    headquarters = Office.objects.filter(partner=OuterRef("pk"), is_headquarters=True).order_by()
    return queryset.annotate(
        hq_country=Subquery(headquarters.values("country")[:1]),
        hq_city=Subquery(headquarters.values("city")[:1]),
        active_certification_count=count_of(
            active_certifications(on).filter(staff_member__partner=OuterRef("pk"))
        ),
        validated_reference_count=count_of(validated_references(on).filter(partner=OuterRef("pk"))),
    )


def staff_members_with_active_certification_count(queryset, on: datetime.date | None = None):
    return queryset.annotate(
        active_certification_count=count_of(active_certifications(on).filter(staff_member=OuterRef("pk")))
    )


def office_country_codes() -> list[str]:
    """The countries partners have offices in, for a country filter.

    On PostgreSQL a recursive query hops from one country to the next along the country index, so it
    reads one index entry per country rather than every office (PostgreSQL has no skip scan of its own).
    """
    if connection.vendor != "postgresql":
        return list(Office.objects.order_by("country").values_list("country", flat=True).distinct())
    table = connection.ops.quote_name(Office._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE countries AS (
                (SELECT country FROM {table} ORDER BY country LIMIT 1)
                UNION ALL
                SELECT (
                    SELECT o.country FROM {table} o WHERE o.country > c.country ORDER BY o.country LIMIT 1
                )
                FROM countries c WHERE c.country IS NOT NULL
            )
            SELECT country FROM countries WHERE country IS NOT NULL
            """
        )
        return [row[0] for row in cursor.fetchall()]


class _JoinedNames(Aggregate):
    """Names joined with "; " in one column: STRING_AGG on PostgreSQL, GROUP_CONCAT on SQLite."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, '; ' ORDER BY %(expressions)s)"
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            function="GROUP_CONCAT",
            template="%(function)s(%(expressions)s, '; ')",
            **extra_context,
        )


def _names_of(through, target: str) -> Subquery:
    names = (
        through.objects.filter(partner_id=OuterRef("pk"))
        .order_by()
        .values("partner_id")
        .annotate(names=_JoinedNames(f"{target}__name"))
        .values("names")
    )
    return Subquery(names, output_field=CharField())


PARTNER_EXPORT_HEADER = [
    "name",
    "slug",
    "type",
    "tier",
    "published",
    "pdm",
    "pdm_email",
    "headquarters_country",
    "headquarters_city",
    "categories",
    "industries",
    "use_cases",
    "website",
    "active_certifications",
    "validated_references",
]


def partners_export_rows(queryset: QuerySet[Partner], on: datetime.date | None = None):
    """One row per partner, in PARTNER_EXPORT_HEADER's order, from a single streamed query."""
    if "active_certification_count" not in queryset.query.annotations:
        queryset = partners_with_list_columns(queryset, on)
    rows = queryset.annotate(
        category_names=_names_of(Partner.categories.through, "consultingcategory"),
        industry_names=_names_of(Partner.industries.through, "industry"),
        use_case_names=_names_of(Partner.use_cases.through, "usecase"),
    ).values_list(
        "name",
        "slug",
        "partner_type",
        "tier__name",
        "is_published",
        "pdm__first_name",
        "pdm__last_name",
        "pdm__username",
        "pdm__email",
        "hq_country",
        "hq_city",
        "category_names",
        "industry_names",
        "use_case_names",
        "website",
        "active_certification_count",
        "validated_reference_count",
    )
    type_labels = dict(PartnerType.choices)
    for row in rows.iterator(chunk_size=2000):
        (name, slug, partner_type, tier, published, first, last, username, email, *rest) = row
        pdm = f"{first or ''} {last or ''}".strip() or username or ""
        yield [name, slug, type_labels.get(partner_type, partner_type), tier, published, pdm, email, *rest]
