"""Odd input in any admin, ours or another app's, is Django's "invalid lookup" page, never a 500."""

import pytest
from django.contrib import admin

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
