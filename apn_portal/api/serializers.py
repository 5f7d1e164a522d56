"""Serializer building blocks shared by every app's API."""

from django.utils import timezone
from rest_framework import fields, relations, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

# Fields whose representation of a model's value is that value itself.
_PLAIN = (fields.BooleanField, fields.ChoiceField)


def read_only_username(**kwargs) -> serializers.SlugRelatedField:
    """A user, named by username."""
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


def read_only_slug(**kwargs) -> serializers.SlugRelatedField:
    """A related record, named by its slug."""
    return serializers.SlugRelatedField(slug_field="slug", read_only=True, **kwargs)


def _attribute(name: str):
    return lambda obj: getattr(obj, name)


def _text(name: str):
    def represent(obj):
        value = getattr(obj, name)
        return value if value is None or type(value) is str else str(value)  # as CharField does

    return represent


def _iso_date(name: str):
    def represent(obj):
        value = getattr(obj, name)
        return None if value is None else value.isoformat()

    return represent


def _iso_datetime(name: str):
    zone = timezone.get_current_timezone()  # a plan lives for one request, in one time zone

    def represent(obj):
        value = getattr(obj, name)
        if value is None:
            return None
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return represent


def _iso(field, setting: str) -> bool:
    return getattr(field, "format", getattr(api_settings, setting)) == fields.ISO_8601


# Renders each row without DRF's per-field machinery, for lists that stream many thousands of rows.
#
# The output is exactly DRF's (a test compares the two): plain columns are read straight off the
# instance, dates and times formatted as DRF formats them (ISO 8601, `Z` for UTC), a related id from
# its `<name>_id` column, method fields through their method; any other field goes through DRF.
#
# A comment, not a docstring: drf-spectacular publishes a serializer's docstring, inherited ones too, as
# its schema's description, and integrators reading the contract have no use for how rows are rendered.
class FastRowsMixin:
    def _row_plan(self):
        plan = getattr(self, "_fast_row_plan", None)
        if plan is None:
            plan = self._fast_row_plan = [(f.field_name, self._fast_getter(f)) for f in self._readable_fields]
        return plan

    def _fast_getter(self, field):
        if isinstance(field, serializers.SerializerMethodField):
            return getattr(self, field.method_name)
        if len(field.source_attrs) != 1 or field.source == "*":
            return None
        name = field.source_attrs[0]
        if isinstance(field, relations.PrimaryKeyRelatedField) and field.use_pk_only_optimization():
            return _attribute(f"{name}_id")
        if isinstance(field, fields.DateTimeField):
            return _iso_datetime(name) if _iso(field, "DATETIME_FORMAT") else None
        if isinstance(field, fields.DateField):
            return _iso_date(name) if _iso(field, "DATE_FORMAT") else None
        if isinstance(field, fields.IntegerField) and not getattr(field, "coerce_to_string", False):
            return _attribute(name)
        if isinstance(field, fields.CharField):
            return _text(name)
        if isinstance(field, _PLAIN):
            return _attribute(name)
        return None

    def to_representation(self, instance):
        row = {}
        for name, getter in self._row_plan():
            if getter is not None:
                row[name] = getter(instance)
                continue
            field = self.fields[name]
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            empty = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            row[name] = None if empty is None else field.to_representation(attribute)
        return row
