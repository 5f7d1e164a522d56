"""A signed-in page's form sent by someone no longer signed in (they signed out in another tab, or their
session ended): nothing is sent, the sign-in page says so, and what they typed is kept a short while in
the session, so that once the same person signs in again the form comes back filled in, with a notice, for
them to check and send again. Never sent by itself: whoever signs in may be somebody else, or may have
signed in for another reason.

Kept: the POSTed fields (no file, no password, not the CSRF token), at most KEPT_CHARACTERS of them, for
KEPT_FOR, under the address of the page the form is on. Django's sign-in keeps the session's data (it only
gives it a new key), so the draft is still there afterwards. Who typed it is known from a cookie that every
signed-in page sets (OWNER_COOKIE, a signed HMAC of the user's id, which names nobody without the server's
key): the session that knew them may be gone. From a browser without it (nobody signed in there: a
script) only the fact is kept, for the sign-in page to say so, so such posts fill no session up. Only that
same user's next GET of that page fills its form in, once, and only if the page lets them see it at all
(its own checks run as usual); anybody else signing in on that browser never sees it. A page that no
longer has the form for them (answered, closed or gone meanwhile, or now a 404 or 403) says instead, with
a message, that it was not sent and could not be put back, with what they typed to copy, named as its form
named it (Draft.typed).

Views use it through apn_portal.pages.signed_in_required (audience_required), forms through
UnsentDraftMixin, and templates/engagements/_form_errors.html shows the notice."""

import contextlib
import contextvars
import datetime
import logging
import time
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.utils import pretty_name
from django.http import QueryDict
from django.utils.choices import flatten_choices
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.functional import cached_property

from apn_portal.admin_page_state import PAGE_STATE

SESSION_KEY = "unsent_forms"
OWNER_COOKIE = "apn_signed_in_as"
KEPT_FOR = datetime.timedelta(minutes=30)
# More than any page's form takes (a support case's description is 20,000), so only a forged submit is
# not kept; a few per session, the latest, so a script posting to every page fills no session up.
KEPT_CHARACTERS = 50_000
KEPT_PAGES = 5
NOT_KEPT_FIELDS = {"csrfmiddlewaretoken"}
OWNER_SALT = "apn_portal.drafts.owner"
# The one-submit token (apn_portal.forms.SubmissionTokenMixin) is no part of what was typed.
NOT_SHOWN_FIELDS = {"submission_token"}
# What a page sends beside its form: no field of the form, nor typed. Kept with the draft for the page's
# view (UnsentDraftMixin.unsent_draft_page_state), never asked of the form that takes it, nor shown to copy.
PAGE_FIELDS = {PAGE_STATE}
# The message that says a draft could not be put back, which templates/base.html shows with the text.
LOST_TAG = "unsent-draft-lost"

_offered = contextvars.ContextVar("unsent_draft_offered", default=None)
# Every form class with UnsentDraftMixin: a draft whose page no longer has its form is named by them.
_draft_forms: list[type] = []

logger = logging.getLogger(__name__)


def _owner_of(user) -> str:
    return salted_hmac(OWNER_SALT, str(user.pk)).hexdigest()


def _owner_cookie(user) -> str:
    return signing.Signer(salt=OWNER_SALT).sign(_owner_of(user))


def _owner_sent(request) -> str:
    """Who was signed in last on this browser (_owner_of), as its cookie says, or "" (none, or forged)."""
    try:
        return signing.Signer(salt=OWNER_SALT).unsign(request.COOKIES.get(OWNER_COOKIE, ""))
    except signing.BadSignature:
        return ""


def _fresh(draft) -> bool:
    return time.time() - draft.get("at", 0) <= KEPT_FOR.total_seconds()


def _kept_fields(post: QueryDict) -> dict[str, list[str]] | None:
    """What of a POST is kept: every field but the CSRF token and any password, or None if it is too long
    to keep. Files are not in request.POST."""
    fields = {
        name: post.getlist(name)
        for name in post
        if name not in NOT_KEPT_FIELDS and "password" not in name.lower()
    }
    size = sum(len(name) + sum(len(value) for value in values) for name, values in fields.items())
    return fields if size <= KEPT_CHARACTERS else None


def draft_keep(request, page: str) -> None:
    """Keep what a signed-out POST sent, for the page its form is on (`page`, an address)."""
    drafts = {path: draft for path, draft in request.session.get(SESSION_KEY, {}).items() if _fresh(draft)}
    drafts.pop(urlsplit(page).path, None)  # the latest goes last
    owner = _owner_sent(request)
    drafts[urlsplit(page).path] = {
        "owner": owner,
        "fields": _kept_fields(request.POST) if owner else None,
        "at": time.time(),
    }
    request.session[SESSION_KEY] = dict(list(drafts.items())[-KEPT_PAGES:])


def draft_waiting(request, next_url: str) -> dict | None:
    """For the sign-in page: whether the page it leads to had a form sent signed out (None if not), and
    whether what was typed in it was kept (`kept`) for whoever typed it."""
    if not next_url:
        return None
    draft = request.session.get(SESSION_KEY, {}).get(urlsplit(next_url).path)
    if draft is None or not _fresh(draft):
        return None
    return {"kept": bool(draft["owner"] and draft["fields"])}


def _draft_take(request) -> "Draft | None":
    """The draft kept for the page a signed-in user GETs, if they typed it; dropped either way."""
    drafts = request.session.get(SESSION_KEY)
    if not drafts or request.path not in drafts:
        return None
    draft = drafts.pop(request.path)
    if drafts:
        request.session.modified = True
    else:
        del request.session[SESSION_KEY]
    if not (_fresh(draft) and draft["fields"] and draft["owner"]):
        return None
    if not constant_time_compare(draft["owner"], _owner_of(request.user)):
        return None
    data = QueryDict(mutable=True)
    for name, values in draft["fields"].items():
        data.setlist(name, values)
    return Draft(data)


class Draft:
    """What was typed into one form, offered to the forms a page builds while it is shown. The first one
    whose fields take all of it but what its page sent beside it (PAGE_FIELDS; see UnsentDraftMixin) shows
    it; no other."""

    def __init__(self, data: QueryDict):
        self.data = data
        self.form = None

    def typed(self, user=None) -> str:
        """What was typed, to read and copy: the one field's text, or each field's as "Label: text", named
        as the form it was typed in showed it to `user` (_named_as_typed): its label, and what was picked
        rather than its key or id; a field no form names as "Name: text", with what was sent."""
        typed = {
            name: [value for value in values if value]
            for name, values in self.data.lists()
            if name not in PAGE_FIELDS
            and name.rsplit("-", 1)[-1] not in NOT_SHOWN_FIELDS  # a form's prefix, if any, before it
        }
        typed = {name: values for name, values in typed.items() if values}
        named = {name: (pretty_name(name), values) for name, values in typed.items()}
        if user is not None:
            try:
                # Its own savepoint: a lookup the database refuses leaves the page's transaction usable.
                with transaction.atomic():
                    named.update(_named_as_typed(typed, user))
            except Exception:
                # Named by field instead: the page and its message are shown whatever went wrong here.
                logger.exception("A lost draft could not be named as its form names its fields")
        if len(named) == 1:
            return ", ".join(next(iter(named.values()))[1])
        return "\n\n".join(f"{label}: {', '.join(values)}" for label, values in named.values())

    def taken_by(self, form) -> bool:
        typed = set(self.data) - PAGE_FIELDS
        if self.form is None and typed <= {form.add_prefix(name) for name in form.fields}:
            self.form = form
        return self.form is form


def _forms_typed_in(names: set[str], user) -> list[tuple[dict, bool]]:
    """The forms a draft with fields `names` may have been typed in, each as its fields and whether they
    are `user`'s: every form class with UnsentDraftMixin that has all of them, as its shown_to builds it
    for them, or else as its class declares them (whose records' choices are nobody's in particular)."""
    typed_in = []
    token = _offered.set(None)  # a form built here is offered nothing
    try:
        for form_class in _draft_forms:
            if not names <= set(getattr(form_class, "base_fields", ())):
                continue
            form = form_class.shown_to(user)
            fields, users = (form.fields, True) if form is not None else (form_class.base_fields, False)
            if names <= set(fields):  # not one whose __init__ left a field out for them
                typed_in.append((fields, users))
    finally:
        _offered.reset(token)
    return typed_in


def _choice_named(field, value: str, users: bool) -> str:
    """What the person picked in `field` when they sent `value`, as the form showed it, or `value` itself
    when the form does not offer it. A record is named only from the choices of a form built for the person
    (`users`), so one they cannot see (another organisation's, an id made up) is never named."""
    if isinstance(field, forms.ModelChoiceField):
        if not users:
            return value
        try:
            if isinstance(field, forms.ModelMultipleChoiceField):
                record = forms.ModelChoiceField.to_python(field, value)  # each value alone, as one choice
            else:
                record = field.to_python(value)
        except ValidationError:
            return value
        return value if record is None else str(field.label_from_instance(record))
    if isinstance(field, forms.ChoiceField):
        return next((str(label) for key, label in flatten_choices(field.choices) if str(key) == value), value)
    if isinstance(field, forms.BooleanField):
        return {True: "Yes", False: "No"}.get(field.to_python(value), value)
    return value


def _named_as_typed(typed: dict[str, list[str]], user) -> dict[str, tuple[str, list[str]]]:
    """Each field of `typed` that the forms it may have been typed in (_forms_typed_in) name alike, with
    their label and their names for what was picked (two forms with the same fields and different labels
    name it not). Labels come from the form class and are nobody's; records only from `user`'s forms."""
    named = {}
    typed_in = _forms_typed_in(set(typed), user)
    for name, values in typed.items():
        readings = {
            (
                str(fields[name].label or pretty_name(name)),
                tuple(_choice_named(fields[name], value, users) for value in values),
            )
            for fields, users in typed_in
        }
        if len(readings) == 1:
            label, shown = readings.pop()
            named[name] = (label, list(shown))
    return named


@contextlib.contextmanager
def offered_to_forms(request):
    """While a signed-in page is built: the forms it makes (UnsentDraftMixin) are offered the draft kept
    for it, if any, which is yielded (None if none). A GET only: a POST is the form sent again, and keeps
    nothing."""
    draft = _draft_take(request) if request.method == "GET" else None
    token = _offered.set(draft)
    try:
        yield draft
    finally:
        _offered.reset(token)


def draft_said_lost(request, draft: "Draft | None") -> bool:
    """Whether a draft offered to a page went unshown: no form of the page took it (the form is gone, as
    the lead was answered or the engagement cancelled meanwhile, or the page is now a 404 or 403 for
    them). It was dropped when offered, so it is said here, once, as a message with what was typed, for
    them to copy (templates/base.html): not lost without a word."""
    if draft is None or draft.form is not None:
        return False
    messages.warning(request, draft.typed(request.user), extra_tags=LOST_TAG)
    return True


def owner_remembered(request, response) -> None:
    """Every signed-in page tells the browser who is signed in, so that a form sent after they no longer
    are (the session is gone) is kept for them alone."""
    owner = _owner_cookie(request.user)
    if request.COOKIES.get(OWNER_COOKIE) != owner:
        response.set_cookie(
            OWNER_COOKIE,
            owner,
            # Outlives the session it was set in, so a form sent after that ended is still kept.
            max_age=settings.SESSION_COOKIE_AGE + 24 * 60 * 60,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )


class UnsentDraftMixin:
    """For a signed-in page's form: shown empty (unbound) on a page a draft is offered to (offered_to_forms),
    and its fields take every field of the draft, it shows the draft's values instead of its initial ones,
    and `unsent_draft` is true, for the notice. Use it first: `class MyForm(UnsentDraftMixin, forms.Form)`.
    It is decided when the form is first shown, so a form that changes its fields in __init__ is matched
    as the page shows it."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _draft_forms.append(cls)

    @classmethod
    def shown_to(cls, user):
        """The form, unbound, as its page builds it for `user`, to name the records picked in a draft of
        theirs whose page no longer has it (draft_said_lost); None if it takes what only its view knows
        (the default), when only its declared labels and fixed choices name the draft. Never offer a
        record here that `user` may not see: it would be named to them."""
        return None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._draft_offered = None if self.is_bound else _offered.get()

    @cached_property
    def unsent_draft(self) -> bool:
        draft = self._draft_offered
        return draft is not None and draft.taken_by(self)

    @property
    def unsent_draft_page_state(self) -> str | None:
        """The PAGE_STATE the draft's page sent with it ("" if none), for a page that carries one to show
        it again with the draft: what is sent then is compared with the page the draft was typed on, not
        with the record as it now stands. None when the form shows no draft."""
        if not self.unsent_draft:
            return None
        return self._draft_offered.data.get(PAGE_STATE, "")

    def get_initial_for_field(self, field, field_name):
        if self.unsent_draft:
            name, data = self.add_prefix(field_name), self._draft_offered.data
            # A checkbox or a multiple choice left empty is sent as nothing: that is its value too.
            if not field.widget.value_omitted_from_data(data, {}, name):
                return field.widget.value_from_datadict(data, {}, name)
        return super().get_initial_for_field(field, field_name)
