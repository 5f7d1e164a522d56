import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apn_portal.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: the web process refuses here to serve on the key settings.py publishes.
from apn_portal.settings_checks import refuse_the_public_secret_key  # noqa: E402

refuse_the_public_secret_key()
