"""Running a Find-a-Partner search: its total, the facet counts and one page of results.

On PostgreSQL one statement does it all: the matching search entries are read once, numbered in the
search's order, and the page, the total and every facet's counts are taken from that one result (a
facet whose filter is in use counts over the results without it, as a shop's sidebar does). Three
small queries then load what the page's cards show. On the embedded SQLite default the same answers
come from the partner tables, in two statements.
"""

import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery

from partners.choices import PartnerType
from partners.filtersets import LOCATION_FILTERS
from partners.models import Office, Partner, PartnerSearchEntry
from partners.search import (
    FACET_KEY_SEPARATOR,
    FACETS,
    PAGE_SIZE,
    TYPO_TOLERANCE_LEVELS,
    SearchVocabulary,
    country_names,
    ordering,
    with_sort_columns,
)
from partners.search_index import UNFILTERED_COUNTS_CACHE_KEY
from partners.selectors import active_enrollments

FACET_VISIBLE_OPTIONS = 6
T = TypeVar("T")
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class FacetCounts:
    """Per facet, value -> how many results have it with every other filter applied; `total` is the
    number of results, and `total_without[facet]` how many there would be without that facet's filter."""

    values: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    total: int = 0
    total_without: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PageRow:
    partner_id: int
    certification_count: int
    reference_count: int
    distance_km: float | None


def _compiled(queryset: QuerySet) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def _filtered(filterset, base, exclude=()):
    return filterset.filter_queryset(base, exclude=(*exclude, "sort"))


# PostgreSQL: one statement on the search entries ----------------------------------------------------------


def _search_entries(filterset, base: QuerySet, offset: int, limit: int) -> tuple[FacetCounts, list[PageRow]]:
    if not filterset.is_narrowed:
        # The front page: everyone's first view, the same for all. Its counts, over every published
        # partner, are computed once a minute; its page comes straight from the order's index.
        counts = cache.get(UNFILTERED_COUNTS_CACHE_KEY)
        if counts is None:
            counts, _ = _facets_and_page(filterset, base, offset=0, limit=0)
            cache.set(UNFILTERED_COUNTS_CACHE_KEY, counts, settings.FIND_A_PARTNER_UNFILTERED_COUNTS_SECONDS)
        return counts, _page_rows(filterset.filter_queryset(base), offset, limit)
    return _facets_and_page(filterset, base, offset, limit)


def _facets_and_page(filterset, base: QuerySet, offset: int, limit: int) -> tuple[FacetCounts, list[PageRow]]:
    near = filterset.near
    filtered_facets = filterset.filtered_facets
    results = _filtered(filterset, base)
    columns = ["pk"]
    if limit:
        results = with_sort_columns(results, words=filterset.words, near=near)
        order = ordering(filterset.order)
        # What the page shows and what it is sorted by.
        columns += ["certification_count", "reference_count", "tier_order", "name"]
        columns += [name for name in ("relevance", "distance_km") if name in results.query.annotations]
    counts_unfiltered_facets = len(filtered_facets) < len(FACETS)
    if counts_unfiltered_facets:
        columns.append("facet_keys")
    results_sql, params = _compiled(results.values(*dict.fromkeys(columns)).order_by())
    ctes = [f"results AS MATERIALIZED ({results_sql})"]
    selects = ["SELECT 'total', NULL, count(*), NULL, NULL, NULL FROM results"]
    if limit:
        # The page: a top-N sort of the results, cheaper than numbering them all.
        order_sql = _order_by_sql(order)
        distance = "distance_km" if near is not None else "NULL::double precision"
        selects.append(
            f"SELECT 'page', pk::text, row_number() OVER (ORDER BY {order_sql}), certification_count, "
            f"reference_count, {distance} FROM (SELECT * FROM results ORDER BY {order_sql} "
            f"LIMIT {int(limit)} OFFSET {int(offset)}) AS page_rows"
        )
    for name in filtered_facets:
        # A facet whose filter is in use counts the results without that filter.
        column = FACETS[name].entry_column
        without = _filtered(filterset, base, exclude=(name,))
        sql, sql_params = _compiled(without.values(column).order_by())
        ctes.append(f"without_{name} AS MATERIALIZED ({sql})")
        params.extend(sql_params)
        selects.append(f"SELECT 'total:{name}', NULL, count(*), NULL, NULL, NULL FROM without_{name}")
        selects.append(_facet_count_select(name, f"without_{name}"))
    if counts_unfiltered_facets:
        # Every facet at once; those whose filter is in use are counted above and skipped when read.
        selects.append(_facet_keys_count_select("results"))
    sql = "WITH " + ",\n".join(ctes) + "\n" + "\nUNION ALL ".join(selects)
    counts, page = FacetCounts(), []
    with transaction.atomic(), connection.cursor() as cursor:
        # For this statement only: PostgreSQL's defaults suit big reports on spinning disks, not a search
        # whose data is in memory. JIT compiling costs more than it saves (100 ms on a broad search),
        # and the default random_page_cost makes a seq scan look cheaper than a GIN index scan that is
        # three times faster.
        cursor.execute("SELECT set_config('jit', 'off', true), set_config('random_page_cost', '1.1', true)")
        cursor.execute(sql, params)
        for kind, value, number, certifications, references, distance_km in cursor.fetchall():
            if kind == "page":  # `number`: its place on the page
                page.append((number, PageRow(int(value), certifications, references, distance_km)))
            elif kind == "facets":
                name, _, facet_value = value.partition(FACET_KEY_SEPARATOR)
                if name not in filtered_facets:
                    counts.values[name][facet_value] = number
            else:
                _count_row(counts, kind, value, number)
    return counts, [row for _, row in sorted(page, key=lambda item: item[0])]


def _order_by_sql(order: list) -> str:
    """ORDER BY over the results' columns, from partners.search.ordering (OrderBy of F expressions)."""
    clauses = []
    for expression in order:
        column = expression.expression.name
        nulls = " NULLS LAST" if expression.nulls_last else " NULLS FIRST" if expression.nulls_first else ""
        clauses.append(f'"{column}" {"DESC" if expression.descending else "ASC"}{nulls}')
    return ", ".join(clauses)


def _facet_count_select(name: str, source: str) -> str:
    """Count one facet's values over `source`, from the facet's own column. unnest() in the select list
    (ProjectSet) is several times cheaper than a lateral join."""
    column = FACETS[name].entry_column
    values = f"unnest({column})" if FACETS[name].is_array else column
    return (
        f"SELECT '{name}', v::text, count(*), NULL, NULL, NULL "
        f"FROM (SELECT {values} AS v FROM {source}) AS facet_values GROUP BY v"
    )


def _facet_keys_count_select(source: str) -> str:
    """Count every facet's values over `source` in one pass, from the entries' `facet_keys`: one
    aggregate over one array costs half as much as one per facet."""
    return (
        "SELECT 'facets', key, count(*), NULL, NULL, NULL "
        f"FROM (SELECT unnest(facet_keys) AS key FROM {source}) AS facet_values GROUP BY key"
    )


def _count_row(counts: FacetCounts, kind: str, value, number: int) -> None:
    if kind == "total":
        counts.total = number
    elif kind.startswith("total:"):
        counts.total_without[kind.removeprefix("total:")] = number
    elif value is not None:
        counts.values[kind][value] = number


# Elsewhere: the partner tables ----------------------------------------------------------------------------


def _search_partners(filterset, base: QuerySet, offset: int, limit: int) -> tuple[FacetCounts, list[PageRow]]:
    counts = _facet_counts_from_partners(filterset, base)
    return counts, _page_rows(filterset.filter_queryset(base), offset, limit) if counts.total else []


def _facet_counts_from_partners(filterset, base) -> FacetCounts:
    """The counts as one UNION ALL of grouped queries over (partner, value) pairs."""
    filtered_facets = filterset.filtered_facets

    def source(name):
        return _filtered(filterset, base, exclude=(name,) if name in filtered_facets else ()).values("pk")

    # Each pair once: a partner with two offices in a country counts once there.
    pairs = {
        "type": Partner.objects.filter(pk__in=source("type")).values(p=F("pk"), v=F("partner_type")),
        "tier": Partner.objects.filter(pk__in=source("tier")).values(p=F("pk"), v=F("tier_id")),
        "program": active_enrollments()
        .filter(partner_id__in=source("program"))
        .values(p=F("partner_id"), v=F("program_id")),
        "industry": Partner.industries.through.objects.filter(partner_id__in=source("industry")).values(
            p=F("partner_id"), v=F("industry_id")
        ),
        "use_case": Partner.use_cases.through.objects.filter(partner_id__in=source("use_case")).values(
            p=F("partner_id"), v=F("usecase_id")
        ),
        "country": Office.objects.filter(partner_id__in=source("country")).values(
            p=F("partner_id"), v=F("country")
        ),
    }
    selects, params = [], []
    total_sql, total_params = _compiled(_filtered(filterset, base).values("pk"))
    selects.append(f"SELECT 'total', NULL, count(*) FROM ({total_sql}) AS results")
    params.extend(total_params)
    for name in filtered_facets:
        sql, sql_params = _compiled(source(name))
        selects.append(f"SELECT 'total:{name}', NULL, count(*) FROM ({sql}) AS without_{name}")
        params.extend(sql_params)
    for name, queryset in pairs.items():
        sql, sql_params = _compiled(queryset.distinct().order_by())
        selects.append(f"SELECT '{name}', CAST(v AS TEXT), count(*) FROM ({sql}) AS pairs_{name} GROUP BY v")
        params.extend(sql_params)
    counts = FacetCounts()
    with connection.cursor() as cursor:
        cursor.execute("\nUNION ALL ".join(selects), params)
        for kind, value, number in cursor.fetchall():
            _count_row(counts, kind, value, number)
    return counts


def _page_rows(ordered: QuerySet, offset: int, limit: int) -> list[PageRow]:
    columns = ["pk", "certification_count", "reference_count"]
    has_distance = "distance_km" in ordered.query.annotations
    if has_distance:
        columns.append("distance_km")
    return [
        PageRow(row[0], row[1], row[2], row[3] if has_distance else None)
        for row in ordered.values_list(*columns)[offset : offset + limit]
    ]


# Cards ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    """What a result's card shows."""

    partner_id: int
    name: str
    slug: str
    partner_type: str
    description: str
    logo: str
    tier_name: str
    tier_slug: str
    headquarters_city: str | None
    headquarters_country: str | None
    headquarters_country_name: str
    programs: list[str]
    certification_count: int
    reference_count: int
    distance_km: float | None = None

    @property
    def partner_type_label(self) -> str:
        return PartnerType(self.partner_type).label

    @property
    def logo_url(self) -> str:
        return default_storage.url(self.logo) if self.logo else ""


def result_cards(page: list[PageRow]) -> list[ResultRow]:
    """What each card shows, in plain values: one query on PostgreSQL (the programs as an array), two
    elsewhere, whatever the page size."""
    if not page:
        return []
    ids = [row.partner_id for row in page]
    headquarters = Office.objects.filter(partner=OuterRef("pk")).order_by("-is_headquarters", "pk")
    columns = {
        "tier_name": F("tier__name"),
        "tier_slug": F("tier__slug"),
        "headquarters_city": Subquery(headquarters.values("city")[:1]),
        "headquarters_country": Subquery(headquarters.values("country")[:1]),
    }
    enrollments = active_enrollments().order_by("program__name")
    on_postgresql = connection.vendor == "postgresql"
    if on_postgresql:
        columns["programs"] = ArraySubquery(
            enrollments.filter(partner_id=OuterRef("pk")).values("program__name")
        )
    # Only published partners, even if an entry has not yet caught up with an unpublishing.
    partners = {
        values.pop("pk"): values
        for values in Partner.objects.filter(pk__in=ids, is_published=True)
        .order_by()
        .values("pk", "name", "slug", "partner_type", "description", "logo", **columns)
    }
    if not on_postgresql:
        programs = defaultdict(list)
        pairs = enrollments.filter(partner_id__in=ids).values_list("partner_id", "program__name")
        for partner_id, name in pairs:
            programs[partner_id].append(name)
        for partner_id, values in partners.items():
            values["programs"] = programs[partner_id]
    names = country_names()
    return [
        ResultRow(
            partner_id=row.partner_id,
            **values,
            headquarters_country_name=names.get(values["headquarters_country"], ""),
            certification_count=row.certification_count,
            reference_count=row.reference_count,
            distance_km=row.distance_km,
        )
        for row in page
        if (values := partners.get(row.partner_id)) is not None
    ]


# A whole search ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loosening:
    """A way out of an empty result: drop one filter (`name`: a facet, "q" or "near") to get `count`."""

    name: str
    count: int


@dataclass
class SearchPage:
    rows: list[ResultRow]
    total: int
    number: int
    page_count: int
    page_size: int
    counts: FacetCounts
    sort: str
    typos_tolerated: bool = False
    loosenings: list[Loosening] = field(default_factory=list)

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.page_size + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.number * self.page_size, self.total)


def search_tolerating_typos(
    filterset,
    base: QuerySet,
    search: Callable[[], T],
    *,
    found: Callable[[T], object],
    words_found: Callable[[T], bool] | None = None,
) -> T:
    """`search()` (a search of `base` with `filterset`) as the words were typed and, while the words find
    nothing, again at each level of typo tolerance they can stretch to. The page and the API both search
    through here, so they find the same partners.

    The words alone decide how far they stretch: to the first level at which they find anything in `base`,
    whatever else narrows the search (a facet, a place, the API's `updated_since`). Those only narrow what
    the words find, so a facet's count is what choosing it finds, and a filter never brings in a partner
    the search without it leaves out: words that find partners as typed, none of which pass the filters,
    find nothing (and the page says which filter to drop).

    Words that find something as typed with the filters cost one search. Otherwise, where the search is
    the words alone, or `words_found(result)` reads from a search's result whether the words alone find
    anything (the page's count without its only filter), each level is tried by searching: no more
    queries than the words alone would take. Elsewhere one small statement says how far the words alone
    stretch, then one more search at that level, only if they find anything at all."""
    result = search()
    if found(result) or not filterset.words.could_stretch_to(TYPO_TOLERANCE_LEVELS[0]):
        return result
    if words_found is None and _narrowed_beyond_words(filterset):
        # Words that find nothing at any level find nothing with filters either: nothing to search again.
        level = _first_level_words_find(filterset, base)
        if level:
            filterset.typo_tolerance = level
            result = search()
        return result
    words_found = words_found or found
    for level in TYPO_TOLERANCE_LEVELS:
        if not filterset.words.could_stretch_to(level) or words_found(result):
            break
        filterset.typo_tolerance = level
        result = search()
        if found(result):
            break
    return result


def _filters_beyond_words(filterset) -> list[str]:
    return [name for name in filterset.filters if name not in ("q", "sort", *LOCATION_FILTERS)]


def _narrowed_beyond_words(filterset) -> bool:
    """Whether anything but the words narrows the search: a facet, a place, the API's `updated_since`."""
    data = filterset.form.cleaned_data
    return filterset.near is not None or any(data.get(name) for name in _filters_beyond_words(filterset))


def _first_level_words_find(filterset, base: QuerySet) -> int | None:
    """The first level of typo tolerance at which the search's words alone find anything in `base`, or
    None. One statement; each level is read only if the one before finds nothing."""
    levels = [0]
    for level in TYPO_TOLERANCE_LEVELS:
        if not filterset.words.could_stretch_to(level):
            break
        levels.append(level)
    exclude = (*_filters_beyond_words(filterset), "near", "sort")
    ctes, cases, params = [], [], []
    tolerance = filterset.typo_tolerance
    try:
        for level in levels:
            filterset.typo_tolerance = level
            words_alone = filterset.filter_queryset(base, exclude=exclude)
            sql, sql_params = _compiled(words_alone.values("pk").order_by())
            # MATERIALIZED: planned to be read whole, from the indexes. Planned for its first row (as
            # EXISTS would be), a search that finds nothing would read every entry to be sure.
            ctes.append(f"level_{level} AS MATERIALIZED ({sql})")
            cases.append(f"WHEN EXISTS (SELECT FROM level_{level}) THEN {level}")
            params.extend(sql_params)
    finally:
        filterset.typo_tolerance = tolerance
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} SELECT CASE {' '.join(cases)} END", params)
        return cursor.fetchone()[0]


def partner_search_page(filterset, base: QuerySet, *, page: int, page_size: int = PAGE_SIZE) -> SearchPage:
    """Run a search (see the module's docstring). Words that find nothing as typed, whatever the filters,
    are tried again with typo tolerance on names (see search_tolerating_typos). A page number past the end
    shows the last page. With no results, it says which filter to drop and what that would give."""
    on_entries = base.model is PartnerSearchEntry
    number = max(page, 1)
    if on_entries:
        only_facet = filterset.filtered_facets[0] if len(filterset.filtered_facets) == 1 else None
        counts, rows = search_tolerating_typos(
            filterset,
            base,
            lambda: _search_entries(filterset, base, (number - 1) * page_size, page_size),
            found=lambda result: result[0].total,
            # With one facet filtered and no place, its count without that filter is the words' alone.
            words_found=(lambda result: result[0].total_without[only_facet] > 0)
            if only_facet and filterset.near is None
            else None,
        )
    else:
        counts, rows = _search_partners(filterset, base, (number - 1) * page_size, page_size)
    page_count = max(1, math.ceil(counts.total / page_size))
    if number > page_count:
        number = page_count
        if counts.total:
            rows = _page_rows(filterset.filter_queryset(base), (number - 1) * page_size, page_size)
    loosenings = []
    if not counts.total:
        loosenings = [Loosening(name, counts.total_without[name]) for name in filterset.filtered_facets]
        if filterset.words:
            loosenings.append(Loosening("q", _filtered(filterset, base, exclude=("q",)).count()))
        if filterset.near:
            loosenings.append(Loosening("near", _filtered(filterset, base, exclude=("near",)).count()))
        loosenings.sort(key=lambda loosening: -loosening.count)
    return SearchPage(
        rows=result_cards(rows),
        total=counts.total,
        number=number,
        page_count=page_count,
        page_size=page_size,
        counts=counts,
        sort=filterset.order,
        typos_tolerated=bool(filterset.typo_tolerance and counts.total),
        loosenings=loosenings,
    )


# Facets as the page shows them -------------------------------------------------------------------------


@dataclass(frozen=True)
class FacetOption:
    facet: str
    value: str
    label: str
    count: int
    selected: bool

    @property
    def dom_id(self) -> str:
        return f"f-{self.facet}-{_NOT_ID.sub('-', self.value)}"


@dataclass(frozen=True)
class FacetGroup:
    name: str
    legend: str
    options: list[FacetOption]
    more_options: list[FacetOption]

    @property
    def selected(self) -> list[FacetOption]:
        return [option for option in self.options + self.more_options if option.selected]


def facet_groups(counts: FacetCounts, vocabulary: SearchVocabulary, selected: dict[str, list[str]]):
    """Each facet's options with their counts. Short lists show whole; long ones show the selected
    values and the most common, with the others (those that would find anything) behind "more"."""
    groups = []
    for name, facet in FACETS.items():
        chosen = set(selected.get(name) or [])
        facet_counts_by_key = counts.values.get(name, {})
        options = []
        for choice in vocabulary.choices(name):
            keys = [str(pk) for pk in choice.ids] if choice.ids else [choice.value]
            count = sum(facet_counts_by_key.get(key, 0) for key in keys)
            options.append(FacetOption(name, choice.value, choice.label, count, choice.value in chosen))
        if name in ("type", "tier"):
            groups.append(FacetGroup(name, facet.legend, options, []))
            continue
        options = [option for option in options if option.count or option.selected]
        by_count = sorted(options, key=lambda option: (-option.count, option.label))
        shown = [option for option in by_count if option.selected]
        shown += [option for option in by_count if not option.selected][
            : max(0, FACET_VISIBLE_OPTIONS - len(shown))
        ]
        shown_values = {option.value for option in shown}
        more = sorted(
            (option for option in options if option.value not in shown_values), key=lambda o: o.label
        )
        groups.append(FacetGroup(name, facet.legend, shown, more))
    return groups
