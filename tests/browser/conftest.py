"""What the browser tests share: Debian's chromium (Playwright's own browser download is never used), a
live server over plain HTTP, and the screen sizes pages must fit."""

import os
from pathlib import Path

import pytest
from django.test import override_settings
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

PHONE = {"width": 375, "height": 740}
# WCAG's reflow width: 1280 CSS px zoomed to 400 %.
NARROWEST = {"width": 320, "height": 640}
# How far the whole page scrolls sideways (more than 0: it is wider than the screen).
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def browser():
    assert Path(CHROMIUM).exists(), f"Install Debian's chromium (apt-get install chromium): no {CHROMIUM}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


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
