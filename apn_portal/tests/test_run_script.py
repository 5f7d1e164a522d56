"""scripts/run.sh, README's first command: what it hands the portal. Run as a copy with the virtualenv and
Python stubbed, recording the environment `manage.py migrate` is given."""

import os
import shutil
import subprocess

import pytest

from apn_portal.tests.settings_env import PROJECT_DIR

STUB_PYTHON = """#!/bin/bash
if [[ "$1" == -c ]]; then echo a-key; exit 0; fi
{ echo "PORTAL_URL=${PORTAL_URL:-}"; echo "WEBHOOK_ALLOWED_HOSTS=${WEBHOOK_ALLOWED_HOSTS-(not set)}"; } \
  >"$(dirname "$0")/../../seen"
exit 3
"""


def settings_given(tmp_path, **environment) -> dict[str, str]:
    (tmp_path / "scripts").mkdir()
    shutil.copy(PROJECT_DIR / "scripts" / "run.sh", tmp_path / "scripts" / "run.sh")
    (tmp_path / "scripts" / "venv.sh").write_text("exit 0\n")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(STUB_PYTHON)
    python.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **environment}
    subprocess.run(["bash", "scripts/run.sh"], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    return dict(line.split("=", 1) for line in (tmp_path / "seen").read_text().splitlines())


def portal_url_given(tmp_path, **environment) -> str:
    return settings_given(tmp_path, **environment)["PORTAL_URL"]


@pytest.mark.parametrize(
    ("environment", "links_to"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8080"}, "http://127.0.0.1:8080"),
        (
            {"HOST": "0.0.0.0", "ALLOWED_HOSTS": "192.0.2.10, portal.lan", "PORT": "8080"},
            "http://192.0.2.10:8080",
        ),
        ({"PORT": "8080", "PORTAL_URL": "https://portal.example.com"}, "https://portal.example.com"),
    ],
)
def test_emailed_links_point_where_the_portal_listens(tmp_path, environment, links_to):
    assert portal_url_given(tmp_path, **environment) == links_to


@pytest.mark.parametrize(
    ("environment", "allowed"),
    [
        ({}, "localhost,127.0.0.1,[::1]"),
        ({"HOST": "localhost"}, "localhost,127.0.0.1,[::1]"),
        # On the network, anybody signed in could have it POST to the services on this machine.
        ({"HOST": "0.0.0.0", "ALLOWED_HOSTS": "192.0.2.10"}, "(not set)"),
        ({"WEBHOOK_ALLOWED_HOSTS": "hooks.example.com"}, "hooks.example.com"),
    ],
)
def test_a_local_run_sends_webhooks_to_a_receiver_beside_it(tmp_path, environment, allowed):
    assert settings_given(tmp_path, **environment)["WEBHOOK_ALLOWED_HOSTS"] == allowed
