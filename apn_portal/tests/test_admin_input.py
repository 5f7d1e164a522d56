"""Odd input in any admin, ours or another app's, is Django's "invalid lookup" page, never a 500."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from apn_portal.admin import AdminInputMixin
from tests.factories import SuperUserFactory

pytestmark = pytest.mark.django_db


def test_every_registered_admin_is_guarded_against_odd_input():
    unguarded = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, AdminInputMixin)
    ]
    assert unguarded == []


@pytest.mark.parametrize(
    "url", ["/admin/auth/group/", "/admin/axes/accessattempt/", "/admin/authtoken/tokenproxy/"]
)
def test_a_nul_in_another_apps_admin_search_is_an_invalid_lookup(client, url):
    client.force_login(SuperUserFactory())

    response = client.get(url, {"q": "admin\x00"})

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


DATE_HIERARCHIES = [
    (model, model_admin.date_hierarchy)
    for model, model_admin in admin.site._registry.items()
    if model_admin.date_hierarchy
]


@pytest.mark.parametrize(
    "day",
    [{"year": "9999"}, {"year": "9999", "month": "12"}, {"year": "100000000000000000000"}, {"year": "0"}],
    ids=["the last year", "its last month", "past any year", "year 0"],
)
@pytest.mark.parametrize(
    ("model", "field"), DATE_HIERARCHIES, ids=[model._meta.label for model, _ in DATE_HIERARCHIES]
)
def test_a_date_no_calendar_holds_in_a_date_hierarchy_is_an_invalid_lookup(client, model, field, day):
    client.force_login(SuperUserFactory())
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    response = client.get(url, {f"{field}__{part}": value for part, value in day.items()})

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda model: model._meta.label)
def test_an_action_on_ids_that_cannot_be_ids_selects_nothing(client, rf, model):
    superuser = SuperUserFactory()
    client.force_login(superuser)
    request = rf.get("/admin/")
    request.user = superuser
    action = next(iter(admin.site._registry[model].get_actions(request)), None)
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    response = client.post(url, {"action": action or "", "_selected_action": ["abc", "1\x00"], "index": 0})

    if action is None:  # nothing to act with: the list, as for a GET
        assert response.status_code == 200 and response.context["cl"].model is model
        return
    assert response.status_code == 302
    assert (
        "Items must be selected in order to perform actions"
        in client.get(response["Location"]).content.decode()
    )


def test_an_action_still_acts_on_the_real_ids_beside_odd_ones(client):
    client.force_login(SuperUserFactory())
    group = Group.objects.create(name="Reviewers")

    response = client.post(
        "/admin/auth/group/", {"action": "delete_selected", "_selected_action": [group.pk, "abc"], "index": 0}
    )

    assert response.status_code == 200  # the confirmation page, naming the real one
    assert "Are you sure" in response.content.decode() and "Reviewers" in response.content.decode()


def test_cleaning_up_expired_sign_in_attempts_from_the_admin(client):
    client.force_login(SuperUserFactory())
    common = {
        "user_agent": "test",
        "ip_address": "192.0.2.1",
        "get_data": "",
        "post_data": "",
        "path_info": "/",
    }
    old = AccessAttempt.objects.create(username="old", failures_since_start=3, **common)
    AccessAttempt.objects.filter(pk=old.pk).update(
        attempt_time=timezone.now() - datetime.timedelta(hours=settings.AXES_COOLOFF_TIME + 1)
    )
    recent = AccessAttempt.objects.create(username="recent", failures_since_start=3, **common)

    response = client.post(
        "/admin/axes/accessattempt/",
        {"action": "cleanup_expired_attempts", "_selected_action": [recent.pk], "index": 0},
        follow=True,
    )

    assert response.status_code == 200
    assert "Cleaned up 1 expired access attempts." in response.content.decode()
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["recent"]


AUTOCOMPLETES = [
    (model, field)
    for model, model_admin in admin.site._registry.items()
    for field in model_admin.autocomplete_fields
]


@pytest.mark.parametrize(
    ("model", "field"), AUTOCOMPLETES, ids=[f"{m._meta.label}.{f}" for m, f in AUTOCOMPLETES]
)
def test_a_nul_typed_in_an_autocomplete_box_finds_nothing(client, model, field):
    client.force_login(SuperUserFactory())
    query = {"app_label": model._meta.app_label, "model_name": model._meta.model_name, "field_name": field}

    response = client.get("/admin/autocomplete/", {**query, "term": "a\x00"})

    assert response.status_code == 200
    assert response.json()["results"] == []
