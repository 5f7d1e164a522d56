"""The API's JSON parser: DRF's, refusing what would break later instead of answering 400 now."""

import json

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings


def _no_infinity(constant: str):
    raise ValueError(f"{constant} is not a number JSON allows.")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large a number.")
    return number


NULL_CHARACTER_MESSAGE = "Null characters are not allowed."  # DRF's CharField says it so


def _holds_null_character(value) -> bool:
    # A loop, not recursion: the parser accepts nesting nearly as deep as Python's recursion limit.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def refuse_null_characters(data) -> None:
    """400 naming each field whose value holds a NUL. PostgreSQL stores no NUL in text or JSON, and
    compares with none: DRF's CharField refuses it by name, but a related record's slug (a
    SlugRelatedField) or a JSON field would take it to the database, and its error names no field."""
    if isinstance(data, dict):
        errors = {}
        for name, value in data.items():
            if _holds_null_character(value) or _holds_null_character(name):
                field = name if "\x00" not in name else api_settings.NON_FIELD_ERRORS_KEY
                errors[field] = [NULL_CHARACTER_MESSAGE]
    else:
        errors = (
            {api_settings.NON_FIELD_ERRORS_KEY: [NULL_CHARACTER_MESSAGE]}
            if _holds_null_character(data)
            else {}
        )
    if errors:
        raise ValidationError(errors)


class StrictJSONParser(JSONParser):
    """Refuses `NaN` and `Infinity`, numbers too large for a float (`1e999`, which an id field would turn
    into an overflow), nesting deeper than Python can decode, and NUL characters: each a 400 with the
    reason. The body is parsed when a view first reads it, after it has found its object (a 404 first)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            data = json.loads(text, parse_constant=_no_infinity, parse_float=_finite)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        refuse_null_characters(data)
        return data
