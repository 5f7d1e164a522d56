"""How the portal reads its environment variables, for settings.py and for gunicorn.conf.py.

Imports neither Django's settings nor the rest of the package: gunicorn's master process loads this file
on its own (gunicorn.conf.py), and should not start Celery's app to read one number.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured


def read_dotenv(project_dir: Path) -> None:
    """The settings written in the project's `.env`, for every name the environment does not set (the
    environment wins). Both readers call it, so `.env` means the same to the app and to gunicorn."""
    environ.Env.read_env(project_dir / ".env", overwrite=False)


class StrictEnv(environ.Env):
    """django-environ's reader, but a number must be written as one: it read AXES_COOLOFF_HOURS=30m as 30
    (hours) and WEBHOOK_TIMEOUT_SECONDS="2 hours" as 2 (seconds), dropping what it could not read."""

    def float(self, var, default=environ.Env.NOTSET):
        return self._number(var, default, float)

    def int(self, var, default=environ.Env.NOTSET):
        return self._number(var, default, int)

    def _number(self, var, default, kind):
        if var not in self.ENVIRON:
            return self.get_value(var, cast=kind, default=default)
        value = self.ENVIRON[var]
        try:
            return kind(value)
        except ValueError:
            example = "10" if kind is int else "0.5"
            raise ImproperlyConfigured(
                f"{var}={value!r} is not a number: write it as a plain number in the unit the name says, "
                f"with nothing after it (e.g. {var}={example})."
            ) from None
