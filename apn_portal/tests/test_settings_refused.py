"""A setting written wrong stops the portal at start-up with a message naming it and the form it takes,
rather than passing every check and turning into a 500 on every request, or into another number."""

import os
import secrets
import signal
import subprocess
import sys

import pytest

from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR


@pytest.fixture
def production_env(tmp_path):
    return {
        **BASE_ENV,
        "DJANGO_SETTINGS_MODULE": "apn_portal.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "portal.example.com",
        "EMAIL_HOST": "smtp.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


def run_python(*args, env):
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def last_line(output: str) -> str:
    """What the code printed, after anything django-axes prints as it loads."""
    return output.strip().splitlines()[-1] if output.strip() else ""


@pytest.mark.parametrize(
    ("name", "value", "example"),
    [
        ("API_THROTTLE_ANON", "lots", "120/min"),
        ("API_THROTTLE_TOKEN", "", "120/min"),
        ("API_THROTTLE_CONTACT_REQUESTS", "10/fortnight", "120/min"),
    ],
)
def test_an_api_rate_that_cannot_be_read_stops_the_start(production_env, name, value, example):
    # `migrate` (the compose stack's first step) and `runserver` run the same checks as `check`.
    result = run_python("manage.py", "check", env={**production_env, name: value})
    output = result.stdout + result.stderr

    assert result.returncode != 0
    assert "apn_portal.E002" in output
    assert name in output
    assert example in output


def test_api_rates_as_the_readme_writes_them_pass(production_env):
    env = {**production_env, "API_THROTTLE_ANON": "60/hour", "API_THROTTLE_TOKEN": "5/second"}

    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("AXES_COOLOFF_HOURS", "30m"), ("WEBHOOK_TIMEOUT_SECONDS", "2 hours"), ("EMAIL_TIMEOUT", "30s")],
)
def test_a_number_with_a_unit_after_it_stops_the_start(production_env, name, value):
    result = run_python("-c", "import django; django.setup()", env={**production_env, name: value})

    assert result.returncode != 0
    assert f"{name}={value!r} is not a number" in result.stderr


def test_a_duration_written_as_a_plain_number_is_read_as_written(production_env):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.AXES_COOLOFF_TIME, s.WEBHOOK_TIMEOUT_SECONDS)"
    )
    env = {**production_env, "AXES_COOLOFF_HOURS": "0.25", "WEBHOOK_TIMEOUT_SECONDS": "2.5"}

    result = run_python("-c", code, env=env)

    assert result.returncode == 0, result.stderr
    assert last_line(result.stdout).split() == ["0.25", "2.5"]


def test_a_log_level_in_lower_case_is_read_as_gunicorn_and_celery_read_it(production_env):
    code = "import logging, django; django.setup(); print(logging.getLevelName(logging.getLogger().level))"

    result = run_python("-c", code, env={**production_env, "LOG_LEVEL": "warning"})

    assert result.returncode == 0, result.stderr
    assert last_line(result.stdout) == "WARNING"


def test_a_log_level_that_does_not_exist_is_named(production_env):
    result = run_python("-c", "import django; django.setup()", env={**production_env, "LOG_LEVEL": "verbose"})

    assert result.returncode != 0
    assert "LOG_LEVEL='verbose'" in result.stderr


def test_production_refuses_the_secret_key_published_in_settings(production_env):
    env = {key: value for key, value in production_env.items() if key != "SECRET_KEY"}

    checked = run_python("manage.py", "check", "--deploy", env=env)
    served = run_python("-c", "import apn_portal.wsgi; print('serving')", env=env)

    assert checked.returncode != 0
    assert "apn_portal.E001" in checked.stdout + checked.stderr
    assert served.returncode != 0
    assert "serving" not in served.stdout
    assert "SECRET_KEY" in served.stderr


def test_the_embedded_default_in_debug_mode_still_serves_on_its_key(production_env):
    env = {key: value for key, value in production_env.items() if key != "SECRET_KEY"}

    served = run_python("-c", "import apn_portal.wsgi; print('serving')", env={**env, "DEBUG": "1"})

    assert last_line(served.stdout) == "serving", served.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["worker", "--loglevel=INFO", "--concurrency=1"],
        ["worker", "-B", "--loglevel=INFO", "--concurrency=1"],
        ["beat", "--loglevel=INFO"],
    ],
    ids=["worker", "worker with beat", "beat"],
)
def test_celery_refuses_the_secret_key_published_in_settings(production_env, tmp_path, command):
    # The worker signs what its emails link to (a password reset): on the published key anybody could
    # forge those links, as wsgi.py already refuses to let the web process do.
    env = {key: value for key, value in production_env.items() if key != "SECRET_KEY"}
    env["CELERY_BROKER_URL"] = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    if "beat" in command or "-B" in command:
        command = [*command, "--schedule", str(tmp_path / "celerybeat-schedule")]

    celery = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "apn_portal", *command],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so that a worker which did start is stopped with its pool and beat
    )
    try:
        output = celery.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        os.killpg(celery.pid, signal.SIGKILL)
        output = celery.communicate()[0]
        pytest.fail(f"celery {command[0]} started on the published key:\n{output}")

    assert celery.returncode != 0
    assert "SECRET_KEY is the embedded default" in output


def test_celery_starts_on_a_secret_key_of_its_own(production_env, tmp_path):
    env = {**production_env, "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "apn_portal", "worker", "--loglevel=INFO", "--concurrency=1"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = []
        for line in worker.stdout:
            output.append(line)
            if " ready." in line:
                break
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)

    assert any(" ready." in line for line in output), "".join(output)
