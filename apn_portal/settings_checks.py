"""Django system checks of the portal's own settings: what an operator set wrong is said at start-up
(`manage.py check`, `migrate`, `runserver`), naming the variable, not found later as lost mail or a 500.
Registered by apn_portal.accounts' AppConfig."""

from django.conf import settings
from django.core import checks

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
