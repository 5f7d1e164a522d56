"""The page layout every template extends: accessible landmarks, and assets served by the portal itself."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from pytest_django.asserts import assertContains

from apn_portal.tests.settings_env import PROJECT_DIR
from tests.factories import PartnerUserFactory, PdmFactory

# A <script src> or <link href> on another host, or a stylesheet @import of one.
REMOTE_ASSET = re.compile(
    r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//|@import\s+(?:url\()?["']?(?:https?:)?//""",
    re.IGNORECASE,
)


@pytest.mark.django_db
def test_every_page_has_a_skip_link_landmarks_and_the_local_stylesheet(client):
    response = client.get(reverse("home"))

    assertContains(response, '<a class="skip-link" href="#main">Skip to main content</a>', html=True)
    assertContains(response, '<main id="main"')
    assertContains(response, '<nav class="site-nav" aria-label="Main">')
    assertContains(response, '<a href="/partners/">Find a partner</a>', html=True)
    assertContains(response, '<link rel="stylesheet" href="/static/css/portal.css">', html=True)
    assertContains(response, "<footer")
    assert finders.find("css/portal.css")


@pytest.mark.django_db
def test_signed_in_staff_see_the_admin_link_and_a_sign_out_form(client):
    client.force_login(PdmFactory())

    response = client.get(reverse("home"))

    assertContains(response, f'<a href="{reverse("admin:index")}">Admin</a>', html=True)
    assertContains(response, f'<form method="post" action="{reverse("logout")}">')
    assertContains(response, 'name="csrfmiddlewaretoken"')


@pytest.mark.django_db
def test_partner_staff_do_not_see_the_admin_link(client):
    client.force_login(PartnerUserFactory())

    response = client.get(reverse("home"))

    assertContains(response, "Sign out")
    assert reverse("admin:index") not in response.content.decode()


def test_no_template_or_stylesheet_loads_assets_from_another_host():
    sources = [
        path
        for pattern in ("templates/**/*.html", "*/templates/**/*.html", "*/static/**/*.css")
        for path in PROJECT_DIR.glob(pattern)
        if ".venv" not in path.parts
    ]
    assert sources, "no templates found"

    remote = [str(path.relative_to(PROJECT_DIR)) for path in sources if REMOTE_ASSET.search(path.read_text())]

    assert remote == [], "the portal must work on a closed network: serve these assets locally"
