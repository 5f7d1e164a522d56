"""End to end: a real Redis, a real Celery worker with embedded beat, a check run and its email delivered.

The worker is a subprocess on the pytest-django test database (committed data: a transactional test).
Beat's start queues the checks not yet run today (checks.catch_up), as it does in production after a
restart; the check queues its email in the outbox, and the worker sends it to a file-based mailbox.
"""

import contextlib
import datetime
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apn_portal.checks.models import CheckRun, CheckRunStatus, CheckTrigger
from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.outbox.services import outbox_rendered_email_enqueue
from apn_portal.tests.test_health import closed_port
from tests.factories import CertificationFactory, PartnerFactory, PartnerUserFactory, StaffMemberFactory
from tests.servers import silent_server

WAIT_SECONDS = 120

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_url(tmp_path):
    """A Redis of this test's own, on a port the system found free, so two test runs on one machine never
    share a broker."""
    server = shutil.which("redis-server")
    assert server, "redis-server is needed (Debian: apt-get install redis-server; .ci/run installs it)"
    for _attempt in range(3):  # the port may be taken between finding it free and Redis binding it
        port = closed_port()
        process = _redis_server(server, port, tmp_path)
        if process:
            break
    else:
        raise AssertionError("redis-server could not start on a free port")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def _redis_server(server: str, port: int, cwd) -> subprocess.Popen | None:
    """redis-server started on `port`, once it answers there; None if another process holds the port (the
    one answering is then not ours: its process id says so)."""
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        _wait_for(
            lambda: process.poll() is not None or client.ping(),
            "redis-server to answer",
            10,
            errors=(redis.ConnectionError,),
        )
        if process.poll() is None and client.info("server")["process_id"] == process.pid:
            return process
    except BaseException:
        process.terminate()
        process.wait(10)
        raise
    process.terminate()
    process.wait(10)
    return None


def _wait_for(probe, what: str, seconds: float, errors=()):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            result = probe()
        except errors:
            result = None
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"Waited {seconds} s for {what}")


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def _worker(redis_url, tmp_path, *, beat=True, concurrency=1, **settings_env):
    """A Celery worker (with embedded beat, as scripts/run.sh starts it, unless `beat` is False) on Redis
    and the test database; `settings_env` overrides the environment its settings are read from."""
    mailbox = tmp_path / "mail"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": redis_url,
        "REDIS_URL": redis_url,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mailbox),
        "DB_CONN_MAX_AGE": "0",
        # With DEBUG off the worker refuses the key settings.py publishes.
        "SECRET_KEY": secrets.token_urlsafe(50),
        **settings_env,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "apn_portal", "worker", "--loglevel=INFO",
        f"--concurrency={concurrency}", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    if beat:
        command += ["-B", "--schedule-filename", str(tmp_path / "celerybeat-schedule")]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield mailbox, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # warm shutdown of the worker and its beat
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture
def worker(redis_url, tmp_path):
    with _worker(redis_url, tmp_path) as started:
        yield started


def _worker_log(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"


def test_beat_runs_a_check_on_the_worker_and_its_email_is_delivered(worker):
    today = timezone.localdate()
    partner = PartnerFactory(name="Integration Cloud Ltd")
    PartnerUserFactory(partner=partner, email="ops@integration.example")
    CertificationFactory(
        staff_member=StaffMemberFactory(partner=partner, full_name="Ann Lee"),
        name="Solutions Architect - Associate",
        earned_on=today - datetime.timedelta(days=700),
        expires_on=today + datetime.timedelta(days=30),
    )
    mailbox, log = worker

    def finished_run():
        return (
            CheckRun.objects.filter(name="certification_expiry")
            .exclude(status=CheckRunStatus.RUNNING)
            .first()
        )

    try:
        run = _wait_for(finished_run, "beat to run certification_expiry on the worker", WAIT_SECONDS)
    except AssertionError:
        pytest.fail(f"No run of certification_expiry. Worker log:\n{_worker_log(log)}")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    assert run.trigger == CheckTrigger.SCHEDULE
    assert run.changed["reminder_emails"] == 1

    def delivered():
        files = list(mailbox.glob("*.log")) if mailbox.exists() else []
        return [path.read_text(errors="replace") for path in files]

    try:
        [email] = _wait_for(delivered, "the reminder to reach the mailbox", 60)
    except AssertionError:
        pytest.fail(f"No email delivered. Worker log:\n{_worker_log(log)}")
    assert "To: ops@integration.example" in email
    assert "Integration Cloud Ltd: a certification expires on" in email
    assert "Ann Lee: Solutions Architect - Associate" in email
    assert "text/html" in email
    message = OutboxMessage.objects.get(dedupe_key__startswith=f"cert-expiry:{partner.pk}:")
    assert message.status == OutboxStatus.SENT


@pytest.fixture
def certifications_locked():
    """Another session holds an exclusive lock on the certifications table, so a check reading it waits
    (mid-run, its transaction open) until `release()` is called."""
    db = connection.settings_dict
    session = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
    )
    session.execute("BEGIN")
    session.execute("LOCK TABLE partners_certification IN ACCESS EXCLUSIVE MODE")
    try:
        yield session.rollback
    finally:
        session.close()


def test_a_check_whose_worker_process_dies_mid_run_runs_again(
    certifications_locked, worker, redis_url, monkeypatch
):
    """A worker process killed mid-run (out of memory, a SIGKILL) hands the check back to the queue: it
    runs again, and the run that died is recorded as failed rather than "running" forever."""
    release_certifications = certifications_locked
    _, log = worker
    # Celery reads the broker from the environment before any setting: the tests' own is not this worker's.
    monkeypatch.setenv("CELERY_BROKER_URL", redis_url)
    inspector = Celery(set_as_current=False).control.inspect(timeout=2)

    def process_running_the_check():
        for tasks in (inspector.active() or {}).values():
            for task in tasks:
                if task["name"] == "checks.certification_expiry":
                    return task["worker_pid"]
        return None

    try:
        pid = _wait_for(process_running_the_check, "the worker to start certification_expiry", WAIT_SECONDS)
    except AssertionError:
        pytest.fail(f"certification_expiry never started. Worker log:\n{_worker_log(log)}")
    [killed] = CheckRun.objects.filter(name="certification_expiry", status=CheckRunStatus.RUNNING)
    os.kill(pid, signal.SIGKILL)
    release_certifications()

    def succeeded_run():
        return CheckRun.objects.filter(name="certification_expiry", status=CheckRunStatus.SUCCEEDED).first()

    try:
        _wait_for(succeeded_run, "certification_expiry to run again", WAIT_SECONDS)
    except AssertionError:
        pytest.fail(f"certification_expiry was not run again. Worker log:\n{_worker_log(log)}")
    killed.refresh_from_db()
    assert killed.status == CheckRunStatus.FAILED
    assert killed.error == "The worker running this check stopped before the run finished."
    assert killed.finished_at is not None


@pytest.fixture
def silent_mail_server():
    """A mail server that takes connections and never says a word."""
    with silent_server() as port:
        yield port


def test_a_silent_mail_server_does_not_hold_up_the_checks(
    silent_mail_server, redis_url, tmp_path, monkeypatch
):
    """Two sweeps of a dozen pending emails, one on each worker process (beat queues one a minute), then
    the SLA check: each sweep gives up on the mail server after one timeout rather than one per email,
    so the check runs within seconds, and every email is still there for a later sweep."""
    for number in range(12):
        outbox_rendered_email_enqueue(
            dedupe_key=f"notice:{number}", to=["reader@example.com"], subject="Notice", body_text="Hello."
        )
    mail_server = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(silent_mail_server),
        "EMAIL_TIMEOUT": "3",
    }
    with _worker(redis_url, tmp_path, beat=False, concurrency=2, **mail_server) as (_, log):
        monkeypatch.setenv("CELERY_BROKER_URL", redis_url)
        sender = Celery(set_as_current=False)
        for _ in range(2):
            sender.send_task("apn_portal.outbox.tasks.outbox_sweep")
        sender.send_task("checks.support_sla")

        def sla_run():
            return CheckRun.objects.filter(name="support_sla").exclude(status=CheckRunStatus.RUNNING).first()

        try:
            run = _wait_for(sla_run, "the SLA check to run", WAIT_SECONDS)
        except AssertionError:
            pytest.fail(f"support_sla never ran. Worker log:\n{_worker_log(log)}")
        tried_before_the_check = sum(OutboxMessage.objects.values_list("attempts", flat=True))

    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    # At most one email per worker process waited on the silent server before the check got its turn
    # (without the pause, each sweep tried all twelve, three seconds each).
    assert tried_before_the_check <= 2, _worker_log(log)
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.PENDING}
