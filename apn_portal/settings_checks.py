"""Django system checks of the portal's own settings: what an operator set wrong is said at start-up
(`manage.py check`, `migrate`, `runserver`), naming the variable, not found later as lost mail or a 500.
Registered by apn_portal.accounts' AppConfig."""

import re

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

# settings.py's SECRET_KEY when none is given: anybody who reads the source can sign sessions with it.
EMBEDDED_DEFAULT_SECRET_KEY = "django-insecure-embedded-default-change-me"
PUBLIC_SECRET_KEY_MESSAGE = (
    "SECRET_KEY is the embedded default published in apn_portal/settings.py, with DEBUG off: anybody "
    'could sign a session as any user. Set SECRET_KEY to 50+ random characters (python3 -c "import '
    'secrets; print(secrets.token_urlsafe(50))"), or DEBUG=1 while developing.'
)
# What DRF's throttles read ("120/min"): a count per second, minute, hour or day. DRF itself looks only at
# the unit's first letter (10/month would be 10 a minute) and answers 500 to every request it cannot read.
RATE = re.compile(r"[1-9]\d*/(s|sec|second|m|min|minute|h|hour|d|day)")

# Backends that deliver nothing: fine while developing, silent loss in production, where the outbox marks
# each email sent.
UNDELIVERED_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@checks.register(checks.Tags.security, deploy=True)
def email_is_delivered(app_configs, **kwargs):
    if settings.DEBUG or settings.EMAIL_BACKEND not in UNDELIVERED_EMAIL_BACKENDS:
        return []
    return [
        checks.Warning(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND} with DEBUG off: the portal's emails (password "
            "resets, notices to partners, customers and the support desk) are never delivered, yet "
            "recorded as sent.",
            hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_USE_TLS or EMAIL_USE_SSL, credentials): the SMTP "
            "backend is then the default. Or set EMAIL_BACKEND to the backend that sends your mail.",
            id="apn_portal.W001",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def secret_key_is_not_public(app_configs, **kwargs):
    if settings.DEBUG or settings.SECRET_KEY != EMBEDDED_DEFAULT_SECRET_KEY:
        return []
    return [checks.Error(PUBLIC_SECRET_KEY_MESSAGE, id="apn_portal.E001")]


def refuse_the_public_secret_key():
    """For the web process (wsgi.py) and Celery (apn_portal/celery.py), which run no system checks: never
    serve or sign on the published key."""
    if secret_key_is_not_public(None):
        raise ImproperlyConfigured(PUBLIC_SECRET_KEY_MESSAGE)


@checks.register(checks.Tags.security, deploy=True)
def webhooks_do_not_call_the_portals_own_host(app_configs, **kwargs):
    from apn_portal.webhooks.services import webhook_loopback_allowed

    listed = [] if settings.DEBUG else webhook_loopback_allowed()
    if not listed:
        return []
    return [
        checks.Warning(
            f"WEBHOOK_ALLOWED_HOSTS lists {', '.join(listed)} with DEBUG off: anybody who may register a "
            "webhook (any partner's staff) can have the worker POST to the services listening on the "
            "portal's own host.",
            hint="List only your integrators' hosts (hooks.example.com, .integrator.example), or none: "
            "loopback is for a developer's machine, with DEBUG=1.",
            id="apn_portal.W002",
        )
    ]


@checks.register("settings")
def api_rates_can_be_read(app_configs, **kwargs):
    return [
        checks.Error(
            f"API_THROTTLE_{scope.upper()}={rate!r} is not a request rate: every API request it counts would "
            "answer 500.",
            hint="Write a number of requests per second, minute, hour or day, e.g. 120/min or 10/hour.",
            id="apn_portal.E002",
        )
        for scope, rate in settings.API_THROTTLE_RATES.items()
        if not RATE.fullmatch(str(rate).strip())
    ]
