"""Form pieces shared by the apps' forms."""

import datetime
import hashlib
import json
import uuid

from django import forms
from django.core import validators
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.html import escape


def line_breaks_as_typed(value: str) -> str:
    """Text with each line break as one LF, as API clients send it and as a textarea's maxlength counts it,
    whatever the browser sent (CR LF, or a lone CR)."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


# The most a reason given with an action holds (why access is revoked, a lead declined, a partner replaced,
# an engagement put on hold, a tier changed), and an engagement's completion summary, in characters, a line
# break counting as one: the pages' forms and the API's serializers all take it from here.
REASON_MAX_LENGTH = 2000


class _MaxLengthWithSeparators(validators.MaxLengthValidator):
    """Django's max_length check, with the limit and the count also given as `limit` and `count`, written
    as the pages write numbers ("5,000"); `limit_value` and `show_value` stay numbers."""

    def __call__(self, value):
        if len(value) > self.limit_value:
            params = {"limit_value": self.limit_value, "show_value": len(value), "value": value}
            params |= {"limit": f"{self.limit_value:,}", "count": f"{len(value):,}"}
            raise ValidationError(self.message, code=self.code, params=params)


class TextareaField(forms.CharField):
    """Text typed into a textarea, for every length-limited one (`max_length`).

    The page's maxlength counts a line break as one character, but the browser sends it as CR LF, two:
    counted as sent, a text typed in paragraphs up to the limit would be refused, and shown again as typed,
    refused for ever. Line breaks are read as one LF each before the length is checked, so the server counts
    as the page did, and the text is stored as the API stores it."""

    widget = forms.Textarea
    default_error_messages = {
        "max_length": "Ensure this value has at most %(limit)s characters (it has %(count)s)."
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            _MaxLengthWithSeparators(validator.limit_value)
            if type(validator) is validators.MaxLengthValidator
            else validator
            for validator in self.validators
        ]

    def to_python(self, value):
        value = super().to_python(value)
        return line_breaks_as_typed(value) if isinstance(value, str) else value


def textarea_formfield(db_field, **kwargs):
    """A model form's field for `db_field` (`Meta.formfield_callback`): a TextField's is a TextareaField,
    so that every text typed in a textarea is stored with its line breaks as typed, whatever its form. The
    admin does the same in AdminInputMixin, which builds its forms with a callback of its own."""
    if isinstance(db_field, models.TextField):
        kwargs.setdefault("form_class", TextareaField)
    return db_field.formfield(**kwargs)


class SubmissionTokenField(forms.Field):
    """The hidden field that carries a form's submission token. Whatever the page sent is read as a UUID,
    or None, and never refused: a CharField would refuse a NUL character, with an error on a hidden field
    nobody sees, and a page sent without a token (cached before the field existed, a script) must still
    go through, only without the protection."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> uuid.UUID | None:
        return submission_token_read(value)


def submission_token_read(value) -> uuid.UUID | None:
    """A submission token as the page sent it: a UUID, or None for anything else (missing, blank, too
    long, not a UUID)."""
    value = "" if value is None else str(value)
    if not value or len(value) > 36:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def submission_key_of(submission_token, user, *parts) -> str | None:
    """What a service stores to know a submit again (SubmissionTokenMixin): a digest of its token, who
    sent it and what they sent. The same token from another user, or with other text (Back, an edit, and
    submit again), gives another key: a new record, and never anyone else's. None without a token."""
    if not submission_token:
        return None
    values = [str(submission_token), str(user.pk), *(str(part) for part in parts)]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


# Back and submit again on a form page the browser fetched afresh (a signed-in page, never cached; a public
# one without the back-forward cache) sends what was typed under the new page's token, so another key: the
# same content from the same sender, sent through a form within this time, is taken for that same submit.
SUBMISSION_RESENT_WITHIN = datetime.timedelta(hours=1)


def submitted_before(submission_key: str | None, same_content: QuerySet):
    """The record a form's submit repeats (SubmissionTokenMixin), or None for a new one.

    The one stored under its key (the same submit sent again: a double click, a retry, two at once),
    whatever became of it since. Otherwise the earliest of `same_content` (the same sender's records with
    the content that goes into the key; a service keeps only those nothing has happened to since they were
    stored: sending the same again after someone answered, resolved, validated, declined or ended it is
    meant) stored from a form, i.e. with a key, within SUBMISSION_RESENT_WITHIN: Back and submit again on
    a page fetched afresh. A submit without a token (the API, which has its
    Idempotency-Key; a script) repeats nothing. Call it under the lock the service takes against two
    submits at once, so that the second finds the first."""
    if not submission_key:
        return None
    model = same_content.model
    earlier = model._default_manager.filter(submission_key=submission_key).first()
    if earlier is not None:
        return earlier
    return (
        same_content.filter(
            submission_key__isnull=False, created_at__gte=timezone.now() - SUBMISSION_RESENT_WITHIN
        )
        .order_by("created_at", "pk")
        .first()
    )


class SubmissionTokenMixin:
    """Makes one submit of a form one record, however often the browser sends it.

    A double click, a resend after a slow answer, Back and submit again: each sends the same form twice,
    and the service would store two of what the person meant once (two support cases, each with its own
    deadline, breach and email). A form with this mixin carries a hidden token, new with each empty form
    it renders and sent back with its submit; the service stores a digest of it (with whoever sent it and
    what they sent, so that no one else's submit can ever match) in a unique column, and a submit whose
    digest is already stored returns the record stored first instead of a second one. Back fetches a
    signed-in page afresh, with a new token, while the browser puts back what was typed: the service also
    takes the same content from the same sender shortly after for the same submit (submitted_before).

    Use it before the form class, `class MyForm(SubmissionTokenMixin, forms.Form)`, and render the hidden
    field (`{% for field in form.hidden_fields %}{{ field }}{% endfor %}`, or `{{ form }}`). The view passes
    `form.submission_token()` to the service, and calls `keep_a_submission_token()` before it shows a sent
    form again with its errors. A form sent without a token is not refused: it simply has no protection.
    """

    token_field = "submission_token"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[self.token_field] = SubmissionTokenField()
        if not self.is_bound:
            self.initial.setdefault(self.token_field, str(uuid.uuid4()))

    def submission_token_sent(self) -> uuid.UUID | None:
        """The token the page sent, read from the raw data: usable before, or without, is_valid()."""
        return submission_token_read(self.data.get(self.add_prefix(self.token_field)))

    def submission_token(self) -> uuid.UUID | None:
        """The token of a valid form, for the service."""
        return self.cleaned_data.get(self.token_field)

    def cleaned_values(self) -> dict:
        """The cleaned data without the token: the values the service stores."""
        return {name: value for name, value in self.cleaned_data.items() if name != self.token_field}

    def keep_a_submission_token(self) -> None:
        """Before a sent form is shown again: one sent without a token (an old cached page) gets one, so
        that its corrected submit is protected from double sending too. One sent with a token keeps it:
        nothing was stored for it."""
        if self.is_bound and not self.submission_token_sent():
            self.data = self.data.copy()
            self.data[self.add_prefix(self.token_field)] = str(uuid.uuid4())


class FormerRoleHoldersKeptMixin:
    """For a model form whose foreign keys name the provider's staff in a role (`former_role_holders`:
    field name -> StaffRole; the model field's limit_choices_to offers only the role's current holders):
    the person the instance records there who no longer holds the role is kept, unchanged, and the field
    says so beside it.

    Django's autocomplete shows the chosen person only from the field's choices: somebody who has left
    (lost the role, left the provider's staff, deactivated) would not be shown, the browser would post
    the field empty, and saving the page for any other edit would silently clear it. So the recorded
    person is added back to the choices for this instance alone (and the model's own check of the
    choices is not asked about them while they stay), and the help text says to choose a current one;
    choosing somebody else who does not hold the role is still refused."""

    former_role_holders: dict = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.former_role_holders_kept = {}  # field name -> the pk of the former holder it keeps
        for name, role in self.former_role_holders.items():
            self._keep_former_role_holder(name, role)

    def _keep_former_role_holder(self, name, role) -> None:
        field = self.fields.get(name)
        stored_id = getattr(self.instance, f"{name}_id", None) if self.instance.pk is not None else None
        if field is None or stored_id is None or field.queryset.filter(pk=stored_id).exists():
            return
        model = field.queryset.model
        field.queryset = model._default_manager.filter(
            Q(pk__in=field.queryset.values("pk")) | Q(pk=stored_id)
        )
        self.former_role_holders_kept[name] = stored_id
        recorded = model._base_manager.filter(pk=stored_id).first()
        warning = (
            f"{recorded} is no longer a current {role.value} (they left the provider's staff, lost the role "
            "or were deactivated): choose a current one. Saving other changes keeps them here until you do."
        )
        # The admin prints a help text as HTML: the name is escaped.
        field.help_text = escape(f"{warning} {field.help_text}".strip())

    def _get_validation_exclusions(self):
        exclusions = super()._get_validation_exclusions()
        for name, stored_id in self.former_role_holders_kept.items():
            chosen = self.cleaned_data.get(name)
            if chosen is not None and chosen.pk == stored_id:
                exclusions.add(name)
        return exclusions
