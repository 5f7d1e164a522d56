"""gunicorn's settings, read from ./gunicorn.conf.py when it starts (the image's working directory)."""

import os

# The longest a web request may run before gunicorn kills its worker. The app reads the same variable
# (settings.WEB_REQUEST_TIMEOUT_SECONDS) to keep an Idempotency-Key claim live at least that long, so a
# client's retry never runs a request that may still be running.
timeout = int(os.environ.get("WEB_REQUEST_TIMEOUT_SECONDS", "30"))
