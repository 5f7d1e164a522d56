"""apn_portal.text's wording in every template (a builtin library: settings.TEMPLATES)."""

from django import template

from apn_portal.text import full_stop

register = template.Library()


@register.filter
def sentence_end(text) -> str:
    """What ends a sentence after `text`: "." or nothing, when it has its own:
    `{{ name }}{{ name|sentence_end }}`."""
    text = str(text)
    return full_stop(text)[len(text) :]
