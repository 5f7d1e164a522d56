"""Shared admin building blocks: paging that never counts a whole big table, CSV streaming, limits on
bulk actions, how a refused action is reported and odd input refused without a 500. Every app's admin
builds on these."""

import csv
import datetime
import itertools
import math
import re

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import NestedObjects, quote, unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    FieldDoesNotExist,
    ObjectDoesNotExist,
    PermissionDenied,
    ValidationError,
)
from django.core.paginator import EmptyPage, Paginator
from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.db.models import ForeignKey, QuerySet, TextField
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject, ModelChange, ModelDelta
from simple_history.template_utils import HistoricalRecordContextHelper
from simple_history.utils import get_m2m_reverse_field_name

from apn_portal.admin_page_state import (
    PAGE_STATE,
    EditedMeanwhileRefusedForm,
    edited_meanwhile,
    page_state,
    shown_value,
)
from apn_portal.api.constraints import save_clash
from apn_portal.exceptions import ConflictError, DomainError, rolled_back_by_the_database
from apn_portal.fields import IdMultipleChoiceField
from apn_portal.forms import TextareaField
from apn_portal.pages import form_error

# Bulk actions run one service call per row inside the request, 15 to 35 ms each (a tier change, with its
# record, history, search entry, emails and webhook event, is the dearest): beyond this, narrow the list
# first, so an action ends well inside the web server's 30 s timeout on a busy machine too. 1,000 tier
# changes took 33 s.
ACTION_MAX_OBJECTS = 250
# An action made in a fixed number of statements whatever the selection (publishing): 1,000 take 1 s.
SET_ACTION_MAX_OBJECTS = 1000


# The largest OFFSET PostgreSQL takes (a bigint).
MAX_ROW_OFFSET = 2**63 - 1


class CappedCountPaginator(Paginator):
    """Counts at most `count_cap` + 1 rows (`SELECT COUNT(*) FROM (... LIMIT n)`), so a page of a table
    with millions of rows costs the same as a page of a small one.

    Past the cap the list says "10,000+" (or PostgreSQL's own estimate when nothing filters the list)
    and pages beyond the cap are still served, simply without a page link of their own.
    """

    count_cap = 10_000

    @cached_property
    def _capped_count(self) -> int:
        # Only the primary key: annotations and joins for the list columns are not needed to count rows.
        return self.object_list.order_by().values("pk")[: self.count_cap + 1].count()

    @property
    def count_is_capped(self) -> bool:
        return self._capped_count > self.count_cap

    @cached_property
    def count(self) -> int:
        return min(self._capped_count, self.count_cap)

    @cached_property
    def estimated_total(self) -> int | None:
        """PostgreSQL's planner estimate of the table's rows, for an unfiltered list past the cap."""
        if not self.count_is_capped or self.object_list.query.where:
            return None
        connection = connections[self.object_list.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [self.object_list.model._meta.db_table],
            )
            row = cursor.fetchone()
        return row[0] if row and row[0] > self.count_cap else None

    @property
    def count_label(self) -> str | None:
        """What the list shows instead of the exact count when it was capped; None when exact."""
        if not self.count_is_capped:
            return None
        if self.estimated_total:
            magnitude = 10 ** max(0, int(math.log10(self.estimated_total)) - 1)
            return f"about {intcomma(round(self.estimated_total / magnitude) * magnitude)}"
        return f"{intcomma(self.count_cap)}+"

    def validate_number(self, number):
        try:
            return super().validate_number(number)
        except EmptyPage:
            # Past the capped count the rows may well exist: serve the page, at worst empty; one whose
            # offset no database row number reaches (PostgreSQL's OFFSET is a bigint) is past the end.
            if self.count_is_capped and int(number) >= 1 and int(number) * self.per_page < MAX_ROW_OFFSET:
                return int(number)
            raise

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if not self.count_is_capped and top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self._rows(bottom, top), number, self)

    def _rows(self, bottom: int, top: int):
        rows = self.object_list
        if bottom == 0 or not isinstance(rows, QuerySet) or rows.query.distinct:
            return rows[bottom:top]
        # The database computes a row's columns (the list's subqueries) even for rows an OFFSET skips:
        # find the page's keys on the ordering alone, then read only those rows.
        return rows.filter(pk__in=rows.values("pk")[bottom:top])


def _is_key_of(field, value) -> bool:
    """Whether `value` is something `field` (a primary or natural key) could hold."""
    try:
        field.to_python(value)
    except ValidationError:
        return False
    return "\x00" not in str(value)


class _KnownKeysOnlyMixin:
    """Django's autocomplete widget looks the posted value up as is to show it again beside the form's
    error: a value the key cannot hold ("abc" for an id) would fail that query with a 500.

    It looks up what each widget shows chosen, one query per widget: on an inline's rows, one per row.
    ChosenReadTogetherFormSetMixin reads them for all the rows at once and hands them over in `chosen`."""

    chosen = None  # {str(key): object}, when the formset has read them

    def optgroups(self, name, value, attr=None):
        key = self._key_field()
        keys = [item for item in value if _is_key_of(key, item)]
        selected = [str(item) for item in keys if str(item) not in self.choices.field.empty_values]
        if self.chosen is None or any(item not in self.chosen for item in selected):
            return super().optgroups(name, keys, attr)
        # What Django's own builds from its query: the empty choice of an optional single select, then the
        # chosen objects, each selected.
        options = []
        if not self.is_required and not self.allow_multiple_selected:
            options.append(self.create_option(name, "", "", False, 0))
        selected = set(selected)
        for item, obj in self.chosen.items():  # in the choices' own order, as Django's query gives them
            if item in selected:
                label = self.choices.field.label_from_instance(obj)
                value = getattr(obj, key.attname)
                options.append(self.create_option(name, value, label, selected, len(options)))
        return [(None, options, 0)]

    def _key_field(self):
        remote_opts = self.field.remote_field.model._meta
        return remote_opts.get_field(getattr(self.field.remote_field, "field_name", remote_opts.pk.attname))


class ChosenReadTogetherFormSetMixin:
    """For an inline's formset: what its rows' autocomplete widgets show chosen is read for all the rows
    at once, one query per field, not one per row (_KnownKeysOnlyMixin)."""

    @cached_property
    def forms(self):
        forms = super().forms
        if not forms:
            return forms
        for name, field in forms[0].fields.items():
            if _autocomplete_of(field) is None:
                continue
            widgets = [_autocomplete_of(form.fields[name]) for form in forms]
            key = widgets[0]._key_field()
            keys = {
                str(item)
                for form in forms
                for item in _as_list(form[name].value())
                if item not in field.empty_values and _is_key_of(key, item)
            }
            found = field.queryset.using(widgets[0].db).filter(**{f"{key.attname}__in": keys})
            chosen = {str(getattr(obj, key.attname)): obj for obj in found}
            for widget in widgets:
                widget.chosen = chosen
        return forms


def _autocomplete_of(field) -> _KnownKeysOnlyMixin | None:
    # The admin wraps it to add its "add another" and "change" links.
    widget = getattr(field.widget, "widget", field.widget)
    return widget if isinstance(widget, _KnownKeysOnlyMixin) else None


def _as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


class CheckedAutocompleteSelect(_KnownKeysOnlyMixin, AutocompleteSelect):
    pass


class CheckedAutocompleteSelectMultiple(_KnownKeysOnlyMixin, AutocompleteSelectMultiple):
    pass


# The request attribute that carries a service's refusal at save time to the form shown again.
_SAVE_REFUSAL = "_apn_admin_save_refusal"


class _RefusedSaveForm:
    """Mixed into an admin's form: invalid, with the service's refusal beside the field it names (else
    above the form), unless the form's own checks already say the same."""

    save_refusal = None  # the DomainError

    def full_clean(self):
        super().full_clean()
        if not self.is_bound or self.save_refusal is None:
            return
        if any(self.save_refusal.message in errors for errors in self.errors.values()):
            return
        form_error(self, self.save_refusal)


class _ModelRulesShownForm:
    """Mixed into every admin's form: a rule of the model (its clean()) about a field this page does not
    edit (shown read-only, or not at all) is said above the form, naming the field, where Django's form
    would fail on it with a 500 ("has no field named ...")."""

    def _update_errors(self, errors):
        error_dict = getattr(errors, "error_dict", None) or {}
        for name in [name for name in error_dict if name != NON_FIELD_ERRORS and name not in self.fields]:
            try:
                label = capfirst(self._meta.model._meta.get_field(name).verbose_name)
            except FieldDoesNotExist:
                label = name
            messages_of_field = ValidationError(error_dict.pop(name)).messages
            error_dict.setdefault(NON_FIELD_ERRORS, []).extend(
                ValidationError(f"{label}: {message}") for message in messages_of_field
            )
        super()._update_errors(errors)


def keep_unedited_as_stored(obj, form) -> None:
    """Before `form` saves `obj`, take every column the form does not edit as stored now, with the row
    locked until the save commits.

    Django saves every column as the page read it. What a page does not edit (a column it shows read-only
    or not at all) changes through services and the scheduled checks (a status, a tier, an approval, a
    reminder sent); written back as read, such a change committed while the save was on its way would be
    undone.

    What it does edit was checked against what its page showed (EditedMeanwhileRefusedForm) when the save
    began, unlocked: a colleague's save committed since (two saves at the same moment) is refused here,
    under the lock, rather than written over."""
    recheck = getattr(form, "checked_against_its_page", False)
    unedited, edited = [], []
    for field in obj._meta.concrete_fields:
        if not field.primary_key:
            (edited if field.name in form.fields else unedited).append(field)
    fields = unedited + (edited if recheck else [])
    if not fields:
        return
    stored = (
        type(obj)
        ._base_manager.select_for_update(of=("self",))
        .order_by()  # a default ordering by an owner would join, and lock, the owner's row too
        .filter(pk=obj.pk)
        .values(*(f.attname for f in fields))
        .first()
    )
    if stored is None:
        return  # deleted meanwhile: Django's save says so
    if recheck and any(
        shown_value(stored[field.attname]) != shown_value(form.initial.get(field.name)) for field in edited
    ):
        raise ConflictError(edited_meanwhile(obj))
    for field in unedited:
        setattr(obj, field.attname, stored[field.attname])


# Fields no admin list may be filtered by (label_lower, field name): a lookup reaching one, or a relation
# to a model whose key is one (a user's `auth_token` compares its key), is refused.
SECRET_FIELDS = {
    ("accounts.user", "password"),
    ("authtoken.token", "key"),
    ("webhooks.webhookendpoint", "secret"),
}


def _is_secret(model, field) -> bool:
    return (model._meta.label_lower, field.name) in SECRET_FIELDS


def _reaches_a_secret(model, lookup: str) -> bool:
    for part in lookup.split(LOOKUP_SEP):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False  # a lookup ("startswith") or no field: Django judges the rest
        if _is_secret(model, field):
            return True
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
        if _is_secret(model, model._meta.pk):
            return True
    return False


class _RowsKeptAsStoredFormSet:
    """Mixed into every inline formset of an admin page: a row changed is saved as its page's own record
    is (keep_unedited_as_stored), whoever saves it (Django, or the admin's save_formset through a
    service, which calls this too)."""

    def save_existing(self, form, obj, commit=True):
        keep_unedited_as_stored(obj, form)
        return super().save_existing(form, obj, commit)


def deleted_objects(objs, request, admin_site):
    """Django's summary of what deleting `objs` takes (django.contrib.admin.utils.get_deleted_objects), each
    record linked to its admin page only when the user may open it: Django links every record that has
    one, so a PDM deleting a partner was offered its webhook endpoints' pages, which answer them 403."""
    try:
        using = router.db_for_write(objs[0]._meta.model)
    except IndexError:
        return [], {}, set(), []
    collector = NestedObjects(using=using, origin=objs)
    collector.collect(objs)
    perms_needed = set()
    may_open: dict[type, bool] = {}

    def format_callback(obj):
        model, opts = obj.__class__, obj._meta
        no_edit_link = f"{capfirst(opts.verbose_name)}: {obj}"
        if not admin_site.is_registered(model):
            return no_edit_link
        model_admin = admin_site.get_model_admin(model)
        if not model_admin.has_delete_permission(request, obj):
            perms_needed.add(opts.verbose_name)
        if model not in may_open:
            may_open[model] = model_admin.has_view_or_change_permission(request)
        if not may_open[model]:
            return no_edit_link
        try:
            url = reverse(
                f"{admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=(quote(obj.pk),)
            )
        except NoReverseMatch:
            return no_edit_link
        return format_html('{}: <a href="{}">{}</a>', capfirst(opts.verbose_name), url, obj)

    to_delete = collector.nested(format_callback)
    protected = [format_callback(obj) for obj in collector.protected]
    counts = {model._meta.verbose_name_plural: len(objs) for model, objs in collector.model_objs.items()}
    return to_delete, counts, perms_needed, protected


class AdminInputMixin:
    """Whatever is typed or pasted into an admin address or form is a form error or Django's "invalid
    lookup" page, never a 500. Django hands changelist parameters to PostgreSQL unchecked (where a NUL
    byte cannot be compared with text) and builds a date-hierarchy day from any number. And a change page
    writes back only what it let the user edit (save_model), and a text typed in a textarea is stored with
    its line breaks as on the pages and through the API (formfield_for_dbfield)."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # The browser sends each line break as CR LF: read as one LF, as apn_portal.forms.textarea_formfield
        # does for the pages' model forms, and before any max_length is checked.
        if isinstance(db_field, TextField):
            kwargs.setdefault("form_class", TextareaField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            keep_unedited_as_stored(obj, form)
        super().save_model(request, obj, form, change)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = deleted_objects(objs, request, self.admin_site)
        # Records that go with what they belong to (DeletedWithParentMixin) are taken by the deletion that
        # collected them, which Django would refuse for their admin's missing delete permission: they are
        # listed as going with it, and their permission is not asked.
        along = {
            str(model._meta.verbose_name)
            for model, model_admin in self.admin_site._registry.items()
            if isinstance(model_admin, DeletedWithParentMixin)
        }
        return deleted, counts, {name for name in perms_needed if str(name) not in along}, protected

    def lookup_allowed(self, lookup, value, request=None):
        # A list filtered by a secret says whether it starts with "a", then "ab", ...: it gives the whole
        # secret away, one character at a time (Django refuses only the password). Refused: a 400.
        if _reaches_a_secret(self.model, lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_changelist_instance(self, request):
        parameters = request.GET.lists()
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in parameters):
            raise IncorrectLookupParameters("A parameter holds a NUL character.")
        try:
            return super().get_changelist_instance(request)
        # ?created_at__year=100000000000000000000 overflows; ?created_at__year=9999 is a year whose next
        # (the end of the range Django filters on) no date can hold.
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(str(error)) from error

    def get_search_results(self, request, queryset, search_term):
        # The autocomplete of every select box hands its typed term here unchecked, and PostgreSQL refuses
        # to compare text with a NUL: no stored text holds one, so such a term matches nothing.
        if "\x00" in search_term:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            try:
                return super().changeform_view(request, object_id, form_url, extra_context)
            except IntegrityError as error:
                # The form checked its unique fields against the stored rows, then somebody else saved the
                # same ones first (two PDMs adding one tier rank): the database's refusal, said as one.
                raise save_clash(error) from error
        except DomainError as error:
            # The form was checked, then the service refused the save: the records changed in between
            # (somebody else's edit, the day turning). Django's transaction has rolled the save back.
            if request.method != "POST" or hasattr(request, _SAVE_REFUSAL):
                self.message_user(request, error.message, messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
            return self._changeform_view_refused(request, object_id, form_url, extra_context, error)

    def _changeform_view_refused(self, request, object_id, form_url, extra_context, error):
        """The same POST once more, its form carrying the refusal (get_form): the form is invalid, so
        Django shows it again with what was typed, inlines included, and the refusal where it belongs;
        nothing is saved."""
        setattr(request, _SAVE_REFUSAL, error)
        try:
            # Rolled back whatever happens: this pass only shows the form (a form's check that wrote
            # something would otherwise keep it).
            using = router.db_for_write(self.model)
            with transaction.atomic(using=using):
                response = super().changeform_view(request, object_id, form_url, extra_context)
                transaction.set_rollback(True, using=using)
            return response
        except DomainError as again:  # refused before the form was even built: the page as it now is
            self.message_user(request, again.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        finally:
            delattr(request, _SAVE_REFUSAL)

    def get_form(self, request, obj=None, *args, **kwargs):
        # `change` passed on as it comes (by position from this project's admins, by name from Django):
        # Django's UserAdmin.get_form takes it only by name.
        form = super().get_form(request, obj, *args, **kwargs)
        refusal = getattr(request, _SAVE_REFUSAL, None)
        # Wrapped here, under every admin's own get_form, so that any form the admin builds says them.
        if refusal is None:
            return type(form.__name__, (EditedMeanwhileRefusedForm, _ModelRulesShownForm, form), {})
        return type(
            form.__name__,
            (_RefusedSaveForm, EditedMeanwhileRefusedForm, _ModelRulesShownForm, form),
            {"save_refusal": refusal},
        )

    def get_formsets_with_inlines(self, request, obj=None):
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            form = type(formset.form.__name__, (EditedMeanwhileRefusedForm, formset.form), {})
            yield type(formset.__name__, (_RowsKeptAsStoredFormSet, formset), {"form": form}), inline

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change:
            # Shown again after a refusal, the page still shows the values it was opened with.
            posted = request.POST.get(PAGE_STATE) if request.method == "POST" else None
            context["page_state"] = posted or page_state(
                context["adminform"].form, [inline.formset for inline in context["inline_admin_formsets"]]
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_action(self, request, queryset):
        # Django filters the selection by the posted ids unchecked: one that cannot be an id ("abc") is
        # simply not selected (none left: Django's own "items must be selected").
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        keys = [value for value in selected if _is_key_of(self.opts.pk, value)]
        if len(keys) != len(selected):
            request.POST = request.POST.copy()
            request.POST.setlist(helpers.ACTION_CHECKBOX_NAME, keys)
        return super().response_action(request, queryset)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        # An id no id column can hold is an invalid choice, not a 500 on SQLite.
        kwargs.setdefault("form_class", IdMultipleChoiceField)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def refuse_deleting_outside_scope(modeladmin, request, count: int) -> None:
    """Say a bulk delete is refused for the `count` selected records outside the user's scope (another PDM's
    partners'): counted, never named, as their delete pages answer 403. What they are and how they stand is
    no business of the user's, and a reason given for one would tell it."""
    opts = modeladmin.opts
    noun, verb = (opts.verbose_name, "is") if count == 1 else (opts.verbose_name_plural, "are")
    modeladmin.message_user(
        request,
        f"Nothing was deleted: the selection includes {count} {noun} that {verb} not yours to delete.",
        messages.ERROR,
    )


class GuardedDeletionMixin:
    """Deleting, from a record's page or with the list's bulk action, is refused with the reasons
    `deletion_problems` gives, before Django collects what would go with the records. A selection holding
    any refused record is refused whole, as Django refuses one with protected records, each reason said. In
    a scoped admin (a PDM's partners) records outside the user's scope are refused as their pages are: the
    selection's are counted, not named, and only the reasons of the records within it are said.

    The bulk action guarded is whichever the admin's other mixins made of Django's (a partner scope check,
    say): this mixin wraps it, so list it before them."""

    def deletion_problems(self, queryset) -> list[str]:
        """Why the records of `queryset` cannot be deleted together, one sentence each, or none."""
        raise NotImplementedError

    def _refuse_deletion(self, request, queryset) -> bool:
        problems = self.deletion_problems(queryset)
        for problem in problems:
            self.message_user(request, f"Not deleted: {problem}", messages.ERROR)
        return bool(problems)

    def _within_scope(self, request, obj) -> bool:
        # A scoped admin (a PDM's partners: PartnerScopedAdminMixin.is_editable) refuses another's record
        # outright, 403, as Django would: its reasons are for records the user could otherwise delete.
        is_editable = getattr(self, "is_editable", None)
        return is_editable is None or is_editable(request, obj)

    def _refuse_selection(self, request, queryset) -> bool:
        """The bulk action's refusal: as on the record's page, another's records are refused outright, and
        the reasons given are those of the records within the user's scope."""
        within = self._scope_of(request, queryset)
        if within is None:
            return self._refuse_deletion(request, queryset)
        outside = queryset.count() - within.count()
        if outside:
            refuse_deleting_outside_scope(self, request, outside)
        return self._refuse_deletion(request, within) or bool(outside)

    def _scope_of(self, request, queryset):
        """The records of `queryset` within the user's scope, or None in an admin without one."""
        if getattr(self, "is_editable", None) is None:
            return None
        editable_subset = getattr(self, "editable_subset", None)
        if editable_subset is not None:
            return editable_subset(request, queryset)
        return queryset.filter(pk__in=[obj.pk for obj in queryset if self._within_scope(request, obj)])

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        # The model-wide permission: a record's own may be refused for the very reason shown here.
        if (
            obj is not None
            and self.has_delete_permission(request)
            and self._within_scope(request, obj)
            and self._refuse_deletion(request, self.model._default_manager.filter(pk=obj.pk))
        ):
            opts = self.opts
            return HttpResponseRedirect(
                reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change",
                    args=[obj.pk],
                    current_app=self.admin_site.name,
                )
            )
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            delete, name, description = actions["delete_selected"]

            def guarded_delete_selected(modeladmin, request, queryset):
                # Asked on the confirmation page and again on its "Yes".
                if modeladmin._refuse_selection(request, queryset):
                    return None
                return delete(modeladmin, request, queryset)

            actions["delete_selected"] = (guarded_delete_selected, name, description)
        return actions


class DeletedWithParentMixin:
    """Records that mean nothing without the record they belong to (a partner's tier history, its profile
    proposals, the webhook endpoints registered for its events): deleting it, on its page or with its
    list's bulk action, by anybody who may delete it, takes them and lists them in its summary, without
    asking a delete permission of their own (AdminInputMixin.get_deleted_objects), which the deleter may
    not have (a PDM deletes no tier change). Whether they are deleted on their own is their admin's affair.

    A record that must outlive what it belongs to (an email sent, a lead) is not one: the parent's deletion
    is refused with the reason (GuardedDeletionMixin.deletion_problems), or the record is protected, which
    the parent's deletion_problems then names too (apn_portal.deletion.kept_by)."""


class DeletedOnlyWithParentMixin(DeletedWithParentMixin):
    """Records that go only with the record they belong to (a webhook endpoint's deliveries, a partner's
    tier changes): no Delete of their own, on their page, in the list's actions or at their delete address.
    Deleting the record they belong to still takes them (DeletedWithParentMixin)."""

    def has_delete_permission(self, request, obj=None):
        return False


class LargeTableAdminMixin(AdminInputMixin):
    """For tables that grow large: no full COUNT(*), no facet counts, no "show all". (Every such table is
    also guarded against odd input: AdminInputMixin.)"""

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_max_show_all = 0


class _QueryOnlyChangeList(ChangeList):
    """A changelist that builds its filtered, searched, ordered queryset but neither counts nor pages it."""

    def get_results(self, request):
        self.result_list = self.queryset
        self.result_count = None
        self.paginator = None


class ChangeListQuerysetMixin:
    """Gives a ModelAdmin `changelist_queryset(request)`: exactly what the changelist shows for the
    request's filters, search and ordering, e.g. to export it."""

    def get_changelist(self, request, **kwargs):
        if getattr(request, "_changelist_query_only", False):
            return _QueryOnlyChangeList
        return super().get_changelist(request, **kwargs)

    def changelist_queryset(self, request):
        request._changelist_query_only = True
        try:
            return self.get_changelist_instance(request).queryset
        finally:
            request._changelist_query_only = False


def selection_too_large(modeladmin, request, queryset, limit: int | None = None) -> bool:
    """Refuse (with a message) an action on more rows than one request should change: `limit`, or
    ACTION_MAX_OBJECTS for an action of one service call per row."""
    limit = limit or ACTION_MAX_OBJECTS
    if queryset.order_by().values("pk")[: limit + 1].count() <= limit:
        return False
    modeladmin.message_user(
        request,
        f"Select at most {intcomma(limit)} rows for this action; narrow the list with "
        "filters or a search first.",
        messages.ERROR,
    )
    return True


# CSV export --------------------------------------------------------------------------------------------

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Excel where the list separator is ";" (German, French, Dutch...) splits a line on every ";", quoted or
# not, and a tab may split it too: what follows one starts a cell of its own.
_FORMULA_AFTER_SEPARATOR = re.compile(r"(?<=[;\t])(?=[=+\-@\t\r])")


# What stops one row of a bulk action, said naming the row, while the action goes on with the next: a
# service's refusal, or PostgreSQL undoing that row's transaction to break a deadlock with another request
# (report_refusal raises any other database error). The rows done before it stay done, each in its own
# transaction, so the "nothing was saved" page (apn_portal.middleware) would not be true.
ROW_REFUSALS = (DomainError, OperationalError)
ROW_ROLLED_BACK = (
    "not changed: another change to it was being made at the same moment, and the database undid this "
    "one. Select it again and repeat the action."
)


def report_refusal(modeladmin, request, subject: str, error: DomainError | OperationalError) -> None:
    """A service refused an admin action on `subject`: say why, as a warning for a conflict (it is
    already so), as an error otherwise."""
    if isinstance(error, OperationalError):
        if not rolled_back_by_the_database(error):
            raise error
        modeladmin.message_user(request, f"{subject}: {ROW_ROLLED_BACK}", messages.ERROR)
        return
    level = messages.WARNING if isinstance(error, ConflictError) else messages.ERROR
    modeladmin.message_user(request, f"{subject}: {error.message}", level)


def report_each_change(
    modeladmin, request, objects, change, *, name=str, changed: str, already: str, separator: str = ", "
) -> None:
    """Run `change` on each object (it returns a false value for one that was already so, and may return
    the text naming what it did) and say which it changed ("{changed} 2: A, B."), which were already so
    ("Nothing to do: {already}: C.") and why it refused any. Only what it was run on is named: a selection
    whose rows were all left out before (another PDM's, said so already) gets no "nothing to do", as those
    rows may well need doing."""
    done, unchanged = [], []
    for obj in objects:
        try:
            result = change(obj)
        except ROW_REFUSALS as error:
            report_refusal(modeladmin, request, name(obj), error)
            continue
        if result:
            done.append(result if isinstance(result, str) else name(obj))
        else:
            unchanged.append(name(obj))
    if done:
        modeladmin.message_user(request, f"{changed} {len(done)}: {separator.join(done)}.", messages.SUCCESS)
    if unchanged:
        modeladmin.message_user(request, f"Nothing to do: {already}: {separator.join(unchanged)}.")


def csv_cell(value) -> str:
    """A value as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    text = str(value)
    if not isinstance(value, str):
        return text
    text = _FORMULA_AFTER_SEPARATOR.sub("'", text)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


class _Echo:
    def write(self, value):
        return value


def csv_streaming_response(filename: str, header, rows) -> StreamingHttpResponse:
    """Stream rows as a CSV download: memory stays flat however many rows there are."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # the byte order mark spreadsheets need to read UTF-8
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class _HistoryContextHelper(HistoricalRecordContextHelper):
    """django-simple-history's formatting of a version's changes, except that a foreign key that was
    empty on one side reads as empty: the library gives it a DeletedObject too, shown as "Deleted tier
    (pk=None)", as if a tier had been deleted."""

    def prepare_delta_change_value(self, change, value):
        if isinstance(value, DeletedObject) and value.pk is None:
            value = None
        return super().prepare_delta_change_value(change, value)


def _history_m2m_rows(model, history_model, name: str, records, foreign_keys_are_objs: bool) -> dict:
    """By version (history id): the rows of many-to-many field `name` recorded with it, in one query, as
    django-simple-history's diff reads them one version at a time: (the rows' values, with related ids,
    to compare; the rows to show, with related objects, or a DeletedObject for one since deleted, when
    `foreign_keys_are_objs`)."""
    m2m_model = getattr(history_model, name).model
    fields = [
        field
        for field in m2m_model._meta.fields
        if field.editable and field.name not in ("id", "m2m_history_id", "history")
    ]
    foreign_keys = [field for field in fields if isinstance(field, ForeignKey)]
    ordering = get_m2m_reverse_field_name(model._meta.get_field(name))
    queryset = (
        m2m_model._default_manager.filter(history__in=[record.pk for record in records])
        .order_by("history_id", ordering)
        .select_related(*(field.name for field in foreign_keys))
    )

    def shown(row, field):
        if not isinstance(field, ForeignKey):
            return getattr(row, field.name)
        try:
            value = getattr(row, field.name)
        except ObjectDoesNotExist:
            value = None
        return DeletedObject(field.related_model, getattr(row, field.attname)) if value is None else value

    by_version: dict = {}
    for row in queryset:
        values, rows = by_version.setdefault(row.history_id, ([], []))
        values.append({field.name: getattr(row, field.attname) for field in fields})
        rows.append(
            {field.name: shown(row, field) for field in fields} if foreign_keys_are_objs else values[-1]
        )
    return by_version


class AuditedAdmin(AdminInputMixin, SimpleHistoryAdmin):
    """Shows who changed what and when, from django-simple-history's records.

    Reverting to an old version is off: a revert would write around the services that own each change
    (a tier change needs a reason, an approval its audit), so history is for reading only.
    """

    def revert_disabled(self, request, obj=None):
        return True

    def get_historical_record_context_helper(self, request, historical_record):
        return _HistoryContextHelper(self.model, historical_record)

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        """The versions with, besides their own foreign keys (as django-simple-history reads them), what
        the changelist reads to name a record (`list_select_related`, where it starts from a key the
        history keeps): the history page names every version as the record is named (a team member by
        their person, Professional Services by their engagement and its customer)."""
        queryset = super().get_history_queryset(request, history_manager, pk_name, object_id)
        kept = {field.name for field in history_manager.model.tracked_fields if isinstance(field, ForeignKey)}
        related = self.list_select_related if isinstance(self.list_select_related, list | tuple) else ()
        paths = [path for path in related if path.split("__", 1)[0] in kept]
        return queryset.select_related(*paths) if paths else queryset

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        """What changed in each version on the history page, as django-simple-history says it, except
        that its diff reads both versions' rows of every tracked many-to-many field (a customer's access
        administrators), two queries a version: here they are read for the whole page at once, one query
        a field, and compared as the library compares them.

        Each version's record (`history_object`, which the page names it by) is also given the related
        records its version was read with: django-simple-history builds it bare, so naming it by a related
        record (a team member by their person) read that record again, a query a version."""
        historical_records = list(historical_records)
        for record in historical_records:
            version = record.history_object
            version._state.fields_cache.update(
                (name, value)
                for name, value in record._state.fields_cache.items()
                if value is not None and name != "history_user"
            )
            record.history_object = version  # the library's descriptor builds a new one at each read
        history_model = getattr(self.model, self.model._meta.simple_history_manager_attribute).model
        m2m_names = [field.name for field in history_model._history_m2m_fields]
        if not m2m_names:
            return super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs)
        records = list(historical_records)
        rows = {
            name: _history_m2m_rows(self.model, history_model, name, records, foreign_keys_are_objs)
            for name in m2m_names
        }
        for newer, older in itertools.pairwise(records):
            delta = newer.diff_against(
                older, excluded_fields=m2m_names, foreign_keys_are_objs=foreign_keys_are_objs
            )
            changes = list(delta.changes)
            for name in m2m_names:
                old_values, old_shown = rows[name].get(older.pk, ([], []))
                new_values, new_shown = rows[name].get(newer.pk, ([], []))
                if old_values != new_values:
                    changes.append(ModelChange(name, old_shown, new_shown))
            changes.sort(key=lambda change: change.field)
            delta = ModelDelta(changes, [change.field for change in changes], older, newer)
            helper = self.get_historical_record_context_helper(request, newer)
            newer.history_delta_changes = helper.context_for_delta_changes(delta)
        return None

    def history_view(self, request, object_id, extra_context=None):
        if not self._may_read_history(request, object_id):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        if not self._may_read_history(request, object_id) or not _is_key_of(
            self.model.history.model._meta.pk, unquote(version_id)
        ):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _may_read_history(self, request, object_id) -> bool:
        """django-simple-history reads a record's history straight from the history table, even when
        this admin's queryset (the user's scope) leaves the record out: so only a record the user can
        open here, as on its change page. A superuser may also read what was deleted, by an id that could
        be one (django-simple-history queries with whatever the address holds)."""
        if not _is_key_of(self.opts.pk, unquote(object_id)):
            return False
        return request.user.is_superuser or self.get_object(request, unquote(object_id)) is not None
