"""The README is how people run the portal: what it tells them must exist and match the settings."""

import re

from apn_portal.tests.settings_env import PROJECT_DIR, settings_env_names

README = (PROJECT_DIR / "README.md").read_text()


def test_every_environment_variable_the_settings_read_is_documented():
    undocumented = {name for name in settings_env_names() if f"`{name}`" not in README}

    assert not undocumented, f"document these in README.md's Configuration table: {sorted(undocumented)}"


def test_the_scripts_the_readme_names_exist():
    scripts = set(re.findall(r"bash ((?:scripts|\.ci)/[\w./-]+)", README))

    assert {"scripts/run.sh", "scripts/test.sh", ".ci/run"} <= scripts
    assert [script for script in scripts if not (PROJECT_DIR / script).is_file()] == []


def test_the_readme_promises_error_mails_only_if_somebody_receives_them():
    from django.conf import settings

    # Django mails server errors to ADMINS, and the portal names none: such a promise would go unkept.
    promised = re.search(r"error (e-?)?mails?", README, re.IGNORECASE)

    assert not promised or settings.ADMINS, f"README promises {promised[0]!r}, but ADMINS is empty"
