"""Settings for the APN Portal, read from environment variables.

With nothing set, the portal runs on the embedded default: a SQLite file in the project, email to the
console, and Celery on a broker that needs no server. Production sets DATABASE_URL (PostgreSQL), REDIS_URL,
SECRET_KEY, ALLOWED_HOSTS and the email settings.
"""

from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from apn_portal.env import StrictEnv, read_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent


env = StrictEnv()
read_dotenv(BASE_DIR)


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list, written as people write lists: "a.example, b.example" is two items."""
    return [item.strip() for item in env.list(name, default=default) if item.strip()]


# The embedded default's key is published here, so it is only acceptable while DEBUG is on: otherwise
# `check --deploy` fails on it and the web process, the Celery worker and beat refuse to start
# (apn_portal/settings_checks.py).
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="django-insecure-embedded-default-change-me")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "apn_portal.csrf.csrf_failure"  # the portal's page, saying why and what to do

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Full-text and trigram lookups for Find-a-Partner; inert on the embedded SQLite default.
    "django.contrib.postgres",
    "django_filters",
    "axes",
    "simple_history",
    "django_countries",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apn_portal.accounts",
    "apn_portal.outbox",
    "apn_portal.api",
    "apn_portal.webhooks",
    "apn_portal.checks",
    "partners",
    "engagements",
    "support",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything asks for the Host: a health check by address is answered (apn_portal.middleware).
    "apn_portal.middleware.health_probes_whatever_the_host",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apn_portal.middleware.private_to_the_signed_in_user",
    "apn_portal.middleware.TryAgainAfterRollback",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Inside the messages' middleware, so a message the 405 page shows is not shown again.
    "apn_portal.middleware.page_for_a_method_not_allowed",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during authentication into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "apn_portal.urls"
WSGI_APPLICATION = "apn_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "partners.context_processors.area_nav",
            ],
            "builtins": ["apn_portal.template_text"],
        },
    },
]

# Databases: unset DATABASE_URL means the embedded SQLite file; production gives postgres://...
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, but for reading timestamps in C (see apn_portal/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "apn_portal.postgresql"
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A server that takes the connection and never answers is given up on well within a web request's
    # time limit (gunicorn's), so /readyz answers 503 and a page its error, not a killed worker.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DB_CONNECT_TIMEOUT_SECONDS", default=5)
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the embedded worker and web process write without "database is locked" errors.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "apn_portal.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first, so a locked-out username never reaches the password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
# No LOGOUT_REDIRECT_URL: signing out shows registration/logged_out.html, which says it worked.

# Lockout after repeated failures, per username and IP (an IPv6 client's /64), on every sign-in path (site,
# admin, API).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# And per address alone, whatever the usernames, at a limit an office sharing one address does not reach
# by mistyping (apn_portal.accounts.lockout.AddressLockoutHandler).
AXES_HANDLER = "apn_portal.accounts.lockout.AddressLockoutHandler"
SIGN_IN_ADDRESS_FAILURE_LIMIT = env.int("SIGN_IN_ADDRESS_FAILURE_LIMIT", default=30)
AXES_RESET_ON_SUCCESS = True
# Each attempt during a lockout is recorded and restarts the cool-off (axes' default, relied on): the API's
# 429 counts its Retry-After from the attempt it answers (apn_portal.accounts.lockout).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_LOCKOUT_CALLABLE = "apn_portal.accounts.lockout.lockout_response"
# Behind a reverse proxy every client would otherwise share the proxy's address, and so its lockouts.
AXES_CLIENT_IP_CALLABLE = "apn_portal.http.client_throttle_address"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "apn_portal" / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env(
            "STATICFILES_BACKEND", default="whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Cache: Redis when configured (shared by every web process), else local memory.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # While Redis is down the pages go on from the database and the throttles let requests
            # through (apn_portal/cache.py); a Redis that does not answer is given up on within a second,
            # not the client's default five, and then left alone for CACHE_PAUSE_SECONDS.
            "BACKEND": "apn_portal.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# After one cache call finds Redis down or silent, a process asks it nothing for this long (reads miss,
# writes are skipped): a page asks the cache several times, and each would wait out the timeout above.
# Short, since the throttles count nothing meanwhile.
CACHE_PAUSE_SECONDS = 5

# Email: console on the embedded default; SMTP once a mail server is named (EMAIL_HOST), so an operator
# who gives the server but not the backend has mail sent, not printed and marked sent. With DEBUG off a
# console (or in-memory) backend fails `check --deploy` (apn_portal/settings_checks.py).
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if env("EMAIL_HOST", default="")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", default="") or "localhost"
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)  # STARTTLS, usually on port 587
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)  # implicit TLS, usually on port 465
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    # Django's SMTP backend would refuse it only when the first email is sent, in the worker's log.
    raise ImproperlyConfigured(
        "EMAIL_USE_TLS and EMAIL_USE_SSL are both on; set one: EMAIL_USE_SSL=1 for implicit TLS (port "
        "465), or EMAIL_USE_TLS=1 for STARTTLS (port 587). The compose stack turns EMAIL_USE_TLS on unless "
        ".env sets EMAIL_USE_TLS=0."
    )
# A mail server that stops answering must not hold a worker (and the outbox row it locks) for ever: the
# send fails after this many seconds and the outbox retries it later.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent_emails"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="APN Portal <no-reply@apn-portal.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The provider's support desk: told of what its staff must hear when no person with an address would be
# (a case past its response deadline with no TAM, reselling partner or Cloud Support Engineer to write to,
# a TAM designation losing its qualification with neither the TAM nor the Account Manager reachable).
# Empty turns it off: such a notice is then only logged, as a warning.
SUPPORT_TEAM_EMAIL = env("SUPPORT_TEAM_EMAIL", default="support@apn-portal.localhost")
# The portal's public address, for links in emails (which add paths starting with "/" to it).
PORTAL_URL = env("PORTAL_URL", default="http://localhost:8000").rstrip("/")

# Celery: Redis in production; with no REDIS_URL a SQLite-file broker so the embedded default needs no server.
CELERY_BROKER_URL = env(
    "CELERY_BROKER_URL", default=REDIS_URL or f"sqla+sqlite:///{BASE_DIR / 'celery-broker.sqlite3'}"
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web request never waits long on a broker that is down: the outbox sweep sends what could not be queued.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Above the longest scheduled run, so a slow check is never redelivered to a second worker mid-run. Redis
# only: the SQLite-file broker hands its options to SQLAlchemy, which refuses this one and stops the worker.
# A Redis that takes the connection and never answers fails a publish (and /readyz) after the socket
# timeouts, not after gunicorn kills the request; the worker's own waits for work are 1 s reads, well under.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": 2 * 60 * 60, "socket_timeout": 5, "socket_connect_timeout": 5}
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else {}
)
# After one publish fails (a Redis that is down or never answers, after the timeouts above), a process
# queues nothing for this long (apn_portal.broker): what it would queue is stored already, and the
# minute's sweeps send it, so an admin action over many rows waits out one timeout, not one per row.
BROKER_PAUSE_SECONDS = 30
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "apn_portal.outbox.tasks.outbox_sweep", "schedule": 60.0},
    # Find-a-Partner's counts stop including what expired at midnight within a quarter of an hour.
    "search-refresh-due": {"task": "partners.tasks.search_refresh_due", "schedule": 15 * 60.0},
    "webhooks-sweep": {"task": "apn_portal.webhooks.tasks.webhook_sweep", "schedule": 60.0},
    "api-idempotency-keys-purge": {"task": "apn_portal.api.tasks.idempotency_keys_purge", "schedule": 3600.0},
    # The scheduled checks (apn_portal/checks): one task per registered check, `checks.<name>`, in the
    # order they build on each other; grants hourly, since access ends at a time of day. A run missed
    # while beat or the broker was down (beat moves on to the next time) is queued by checks.catch_up,
    # when beat starts and every quarter of an hour.
    "checks-catch-up": {"task": "checks.catch_up", "schedule": 15 * 60.0},
    "check-certification-expiry": {
        "task": "checks.certification_expiry",
        "schedule": crontab(hour=1, minute=0),
    },
    "check-tier-health": {"task": "checks.tier_health", "schedule": crontab(hour=1, minute=15)},
    "check-program-renewal": {"task": "checks.program_renewal", "schedule": crontab(hour=1, minute=45)},
    "check-access-grant-expiry": {"task": "checks.access_grant_expiry", "schedule": crontab(minute=5)},
    # Every five minutes: the tightest first-response target is 15 minutes.
    "check-support-sla": {"task": "checks.support_sla", "schedule": 5 * 60.0},
    # Every quarter of an hour: every time zone's midnight falls on one, so each customer is on the successor
    # plan from the first minutes of its own retirement day.
    "check-support-plan-retirement": {
        "task": "checks.support_plan_retirement",
        "schedule": crontab(minute="*/15"),
    },
    # After the plan retirement check, which may move a plan to one that names no TAM.
    "check-tam-qualification": {"task": "checks.tam_qualification", "schedule": crontab(hour=0, minute=10)},
}

# REST API (/api/v1/): tokens for integrators, sessions for the browsable API; see docs/api.md.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apn_portal.api.permissions.PortalPermission"],
    "DEFAULT_PARSER_CLASSES": ["apn_portal.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "apn_portal.api.renderers.PortalBrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "apn_portal.api.filters.ApiFilterBackend",
        "apn_portal.api.filters.UniqueOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "apn_portal.api.pagination.PortalPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "apn_portal.api.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "apn_portal.api.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "apn_portal.api.throttling.AnonymousIpThrottle",
        "apn_portal.api.throttling.TokenThrottle",
    ],
    # The client's address is the last PROXY_COUNT hop of X-Forwarded-For, never a header it forged.
    "NUM_PROXIES": env.int("PROXY_COUNT", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
API_THROTTLE_RATES = {
    "anon": env("API_THROTTLE_ANON", default="120/min"),
    "token": env("API_THROTTLE_TOKEN", default="1200/min"),
    "contact_requests": env("API_THROTTLE_CONTACT_REQUESTS", default="10/hour"),
}
API_IDEMPOTENCY_KEY_TTL_HOURS = 24
# gunicorn's timeout too (gunicorn.conf.py reads the same variable).
WEB_REQUEST_TIMEOUT_SECONDS = env.int("WEB_REQUEST_TIMEOUT_SECONDS", default=30)
SPECTACULAR_SETTINGS = {
    "TITLE": "APN Portal API",
    "DESCRIPTION": (
        "The partner network for integrators: partners, tiers, programs, people and their "
        "certifications, references, leads and webhooks. Guide to tokens, paging, syncing with "
        "`updated_since` and webhooks: docs/api.md in the APN Portal's source repository (a file there, "
        "not a page of this site)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "WebhookEventEnum": "apn_portal.webhooks.choices.WebhookEvent",
        "SupportCaseStatusEnum": "support.choices.CaseStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apn_portal.api.schema.add_error_components",
        "apn_portal.api.schema.overlapping_one_of_as_any_of",
    ],
    # Served from the sidecar's static files: the docs work on a closed network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Webhooks are POSTed only to these hosts (Django ALLOWED_HOSTS patterns: "hooks.example.com",
# ".example.com", "*"). None by default with DEBUG off: listing the portal's own host there would let anybody
# who registers a webhook have the worker POST to the services listening on it (the deploy check
# apn_portal.W002 says so); a developer's receiver runs beside the portal, on loopback.
WEBHOOK_ALLOWED_HOSTS = env_list(
    "WEBHOOK_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30)

# Security, all configurable for running behind a TLS-terminating proxy.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# In capitals or not, as gunicorn and Celery take it ("info").
LOG_LEVEL = env("LOG_LEVEL", default="INFO").strip().upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL={env('LOG_LEVEL')!r} is not a log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # As gunicorn's and Celery's own lines say it: when, how serious, and which part of the portal.
    "formatters": {"portal": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "portal"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# Domain settings.
PARTNER_EXPIRING_SOON_DAYS = 90
# Find-a-Partner's front page counts every published partner per filter value; they are recomputed at
# most this often (a search with any filter is always counted afresh).
FIND_A_PARTNER_UNFILTERED_COUNTS_SECONDS = env.int("FIND_A_PARTNER_UNFILTERED_COUNTS_SECONDS", default=60)
CERTIFICATION_DEFAULT_VALIDITY_YEARS = 3
