"""What the browser tests share: Debian's chromium (Playwright's own browser download is never used) and a
live server over plain HTTP."""

import os

import pytest
from django.test import override_settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def plain_http_live_server(request):
    """pytest-django's live server, started without the redirect to HTTPS: it speaks plain HTTP.

    The security middleware reads SECURE_SSL_REDIRECT once, when the server builds it, so the setting is
    changed only while it starts and nothing else in the session sees the change.
    """
    with override_settings(SECURE_SSL_REDIRECT=False):
        return request.getfixturevalue("live_server")


@pytest.fixture
def plain_http(settings):
    # Cookies marked Secure would not come back over plain HTTP.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
