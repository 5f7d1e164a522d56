"""An admin change page saved after somebody else changed what it shows is refused, not saved over them.

Django writes back every field a page shows as the page last had it: a colleague's change committed after
the page was opened (a shorter response target, a new description) would be silently undone by a save of
the older page, even of a row or field its user never touched. The page therefore carries a fingerprint
of each record's edited values as it showed them (`PAGE_STATE`, one hidden input for the record and its
inline rows); a save whose record or row is no longer as shown is refused on that form, and nothing is
saved. A post without the fingerprint (a script) is saved as Django does, as the API is without If-Match.

Columns a page does not edit are another matter: keep_unedited_as_stored keeps those as stored, so a
scheduled check's mark does not make a page stale.

A form that proposes changes rather than saving them (a partner's profile proposal, which its PDM
approves) carries the same input with a fingerprint per field (shown_fields): what it sends is not refused
when the record changed meanwhile, but only the fields its user changed on the page
(fields_changed_on_page) are taken as theirs, and the others are left as they now stand.
"""

import hashlib
import json

from django.core.exceptions import ValidationError
from django.db.models import Model
from django.db.models.fields.files import FieldFile

PAGE_STATE = "_page_state"

EDITED_MEANWHILE = (
    "Somebody else saved a change to this {name} after you opened this page: nothing was saved. "
    "Open the page again to see their change, then make yours."
)


def shown_value(value):
    """`value` as a fingerprint compares it: a record by its key, a file by its name, a set sorted."""
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, FieldFile):
        return value.name
    if isinstance(value, list | tuple | set | frozenset) or hasattr(value, "model"):  # a queryset
        return sorted((shown_value(item) for item in value), key=str)
    return value


def _fingerprint(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def shown_values(form) -> str:
    """The fingerprint of what `form` shows of its stored record (its initial values)."""
    values = {name: shown_value(form.initial[name]) for name in form.fields if name in form.initial}
    return _fingerprint([form.instance.pk, values])


def _as_sent_back(field, value):
    # A value shown and sent back untouched is the field's cleaning of it (a text stripped, a website with
    # its scheme): a stored value the form would write otherwise is still not a change its user made.
    try:
        return field.clean(field.prepare_value(value))
    except ValidationError:
        return value


def shown_fields(form) -> str:
    """The PAGE_STATE value of a proposing form: each field's fingerprint of the value it shows, by name."""
    return json.dumps(
        {
            name: _fingerprint(shown_value(_as_sent_back(field, form.initial[name])))
            for name, field in form.fields.items()
            if name in form.initial
        }
    )


def fields_changed_on_page(form) -> list[str] | None:
    """The names of the valid bound `form`'s fields whose sent value is not the one its page showed
    (shown_fields), or None for a post without the page's state (a page older than it, a script)."""
    shown = _posted_states(form.data)
    if not shown:
        return None
    return [
        name
        for name in form.fields
        if shown.get(name) != _fingerprint(shown_value(form.cleaned_data.get(name)))
    ]


def _of_a_stored_record(form) -> bool:
    return form.instance.pk is not None and not form.instance._state.adding


def page_state(form, formsets) -> str:
    """The value of the page's PAGE_STATE input: each stored record's fingerprint, by its form's prefix."""
    forms = [form, *(row for formset in formsets for row in formset.initial_forms)]
    return json.dumps({row.prefix or "": shown_values(row) for row in forms if _of_a_stored_record(row)})


def _posted_states(data) -> dict:
    try:
        states = json.loads(data.get(PAGE_STATE) or "{}")
    except ValueError:  # not one this portal wrote: as if none was sent
        return {}
    return states if isinstance(states, dict) else {}


def edited_meanwhile(obj) -> str:
    return EDITED_MEANWHILE.format(name=obj._meta.verbose_name)


class EditedMeanwhileRefusedForm:
    """Mixed into an admin page's forms (the record's and each inline row's). Checked when the save
    begins, unlocked; keep_unedited_as_stored checks again under the record's lock, for a save committed
    in between (`checked_against_its_page`)."""

    checked_against_its_page = False

    def clean(self):
        cleaned_data = super().clean()
        if self.is_bound and _of_a_stored_record(self):
            shown = _posted_states(self.data).get(self.prefix or "")
            if shown is not None and shown != shown_values(self):
                raise ValidationError(edited_meanwhile(self.instance), code="edited_meanwhile")
            self.checked_against_its_page = shown is not None
        return cleaned_data
