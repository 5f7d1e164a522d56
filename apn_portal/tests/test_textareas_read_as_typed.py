"""Every multi-line text the portal takes reads its line breaks one way, as apn_portal.forms.TextareaField
does (the pages, the admin) and MultilineCharField (the API): the browser sends CR LF, an API client LF,
and the same text must be stored the same, and held to a limit the same, whichever sent it."""

import pytest
from django import forms
from django.contrib import admin
from django.db import models
from django.test import RequestFactory

import engagements.forms
import partners.forms
import support.forms
from apn_portal.forms import TextareaField
from tests.factories import SuperUserFactory

pytestmark = pytest.mark.django_db


def _textareas_read_as_sent(form_class, model) -> list[str]:
    texts = {field.name for field in model._meta.get_fields() if isinstance(field, models.TextField)}
    return [
        name
        for name, field in form_class.base_fields.items()
        if name in texts and not isinstance(field, TextareaField)
    ]


def test_every_admin_form_reads_a_text_fields_line_breaks_as_typed():
    request = RequestFactory().get("/admin/")
    request.user = SuperUserFactory()
    as_sent = []
    for model, model_admin in admin.site._registry.items():
        form = model_admin.get_form(request)
        as_sent += [f"{model._meta.label}.{name}" for name in _textareas_read_as_sent(form, model)]
        for inline in model_admin.get_inline_instances(request):
            formset = inline.get_formset(request)
            as_sent += [
                f"{type(inline).__name__}: {inline.model._meta.label}.{name}"
                for name in _textareas_read_as_sent(formset.form, inline.model)
            ]
    assert as_sent == []


def test_every_pages_model_form_reads_a_text_fields_line_breaks_as_typed():
    model_forms = [
        form
        for module in (partners.forms, engagements.forms, support.forms)
        for form in vars(module).values()
        if isinstance(form, type) and issubclass(form, forms.ModelForm) and form.__module__ == module.__name__
    ]
    assert model_forms
    as_sent = [
        f"{form.__name__}.{name}"
        for form in model_forms
        for name in _textareas_read_as_sent(form, form._meta.model)
    ]
    assert as_sent == []
