"""gunicorn's settings, read from ./gunicorn.conf.py when it starts (the image's working directory)."""

import importlib.util
from pathlib import Path

# The settings' reader of environment variables, so that a value the app would refuse ("30s") stops
# gunicorn with the same message, naming the variable. Loaded from its file: importing it as
# apn_portal.env would run the package's __init__, and so start Celery's app, in gunicorn's master.
_spec = importlib.util.spec_from_file_location(
    "apn_portal_env", Path(__file__).with_name("apn_portal") / "env.py"
)
_env_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_env_module)
# The app reads .env too: a timeout set there alone must be gunicorn's as well, or a retry could take
# over the Idempotency-Key claim of a request gunicorn still lets run.
_env_module.read_dotenv(Path(__file__).parent)
_env = _env_module.StrictEnv()

# The longest a web request may run before gunicorn kills its worker. The app reads the same variable
# (settings.WEB_REQUEST_TIMEOUT_SECONDS) to keep an Idempotency-Key claim live at least that long, so a
# client's retry never runs a request that may still be running.
timeout = _env.int("WEB_REQUEST_TIMEOUT_SECONDS", default=30)

# Recent gunicorn (27 here) opens a control socket under $HOME/.gunicorn; the image's user has HOME=/app,
# which it cannot write to, so every start logged "[ERROR] Control server error". Nothing here uses it.
# A gunicorn without the setting ignores the name, as it ignores any name it does not know.
control_socket_disable = True
