"""Fields shared by the portal's models and forms.

An id no id column can hold is the user's mistake, said as such, on every database: SQLite cannot even
be asked about one (an integer beyond 64 bits raises OverflowError, a 500), where PostgreSQL would
quietly find nothing.
"""

from django import forms
from django.db import models

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1


def id_in_range(value: int) -> bool:
    """Whether a record id (a 64-bit column) could have this value."""
    return BIGINT_MIN <= value <= BIGINT_MAX


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A multiple choice of records by id, where an id out of range is an invalid choice like any other
    (Django looks the ids up in one IN, which SQLite cannot run with such an id).

    A single ModelChoiceField needs no such care: its one equality is dropped by Django when the id is out
    of range, and the choice is then invalid."""

    def _check_values(self, value):
        key = self.to_field_name or "pk"
        options = self.queryset.model._meta
        field = options.pk if key == "pk" else options.get_field(key)
        if isinstance(field, models.IntegerField):
            for pk in value:
                try:
                    number = field.to_python(pk)
                except forms.ValidationError:
                    continue  # not a number: Django's own check says so
                if number is not None and not id_in_range(number):
                    raise forms.ValidationError(
                        self.error_messages["invalid_choice"], code="invalid_choice", params={"value": pk}
                    )
        return super()._check_values(value)


class LowercaseSlugFormField(forms.SlugField):
    def to_python(self, value):
        return super().to_python(value).lower()


class LowercaseSlugField(models.SlugField):
    """A slug that search parameters name: Find-a-Partner and the API read `?use_case=IoT` as `iot`, so a
    slug typed with capitals is stored, and looked up, in lower case. The models add a check constraint so
    no other write path stores one with capitals."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value.lower() if isinstance(value, str) else value

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if isinstance(value, str) and value != value.lower():
            setattr(model_instance, self.attname, value.lower())
        return super().pre_save(model_instance, add)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": LowercaseSlugFormField, **kwargs})
