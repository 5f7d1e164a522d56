"""Upkeep of the search entries (PartnerSearchEntry) that Find-a-Partner reads on PostgreSQL.

Every refresh is one INSERT ... ON CONFLICT DO UPDATE for any number of partners, so a single save, a
bulk import and a full rebuild of 100,000 partners all take the same path. A use case that changes a
partner and several of its records (its tags) runs under `partner_search_refresh_batched`, so the
signals of each change refresh the partner's entry once, at the end, rather than once per signal. What
counts as an active enrollment or certification comes from partners.selectors, so the search can never
disagree with the tier evaluation about it. On any database but PostgreSQL these functions do nothing.
"""

import datetime
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.postgres.aggregates import ArrayAgg, StringAgg
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Min, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from partners.choices import EnrollmentStatus
from partners.models import (
    Certification,
    Office,
    Partner,
    PartnerSearchEntry,
    ProgramEnrollment,
)
from partners.selectors import active_certifications, active_enrollments
from partners.selectors_visibility import references_public

# partners 0028: english, with accents dropped before stemming (unaccent).
SEARCH_CONFIG = "apn_search"
# The front page's counts over every published partner, cached by partners.search_results; any refresh
# drops them, so they are recomputed from the entries as they now are.
UNFILTERED_COUNTS_CACHE_KEY = "find-a-partner:unfiltered-counts:v1"
# What each filter can take (tiers, programs, industries, use cases), cached by partners.search.
VOCABULARY_CACHE_KEY = "find-a-partner:vocabulary:v1"
# The first day on which an entry goes stale (PartnerSearchEntry.stale_on), for
# partner_search_entries_bring_up_to_date. Any refresh drops it; it is also kept only briefly, so a value
# read just before a concurrent refresh (and cached just after it) is not trusted for long.
NEXT_STALE_CACHE_KEY = "find-a-partner:next-stale-on:v1"
NEXT_STALE_CACHE_SECONDS = 300
# Serialises the refreshes made by reads (pg_advisory_xact_lock): one writes, the others then find nothing.
_BRING_UP_TO_DATE_LOCK = 0x5EA5C4

PartnerIds = Iterable[int] | QuerySet | None


# The partners named by refreshes inside `partner_search_refresh_batched`, None outside it.
_batched: ContextVar[set[int] | None] = ContextVar("partner_search_batched", default=None)


def search_index_available() -> bool:
    return connection.vendor == "postgresql"


def _target(partner_ids: PartnerIds):
    """The partners to refresh, as something `partner_id__in` takes without one parameter per id."""
    if partner_ids is None:
        return None
    if isinstance(partner_ids, QuerySet):
        return partner_ids
    ids = sorted({int(pk) for pk in partner_ids})
    # One array parameter, however many ids: a long IN list would hit the driver's parameter limit.
    return RawSQL("SELECT unnest(%s::bigint[])", (ids,))


def _restricted(queryset, column: str, target):
    return queryset if target is None else queryset.filter(**{f"{column}__in": target})


def _compiled(queryset) -> tuple[str, tuple]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def _aggregates(target, today: datetime.date) -> list[tuple[str, QuerySet]]:
    """(alias, grouped queryset) pairs, each one row per partner with `partner_id` and its columns."""
    # `earned_on` and `approved_on` in the future: the day such a row starts counting.
    upcoming_certifications = Certification.objects.filter(earned_on__gt=today)
    # What the card counts is what the public profile lists, and no more: a hidden reference stays hidden.
    # Those launching later count from their launch day (references_public on the end of time: all the
    # public ones that will ever count).
    upcoming_references = references_public(datetime.date.max).filter(launched_on__gt=today)
    upcoming_enrollments = ProgramEnrollment.objects.filter(
        status=EnrollmentStatus.APPROVED, approved_on__gt=today, expires_on__gte=F("approved_on")
    )
    through = Partner.categories.through
    return [
        (
            "enrollments",
            _restricted(active_enrollments(today), "partner_id", target)
            .values("partner_id")
            .annotate(
                ids=ArrayAgg("program_id", distinct=True),
                names=StringAgg("program__name", delimiter=" "),
                # The day after the first one lapses, the entry is out of date.
                first_expiry=Min("expires_on"),
            )
            .order_by(),
        ),
        (
            "upcoming_enrollments",
            _restricted(upcoming_enrollments, "partner_id", target)
            .values("partner_id")
            .annotate(first_start=Min("approved_on"))
            .order_by(),
        ),
        (
            "certifications",
            _restricted(active_certifications(today), "staff_member__partner_id", target)
            .values(partner_id=F("staff_member__partner_id"))
            .annotate(count=Count("id"), first_expiry=Min("expires_on"))
            .order_by(),
        ),
        (
            "upcoming_certifications",
            _restricted(upcoming_certifications, "staff_member__partner_id", target)
            .values(partner_id=F("staff_member__partner_id"))
            .annotate(first_start=Min("earned_on"))
            .order_by(),
        ),
        (
            "references_",
            _restricted(references_public(today), "partner_id", target)
            .values("partner_id")
            .annotate(count=Count("id"))
            .order_by(),
        ),
        (
            "upcoming_references",
            _restricted(upcoming_references, "partner_id", target)
            .values("partner_id")
            .annotate(first_start=Min("launched_on"))
            .order_by(),
        ),
        (
            "categories",
            _restricted(through.objects.all(), "partner_id", target)
            .values("partner_id")
            .annotate(names=StringAgg("consultingcategory__name", delimiter=" "))
            .order_by(),
        ),
        (
            "industries",
            _restricted(Partner.industries.through.objects.all(), "partner_id", target)
            .values("partner_id")
            .annotate(ids=ArrayAgg("industry_id", distinct=True), names=StringAgg("industry__name", " "))
            .order_by(),
        ),
        (
            "use_cases",
            _restricted(Partner.use_cases.through.objects.all(), "partner_id", target)
            .values("partner_id")
            .annotate(ids=ArrayAgg("usecase_id", distinct=True), names=StringAgg("usecase__name", " "))
            .order_by(),
        ),
        (
            "offices",
            _restricted(Office.objects.all(), "partner_id", target)
            .values("partner_id")
            .annotate(codes=ArrayAgg("country", distinct=True))
            .order_by(),
        ),
    ]


# The weights say where a word was found: name (A) above programs (B) above categories, industries and
# use cases (C) above the description (D).
_UPSERT = """
INSERT INTO partners_partnersearchentry (
    partner_id, name, is_published, partner_type, tier_id, tier_rank, document,
    program_ids, industry_ids, use_case_ids, country_codes, facet_keys,
    active_certifications, validated_references, stale_on
)
SELECT
    p.id, p.name, p.is_published, p.partner_type, p.tier_id, t.rank,
    -- PostgreSQL's parser reads "AI/ML" or "CI/CD" as one path, which no query holds: a slash parts words.
    setweight(to_tsvector(%(config)s::regconfig, translate(p.name, '/', ' ')), 'A')
    || setweight(to_tsvector(%(config)s::regconfig, translate(coalesce(enrollments.names, ''), '/', ' ')),
                 'B')
    || setweight(to_tsvector(%(config)s::regconfig, translate(concat_ws(' ', categories.names,
                                                                        industries.names, use_cases.names),
                                                              '/', ' ')), 'C')
    || setweight(to_tsvector(%(config)s::regconfig, translate(p.description, '/', ' ')), 'D'),
    coalesce(enrollments.ids, '{}'), coalesce(industries.ids, '{}'), coalesce(use_cases.ids, '{}'),
    coalesce(offices.codes, '{}'),
    ARRAY['type:' || p.partner_type, 'tier:' || p.tier_id]
    || ARRAY(SELECT 'program:' || v FROM unnest(enrollments.ids) AS v)
    || ARRAY(SELECT 'industry:' || v FROM unnest(industries.ids) AS v)
    || ARRAY(SELECT 'use_case:' || v FROM unnest(use_cases.ids) AS v)
    || ARRAY(SELECT 'country:' || v FROM unnest(offices.codes) AS v),
    coalesce(certifications.count, 0), coalesce(references_.count, 0),
    least(
        enrollments.first_expiry + 1, upcoming_enrollments.first_start,
        certifications.first_expiry + 1, upcoming_certifications.first_start,
        upcoming_references.first_start
    )
FROM partners_partner p
JOIN partners_tier t ON t.id = p.tier_id
{joins}
{where}
-- Rows are written, and locked, in one order whoever refreshes: a search bringing stale entries up to
-- date and a change refreshing a few of them at the same moment wait on each other, never deadlock.
ORDER BY p.id
ON CONFLICT (partner_id) DO UPDATE SET
    name = EXCLUDED.name,
    is_published = EXCLUDED.is_published,
    partner_type = EXCLUDED.partner_type,
    tier_id = EXCLUDED.tier_id,
    tier_rank = EXCLUDED.tier_rank,
    document = EXCLUDED.document,
    program_ids = EXCLUDED.program_ids,
    industry_ids = EXCLUDED.industry_ids,
    use_case_ids = EXCLUDED.use_case_ids,
    country_codes = EXCLUDED.country_codes,
    facet_keys = EXCLUDED.facet_keys,
    active_certifications = EXCLUDED.active_certifications,
    validated_references = EXCLUDED.validated_references,
    stale_on = EXCLUDED.stale_on
"""


def _ids(partner_ids: Iterable) -> set[int]:
    """Plain ids, from ids or a queryset of them (values() rows included), read now: later in the batch
    the rows it names may be gone (a deleted person's partner)."""
    ids = set()
    for row in partner_ids:
        ids.update(row.values() if isinstance(row, dict) else (row,))
    return {int(pk) for pk in ids if pk is not None}


@contextmanager
def partner_search_refresh_batched() -> Iterator[None]:
    """Collect the refreshes of named partners made inside the block (by the signals of each save and tag
    change) and make them as one at its end; open it inside the use case's transaction, so the entries
    change with the records. A block that raises refreshes nothing: its transaction is rolled back. Inside
    another batch, the outer one refreshes."""
    if _batched.get() is not None:
        yield
        return
    batch: set[int] = set()
    token = _batched.set(batch)
    try:
        yield
    finally:
        _batched.reset(token)
    if batch:
        partner_search_refresh(batch)


def _entries_locked(target, *, skip_locked: bool) -> list[int]:
    """Lock the entries of `target` (every entry when None), in partner order, before they are worked out
    again: the statement that works them out then starts once every change holding one has committed,
    and reads it. (An INSERT ... SELECT that waits on a row writes what it read before the wait: an
    unpublished partner's entry would be written published again, and never be due to be corrected.)
    With `skip_locked`, entries a change is writing now are left to that change. The ids locked."""
    entries = PartnerSearchEntry.objects.order_by("partner_id")
    if target is not None:
        entries = entries.filter(partner_id__in=target)
    return list(entries.select_for_update(skip_locked=skip_locked).values_list("partner_id", flat=True))


def partner_search_refresh(
    partner_ids: PartnerIds = None, *, today: datetime.date | None = None, skip_locked: bool = False
) -> int:
    """Bring the search entries of these partners (ids or a queryset of ids; all partners when None) up
    to date, in one statement. Returns how many entries were written: none inside
    `partner_search_refresh_batched`, which refreshes named partners at its end. With `skip_locked`, only
    the existing entries that no change is writing now (for reads, which must not wait for one)."""
    if not search_index_available():
        return 0
    batch = _batched.get()
    if batch is not None and partner_ids is not None and today is None:
        batch.update(_ids(partner_ids))
        return 0
    today = today or timezone.localdate()
    target = _target(partner_ids)
    with transaction.atomic():
        locked = _entries_locked(target, skip_locked=skip_locked)
        if skip_locked and not locked:
            return 0
        written = _entries_write(_target(locked) if skip_locked else target, today)
    search_caches_drop_with_the_change()
    return written


def search_caches_drop_with_the_change() -> None:
    """Drop what the searches cache (the front page's counts, the filters' choices) for a change to the
    entries, now and once more when the change commits: a search running meanwhile reads the entries as
    they were and would cache their counts again, for a minute, after this change is in."""
    _search_caches_drop()
    transaction.on_commit(_search_caches_drop)


def _entries_write(target, today: datetime.date) -> int:
    joins, params = [], []
    for alias, queryset in _aggregates(target, today):
        sql, sql_params = _compiled(queryset)
        joins.append(f"LEFT JOIN ({sql}) AS {alias} ON {alias}.partner_id = p.id")
        params.extend(sql_params)
    where = ""
    if target is not None:
        target_sql, target_params = _compiled(Partner.objects.filter(pk__in=target).values("pk"))
        where = f"WHERE p.id IN ({target_sql})"
        params.extend(target_params)
    # The aggregates' SQL uses %s placeholders; the named ones below are ours.
    statement = (
        _UPSERT.replace("%(config)s", "%s").replace("{joins}", "\n".join(joins)).replace("{where}", where)
    )
    config_params = [SEARCH_CONFIG] * 4
    with connection.cursor() as cursor:
        cursor.execute(statement, (*config_params, *params))
        return cursor.rowcount


def _search_caches_drop() -> None:
    cache.delete_many([UNFILTERED_COUNTS_CACHE_KEY, VOCABULARY_CACHE_KEY, NEXT_STALE_CACHE_KEY])


def partner_search_refresh_due(today: datetime.date | None = None, *, skip_locked: bool = False) -> int:
    """Refresh the entries whose counts change today or earlier (an expiry, a certification starting)."""
    if not search_index_available():
        return 0
    today = today or timezone.localdate()
    due = PartnerSearchEntry.objects.filter(stale_on__lte=today).values("partner_id")
    return partner_search_refresh(due, today=today, skip_locked=skip_locked)


def partner_search_entries_bring_up_to_date(today: datetime.date | None = None) -> int:
    """For whatever reads the entries (Find-a-Partner, the API's partner list), first: refresh those gone
    stale since the scheduled refresh (search_refresh_due, every 15 minutes) last ran, such as a program
    enrollment or certification that expired at midnight, so no search shows or filters by it, even
    while the worker is down. While nothing is due it costs a cache read, and one indexed query after a
    refresh or every few minutes. Returns how many entries were written."""
    if not search_index_available():
        return 0
    today = today or timezone.localdate()
    next_stale = cache.get(NEXT_STALE_CACHE_KEY)
    if next_stale is None:
        next_stale = PartnerSearchEntry.objects.aggregate(first=Min("stale_on"))["first"] or datetime.date.max
        cache.set(NEXT_STALE_CACHE_KEY, next_stale, NEXT_STALE_CACHE_SECONDS)
    if next_stale > today:
        return 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_BRING_UP_TO_DATE_LOCK])
        # An entry a change is writing now (a scheduled check's transaction may run for minutes) is that
        # change's to bring up to date: the search shows it as it is until the change commits.
        return partner_search_refresh_due(today, skip_locked=True)
