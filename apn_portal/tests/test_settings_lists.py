"""Settings that are lists (ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS, WEBHOOK_ALLOWED_HOSTS), as an operator
writes them: "portal.example.com, www.example.com" is two hosts, both served."""

import json
import subprocess
import sys

from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR

READ_SETTINGS = """
import json, django; django.setup()
from django.conf import settings
from django.test import Client
status = Client(raise_request_exception=False).get("/healthz", HTTP_HOST="www.example.com").status_code
print(json.dumps({"status": status, "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
                  "CSRF_TRUSTED_ORIGINS": settings.CSRF_TRUSTED_ORIGINS,
                  "WEBHOOK_ALLOWED_HOSTS": settings.WEBHOOK_ALLOWED_HOSTS}))
"""


def test_a_list_written_with_spaces_after_its_commas_is_read_item_by_item(tmp_path):
    env = {
        **BASE_ENV,
        "DJANGO_SETTINGS_MODULE": "apn_portal.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECURE_SSL_REDIRECT": "0",
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "ALLOWED_HOSTS": "portal.example.com, www.example.com,",
        "CSRF_TRUSTED_ORIGINS": "https://portal.example.com , https://www.example.com",
        "WEBHOOK_ALLOWED_HOSTS": " hooks.example.com, .integrator.example",
    }
    command = [sys.executable, "-c", READ_SETTINGS]
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout.strip().splitlines()[-1])
    assert read["ALLOWED_HOSTS"] == ["portal.example.com", "www.example.com"]
    assert read["CSRF_TRUSTED_ORIGINS"] == ["https://portal.example.com", "https://www.example.com"]
    assert read["WEBHOOK_ALLOWED_HOSTS"] == ["hooks.example.com", ".integrator.example"]
    assert read["status"] == 200
