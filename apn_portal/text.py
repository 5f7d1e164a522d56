"""Wording shared by messages across the apps."""


def short_list(items, limit: int = 10) -> str:
    """The first `limit` of `items`, comma-separated, then "and N more": a message naming a big selection
    stays readable."""
    items = [str(item) for item in items]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
