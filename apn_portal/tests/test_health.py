"""The probes a load balancer and an orchestrator use: /healthz (process up) and /readyz (dependencies)."""

import os
import socket
from contextlib import contextmanager

import pytest
from django.db import connection


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
