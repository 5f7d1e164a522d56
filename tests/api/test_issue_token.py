"""`manage.py issue_token`: the token it prints is the one the API accepts."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.factories import PartnerUserFactory


def _issue(*args) -> str:
    out = StringIO()
    call_command("issue_token", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_the_printed_token_signs_the_user_in_and_rotating_replaces_it(db):
    user = PartnerUserFactory(username="integrator")
    key = _issue("integrator")
    assert _issue("integrator") == key  # the same token again, not a new one each time
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/staff-members/").status_code == 200

    new_key = _issue("integrator", "--rotate")
    assert new_key != key
    assert client.get("/api/v1/staff-members/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {new_key}")
    assert client.get("/api/v1/staff-members/").status_code == 200
    assert user.auth_token.key == new_key


def test_an_unknown_or_deactivated_user_gets_no_token(db):
    PartnerUserFactory(username="gone", is_active=False)
    with pytest.raises(CommandError, match="No user named"):
        _issue("nobody")
    with pytest.raises(CommandError, match="deactivated"):
        _issue("gone")
