"""gunicorn as the image starts it (from the project's directory, so reading gunicorn.conf.py)."""

import socket
import subprocess
import sys
import time
from pathlib import Path

from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def test_gunicorn_starts_without_an_error_in_a_home_it_cannot_write_to(tmp_path):
    # The image's user has HOME=/app, owned by root: gunicorn >= 23 opened a control socket under
    # $HOME/.gunicorn and logged "[ERROR] Control server error" at every start. /proc/... cannot be created
    # even by root, as the tests may run.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **BASE_ENV,
        "HOME": "/proc/no-home-here",
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    server = subprocess.Popen(
        [GUNICORN, "apn_portal.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(2)  # the control server starts beside the first worker
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]

    assert "Booting worker" in output, output
    assert "[ERROR]" not in output, output


def run_gunicorn(*args, env):
    return subprocess.run(
        [GUNICORN, *args, "apn_portal.wsgi:application"],
        cwd=PROJECT_DIR,
        env={**BASE_ENV, "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_request_timeout_with_a_unit_after_it_stops_gunicorn_naming_the_variable(tmp_path):
    # The app reads the same variable, and refuses "30s" with this message; gunicorn said only
    # "ValueError: invalid literal for int() with base 10: '30s'".
    result = run_gunicorn(
        "--check-config",
        env={"WEB_REQUEST_TIMEOUT_SECONDS": "30s", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
    )

    assert result.returncode != 0
    assert "WEB_REQUEST_TIMEOUT_SECONDS='30s' is not a number" in result.stdout + result.stderr


def test_gunicorn_kills_a_request_after_the_timeout_the_app_reads(tmp_path):
    env = {"WEB_REQUEST_TIMEOUT_SECONDS": "45", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    result = run_gunicorn("--print-config", env=env)

    assert result.returncode == 0, result.stderr
    timeouts = [
        line.split("=")[1].strip() for line in result.stdout.splitlines() if line.startswith("timeout ")
    ]
    assert timeouts == ["45"], result.stdout


def test_gunicorn_reads_the_request_timeout_from_dotenv_as_the_app_does(tmp_path):
    # The app reads .env beside manage.py; gunicorn read only its environment, so a timeout of 10 s in .env
    # made the app release an Idempotency-Key claim after 10 s (plus 30) while gunicorn still let the
    # request run for its default 30 s. A copy of the project's layout, so the test writes no .env of its own.
    (tmp_path / "apn_portal").mkdir()
    (tmp_path / "gunicorn.conf.py").write_text((PROJECT_DIR / "gunicorn.conf.py").read_text())
    (tmp_path / "apn_portal" / "env.py").write_text((PROJECT_DIR / "apn_portal" / "env.py").read_text())
    (tmp_path / ".env").write_text("WEB_REQUEST_TIMEOUT_SECONDS=75\n")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}

    from_dotenv = run_gunicorn("--config", str(tmp_path / "gunicorn.conf.py"), "--print-config", env=env)
    environment_wins = run_gunicorn(
        "--config",
        str(tmp_path / "gunicorn.conf.py"),
        "--print-config",
        env={**env, "WEB_REQUEST_TIMEOUT_SECONDS": "20"},
    )

    def timeouts(result):
        assert result.returncode == 0, result.stderr
        return [
            line.split("=")[1].strip() for line in result.stdout.splitlines() if line.startswith("timeout ")
        ]

    assert timeouts(from_dotenv) == ["75"], from_dotenv.stdout
    assert timeouts(environment_wins) == ["20"], environment_wins.stdout
