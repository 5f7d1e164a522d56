"""Paging for API lists.

Small lists page by number (with a total count, at most 100 a page). Large and growing lists
(certifications, contact requests, tier changes...) page by keyset cursor: no COUNT(*), and a client
walking them from the first page to the last sees every row that existed when it started exactly once,
however many rows are inserted meanwhile, because each page starts strictly after the last row of the
previous one in an ordering that ends with the unique `id`. A page-numbered list walked the way a copy
or a sync walks it (`ordering=id`, or `ordering=updated_at` oldest first, or no `ordering` where the
list's own order is one of those) continues by the same cursor.
"""

import base64
import binascii
import datetime
import json
from collections import OrderedDict

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import EmptyPage
from django.db.models import F, Field, Func, Value
from django.db.models.lookups import GreaterThan, LessThan, Lookup
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

from apn_portal.admin import MAX_ROW_OFFSET, CappedCountPaginator
from apn_portal.api.filters import single_param
from apn_portal.http import whole_number


def positive_int_param(request, name: str, default: int | None) -> int | None:
    """A query parameter that must be a whole number of at least 1 when given (400 otherwise)."""
    if name not in request.query_params:
        return default
    raw = request.query_params.getlist(name)
    value = whole_number(raw[0]) if len(raw) == 1 else None
    if value is not None and value >= 1:
        return value
    raise ValidationError({name: ["Give one whole number of at least 1."]})


class ApiCountPaginator(CappedCountPaginator):
    # Counting through joins costs about 1 ms per 150 rows: 1,000 keeps any count under ~10 ms.
    count_cap = 1_000

    def validate_number(self, number):
        """A page past the last is refused saying how many pages there are (the API's 404 shows it)."""
        try:
            return super().validate_number(number)
        except EmptyPage:
            if int(number) < 1:
                raise
            if self.count_is_capped:
                # Past the cap every page is served that a row number reaches: this one none reaches.
                raise EmptyPage(f"Page {number} does not exist: no list is that long.") from None
            pages = self.num_pages
            there = "there is 1 page" if pages == 1 else f"there are {pages} pages"
            raise EmptyPage(f"Page {number} does not exist: {there}.") from None


class CountedWithPagePaginator(ApiCountPaginator):
    """For a list whose every row is read anyway to order it (partners ranked by search words): the
    page's own query counts the rows too, instead of a second pass over them for the count.

    `object_list` is a values_list queryset of (value, total) pairs, the total being
    `Window(Count("*"))`; a page holds the values.
    """

    def page(self, number):
        try:
            number = int(number)
        except (TypeError, ValueError):
            return super().page(number)  # Django's own message for a page that is not a number
        if number < 1 or number * self.per_page >= MAX_ROW_OFFSET:
            return super().page(number)  # refused there, before any row is asked for
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page])
        if rows:
            self.__dict__["_capped_count"] = min(rows[0][1], self.count_cap + 1)
        elif number == 1:
            self.__dict__["_capped_count"] = 0
        # Past the last page there is no row to tell the total: it is counted, and the page refused.
        number = self.validate_number(number)
        return self._get_page([value for value, _ in rows], number, self)


# The orders a copy (`id`) or a sync (`updated_at`, oldest first) walks a page-numbered list in. Paged by
# OFFSET, a row deleted, or changed and so moved to the end, during such a walk would shift every unread
# row up one place, and the row at the page's edge would never come: `next` continues by keyset instead.
WALK_ORDERINGS = ("id", "updated_at")

# A list's own order (no `ordering` asked for), as UniqueOrderingFilter applies it, that is one of the
# walks' keysets: the walk it stands for. A client following `next` without choosing an order walks it too.
WALKED_DEFAULT_ORDERS = {("id",): "id", ("pk",): "id", ("updated_at", "id"): "updated_at"}


def walk_of_default_order(order_by) -> str | None:
    """The walk (`id` or `updated_at`) that a list ordered by `order_by` (names or expressions) is, if any."""
    if not all(isinstance(key, str) for key in order_by):
        return None  # a search's ranking, Find-a-Partner's `sort`: no keyset of the walks'
    return WALKED_DEFAULT_ORDERS.get(tuple(order_by))


class PortalPageNumberPagination(PageNumberPagination):
    """Pages by number, up to 100 rows a page. `count` is exact up to 1,000 rows; past that it says
    1,000 and `count_is_capped` is true (counting every row of a big table would cost more than the
    page), while `next` still leads on page by page.

    Ordered by `?ordering=id` or `?ordering=updated_at`, the orders a copy or a sync walks, or without
    `ordering` where the list's own order is one of them (staff members, references, enrollments... by
    id), `next` leads on by `cursor` (KeysetCursorPagination's, after the page's last row) rather than by
    page number, so the walk neither misses nor repeats a row while rows are added, changed or deleted. A
    page reached by cursor has the same shape (the whole list's `count`), no number and no `previous`."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    django_paginator_class = ApiCountPaginator
    # A page past the last is a 404, as DRF has it, so a client asking for the next number until there is
    # none stops; its message is the paginator's, which says how many pages there are.
    invalid_page_message = "{message}"
    cursor_query_param = "cursor"

    def get_page_size(self, request):
        return min(
            positive_int_param(request, self.page_size_query_param, self.page_size), self.max_page_size
        )

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.walk_ordering = self._walk_ordering(request, view, queryset)
        self.walked_by_cursor = False
        self.next_cursor = None
        raw_cursor = KEYSET.requested_cursor(request)
        if raw_cursor is None:
            positive_int_param(request, self.page_query_param, 1)  # a page past the last is still a 404
            return super().paginate_queryset(queryset, request, view)
        if self.page_query_param in request.query_params:
            raise ValidationError(
                {
                    self.page_query_param: [
                        "Give `page` or `cursor`, not both: a `next` link has only a cursor."
                    ]
                }
            )
        if self.walk_ordering is None:
            orders = " or ".join(f"`ordering={name}`" for name in WALK_ORDERINGS)
            raise ValidationError(
                {self.cursor_query_param: [f"This list is walked by cursor only with {orders}."]}
            )
        size = self.get_page_size(request)
        self.walked_by_cursor = True
        # Counted as page 1 counts it, the whole list (capped); the rows are those after the cursor.
        self.counted = self.django_paginator_class(queryset, size)
        rows, self.next_cursor = KEYSET.rows_after(queryset, self.walk_ordering, raw_cursor, size)
        return rows

    def _walk_ordering(self, request, view, queryset) -> str | None:
        """`id` or `updated_at` when the list was asked for in that order (one the view offers), or, without
        `ordering`, when the list's own order (as the ordering filter left it) is that walk's keyset."""
        if api_settings.ORDERING_PARAM not in request.query_params:
            return walk_of_default_order(getattr(getattr(queryset, "query", None), "order_by", ()) or ())
        value = request.query_params.get(api_settings.ORDERING_PARAM)
        if value in WALK_ORDERINGS and value in (getattr(view, "ordering_fields", None) or ()):
            return value
        return None

    @property
    def counting_paginator(self):
        return self.counted if self.walked_by_cursor else self.page.paginator

    @property
    def count_is_capped(self) -> bool:
        return self.counting_paginator.count_is_capped

    def _full_page_past_the_cap(self) -> bool:
        return self.count_is_capped and len(self.page.object_list) == self.page.paginator.per_page

    def get_next_link(self):
        if self.walk_ordering is not None:
            return self._next_cursor_link()
        if self._full_page_past_the_cap():
            url = self.request.build_absolute_uri()
            return replace_query_param(url, self.page_query_param, self.page.number + 1)
        return super().get_next_link()

    def _next_cursor_link(self) -> str | None:
        if not self.walked_by_cursor and (self._full_page_past_the_cap() or self.page.has_next()):
            # A page by number (the first, or one jumped to): the walk goes on after its last row.
            self.next_cursor = KEYSET.cursor_at(self.walk_ordering, self.page.object_list[-1])
        if self.next_cursor is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, self.cursor_query_param, self.next_cursor)

    def get_previous_link(self):
        if self.walked_by_cursor:
            return None
        return super().get_previous_link()

    def get_paginated_response(self, data):
        return Response(
            OrderedDict(
                [
                    ("count", self.counting_paginator.count),
                    ("count_is_capped", self.count_is_capped),
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        cap = f"{self.django_paginator_class.count_cap:,}"
        response["properties"]["count"]["description"] = f"Rows in the list, exact up to {cap}."
        response["properties"]["count_is_capped"] = {
            "type": "boolean",
            "description": f"True when the list has more than {cap} rows (`count` then says {cap}).",
        }
        response["required"] = [*response.get("required", []), "count_is_capped"]
        return response

    def get_schema_operation_parameters(self, view):
        walks = "`ordering=id` or `ordering=updated_at`"
        own = walk_of_default_order(getattr(view, "ordering", None) or ())
        if own is not None:
            walks += f" (or no `ordering`: this list's own order is by `{own}`)"
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": f"With {walks}: where the page starts, the `cursor` of the previous page's "
                "`next` link (instead of `page`).",
                "schema": {"type": "string", "minLength": 1},
            },
        ]


# A change moves a row's `updated_at` forward: walked oldest first, a row changed during the walk comes
# again further on, with its change; newest first, one the walk had yet to reach would jump behind it and
# never come.
ONLY_ASCENDING = frozenset({"updated_at"})


class KeysetCursorPagination(BasePagination):
    """Cursor paging on a keyset: each page is `WHERE (ordering) > (last row's values) LIMIT n`.

    A view lists the fields a client may order by in `cursor_ordering_fields` (non-null fields) and its
    default in `cursor_default_ordering`; `id` is always appended as the last key, so the position of a
    row is unique.
    """

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_param = "ordering"
    page_size = 100
    max_page_size = 1000
    default_ordering_fields = ("id",)

    def _ordering_fields(self, view) -> tuple[str, ...]:
        return tuple(getattr(view, "cursor_ordering_fields", self.default_ordering_fields))

    def _requested_ordering(self, request, view) -> str:
        value = single_param(request, self.ordering_param)
        if value is None:
            value = self._default_ordering(view)
        # `?ordering=` left empty is a client's mistake (a variable left unset): a 400, as on the
        # page-numbered lists (apn_portal.api.filters.UniqueOrderingFilter), not the default order.
        allowed = self._ordering_choices(view)
        if value not in allowed:
            raise ValidationError({self.ordering_param: [f"Order by one of: {', '.join(allowed)}."]})
        return value

    def _default_ordering(self, view) -> str:
        return getattr(view, "cursor_default_ordering", "id")

    def _ordering_choices(self, view) -> list[str]:
        fields = self._ordering_fields(view)
        return [
            prefix + name
            for name in fields
            for prefix in ("", "-")
            if not (prefix and name in ONLY_ASCENDING)
        ]

    @staticmethod
    def _keys(ordering: str) -> list[str]:
        """The full keyset: the requested field, then `id` in the same direction."""
        descending = ordering.startswith("-")
        name = ordering.lstrip("-")
        keys = [name] if name == "id" else [name, "id"]
        return [("-" if descending else "") + key for key in keys]

    def get_page_size(self, request) -> int:
        return min(
            positive_int_param(request, self.page_size_query_param, self.page_size), self.max_page_size
        )

    def requested_cursor(self, request) -> str | None:
        """The `cursor` given, or None without one. `?cursor=` left empty (a variable left unset) or given
        twice is a 400, as an empty `ordering` or `page_size` is: taken as no cursor, it would start the
        walk again from the first page."""
        if self.cursor_query_param not in request.query_params:
            return None
        raw = request.query_params.getlist(self.cursor_query_param)
        if len(raw) != 1 or not raw[0].strip():
            raise ValidationError(
                {self.cursor_query_param: ["Give the cursor of a `next` link, or leave the parameter out."]}
            )
        return raw[0]

    def _decode(self, raw: str, ordering: str, model) -> list:
        try:
            padded = raw + "=" * (-len(raw) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            if data["o"] != ordering or not isinstance(data["p"], list):
                raise ValueError("ordering changed")
            values = data["p"]
            keys = self._keys(ordering)
            if len(values) != len(keys):
                raise ValueError("wrong length")
            position = [
                model._meta.get_field(key.lstrip("-")).to_python(value)
                for key, value in zip(keys, values, strict=True)
            ]
            if any(isinstance(value, datetime.datetime) and timezone.is_naive(value) for value in position):
                raise ValueError("a time without its time zone")
            return position
        except (
            ValueError,
            OverflowError,
            KeyError,
            TypeError,
            UnicodeError,
            binascii.Error,
            FieldDoesNotExist,
            DjangoValidationError,
        ):
            raise ValidationError(
                {self.cursor_query_param: ["This cursor is not valid for this list and ordering."]}
            ) from None

    @staticmethod
    def _encode(ordering: str, values: list) -> str:
        payload = json.dumps({"o": ordering, "p": values}, separators=(",", ":"), default=str)
        return base64.urlsafe_b64encode(payload.encode()).decode("ascii").rstrip("=")

    @staticmethod
    def _after(model, keys: list[str], values: list) -> Lookup:
        """Rows strictly after `values` in the ordering `keys` (all in one direction), as one row-value
        comparison, `(a, b) > (x, y)`: an index on (a, b) serves it as a range, so a page deep into a
        list, or into thousands of rows sharing one `updated_at`, costs what the first page costs."""
        names = [key.lstrip("-") for key in keys]
        row = Func(*(F(name) for name in names), function="", output_field=Field())
        position = Func(
            *(
                Value(value, output_field=model._meta.get_field(name))
                for name, value in zip(names, values, strict=True)
            ),
            function="",
            output_field=Field(),
        )
        comparison = LessThan if keys[0].startswith("-") else GreaterThan
        return comparison(row, position)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        if "page" in request.query_params:
            # Ignored, it would give a client written for the page-numbered lists page 1 again and again.
            raise ValidationError(
                {
                    "page": [
                        "This list is paged by cursor: follow `next` from the first page, not page numbers."
                    ]
                }
            )
        ordering = self._requested_ordering(request, view)
        size = self.get_page_size(request)
        rows, self.next_cursor = self.rows_after(queryset, ordering, self.requested_cursor(request), size)
        return rows

    def rows_after(
        self, queryset, ordering: str, raw_cursor: str | None, size: int
    ) -> tuple[list, str | None]:
        """Up to `size` rows of `queryset` in `ordering` (then `id`), after the position `raw_cursor` holds
        (from the first row without one), and the cursor of the next page (None on the last)."""
        keys = self._keys(ordering)
        queryset = queryset.order_by(*keys)
        if raw_cursor is not None:
            position = self._decode(raw_cursor, ordering, queryset.model)
            queryset = queryset.filter(self._after(queryset.model, keys, position))
        rows = list(queryset[: size + 1])
        if len(rows) <= size:
            return rows, None
        rows = rows[:size]
        return rows, self.cursor_at(ordering, rows[-1])

    def cursor_at(self, ordering: str, row) -> str:
        """The cursor of the page that starts right after `row`."""
        return self._encode(ordering, [getattr(row, key.lstrip("-")) for key in self._keys(ordering)])

    def get_next_link(self) -> str | None:
        if self.next_cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self.next_cursor)

    def get_paginated_response(self, data):
        return Response(OrderedDict([("next", self.get_next_link()), ("results", data)]))

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next page, or null on the last page.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: the `cursor` of the previous page's `next` link.",
                "schema": {"type": "string", "minLength": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows a page (default {self.page_size}, at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Order of the walk; `id` breaks ties. Prefix `-` for descending.",
                "schema": {"type": "string", "enum": self._ordering_choices(view)},
            },
        ]


# Its cursor code, for the page-numbered lists' walks (PortalPageNumberPagination).
KEYSET = KeysetCursorPagination()


class OldestFirstCursorPagination(KeysetCursorPagination):
    """For a record's own append-only log, read through an action of the record's viewset (a support
    case's replies): walked by `created_at` then `id`, oldest first unless `?ordering=-created_at`. The
    viewset's `cursor_ordering_fields` are its own list's, not the log's. A reply added during a walk
    comes at its end, and a long log costs a page's rows, not all of them."""

    ordering_fields = ("created_at",)

    def _ordering_fields(self, view) -> tuple[str, ...]:
        return self.ordering_fields

    def _default_ordering(self, view) -> str:
        return self.ordering_fields[0]
