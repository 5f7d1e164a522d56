"""PORTAL_URL starts every link the portal emails (`{{ portal_url }}/my/...`): given with or without a
trailing slash, the links it makes are the same, never `https://portal.example.com//my/...` (a 404)."""

import pytest

from apn_portal.tests.test_security import PRODUCTION_ENV, settings_under


@pytest.mark.parametrize("given", ["https://portal.example.com/", "https://portal.example.com"])
def test_a_portal_url_with_or_without_its_trailing_slash_makes_the_same_links(given):
    values = settings_under({**PRODUCTION_ENV, "PORTAL_URL": given}, "PORTAL_URL")

    assert values["PORTAL_URL"] + "/my/leads/" == "https://portal.example.com/my/leads/"


def test_a_portal_served_under_a_prefix_keeps_it():
    values = settings_under({**PRODUCTION_ENV, "PORTAL_URL": "https://example.com/apn/"}, "PORTAL_URL")

    assert values["PORTAL_URL"] == "https://example.com/apn"
