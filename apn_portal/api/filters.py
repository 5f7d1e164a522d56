"""Filtering and ordering shared by every API list."""

import datetime

import django_filters
from django import forms
from django.db import models
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.settings import api_settings

from apn_portal.fields import BIGINT_MAX, id_in_range
from apn_portal.http import NOT_AN_ID, plain_id


class StrictBooleanField(forms.Field):
    """`true`/`false` (or `1`/`0`); anything else is a 400, where Django's own boolean filter would
    quietly ignore it and return the unfiltered list."""

    widget = forms.TextInput
    default_error_messages = {"invalid": "Give true or false."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class IdField(forms.IntegerField):
    """An id in plain digits, as a body's related id and an address take it (IntegerField's int() would read
    "+7", "07", " 7" or a full-width seven as 7), that an id column can hold: SQLite cannot even be asked
    about a larger one (a 500), where PostgreSQL would quietly find nothing."""

    default_error_messages = {
        "invalid": NOT_AN_ID,
        "out_of_range": f"Out of range for an id: give a whole number up to {BIGINT_MAX}.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value)
        number = plain_id(text, max_digits=len(str(BIGINT_MAX)))
        if number is not None and id_in_range(number):
            return number
        if text.isascii() and text.isdigit() and not text.startswith("0"):  # plain digits, too many of them
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class IdFilter(django_filters.NumberFilter):
    """A record's id: a whole number (a NumberFilter alone takes 1.5 and reads it as 1)."""

    field_class = IdField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An integer in the schema too, where a NumberFilter on an `_id` column is any number. Set on each
        # filter, with its label: the schema takes nothing else from a filter whose type is given.
        extend_schema_field({"type": "integer", **({"description": self.label} if self.label else {})})(self)


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, read in UTC. One whose offset takes it out of years 1 to 9999 there is out of
    range: SQLite would fail converting it to UTC (a 500), and no row is stamped outside them anyway."""

    default_error_messages = {
        "out_of_range": "Out of range: the time, in UTC, must fall between 0001-01-01 and 9999-12-31.",
    }

    def to_python(self, value):
        try:
            value = super().to_python(value)
            return value.astimezone(datetime.UTC) if value is not None and value.tzinfo else value
        except OverflowError:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """Every date-time filter of the API (`updated_since`, `changed_after`, ...)."""

    field_class = UtcDateTimeField


class WordsFilter(django_filters.CharFilter):
    """Words a text field must hold (a list's `q`): each whitespace-separated word somewhere in it, in any
    order and any case, so `?q=Contoso Transport` finds "Contoso Ministry of Transport". Looked for as one
    piece of text, two words would be found only side by side."""

    def filter(self, qs, value):
        words = value.split() if value else []
        if not words:
            return qs
        lookup = f"{self.field_name}__icontains"
        return qs.filter(*(models.Q(**{lookup: word}) for word in words))


# What every API list reads besides its filters: its paging (`page`, `page_size`, and `cursor`, which the
# page-numbered lists take as well as the cursor lists; apn_portal.api.pagination), `ordering`
# (UniqueOrderingFilter, or the cursor paging's own) and the renderer's `format` (`?format=json`,
# `?format=api`). A value of one that a list cannot use is refused where it is read.
LIST_PARAMETERS = frozenset({"page", "page_size", "cursor", "ordering", api_settings.URL_FORMAT_OVERRIDE})


def repeated_error(name: str) -> str:
    return f"Give {name} once; it takes one value."


def single_param(request, name: str) -> str | None:
    """A query parameter that takes one value: None without it, a 400 naming it when given twice (read as
    its last value, it would answer otherwise than the client meant, with no sign of it)."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ValidationError({name: [repeated_error(name)]})
    return values[0] if values else None


def _takes_several(field: forms.Field) -> bool:
    """Whether a filter's form field reads every value of a repeated parameter (a multiple choice)."""
    return getattr(field.widget, "allow_multiple_selected", False)


class UpdatedSinceFilterSet(django_filters.FilterSet):
    """Base of every API FilterSet: `updated_since` lets an integrator fetch only what changed since its
    last sync (every model has `updated_at`); booleans are read strictly; a filter that takes one value
    given twice is a 400 naming it (a multiple choice takes each value given); and a parameter the list
    takes neither as a filter nor as one of the API's own (LIST_PARAMETERS) is a 400 naming it: ignored, a
    misspelt filter would answer with the whole list as if filtered, a misspelt `updated_since` with a full
    sync.

    `lists=False` when the FilterSet narrows the queryset a detail address looks its record up in
    (ApiFilterBackend): there a parameter it does not take is left alone, as on every other read of one
    record."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        models.DateTimeField: {"filter_class": DateTimeFilter},
    }

    updated_since = DateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label="Only rows changed at or after this time (ISO 8601; UTC unless a zone is given).",
    )

    def __init__(self, *args, lists: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.lists = lists
        for filter_ in self.filters.values():
            # Boolean filters a subclass declares by hand are read strictly too.
            if type(filter_) is django_filters.BooleanFilter:
                filter_.field_class = StrictBooleanField

    def is_valid(self):
        valid = super().is_valid()
        for name in self.filters:
            if name not in self.data:
                continue
            values = self.data.getlist(name)
            if len(values) > 1 and not _takes_several(self.form.fields[name]):
                # Read as its last value, it would filter otherwise than the integrator meant (see
                # single_param). That is the one mistake to correct: the last value's own error is not
                # said as well.
                self.form.errors.pop(name, None)
                self.form.add_error(name, repeated_error(name))
                valid = False
            elif any(not str(value).strip() for value in values):
                # `?updated_since=` is a client's mistake (a variable left unset), not "no filter": say
                # so, rather than answer with the whole list.
                self.form.add_error(name, "Give a value, or leave the parameter out.")
                valid = False
        if self.lists and self.is_bound:
            for name in sorted(set(self.data) - set(self.filters) - LIST_PARAMETERS):
                # Not form.add_error(), which takes only the form's own fields.
                self.form.errors[name] = self.form.error_class(
                    [f"Unknown parameter; this list filters on: {', '.join(self.filters)}."]
                )
                valid = False
        return valid


class ApiFilterBackend(DjangoFilterBackend):
    """The FilterSet of a list (UpdatedSinceFilterSet). DRF also filters the queryset in which a detail
    address (a read, an update, an action on one record) looks its record up: there the FilterSet does not
    refuse the parameters a list would not take."""

    def get_filterset_kwargs(self, request, queryset, view):
        return {
            **super().get_filterset_kwargs(request, queryset, view),
            "lists": not getattr(view, "detail", False),
        }


class UniqueOrderingFilter(OrderingFilter):
    """`?ordering=` on page-numbered lists, always ending with the unique `id` so pages never overlap.

    Without `?ordering=`, an ordering the FilterSet already applied (Find-a-Partner's `sort`, a search's
    relevance) is kept; otherwise the view's default `ordering` applies. One of the view's
    `ordering_fields`, `-` before it for descending, as on the cursor lists; anything else is a 400,
    where DRF would quietly use the default order.
    """

    def filter_queryset(self, request, queryset, view):
        requested = self.get_ordering(request, queryset, view) if self._has_param(request) else None
        if requested:
            ordering = list(requested)
        elif queryset.query.order_by:
            ordering = list(queryset.query.order_by)
        else:
            ordering = list(self.get_default_ordering(view) or queryset.model._meta.ordering or [])
        if not any(isinstance(key, str) and key.lstrip("-") in ("id", "pk") for key in ordering):
            # In the direction of the last key, so an index on that column serves the whole ordering.
            last = ordering[-1] if ordering else ""
            ordering.append("-id" if isinstance(last, str) and last.startswith("-") else "id")
        return queryset.order_by(*ordering)

    def get_ordering(self, request, queryset, view):
        if not self._has_param(request):  # the browsable API's ordering form asks too
            return self.get_default_ordering(view)
        # `?ordering=` left empty is a client's mistake too (a variable left unset), as on filters.
        value = single_param(request, self.ordering_param)
        fields = [name for name, _ in self.get_valid_fields(queryset, view, {"request": request})]
        allowed = self._choices(fields)
        if value not in allowed:
            # The body the cursor lists answer with (apn_portal.api.pagination.KeysetCursorPagination).
            raise ValidationError({self.ordering_param: [f"Order by one of: {', '.join(allowed)}."]})
        return [value]

    def get_schema_operation_parameters(self, view):
        fields = getattr(view, "ordering_fields", None)
        if not isinstance(fields, list | tuple):
            return super().get_schema_operation_parameters(view)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Order of the list; `id` breaks ties. Prefix `-` for descending.",
                "schema": {"type": "string", "enum": self._choices(fields)},
            }
        ]

    @staticmethod
    def _choices(fields) -> list[str]:
        return [prefix + name for name in fields if isinstance(name, str) for prefix in ("", "-")]

    def _has_param(self, request) -> bool:
        return self.ordering_param in request.query_params
