"""The API's JSON parser: DRF's, refusing what would break later instead of answering 400 now."""

import json
import re

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
SURROGATE_MESSAGE = (
    "Unpaired surrogates (\\ud800 to \\udfff without their pair) are not allowed: they are not text."
)
# What no column can store: PostgreSQL holds no NUL in text or JSON, and a lone half of a UTF-16 pair,
# which JSON's \u escapes can spell, is no character at all (not even an error message can repeat it).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable_in(value) -> str | None:
    """The message for the first character of `value` (any nesting of lists and dicts) no text can hold."""
    # A loop, not recursion: the parser accepts nesting nearly as deep as Python's recursion limit.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found = _UNSTORABLE.search(item)
            if found:
                return NULL_CHARACTER_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


def refuse_unstorable_characters(data) -> None:
    """400 naming each field whose value holds a NUL or an unpaired surrogate. DRF's CharField refuses a
    NUL by name, but a related record's slug (a SlugRelatedField) or a JSON field would take it to the
    database, whose error names no field; and a choice field's error repeats a surrogate it cannot
    encode."""
    if isinstance(data, dict):
        errors = {}
        for name, value in data.items():
            message = _unstorable_in(name) or _unstorable_in(value)
            if message:
                field = api_settings.NON_FIELD_ERRORS_KEY if _unstorable_in(name) else name
                errors[field] = [message]
    else:
        message = _unstorable_in(data)
        errors = {api_settings.NON_FIELD_ERRORS_KEY: [message]} if message else {}
    if errors:
        raise ValidationError(errors)


class StrictJSONParser(JSONParser):
    """Refuses `NaN` and `Infinity`, numbers too large for a float (`1e999`, which an id field would turn
    into an overflow), nesting deeper than Python can decode, NUL characters and unpaired surrogates: each
    a 400 with the reason. The body is parsed when a view first reads it, after it has found its object
    (a 404 first)."""

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
        refuse_unstorable_characters(data)
        return data
