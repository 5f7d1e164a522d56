"""Wording shared by messages across the apps."""


def short_list(items, limit: int = 10) -> str:
    """The first `limit` of `items`, comma-separated, then "and N more": a message naming a big selection
    stays readable."""
    items = [str(item) for item in items]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """'1 partner', '3 partners', '1,200 certifications'."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count:,} {word}"


def and_list(items) -> str:
    """ "a", "a and b", "a, b and c"."""
    items = [str(item) for item in items]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def full_stop(text) -> str:
    """`text` ending a sentence: with a full stop, unless it ends with its own ("Acme S.A.", not "S.A..")."""
    text = str(text)
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."
