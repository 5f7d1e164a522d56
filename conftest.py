"""Test configuration shared by every test package.

Tests run on PostgreSQL: `scripts/test.sh` starts a private server and sets DATABASE_URL. Setting it by
hand to a SQLite URL is refused, since the features under test (constraints, search) are PostgreSQL's.
"""

import os

import pytest


def pytest_configure(config):
    # Tasks queued by the code under test go to an in-memory broker unless a test sets up a real one.
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise pytest.UsageError(
            "Tests run on PostgreSQL: use `bash scripts/test.sh`, or set DATABASE_URL=postgres://..."
        )


def fast_and_isolated_settings(cache_location: str, media_root) -> dict:
    """A cache of its own: what one test caches (search counts, throttle counters) is never read by
    another, nor by another run sharing the Redis (a test about the shared cache sets its own). Quick
    password hashing, mail kept in memory, no static manifest, media in a temporary directory."""
    from django.conf import settings

    return {
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": cache_location,
            }
        },
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "STORAGES": {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        "MEDIA_ROOT": media_root,
        "SECURE_SSL_REDIRECT": False,
        # The suite's webhook receivers listen on loopback, beside the portal, as a developer's do: what
        # settings.py allows by default only with DEBUG on.
        "WEBHOOK_ALLOWED_HOSTS": ["localhost", "127.0.0.1", "[::1]"],
    }


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path, request):
    for name, value in fast_and_isolated_settings(request.node.nodeid, tmp_path / "media").items():
        setattr(settings, name, value)


@pytest.fixture(autouse=True)
def _broker_reachable():
    """Each test starts with the broker taken as reachable: a publish one test made fail does not leave
    the next tests' tasks unqueued for the pause that follows (apn_portal.broker)."""
    from apn_portal.broker import broker_pause_end

    broker_pause_end()


@pytest.fixture(autouse=True)
def _cache_reachable():
    """Each test starts with the production cache's Redis taken as reachable: a call one test found it down
    in does not leave the next test's cache, at the same location, unasked for the pause that follows
    (apn_portal.cache)."""
    from apn_portal.cache import cache_pauses_end

    cache_pauses_end()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """TEST_DB_SUFFIX gives concurrent runs on one PostgreSQL server their own test databases."""
    suffix = os.environ.get("TEST_DB_SUFFIX")
    if suffix:
        from django.conf import settings

        # Each of pytest-xdist's workers (gw0, gw1...) needs a database of its own within the run.
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        name = f"test_apn_{suffix}_{worker}" if worker else f"test_apn_{suffix}"
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = name


# The production cache (Django's Redis cache that fails open), down or up, for the tests about outages.
FAIL_OPEN_CACHE = "apn_portal.cache.FailOpenRedisCache"


@pytest.fixture
def redis_down(settings):
    """The production cache on a port nothing listens on: every call to it is refused."""
    from django.core.cache import caches

    settings.CACHES = {"default": {"BACKEND": FAIL_OPEN_CACHE, "LOCATION": "redis://127.0.0.1:1/0"}}
    return caches["default"]


@pytest.fixture
def redis_up(settings):
    """The production cache on a real Redis, as scripts/test.sh and CI start it, under a key prefix of the
    test's own."""
    import uuid

    from django.core.cache import caches

    assert os.environ.get("REDIS_URL"), "Start Redis: bash scripts/services.sh --redis, or scripts/test.sh"
    settings.CACHES = {
        "default": {
            "BACKEND": FAIL_OPEN_CACHE,
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-{uuid.uuid4()}",
            "TIMEOUT": 600,
        }
    }
    return caches["default"]
