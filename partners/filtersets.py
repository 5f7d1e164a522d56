"""Find-a-Partner's parameters, as one django-filter FilterSet for the page and the REST API alike.

The names are the public contract (docs: ../shared/DESIGN.md): `q`, `type`, `tier`, `program`,
`industry`, `use_case`, `country`, `sort`, plus `lat`, `lng` and `radius` (km) for a near search. Repeat a
filter to widen it (OR); different filters narrow (AND). The FilterSet filters a queryset of partners or
of search entries (partners.search decides how each reads); `filter_queryset(..., exclude=...)` leaves
filters out, which is how each facet counts "with the other filters applied".
"""

import django_filters
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import QueryDict

from partners.choices import PartnerType
from partners.search import (
    DEFAULT_RADIUS_KM,
    FACETS,
    MAX_RADIUS_KM,
    WORDS_MAX_LENGTH,
    Near,
    SearchWords,
    SortOrder,
    country_choices,
    filter_countries,
    filter_industries,
    filter_near,
    filter_partner_types,
    filter_programs,
    filter_tiers,
    filter_use_cases,
    filter_words,
    order_results,
    parse_search_words,
    search_vocabulary,
    sort_in_effect,
    with_sort_columns,
)

LOCATION_FILTERS = ("lat", "lng", "radius")


class ValuesField(forms.MultipleChoiceField):
    """Several values of one filter. Blank values are ignored and codes compared without case, so
    `?country=gb&tier=` means what a person meant."""

    def __init__(self, *args, uppercase=False, **kwargs):
        self.uppercase = uppercase
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        values = [str(item).strip() for item in super().to_python(value)]
        values = [item.upper() if self.uppercase else item.lower() for item in values if item]
        return list(dict.fromkeys(values))

    def valid_value(self, value):
        # A set, built once per form: the country filter has some 250 choices.
        if getattr(self, "_valid_values", None) is None:
            self._valid_values = {str(key) for key, _ in self.choices}
        return str(value) in self._valid_values


class ValuesFilter(django_filters.MultipleChoiceFilter):
    field_class = ValuesField


class FloatFilter(django_filters.NumberFilter):
    field_class = forms.FloatField


def _unknown(what: str) -> dict:
    # What the API answers with its 400; the page, which searches without the value, adds that it did
    # (PartnerFilterSet.forgiving).
    return {"invalid_choice": f"There is no {what} “%(value)s”."}


def _country_choices():
    return [(choice.value, choice.label) for choice in country_choices()]


class PartnerSearchForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        latitude, longitude = cleaned.get("lat"), cleaned.get("lng")
        # Each error on the parameter that is missing or stray, so the API can name it; the page leaves
        # out the whole place either way (PartnerFilterSet.forgiving).
        if (
            (latitude is None) != (longitude is None)
            and not self.has_error("lat")
            and not self.has_error("lng")
        ):
            self.add_error(
                "lng" if longitude is None else "lat",
                "A place needs both a latitude (lat) and a longitude (lng).",
            )
        elif cleaned.get("radius") is not None and latitude is None and longitude is None:
            self.add_error("radius", "A radius needs a place (lat and lng).")
        return cleaned


class PartnerFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_q",
        label="Search words",
        max_length=WORDS_MAX_LENGTH,
        error_messages={"max_length": f"Search words are limited to {WORDS_MAX_LENGTH} characters."},
        help_text='Web-search syntax: several words, "an exact phrase", -a word to exclude, OR.',
    )
    type = ValuesFilter(
        method="filter_type",
        label="Partner type",
        choices=PartnerType.choices,
        error_messages=_unknown("partner type"),
    )
    tier = ValuesFilter(method="filter_tier", label="Tier", error_messages=_unknown("tier"))
    program = ValuesFilter(method="filter_program", label="Program", error_messages=_unknown("program"))
    industry = ValuesFilter(method="filter_industry", label="Industry", error_messages=_unknown("industry"))
    use_case = ValuesFilter(method="filter_use_case", label="Use case", error_messages=_unknown("use case"))
    country = ValuesFilter(
        method="filter_country",
        label="Country (an office there)",
        choices=_country_choices,
        uppercase=True,
        error_messages=_unknown("country code"),
    )
    lat = FloatFilter(
        method="applied_in_filter_queryset",
        label="Latitude of the place to search near",
        min_value=-90,
        max_value=90,
        error_messages={
            "invalid": "The latitude must be a number from -90 to 90.",
            "min_value": "The latitude must be from -90 to 90.",
            "max_value": "The latitude must be from -90 to 90.",
        },
    )
    lng = FloatFilter(
        method="applied_in_filter_queryset",
        label="Longitude of the place to search near",
        min_value=-180,
        max_value=180,
        error_messages={
            "invalid": "The longitude must be a number from -180 to 180.",
            "min_value": "The longitude must be from -180 to 180.",
            "max_value": "The longitude must be from -180 to 180.",
        },
    )
    radius = FloatFilter(
        method="applied_in_filter_queryset",
        label=f"Radius in km (default {DEFAULT_RADIUS_KM})",
        min_value=1,
        max_value=MAX_RADIUS_KM,
        error_messages={
            "invalid": f"The radius must be a number of km from 1 to {MAX_RADIUS_KM}.",
            "min_value": f"The radius must be from 1 to {MAX_RADIUS_KM} km.",
            "max_value": f"The radius must be from 1 to {MAX_RADIUS_KM} km.",
        },
    )
    sort = django_filters.ChoiceFilter(
        method="applied_in_filter_queryset",
        label="Order",
        choices=SortOrder.choices,
        error_messages={"invalid_choice": "There is no order “%(value)s”."},
    )

    class Meta:
        form = PartnerSearchForm
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, vocabulary=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.vocabulary = vocabulary or search_vocabulary()
        # Raised when the words as typed find nothing (partners.search.SearchWords.typo_tolerance).
        self.typo_tolerance = 0
        # The parameters forgiving() left out, each with why: the page says it beside the field.
        self.left_out: dict[str, str] = {}
        for name in ("tier", "program", "industry", "use_case"):
            self.filters[name].extra["choices"] = [
                (choice.value, choice.label) for choice in self.vocabulary.choices(name)
            ]

    # What the parameters mean ----------------------------------------------------------------------

    @property
    def words(self) -> SearchWords:
        words = parse_search_words(self.form.cleaned_data.get("q") or "")
        return words.stretched_to(self.typo_tolerance) if self.typo_tolerance else words

    @property
    def near(self) -> Near | None:
        data = self.form.cleaned_data
        if data.get("lat") is None or data.get("lng") is None:
            return None
        return Near(data["lat"], data["lng"], data.get("radius") or DEFAULT_RADIUS_KM)

    @property
    def order(self) -> str:
        """The sort in effect (see partners.search.sort_in_effect)."""
        return sort_in_effect(
            self.form.cleaned_data.get("sort") or None, has_words=bool(self.words), has_near=bool(self.near)
        )

    @property
    def is_narrowed(self) -> bool:
        """Whether anything (words, a filter, a place) narrows the search."""
        data = self.form.cleaned_data
        return bool(
            self.words
            or self.near
            or any(data.get(name) for name in self.filters if name not in LOCATION_FILTERS and name != "sort")
        )

    @property
    def filtered_facets(self) -> list[str]:
        return [name for name in FACETS if self.form.cleaned_data.get(name)]

    # Filtering -------------------------------------------------------------------------------------

    def filter_queryset(self, queryset, *, exclude=()):
        """Apply every filter except those named in `exclude` (facet names, "q", "near", "sort")."""
        data = self.form.cleaned_data
        for name, filter_ in self.filters.items():
            if name in exclude or name in LOCATION_FILTERS or name == "sort":
                continue
            queryset = filter_.filter(queryset, data.get(name))
        near = self.near
        if near is not None and "near" not in exclude:
            queryset = filter_near(queryset, near)
        if "sort" not in exclude:
            queryset = order_results(with_sort_columns(queryset, words=self.words, near=near), self.order)
        return queryset

    def applied_in_filter_queryset(self, queryset, name, value):
        return queryset

    def filter_q(self, queryset, name, value: str):
        return filter_words(queryset, self.words)

    def filter_type(self, queryset, name, value: list[str]):
        return filter_partner_types(queryset, value)

    def filter_tier(self, queryset, name, value: list[str]):
        return filter_tiers(queryset, self.vocabulary.ids("tier", value))

    def filter_program(self, queryset, name, value: list[str]):
        return filter_programs(queryset, self.vocabulary.ids("program", value))

    def filter_industry(self, queryset, name, value: list[str]):
        return filter_industries(queryset, self.vocabulary.ids("industry", value))

    def filter_use_case(self, queryset, name, value: list[str]):
        return filter_use_cases(queryset, self.vocabulary.ids("use_case", value))

    def filter_country(self, queryset, name, value: list[str]):
        return filter_countries(queryset, value)

    # The public page forgives ----------------------------------------------------------------------

    @classmethod
    def forgiving(cls, data: QueryDict, *, queryset=None, vocabulary=None):
        """For the public page: parameters that are not valid are left out, each with a note saying so
        (and, by name, in the filterset's `left_out`), and the rest still apply. Returns (filterset,
        notes). The API uses the strict FilterSet: 400."""
        filterset = cls(data, queryset=queryset, vocabulary=vocabulary)
        if filterset.is_valid():
            return filterset, []
        notes: list[str] = []
        repaired = data.copy()
        errors_by_name = {
            name: [_left_out(name, error) for error in errors] if name != NON_FIELD_ERRORS else list(errors)
            for name, errors in filterset.form.errors.items()
        }
        for name, errors in errors_by_name.items():
            notes.extend(errors)
            if name == NON_FIELD_ERRORS:
                for location in LOCATION_FILTERS:
                    repaired.pop(location, None)
            elif isinstance(filterset.form.fields[name], ValuesField):
                field = filterset.form.fields[name]
                valid = [value for value in field.to_python(data.getlist(name)) if field.valid_value(value)]
                repaired.setlist(name, valid)
            else:
                repaired.pop(name, None)
                if name in ("lat", "lng"):
                    for location in LOCATION_FILTERS:
                        repaired.pop(location, None)
        left_out = {name: errors[0] for name, errors in errors_by_name.items() if name != NON_FIELD_ERRORS}
        filterset = cls(repaired, queryset=queryset, vocabulary=filterset.vocabulary)
        if not filterset.is_valid():  # every error above removed its parameter: a safety net only
            filterset = cls(QueryDict(), queryset=queryset, vocabulary=filterset.vocabulary)
            filterset.is_valid()
        filterset.left_out = left_out
        return filterset, notes


# What the page does instead of refusing a parameter it cannot use, said after the fault (forgiving());
# the API refuses with the fault alone.
_PAGE_DOES_INSTEAD = {
    "q": ", so they were left out.",
    "lat": "; the distance filter was left out.",
    "lng": "; the distance filter was left out.",
    "radius": "; it was left out.",
    "sort": "; the usual order is used.",
}


def _left_out(name: str, error: str) -> str:
    """A parameter's fault (`There is no tier “x”.`) as the page's note, which says what it did instead."""
    return error.removesuffix(".") + _PAGE_DOES_INSTEAD.get(name, ", so it was left out.")
