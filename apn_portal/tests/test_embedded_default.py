"""The embedded default runs its scheduled checks with no server at all: a Celery worker with embedded beat
on a SQLite-file broker, as `scripts/run.sh` starts it."""

import queue
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR

CELERY = str(Path(sys.executable).with_name("celery"))


class OutputWatcher:
    """Collects a process's output lines on a thread, so the test can wait for one with a deadline."""

    def __init__(self, process):
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.lines.append(line)
            if text in line:
                return True
        return False


def test_worker_with_embedded_beat_runs_tasks_from_the_sqlite_file_broker(tmp_path):
    env = {
        **BASE_ENV,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
        # As scripts/run.sh starts it: DEBUG off, on a key of the checkout's own (the published one is
        # refused).
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    schedule = str(tmp_path / "celerybeat-schedule")
    worker = subprocess.Popen(
        [CELERY, "-A", "apn_portal", "worker", "-B", "--loglevel=INFO", "--concurrency=1", "-s", schedule],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = OutputWatcher(worker)
    try:
        assert output.wait_for(" ready.", timeout=60), "".join(output.lines[-30:])

        send = subprocess.run(
            [
                sys.executable,
                "-c",
                "from apn_portal.celery import app; app.send_task('celery.backend_cleanup')",
            ],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert send.returncode == 0, send.stderr

        assert output.wait_for("succeeded", timeout=60), "".join(output.lines[-30:])
        assert worker.poll() is None
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert not [line for line in output.lines if "Unrecoverable error" in line]


PAGES_AFTER_SEEDING = """
from django.test import Client
from partners.models import Partner

client = Client()
partner = Partner.objects.filter(is_published=True).order_by("pk").first()
urls = ["/partners/", "/partners/?q=cloud&country=US", f"/partners/{partner.slug}/"]
urls.append("/api/v1/partners/?q=cloud")
for url in urls:
    response = client.get(url, secure=True)
    print(url, response.status_code)
"""


def test_the_embedded_default_migrates_and_seeds_a_new_database_and_serves_it(tmp_path):
    """What `scripts/run.sh` does first on a fresh clone: every migration on SQLite, then the demo data."""
    env = {**BASE_ENV, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DEBUG": "1"}

    def run(*args):
        result = subprocess.run(
            [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
        return result.stdout

    run("manage.py", "migrate", "--noinput")
    run("manage.py", "seed_demo")
    answers = run("manage.py", "shell", "-c", PAGES_AFTER_SEEDING).split("\n")
    assert [line.rsplit(" ", 1)[1] for line in answers if line.startswith("/")] == ["200"] * 4
