"""gunicorn's settings, read from ./gunicorn.conf.py when it starts (the image's working directory)."""

import os

# The longest a web request may run before gunicorn kills its worker. The app reads the same variable
# (settings.WEB_REQUEST_TIMEOUT_SECONDS) to keep an Idempotency-Key claim live at least that long, so a
# client's retry never runs a request that may still be running.
timeout = int(os.environ.get("WEB_REQUEST_TIMEOUT_SECONDS", "30"))

# Recent gunicorn (27 here) opens a control socket under $HOME/.gunicorn; the image's user has HOME=/app,
# which it cannot write to, so every start logged "[ERROR] Control server error". Nothing here uses it.
# A gunicorn without the setting ignores the name, as it ignores any name it does not know.
control_socket_disable = True
