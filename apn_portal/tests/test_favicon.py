"""Every page names its icon, so browsers do not ask for /favicon.ico, which answers 404 (a console error
on the first page of every visit)."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["home", "partners:search", "admin:login"])
def test_the_portals_pages_and_the_admins_name_an_icon_that_exists(client, page):
    html = client.get(reverse(page)).content.decode()

    icon = re.search(r'<link rel="icon" href="/static/([^"]+)" type="image/svg\+xml">', html)
    assert icon, "no icon named"
    assert finders.find(icon.group(1)), icon.group(1)
