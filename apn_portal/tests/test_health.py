"""The probes a load balancer and an orchestrator use: /healthz (process up) and /readyz (dependencies)."""

import os
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager

import pytest
from django.db import connection

from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR


def running_redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    assert url, "REDIS_URL must name a running Redis: run the tests with `bash scripts/test.sh`."
    return url


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_answers_ok_without_touching_the_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.parametrize("host", ["10.0.4.17:8000", "10.0.4.17", "[fd00::17]:8000", "172.18.0.5"])
def test_healthz_answers_a_probe_by_address_whatever_the_host(client, settings, host, caplog):
    # A container's or a load balancer's health check asks by the address it reached, not by the portal's
    # name: refused as a foreign Host (400), it took the portal for down.
    settings.ALLOWED_HOSTS = ["portal.example.com"]

    for response in (client.get("/healthz", HTTP_HOST=host), client.head("/healthz", HTTP_HOST=host)):
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert "no-cache" in response["Cache-Control"]
    assert client.get("/healthz", HTTP_HOST=host).json() == {"status": "ok"}
    assert client.post("/healthz", HTTP_HOST=host).status_code == 405
    assert not [record for record in caplog.records if "HTTP_HOST" in record.getMessage()]


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["10.0.4.17:8000", "10.0.4.17", "[fd00::17]:8000", "172.18.0.5"])
def test_readyz_answers_a_probe_by_address_whatever_the_host(client, settings, host, caplog):
    # A Kubernetes readiness probe asks by the pod's address, as the liveness probe does: refused as a
    # foreign Host (400), the pod was never marked ready and got no traffic.
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.CELERY_BROKER_URL = running_redis_url()

    for response in (client.get("/readyz", HTTP_HOST=host), client.head("/readyz", HTTP_HOST=host)):
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert "no-cache" in response["Cache-Control"]
        assert response["X-Content-Type-Options"] == "nosniff"
    response = client.get("/readyz", HTTP_HOST=host)
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    assert client.post("/readyz", HTTP_HOST=host).status_code == 405
    assert not [record for record in caplog.records if "HTTP_HOST" in record.getMessage()]

    # Asked by address, it still names the failing check and nothing more.
    port = closed_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    response = client.get("/readyz", HTTP_HOST=host)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "broker": "failed"}}
    assert str(port) not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/readyz/", "/readyzz", "/healthz/", "/healthzz", "/partners/", "/api/v1/partners/"]
)
def test_every_other_path_still_refuses_a_foreign_host(client, settings, path):
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    settings.CELERY_BROKER_URL = ""

    assert client.get(path, HTTP_HOST="10.0.4.17:8000").status_code == 400
    assert client.get(path, HTTP_HOST="portal.example.com").status_code != 400


@pytest.mark.django_db
def test_head_asks_what_get_asks(client, settings):
    # Uptime monitors (UptimeRobot's default), link checkers and proxies send HEAD in place of GET.
    settings.CELERY_BROKER_URL = ""
    for path in ("/healthz", "/readyz"):
        response = client.head(path)
        assert response.status_code == 200, path
        assert response["Content-Type"] == "application/json"
        assert response.content == b""
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    assert client.head("/readyz").status_code == 503


@pytest.mark.django_db
def test_readyz_is_ok_when_the_database_and_the_broker_answer(client, settings):
    settings.CELERY_BROKER_URL = running_redis_url()

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readyz_is_unavailable_and_names_the_broker_when_the_broker_is_down(client, settings, caplog):
    port = closed_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "broker": "failed"}}
    # Why is for the operator's log, not for whoever asked: the probe is public.
    assert str(port) not in response.content.decode()
    (record,) = [record for record in caplog.records if record.name == "apn_portal.health"]
    assert "broker" in record.getMessage()
    assert "connecting" in str(record.exc_info[1]).lower()


@pytest.mark.django_db
def test_readyz_checks_only_the_database_when_no_broker_is_configured(client, settings):
    settings.CELERY_BROKER_URL = ""

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_is_unavailable_when_the_database_is_down(client, settings, django_db_blocker, caplog):
    settings.CELERY_BROKER_URL = ""

    with django_db_blocker.unblock(), database_server_gone() as port:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "failed"}}
    assert str(port) not in response.content.decode()
    (record,) = [record for record in caplog.records if record.name == "apn_portal.health"]
    assert "database" in record.getMessage()
    assert type(record.exc_info[1]).__name__ == "OperationalError"


@contextmanager
def database_server_gone():
    """Point the default connection at a port where nothing listens, as if PostgreSQL had stopped."""
    saved = {key: connection.settings_dict[key] for key in ("HOST", "PORT")}
    connection.close()
    port = closed_port()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=port)
    try:
        yield port
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@contextmanager
def a_server_that_never_answers():
    """A port whose kernel completes the TCP handshake, and nothing ever answers: a hung server, or a NAT
    or proxy holding a connection to one that is gone."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def answered_within(seconds: float, request) -> tuple[bool, object]:
    """Whether `request()` returned within `seconds` (a web request's time limit, say), and what."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("response", request()), daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), result.get("response")


# Well under gunicorn's 30 s, after which the probe would get no answer at all.
PROBE_LIMIT_SECONDS = 10


def test_readyz_answers_503_in_time_when_the_database_never_answers(client, settings, django_db_blocker):
    settings.CELERY_BROKER_URL = ""
    saved = {key: connection.settings_dict[key] for key in ("HOST", "PORT")}
    with django_db_blocker.unblock(), a_server_that_never_answers() as port:
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=port)
        try:
            answered, response = answered_within(PROBE_LIMIT_SECONDS, lambda: client.get("/readyz"))
        finally:
            connection.close()
            connection.settings_dict.update(saved)
    assert answered, f"/readyz still waiting on the database after {PROBE_LIMIT_SECONDS} s"
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "failed"}


@pytest.mark.django_db
def test_readyz_answers_503_in_time_when_the_broker_never_answers(client, settings):
    with a_server_that_never_answers() as port:
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
        answered, response = answered_within(PROBE_LIMIT_SECONDS, lambda: client.get("/readyz"))
    assert answered, f"/readyz still waiting on the broker after {PROBE_LIMIT_SECONDS} s"
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "failed"}


def test_a_task_queued_from_a_web_request_gives_up_in_time_when_the_broker_never_answers():
    # As production configures Celery from the settings, in a process of its own: the outbox's publish
    # after commit, which the sweep makes up for when it fails.
    code = (
        "import time, django; django.setup()\n"
        "from apn_portal.outbox.services import _schedule_delivery\n"
        "started = time.monotonic(); _schedule_delivery(1)\n"
        "print('gave up after', round(time.monotonic() - started))\n"
    )
    with a_server_that_never_answers() as port:
        env = {
            **BASE_ENV,
            "DJANGO_SETTINGS_MODULE": "apn_portal.settings",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        }
        try:
            done = subprocess.run(
                [sys.executable, "-c", code],
                cwd=PROJECT_DIR,
                env=env,
                capture_output=True,
                text=True,
                timeout=3 * PROBE_LIMIT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"still publishing to a broker that never answers after {3 * PROBE_LIMIT_SECONDS} s")
    assert "gave up after" in done.stdout, done.stderr
    assert "Could not queue outbox message 1; the sweep will send it" in done.stderr
