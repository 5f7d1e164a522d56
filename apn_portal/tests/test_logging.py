"""The web process's log, as an operator reads it: each line says when, how serious and from where."""

import re
import subprocess
import sys

from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR


def test_a_log_line_says_its_time_level_and_logger():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('apn_portal.cache').warning('Cache redis://cache:6379/0 cannot be reached')"
    )
    env = {**BASE_ENV, "DJANGO_SETTINGS_MODULE": "apn_portal.settings", "DEBUG": "1"}

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )

    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING apn_portal\.cache Cache redis://cache:6379/0 cannot "
        r"be reached$",
        result.stderr,
        re.MULTILINE,
    ), result.stderr
