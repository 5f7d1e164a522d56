"""Find-a-Partner's reads: what a search finds, in which order, its facet counts and its pages.

On PostgreSQL a search reads one table, PartnerSearchEntry (kept by partners.search_index): a weighted
search document with prefix matching and typo tolerance on names, and arrays of ids for the filters and
facets. On the embedded SQLite default the same parameters read the partner tables, with plain
matching. The filters work on entries and on partners alike, so the REST API can reuse them (through
partners.filtersets.PartnerFilterSet).
"""

import functools
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramSimilarity
from django.core.cache import cache
from django.db import models
from django.db.models import Case, Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt
from django.utils.translation import get_language
from django_countries import countries

from partners.choices import PartnerType
from partners.models import (
    Industry,
    Office,
    Partner,
    PartnerSearchEntry,
    Program,
    Tier,
    UseCase,
)
from partners.search_index import (
    SEARCH_CONFIG,
    VOCABULARY_CACHE_KEY,
    partner_search_entries_bring_up_to_date,
    search_index_available,
)
from partners.selectors import active_certifications, active_enrollments, count_of
from partners.selectors_visibility import partners_published, references_public

PAGE_SIZE = 20
WORDS_MAX_LENGTH = 200
WORDS_MAX_TERMS = 24
DEFAULT_RADIUS_KM = 100
MAX_RADIUS_KM = 5000
EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_OF_LATITUDE = math.pi * EARTH_RADIUS_KM / 180
# Adjacent letters swapped in a word this long or longer still finds a partner's name.
TYPO_MIN_WORD_LENGTH = 4
# pg_trgm compares the whole of what was typed with names only from this length: shorter is noise.
TRIGRAM_MIN_LENGTH = 3
TOLERATE_SWAPPED_LETTERS = 1
TOLERATE_RESEMBLING_NAMES = 2
TYPO_TOLERANCE_LEVELS = (TOLERATE_SWAPPED_LETTERS, TOLERATE_RESEMBLING_NAMES)
# A safety net only: edits drop the cached vocabulary at once (partners.search_signals).
VOCABULARY_CACHE_SECONDS = 10 * 60

# The weight of a word found in the description (D), categories, industries and use cases (C), programs (B)
# and the name (A): with_sort_columns.
RANK_WEIGHTS = [0.001, 0.01, 0.1, 1.0]

# The words PostgreSQL's english configuration, and so apn_search, leaves out of documents and queries as
# too common to tell partners apart (its tsearch_data/english.stop). A search of nothing else ("AT&T",
# "The Who") would be an empty query, which matches nothing: filter_words looks for them in names.
TOO_COMMON_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
    her hers herself it its itself they them their theirs themselves what which who whom this that
    these those am is are was were be been being have has had having do does did doing a an the and
    but if or because as until while of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then once here
    there when where why how all any both each few more most other some such no nor not only own
    same so than too very s t can will just don should now
    """.split()  # noqa: SIM905 (the list as PostgreSQL writes it, not 127 lines)
)


class SortOrder(models.TextChoices):
    RELEVANCE = "relevance", "Best match"
    TIER = "tier", "Tier, then certifications"
    NAME = "name", "Name, A to Z"
    CERTIFICATIONS = "certifications", "Most active certifications"
    REFERENCES = "references", "Most validated references"
    DISTANCE = "distance", "Nearest first"


def sort_applies(requested: str | None, *, has_words: bool, has_near: bool) -> bool:
    """Whether the order asked for can apply: best match needs words, nearest first a place."""
    if requested == SortOrder.RELEVANCE:
        return has_words
    if requested == SortOrder.DISTANCE:
        return has_near
    return True


def sort_in_effect(requested: str | None, *, has_words: bool, has_near: bool) -> str:
    """The order a search uses: the one asked for when it applies, else best match for words, nearest
    for a place, and tier then certifications otherwise. (The page falls back so, with a note; the API
    refuses a sort that cannot apply: partners.api.filters.)"""
    if requested and sort_applies(requested, has_words=has_words, has_near=has_near):
        return requested
    if has_words:
        return SortOrder.RELEVANCE
    return SortOrder.DISTANCE if has_near else SortOrder.TIER


# Search words -----------------------------------------------------------------------------------------

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
# Letters and digits, with the dots inside a name kept ("node.js", "asp.net"): text search reads such a
# name as one word, in documents and queries alike.
_WORD_PART = re.compile(r"[^\W_]+(?:\.[^\W_]+)*")


@dataclass(frozen=True)
class Term:
    text: str
    phrase: bool = False
    negated: bool = False

    @property
    def parts(self) -> list[str]:
        """The letters-and-digits runs of the term (_WORD_PART): all a text-search query is built from,
        so no character a user types can break its syntax."""
        return _WORD_PART.findall(self.text.lower())

    @property
    def whole_word(self) -> bool:
        """A letter with symbols (`C#`, `C++`, `F#`), or a word after a dot (`.NET`), which text search
        reads as that letter or word alone: as the start of a word it would find nearly every partner
        ("cloud", "network"), so it is matched as a whole word."""
        parts = self.parts
        if len(parts) != 1:
            return False
        return (len(parts[0]) == 1 and not self.text.isalnum()) or self.text.startswith(".")

    @property
    def ends_in_a_prefix(self) -> bool:
        """Whether its last part may be the start of a word, typed so far: not in an exclusion or a whole
        word, nor a lone letter after others (`M&A`, `R&D`: "a" and "d" are whole words; `S/4` may be
        the start of "S/4HANA")."""
        parts = self.parts
        lone_letter_after_others = len(parts) > 1 and len(parts[-1]) == 1 and parts[-1].isalpha()
        return not (self.negated or self.whole_word or lone_letter_after_others)

    @property
    def too_common(self) -> bool:
        """Words text search leaves out of documents and queries alike (TOO_COMMON_WORDS), as it reads
        them: without accents."""
        return all(_without_accents(part) in TOO_COMMON_WORDS for part in self.parts)


@dataclass(frozen=True)
class SearchWords:
    """Words in web-search syntax: `migration -sap`, `"data lake"`, `sap OR oracle`. All groups must
    match; within a group (terms joined by OR) any term may."""

    groups: tuple[tuple[Term, ...], ...] = ()
    # How far to stretch when the words as typed find nothing (see partners.search_results), each level
    # costlier than the last: 0 exact; 1 every word a prefix, and name words with two adjacent letters
    # swapped; 2 also names resembling what was typed as a whole (pg_trgm).
    typo_tolerance: int = 0

    def __bool__(self):
        return bool(self.groups)

    def could_stretch_to(self, level: int) -> bool:
        if self.only_too_common:
            # Names hold these words as typed or not at all; any word of a name may start with them.
            return False
        if level == TOLERATE_SWAPPED_LETTERS:
            return any(not (term.negated or term.phrase or term.whole_word) for term in self.terms)
        return level == TOLERATE_RESEMBLING_NAMES and len(self.wanted_text) >= TRIGRAM_MIN_LENGTH

    def stretched_to(self, level: int) -> "SearchWords":
        return SearchWords(self.groups, typo_tolerance=level)

    @property
    def terms(self) -> list[Term]:
        return [term for group in self.groups for term in group]

    @property
    def only_too_common(self) -> bool:
        """Every word wanted is one text search leaves out (Term.too_common)."""
        wanted = [term for term in self.terms if not term.negated]
        return bool(wanted) and all(term.too_common for term in wanted)

    @property
    def telling(self) -> "SearchWords":
        """The words that tell partners apart: without those text search leaves out (Term.too_common,
        outside a phrase: "migration to the cloud" is "migration cloud"), unless they are all there is."""
        if self.only_too_common:
            return self
        return self.without(lambda term: term.too_common and not term.phrase)

    def without(self, leave_out) -> "SearchWords":
        """These words without the terms `leave_out(term)` is true of, and without groups left empty."""
        groups = (tuple(term for term in group if not leave_out(term)) for group in self.groups)
        return SearchWords(tuple(group for group in groups if group), typo_tolerance=self.typo_tolerance)

    @property
    def wanted_text(self) -> str:
        return " ".join(term.text for term in self.terms if not term.negated)

    @property
    def unwanted(self) -> list[Term]:
        return [term for term in self.terms if term.negated]


def _without_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def parse_search_words(text: str) -> SearchWords:
    groups: list[tuple[Term, ...]] = []
    joins_previous = False
    for match in _TOKEN.finditer(text or ""):
        minus, quoted, bare = match.groups()
        if bare is not None:
            if bare.upper() == "OR":
                joins_previous = bool(groups)
                continue
            negated = bare.startswith("-") and len(bare) > 1
            term = Term(bare[1:] if negated else bare, negated=negated)
        else:
            term = Term(" ".join(quoted.split()), phrase=True, negated=bool(minus))
        if not term.parts:
            continue
        if joins_previous:
            groups[-1] = (*groups[-1], term)
        else:
            groups.append((term,))
        joins_previous = False
        if sum(len(group) for group in groups) >= WORDS_MAX_TERMS:
            break
    return SearchWords(tuple(groups))


def _swapped_letters(word: str) -> list[str]:
    """Every spelling of `word` with two adjacent letters swapped: how most typos in a name look."""
    variants = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    variants.discard(word)
    return sorted(variants)


def _typo_candidate(term: Term) -> str | None:
    parts = term.parts
    if term.phrase or term.negated or len(parts) != 1:
        return None
    word = parts[0]
    return word if len(word) >= TYPO_MIN_WORD_LENGTH and word.isalnum() and not word.isdigit() else None


def _term_query(term: Term, *, prefix: bool, swapped_letters: bool) -> SearchQuery:
    if term.phrase:
        query = SearchQuery(" ".join(term.parts), search_type="phrase", config=SEARCH_CONFIG)
    else:
        # Prefix matching: "migra" finds "migration".
        *before, last = term.parts
        raw = " & ".join([*before, f"{last}:*" if prefix and term.ends_in_a_prefix else last])
        typo = _typo_candidate(term) if swapped_letters else None
        if typo:
            # A name word (weight A) typed with two letters swapped.
            raw = " | ".join([f"({raw})", *(f"{variant}:A" for variant in _swapped_letters(typo))])
        query = SearchQuery(raw, search_type="raw", config=SEARCH_CONFIG)
    return ~query if term.negated else query


def _any_of(queries):
    combined = None
    for query in queries:
        combined = query if combined is None else combined | query
    return combined


def words_query(words: SearchWords) -> SearchQuery:
    """The tsquery for the words: each group's terms ORed, the groups ANDed.

    The last word is a prefix, as typed so far ("kube" finds Kubernetes); a prefix of every word costs
    three times as much on a large index, so that waits for the retry that also tolerates typos.
    """
    wanted = [term for term in words.terms if not term.negated and not term.phrase]
    last = wanted[-1] if wanted else None
    stretched = words.typo_tolerance >= TOLERATE_SWAPPED_LETTERS
    combined = None
    for group in words.groups:
        group_query = _any_of(
            _term_query(term, prefix=stretched or term is last, swapped_letters=stretched) for term in group
        )
        combined = group_query if combined is None else combined & group_query
    return combined


# Which table a queryset reads -------------------------------------------------------------------------


def _entry_field(queryset: QuerySet, name: str) -> str | None:
    """The lookup for a search entry column from this queryset, or None when it reads the partner tables
    directly (not PostgreSQL)."""
    if queryset.model is PartnerSearchEntry:
        return name
    if search_index_available():
        return f"search_entry__{name}"
    return None


def filter_words(queryset: QuerySet, words: SearchWords) -> QuerySet:
    if not words:
        return queryset
    document = _entry_field(queryset, "document")
    if words.only_too_common:
        # Whole words of names ("IT" is not the start of "Italia"), as text search would have them if it
        # kept them; the exclusions as in any search.
        wanted = words.without(lambda term: term.negated)
        names = _plain_words_condition(wanted, lambda pattern: Q(name__iregex=pattern), whole_words=True)
        if document is None:
            unwanted = words.without(lambda term: not term.negated)
            return queryset.filter(names, _plain_words_condition(unwanted))
        # Through the published entries' name index, read whole: the words are too short for pg_trgm's. An
        # unpublished partner, shown only to its own staff, is not found by such words.
        in_names = PartnerSearchEntry.objects.filter(names, is_published=True)
        queryset = queryset.filter(pk__in=in_names.values("partner_id"))
        # Outside the names' subquery: inside, the planner would read the names through pg_trgm's index,
        # every one of them, as it has no trigram to go by.
        return queryset.exclude(**{document: _unwanted_query(words)}) if words.unwanted else queryset
    if document is None:
        return queryset.filter(_plain_words_condition(words))
    if words.typo_tolerance < TOLERATE_RESEMBLING_NAMES:
        return queryset.filter(**{document: words_query(words)})
    # Also names that resemble what was typed as a whole ("Cobalt Falcn Cloud"): pg_trgm similarity
    # of the whole strings (`%`, at least 0.3), since word similarity would take every name that merely
    # shares a word. Each is its own index-driven subquery: joined by OR in one condition, the planner
    # would compute the trigram similarity of every name.
    entries = PartnerSearchEntry.objects.order_by()
    found = entries.filter(document=words_query(words)).values("pk")
    similar_names = entries.filter(name__trigram_similar=words.wanted_text)
    if words.unwanted:
        similar_names = similar_names.exclude(document=_unwanted_query(words))
    return queryset.filter(pk__in=found.union(similar_names.values("pk")))


def _unwanted_query(words: SearchWords) -> SearchQuery:
    phrases = (" ".join(term.parts) for term in words.unwanted)
    return _any_of(SearchQuery(phrase, search_type="phrase", config=SEARCH_CONFIG) for phrase in phrases)


# A word starts or ends where a letter or digit meets anything else (as in Term.parts), except a dot
# between two ("Node.js", "C.V." are one word each, as text search reads them). Written for both Python's
# re (SQLite's REGEXP, through Django) and PostgreSQL's regular expressions, whose brackets take no \W,
# without lookarounds, which cost PostgreSQL a quarter more time per name.
_PLAIN_WORD_START = r"(^|[^\w.]|_)\.?"
_PLAIN_WORD_END = r"([^\w.]|_|$|\.(\W|_|$))"
_PLAIN_WORD_GAP = r"(\W|_)+"


def _plain_pattern(*terms: Term, whole_words: bool = False) -> str:
    """The regular expression plain matching finds a term by, or any of `terms`: its words in order, the
    first at the start of a word, the last at the end of one unless it Term.ends_in_a_prefix. So "ai"
    finds "AI" but not "Dubai", "art" not "partner", and `-ai` leaves a partner in "retail" in."""
    alternatives = []
    for term in terms:
        words = _PLAIN_WORD_GAP.join(re.escape(part) for part in term.parts)
        alternatives.append(words if term.ends_in_a_prefix and not whole_words else words + _PLAIN_WORD_END)
    alternatives = list(dict.fromkeys(alternatives))
    if len(alternatives) == 1:
        return _PLAIN_WORD_START + alternatives[0]
    return _PLAIN_WORD_START + "(?:" + "|".join(alternatives) + ")"


def _plain_words_condition(
    words: SearchWords, term_found: Callable[[str], Q] | None = None, *, whole_words: bool = False
) -> Q:
    """The embedded default's matching: each term, ignoring case (in every alphabet: SQLite's LIKE folds
    ASCII letters only) by _plain_pattern, in what PostgreSQL's search document holds (the name, the
    active programs, the categories, industries and use cases, and the description), or as `term_found`
    looks for it. Words text search leaves out beside others ("migration to the cloud") are left out
    here too."""
    term_found = term_found or _plain_term_found
    condition = Q()
    for group in words.telling.groups:
        # A group's wanted terms are one pattern: each its own would read every name once more.
        wanted = [term for term in group if not term.negated]
        group_condition = term_found(_plain_pattern(*wanted, whole_words=whole_words)) if wanted else Q()
        for term in group:
            if term.negated:
                group_condition |= ~term_found(_plain_pattern(term, whole_words=whole_words))
        condition &= group_condition
    return condition


def _plain_term_found(pattern: str) -> Q:
    partner = OuterRef("pk")
    tagged = (
        Exists(through.objects.filter(partner_id=partner, **{f"{target}__name__iregex": pattern}))
        for through, target in (
            (Partner.categories.through, "consultingcategory"),
            (Partner.industries.through, "industry"),
            (Partner.use_cases.through, "usecase"),
        )
    )
    return (
        Q(name__iregex=pattern)
        | Q(description__iregex=pattern)
        | Exists(active_enrollments().filter(partner_id=partner, program__name__iregex=pattern))
        | Q(*tagged, _connector=Q.OR)
    )


# Filters ----------------------------------------------------------------------------------------------


def filter_partner_types(queryset: QuerySet, partner_types: list[str]) -> QuerySet:
    return queryset.filter(partner_type__in=partner_types)


def filter_tiers(queryset: QuerySet, tier_ids: list[int]) -> QuerySet:
    return queryset.filter(tier_id__in=tier_ids)


def filter_programs(queryset: QuerySet, program_ids: list[int]) -> QuerySet:
    column = _entry_field(queryset, "program_ids")
    if column:
        return queryset.filter(**{f"{column}__overlap": program_ids})
    return queryset.filter(
        Exists(active_enrollments().filter(partner=OuterRef("pk"), program_id__in=program_ids))
    )


def filter_industries(queryset: QuerySet, industry_ids: list[int]) -> QuerySet:
    column = _entry_field(queryset, "industry_ids")
    if column:
        return queryset.filter(**{f"{column}__overlap": industry_ids})
    through = Partner.industries.through.objects.filter(partner=OuterRef("pk"), industry_id__in=industry_ids)
    return queryset.filter(Exists(through))


def filter_use_cases(queryset: QuerySet, use_case_ids: list[int]) -> QuerySet:
    column = _entry_field(queryset, "use_case_ids")
    if column:
        return queryset.filter(**{f"{column}__overlap": use_case_ids})
    through = Partner.use_cases.through.objects.filter(partner=OuterRef("pk"), usecase_id__in=use_case_ids)
    return queryset.filter(Exists(through))


def filter_countries(queryset: QuerySet, country_codes: list[str]) -> QuerySet:
    column = _entry_field(queryset, "country_codes")
    if column:
        return queryset.filter(**{f"{column}__overlap": country_codes})
    return queryset.filter(Exists(Office.objects.filter(partner=OuterRef("pk"), country__in=country_codes)))


# Near a place -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Near:
    latitude: float
    longitude: float
    radius_km: float = DEFAULT_RADIUS_KM

    def latitude_range(self) -> tuple[float, float]:
        span = self.radius_km / KM_PER_DEGREE_OF_LATITUDE
        return max(-90.0, self.latitude - span), min(90.0, self.latitude + span)

    def longitude_ranges(self) -> list[tuple[float, float]] | None:
        """The longitudes the circle spans (two ranges across the antimeridian), or None for all of them
        (the circle holds a pole)."""
        south, north = self.latitude_range()
        angular_radius = self.radius_km / EARTH_RADIUS_KM
        if south <= -90 or north >= 90 or angular_radius >= math.pi / 2:
            return None
        ratio = math.sin(angular_radius) / math.cos(math.radians(self.latitude))
        if ratio >= 1:
            return None
        span = math.degrees(math.asin(ratio))
        west, east = self.longitude - span, self.longitude + span
        if west < -180:
            return [(west + 360, 180.0), (-180.0, east)]
        if east > 180:
            return [(west, 180.0), (-180.0, east - 360)]
        return [(west, east)]


def _distance_km(near: Near):
    """Great-circle distance from `near` to an office, by the haversine formula, in SQL."""

    def number(value):
        return Value(float(value), output_field=FloatField())

    latitude = Radians(F("latitude"))
    half_dlat = Sin((latitude - number(math.radians(near.latitude))) / number(2))
    half_dlng = Sin((Radians(F("longitude")) - number(math.radians(near.longitude))) / number(2))
    a = Power(half_dlat, 2) + number(math.cos(math.radians(near.latitude))) * Cos(latitude) * Power(
        half_dlng, 2
    )
    # Rounding can push `a` a hair above 1, where asin() is undefined.
    return number(2 * EARTH_RADIUS_KM) * ASin(Sqrt(Least(a, number(1))))


def offices_near(near: Near) -> QuerySet[Office]:
    """Offices within the radius, each with `distance_km`. The bounding box comes first, on the indexed
    coordinates, so only the offices inside it have their distance computed."""
    south, north = near.latitude_range()
    box = Q(latitude__gte=south, latitude__lte=north)
    ranges = near.longitude_ranges()
    if ranges is not None:
        box &= _any_of(Q(longitude__gte=west, longitude__lte=east) for west, east in ranges)
    return (
        Office.objects.filter(box)
        .annotate(distance_km=_distance_km(near))
        .filter(distance_km__lte=near.radius_km)
        .order_by()
    )


def filter_near(queryset: QuerySet, near: Near) -> QuerySet:
    return queryset.filter(pk__in=offices_near(near).values("partner_id"))


def _nearest_office_km(near: Near):
    nearest = offices_near(near).filter(partner_id=OuterRef("pk")).order_by("distance_km")
    return Subquery(nearest.values("distance_km")[:1], output_field=FloatField())


# Order ------------------------------------------------------------------------------------------------


def with_sort_columns(queryset: QuerySet, *, words: SearchWords, near: Near | None) -> QuerySet:
    """Annotate what results are sorted by and show: `certification_count`, `reference_count`,
    `tier_order`, and `relevance` (with words) and `distance_km` (with a place)."""
    certifications = _entry_field(queryset, "active_certifications")
    if certifications:
        annotations = {
            "certification_count": F(certifications),
            "reference_count": F(_entry_field(queryset, "validated_references")),
            "tier_order": F(_entry_field(queryset, "tier_rank")),
        }
    else:
        annotations = {
            "certification_count": count_of(
                active_certifications().filter(staff_member__partner=OuterRef("pk"))
            ),
            "reference_count": count_of(references_public().filter(partner=OuterRef("pk"))),
            "tier_order": F("tier__rank"),
        }
    if words and _entry_field(queryset, "document"):
        document = _entry_field(queryset, "document")
        query = words_query(words)
        # Named by the words first, then in a program about them, then by category, industry or use case,
        # then by description. Not divided by the document's length: a long description would pull a name
        # below a program. Each weight a tenth or less of the one above (PostgreSQL's own are 1, 0.4, 0.2
        # and 0.1), so a description repeating the words a dozen times does not outgrow a name either.
        relevance = SearchRank(F(document), query, weights=RANK_WEIGHTS, normalization=Value(0))
        wanted = words.wanted_text
        if words.typo_tolerance >= TOLERATE_RESEMBLING_NAMES:
            # Found only for resembling a name: rank it by how close.
            relevance = relevance + Case(
                When(Q(**{document: query}), then=Value(0.0)),
                default=TrigramSimilarity(_entry_field(queryset, "name"), wanted),
                output_field=FloatField(),
            )
        annotations["relevance"] = relevance
    elif words:
        # Plain matching has no rank: a partner named by the words comes before one that describes them.
        relevance = Value(0.0)
        for term in words.telling.terms:
            if not term.negated:
                relevance = relevance + Case(
                    When(name__iregex=_plain_pattern(term), then=Value(1.0)),
                    default=Value(0.0),
                    output_field=FloatField(),
                )
        annotations["relevance"] = relevance
    if near is not None:
        annotations["distance_km"] = _nearest_office_km(near)
    return queryset.annotate(**annotations)


def ordering(sort: str) -> list:
    """The order of a queryset annotated by with_sort_columns; name and id break ties, so pages never
    overlap."""
    by_tier = [F("tier_order").desc(), F("certification_count").desc()]
    leading = {
        SortOrder.RELEVANCE: [F("relevance").desc(nulls_last=True), *by_tier],
        SortOrder.TIER: by_tier,
        SortOrder.NAME: [],
        SortOrder.CERTIFICATIONS: [F("certification_count").desc(), F("tier_order").desc()],
        SortOrder.REFERENCES: [F("reference_count").desc(), F("tier_order").desc()],
        SortOrder.DISTANCE: [F("distance_km").asc(nulls_last=True)],
    }[sort]
    return [*leading, F("name").asc(), F("pk").asc()]


def order_results(queryset: QuerySet, sort: str) -> QuerySet:
    return queryset.order_by(*ordering(sort))


# Vocabulary: what each filter can take ------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SearchVocabulary:
    """The values each filter takes and how they read, loaded once per request (four small queries)."""

    partner_types: tuple[Choice, ...]
    tiers: tuple[Choice, ...]
    programs: tuple[Choice, ...]
    industries: tuple[Choice, ...]
    use_cases: tuple[Choice, ...]

    def choices(self, facet: str) -> tuple[Choice, ...]:
        if facet == "country":
            return country_choices()
        return getattr(self, FACETS[facet].vocabulary)

    def ids(self, facet: str, values) -> list[int]:
        wanted = set(values)
        return sorted(pk for choice in self.choices(facet) if choice.value in wanted for pk in choice.ids)


@functools.cache
def _country_choices(language: str) -> tuple[Choice, ...]:
    return tuple(Choice(code, str(name)) for code, name in countries)


def country_choices() -> tuple[Choice, ...]:
    """Every country, named in the active language: sorting them costs, so once per language."""
    return _country_choices(get_language())


@functools.cache
def _country_names(language: str) -> dict[str, str]:
    return {choice.value: choice.label for choice in _country_choices(language)}


def country_names() -> dict[str, str]:
    """Code -> name in the active language: django_countries' own lookup costs 0.1 ms a call."""
    return _country_names(get_language())


def search_vocabulary() -> SearchVocabulary:
    """The vocabulary, from the cache: it changes when a PDM edits a tier, program, industry or use case,
    and partners.search_signals then drops it."""
    vocabulary = cache.get(VOCABULARY_CACHE_KEY)
    if vocabulary is None:
        vocabulary = _load_vocabulary()
        cache.set(VOCABULARY_CACHE_KEY, vocabulary, VOCABULARY_CACHE_SECONDS)
    return vocabulary


def _load_vocabulary() -> SearchVocabulary:
    tiers: dict[str, list[Tier]] = defaultdict(list)
    for tier in Tier.objects.order_by("-rank", "partner_type"):
        tiers[tier.slug].append(tier)

    def tier_label(same_slug: list[Tier]) -> str:
        return " / ".join(dict.fromkeys(tier.name for tier in same_slug))

    def terms(model) -> tuple[Choice, ...]:
        rows = model.objects.values_list("pk", "slug", "name")
        return tuple(Choice(slug, name, (pk,)) for pk, slug, name in rows)

    return SearchVocabulary(
        partner_types=tuple(Choice(value, label) for value, label in PartnerType.choices),
        tiers=tuple(
            Choice(slug, tier_label(same_slug), tuple(t.pk for t in same_slug))
            for slug, same_slug in tiers.items()
        ),
        programs=terms(Program),
        industries=terms(Industry),
        use_cases=terms(UseCase),
    )


# Facets -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FacetDefinition:
    name: str
    legend: str
    # The search entry's column of this facet's values alone (an array when `is_array`).
    entry_column: str
    is_array: bool
    vocabulary: str = ""


FACETS = {
    facet.name: facet
    for facet in (
        FacetDefinition("type", "Partner type", "partner_type", False, "partner_types"),
        FacetDefinition("tier", "Tier", "tier_id", False, "tiers"),
        FacetDefinition("program", "Programs", "program_ids", True, "programs"),
        FacetDefinition("industry", "Industries", "industry_ids", True, "industries"),
        FacetDefinition("use_case", "Use cases", "use_case_ids", True, "use_cases"),
        FacetDefinition("country", "Countries with an office", "country_codes", True),
    )
}
# A search entry's `facet_keys` hold "<facet name>:<value>", as partners.search_index writes them.
FACET_KEY_SEPARATOR = ":"


def search_base() -> QuerySet:
    """Where a public search starts: published partners, through their search entries on PostgreSQL
    (brought up to date first: partner_search_entries_bring_up_to_date)."""
    if search_index_available():
        partner_search_entries_bring_up_to_date()
        return PartnerSearchEntry.objects.filter(is_published=True)
    return partners_published()
