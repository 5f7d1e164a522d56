"""Django's admin prints a field's help text as HTML (`help_text|safe`): a help text must read as text."""

import re

from django.apps import apps

# A tag or a comment opening: what a browser would start an element with, hiding the rest of the page.
MARKUP = re.compile(r"<[A-Za-z/!]")


def test_no_model_fields_help_text_would_be_read_as_markup():
    as_markup = [
        f"{model._meta.label}.{field.name}: {field.help_text}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if MARKUP.search(str(getattr(field, "help_text", "") or ""))
    ]

    assert not as_markup, as_markup
