"""Production security settings: `check --deploy` is clean with a real configuration, HTTPS is enforced
unless configured otherwise, and the health probes stay reachable over plain HTTP."""

import json
import secrets
import subprocess
import sys

import pytest
from django.urls import reverse

from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR

PRODUCTION_ENV = {
    **BASE_ENV,
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "portal.example.com",
    "EMAIL_HOST": "smtp.example.com",
}


def run_python(*args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def settings_under(env, *names):
    """The values the settings module computes from `env`, read in a fresh process."""
    code = (
        "import json; from apn_portal import settings as s; "
        f"print(json.dumps({{name: getattr(s, name, None) for name in {list(names)!r}}}))"
    )
    result = run_python("-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_deploy_check_is_clean_with_debug_off_a_real_key_and_allowed_hosts():
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_deploy_check_fails_with_the_embedded_default_key():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY"}

    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_production_defaults_enforce_https():
    values = settings_under(
        PRODUCTION_ENV,
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_PROXY_SSL_HEADER",
    )

    assert values == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_behind_a_tls_proxy_the_forwarded_protocol_is_trusted():
    values = settings_under(
        {**PRODUCTION_ENV, "BEHIND_TLS_PROXY": "1"}, "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT"
    )

    assert values == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": True,
    }


def test_ssl_redirect_can_be_left_to_the_proxy():
    values = settings_under({**PRODUCTION_ENV, "SECURE_SSL_REDIRECT": "0"}, "SECURE_SSL_REDIRECT")

    assert values == {"SECURE_SSL_REDIRECT": False}


def test_the_local_debug_run_works_over_plain_http():
    values = settings_under(
        {**BASE_ENV, "DEBUG": "1"}, "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "SECURE_HSTS_SECONDS"
    )

    assert values == {"SECURE_SSL_REDIRECT": False, "SESSION_COOKIE_SECURE": False, "SECURE_HSTS_SECONDS": 0}


@pytest.mark.django_db
def test_with_ssl_redirect_pages_move_to_https_but_the_probes_do_not(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.CELERY_BROKER_URL = ""

    home = client.get(reverse("home"))
    healthz = client.get("/healthz")
    readyz = client.get("/readyz")

    assert home.status_code == 301
    assert home["Location"] == "https://testserver/"
    assert healthz.status_code == 200
    assert readyz.status_code == 200


@pytest.mark.django_db
def test_behind_a_tls_proxy_a_forwarded_https_request_is_served(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    response = client.get(reverse("home"), headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200
    assert "max-age=31536000" in response["Strict-Transport-Security"]
