"""How the portal's mail goes out in production: an operator who names a mail server has mail sent to it,
one who names none is told before the portal starts, and implicit TLS (port 465) can be configured."""

import json
import secrets
import subprocess
import sys

from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR

PRODUCTION_ENV = {
    **BASE_ENV,
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "portal.example.com",
}


def run_python(*args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def email_settings_under(env):
    code = (
        "import json; from apn_portal import settings as s; "
        "print(json.dumps([s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL]))"
    )
    result = run_python("-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_mail_server_named_without_a_backend_is_sent_to_not_printed():
    backend, host, *_ = email_settings_under(
        {**PRODUCTION_ENV, "EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "587", "EMAIL_USE_TLS": "1"}
    )

    assert (backend, host) == ("django.core.mail.backends.smtp.EmailBackend", "smtp.example.com")


def test_the_embedded_default_still_prints_mail_to_the_console():
    backend, *_ = email_settings_under({**BASE_ENV, "DEBUG": "1"})

    assert backend == "django.core.mail.backends.console.EmailBackend"


def test_deploy_check_fails_when_production_mail_would_only_be_printed():
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    output = result.stdout + result.stderr

    assert result.returncode != 0
    assert "apn_portal.W001" in output
    assert "EMAIL_HOST" in output


def test_implicit_tls_on_port_465_is_read_from_the_environment():
    *_, use_tls, use_ssl = email_settings_under(
        {**PRODUCTION_ENV, "EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "465", "EMAIL_USE_SSL": "1"}
    )

    assert (use_tls, use_ssl) == (False, True)


def test_starttls_and_implicit_tls_together_are_refused_at_start_up():
    env = {**PRODUCTION_ENV, "EMAIL_HOST": "smtp.example.com", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}

    result = run_python("manage.py", "check", env=env)

    assert result.returncode != 0
    assert "EMAIL_USE_TLS and EMAIL_USE_SSL" in result.stderr
