from django.shortcuts import redirect


def whole_number(text: str | None, max_digits: int = 18) -> int | None:
    """The whole number a query parameter spells in ASCII digits ("12"), or None: str.isdigit() also
    says yes to "²" and "①", which int() refuses; more than `max_digits` would not fit a database key."""
    text = (text or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


def redirect_see_other(*args, **kwargs):
    """A redirect after a POST that the browser follows with a GET (303), so a reload never re-posts."""
    response = redirect(*args, **kwargs)
    response.status_code = 303
    return response
