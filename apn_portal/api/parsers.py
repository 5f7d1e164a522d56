"""The API's JSON parser: DRF's, refusing what would break later instead of answering 400 now."""

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _no_infinity(constant: str):
    raise ValueError(f"{constant} is not a number JSON allows.")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large a number.")
    return number


class StrictJSONParser(JSONParser):
    """Refuses `NaN` and `Infinity`, numbers too large for a float (`1e999`, which an id field would turn
    into an overflow), and nesting deeper than Python can decode: each a 400 with the reason."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            return json.loads(text, parse_constant=_no_infinity, parse_float=_finite)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
