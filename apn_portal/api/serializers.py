"""Serializer building blocks shared by every app's API."""

from django.db import models
from django.utils import timezone
from rest_framework import fields, relations, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

from apn_portal.forms import line_breaks_as_typed
from apn_portal.http import NOT_AN_ID, plain_id

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


class MultilineCharField(serializers.CharField):
    """Text with line breaks, each stored as one LF whatever the client sent (CR LF, a lone CR) and so
    counted against max_length: as the pages store what a textarea sent (apn_portal.forms.TextareaField),
    so that the same text has the same limit, and is stored the same, through the page and the API."""

    def to_internal_value(self, data):
        return line_breaks_as_typed(super().to_internal_value(data))


NO_OFFSET = "No offset: give the date and time with its offset (2026-12-31T23:59:59+01:00, or Z for UTC)."


class OffsetDateTimeField(serializers.DateTimeField):
    """A moment a client writes: a date and time with its offset. One without is refused rather than read
    in the server's zone (UTC): the client meant its own, or its customer's, and only it knows which; read
    as UTC it would be hours off and look accepted."""

    default_error_messages = {"no_offset": NO_OFFSET}

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("no_offset")
        return super().enforce_timezone(value)


class WholeNumberIdField(serializers.PrimaryKeyRelatedField):
    """A related record named by its id: a JSON number, or its digits as a string ("42"), as a URL or an id
    filter takes it. 1.5, true, "+42", " 42" or "٤٢" are refused: int() would read them as some record."""

    default_error_messages = {"not_a_whole_number": NOT_AN_ID}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("not_a_whole_number")
        if isinstance(data, str) and plain_id(data) is None:
            self.fail("not_a_whole_number")
        return super().to_internal_value(data)


def sent_as_read(field, instance, sent) -> bool:
    """Whether `sent` is `field`'s value as a read of `instance` shows it (a client writing back what it
    read), in any JSON spelling of that value's text: `7` or `"7"`."""
    value = field.get_attribute(instance)
    current = None if value is None else field.to_representation(value)
    return sent == current or (sent is not None and current is not None and str(sent) == str(current))


READ_ONLY_MESSAGE = "Set by the portal, not by an update: leave it out, or send it as a read shows it now."
NO_SUCH_FIELD = "There is no such field here: check its name against the schema (/api/v1/schema/)."
# Sent by the browsable API's HTML form with the fields.
FORM_ONLY_NAMES = frozenset({"csrfmiddlewaretoken"})


# A name the body sends that the resource (or the action) does not have is refused naming it, never
# dropped: a client that misspelt `job_title` must not believe it changed it. Every serializer that takes
# input has it (tests/api/test_unknown_fields.py). `_refused(data)` is {name: [message]}; subclasses refuse
# more. What else the body gets wrong is said in the same answer, so that one answer lists every field to
# correct.
#
# Being on every serializer that takes input, it also reads a model's TextField as MultilineCharField: the
# text a page's textarea takes is stored with the same line breaks through the API. A serializer's own text
# fields with line breaks (a reason, a description) are declared as MultilineCharField. A model's
# DateTimeField, likewise, is an OffsetDateTimeField: no moment is written without its offset.
#
# A comment, not a docstring: drf-spectacular would publish it as the description of every resource whose
# serializer has none of its own (see FastRowsMixin).
class KnownFieldsOnlyMixin:
    serializer_field_mapping = serializers.ModelSerializer.serializer_field_mapping | {
        models.TextField: MultilineCharField,
        models.DateTimeField: OffsetDateTimeField,
    }

    def _refused(self, data) -> dict[str, list[str]]:
        if not hasattr(data, "keys"):
            return {}  # not an object: DRF's own refusal says so
        return {
            name: [NO_SUCH_FIELD] for name in data if name not in self.fields and name not in FORM_ONLY_NAMES
        }

    def to_internal_value(self, data):
        refused = self._refused(data)
        if not refused:
            return super().to_internal_value(data)
        try:
            super().to_internal_value(data)
        except serializers.ValidationError as error:
            if isinstance(error.detail, dict):
                refused = {**error.detail, **refused}
        raise serializers.ValidationError(refused)


class NoFieldsSerializer(KnownFieldsOnlyMixin, serializers.Serializer):
    pass


# An update may send a read-only field back as a read shows it (a client writing back what it read), but
# another value is refused naming the field, never dropped: a client must not believe it changed what stays
# as it was. `read_only_messages` says why a field is not written, to the client who sent it
# (READ_ONLY_MESSAGE for the others). (A comment, as above.)
class ReadOnlyFieldsKeptMixin(KnownFieldsOnlyMixin):
    read_only_messages: dict[str, str] = {}

    def read_only_message(self, name: str) -> str:
        return self.read_only_messages.get(name, READ_ONLY_MESSAGE)

    def _refused(self, data) -> dict[str, list[str]]:
        return {
            **super()._refused(data),
            **{name: [self.read_only_message(name)] for name in self._changed_read_only(data)},
        }

    def _changed_read_only(self, data) -> list[str]:
        if self.instance is None or not hasattr(data, "keys"):
            return []
        return [
            name
            for name in data
            if (field := self.fields.get(name)) is not None
            and field.read_only
            and not sent_as_read(field, self.instance, data[name])
        ]
