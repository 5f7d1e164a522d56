"""Where webhooks may go in production: to no host until the operator names some, and to the portal's own
(loopback) only with a warning from `check --deploy`, so that nobody who may register a webhook (any
partner's staff) has the worker POST to the services listening on its host. A developer's machine (DEBUG
on) keeps calling its receiver on loopback."""

import json
import secrets
import subprocess
import sys

import pytest

from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR
from tests.api.conftest import api_client
from tests.factories import PartnerUserFactory

LOOPBACK = ["localhost", "127.0.0.1", "[::1]"]


def _env(tmp_path, **extra) -> dict:
    """A production start, as .ci/run's `check --deploy` makes it: DEBUG off, a real key and host name,
    a mail server."""
    return {
        **BASE_ENV,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "portal.example.com",
        "EMAIL_HOST": "smtp.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **extra,
    }


def _run(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def _allowed_hosts(env) -> list[str]:
    code = "import json; from apn_portal import settings as s; print(json.dumps(s.WEBHOOK_ALLOWED_HOSTS))"
    result = _run("-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _deploy_check(env) -> subprocess.CompletedProcess:
    return _run("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)


@pytest.mark.django_db
def test_in_production_a_partner_cannot_point_a_webhook_at_the_portals_own_host(tmp_path, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = _allowed_hosts(_env(tmp_path))

    response = api_client(PartnerUserFactory()).post(
        "/api/v1/webhook-endpoints/",
        {"url": "http://127.0.0.1:6379/", "events": ["partner.tier_changed"]},
        format="json",
    )

    assert settings.WEBHOOK_ALLOWED_HOSTS == []
    assert response.status_code == 400
    assert response.json()["url"] == [
        "Webhooks can only be sent to the hosts this portal allows (WEBHOOK_ALLOWED_HOSTS)."
    ]


def test_a_developers_machine_calls_its_receiver_on_loopback(tmp_path):
    assert _allowed_hosts(_env(tmp_path, DEBUG="1")) == LOOPBACK


def test_the_deploy_check_warns_of_loopback_allowed_with_debug_off(tmp_path):
    result = _deploy_check(_env(tmp_path, WEBHOOK_ALLOWED_HOSTS="hooks.example.com, 127.0.0.1, localhost"))
    output = result.stdout + result.stderr

    assert result.returncode != 0
    assert "apn_portal.W002" in output
    assert "WEBHOOK_ALLOWED_HOSTS lists 127.0.0.1, localhost with DEBUG off" in output


@pytest.mark.parametrize("hosts", [None, "hooks.example.com,.integrator.example,10.0.0.5"])
def test_the_deploy_check_passes_with_the_default_or_integrators_hosts(tmp_path, hosts):
    """As .ci/run runs it: nothing to warn of."""
    extra = {} if hosts is None else {"WEBHOOK_ALLOWED_HOSTS": hosts}

    result = _deploy_check(_env(tmp_path, **extra))

    assert result.returncode == 0, result.stdout + result.stderr
