"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the services, their commands and
their environment must agree with each other and with what apn_portal/settings.py reads."""

import json
import re
import secrets
import shlex
import subprocess
import sys
import textwrap
from urllib.parse import urlsplit

import pytest
import yaml

from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR, settings_env_names

COMPOSE_FILE = PROJECT_DIR / "docker-compose.yml"
DOCKERFILE = PROJECT_DIR / "Dockerfile"
APP_SERVICES = ("web", "worker", "beat")
# What an operator puts in the .env file beside docker-compose.yml.
PRODUCTION_DOTENV = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "POSTGRES_PASSWORD": "s3cret",
    "ALLOWED_HOSTS": "apn.example.com",
    "PORTAL_URL": "https://apn.example.com",
    "EMAIL_HOST": "smtp.apn.example.com",
    "DEFAULT_FROM_EMAIL": "APN Portal <no-reply@apn.example.com>",
    "SUPPORT_TEAM_EMAIL": "support@apn.example.com",
}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, given: dict[str, str]) -> str:
    """Resolve compose's ${...} the way `docker compose` would with `given` as the .env file."""

    def resolve(match):
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in given:
            return given[name]
        if op and op.endswith("?"):
            raise AssertionError(f"{name} is required: {arg}")
        return arg if op and op.endswith("-") else ""

    return INTERPOLATION.sub(resolve, str(value))


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def dockerfile():
    """Instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def command_of(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def environment_of(service: dict) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: str(value) for name, value in environment.items()}


def interpolated_environment(service: dict) -> dict[str, str]:
    return {key: interpolate(value, PRODUCTION_DOTENV) for key, value in environment_of(service).items()}


def instruction(dockerfile, keyword):
    found = [args for key, args in dockerfile if key.upper() == keyword]
    assert found, f"the Dockerfile has no {keyword}"
    return found


def test_the_stack_has_its_five_services(compose):
    assert {"db", "redis", "web", "worker", "beat"} <= set(compose["services"])
    assert compose["services"]["db"]["image"].startswith("postgres:16")
    assert compose["services"]["redis"]["image"].startswith("redis:7")
    assert "healthcheck" in compose["services"]["db"]
    assert "healthcheck" in compose["services"]["redis"]


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_app_services_build_from_the_dockerfile(compose, name):
    build = compose["services"][name]["build"]
    context, dockerfile_name = (
        (build, "Dockerfile")
        if isinstance(build, str)
        else (
            build.get("context", "."),
            build.get("dockerfile", "Dockerfile"),
        )
    )

    assert (PROJECT_DIR / context / dockerfile_name).resolve() == DOCKERFILE


def test_services_run_gunicorn_and_celery(compose):
    web, worker, beat = (command_of(compose["services"][name]) for name in APP_SERVICES)

    assert web[0] == "gunicorn"
    assert web[1] in ("apn_portal.wsgi", "apn_portal.wsgi:application")
    assert worker[:4] == ["celery", "-A", "apn_portal", "worker"]
    assert beat[:4] == ["celery", "-A", "apn_portal", "beat"]


def test_migrations_run_before_the_app_starts(compose):
    assert command_of(compose["services"]["migrate"])[:3] == ["python", "manage.py", "migrate"]
    for name in APP_SERVICES:
        depends_on = compose["services"][name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
        assert depends_on["db"]["condition"] == "service_healthy"
        assert depends_on["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_every_variable_compose_sets_is_one_the_settings_read(compose, name):
    unknown = set(environment_of(compose["services"][name])) - settings_env_names()

    assert not unknown, f"{name} sets variables apn_portal/settings.py never reads: {sorted(unknown)}"


def test_app_services_share_one_configuration(compose):
    environments = [environment_of(compose["services"][name]) for name in [*APP_SERVICES, "migrate"]]

    assert all(environment == environments[0] for environment in environments)


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_every_setting_in_the_dotenv_file_reaches_the_app(compose, name):
    # The README's settings (API_THROTTLE_ANON, AXES_FAILURE_LIMIT, SECURE_HSTS_SECONDS...) go in .env;
    # compose itself reads that file only to fill in ${...}, so the services must be given it too. A
    # stack started without one still starts (its required secrets then come from the shell).
    env_files = compose["services"][name].get("env_file", [])

    assert {"path": ".env", "required": False} in env_files


def test_database_and_broker_urls_point_at_the_db_and_redis_services(compose):
    environment = interpolated_environment(compose["services"]["web"])
    db_environment = interpolated_environment(compose["services"]["db"])

    database = urlsplit(environment["DATABASE_URL"])
    redis = urlsplit(environment["REDIS_URL"])

    assert database.scheme in ("postgres", "postgresql")
    assert (database.hostname, database.port) == ("db", 5432)
    assert database.username == db_environment["POSTGRES_USER"]
    assert database.password == db_environment["POSTGRES_PASSWORD"]
    assert database.path.lstrip("/") == db_environment["POSTGRES_DB"]
    assert redis.scheme == "redis"
    assert redis.hostname == "redis"
    assert environment["DEBUG"] in ("0", "false", "False", "off")


def test_compose_refuses_to_start_without_the_secrets(compose):
    environment = environment_of(compose["services"]["web"])

    for required in ("SECRET_KEY", "POSTGRES_PASSWORD", "PORTAL_URL"):
        uses = [value for value in environment.values() if "${" + required in value]
        assert uses, f"compose never passes {required} on"
        for value in uses:
            with pytest.raises(AssertionError, match=f"{required} is required"):
                interpolate(value, given={})


@pytest.mark.parametrize("name", ["SUPPORT_TEAM_EMAIL", "DEFAULT_FROM_EMAIL", "EMAIL_HOST"])
def test_compose_sends_no_email_to_an_address_the_operator_never_gave(compose, name):
    # A made-up default (support@example.com) would have the support desk's notices "sent" to a domain
    # nobody receives mail for, with no warning; the operator must say where, or (support desk) set it
    # empty to have them only logged, as the README says. No container runs a mail server, so a default
    # EMAIL_HOST of localhost would have every email retried for days and then marked failed.
    value = environment_of(compose["services"]["web"])[name]

    with pytest.raises(AssertionError, match=f"{name} is required"):
        interpolate(value, given={})


def test_an_empty_support_desk_in_the_dotenv_file_turns_its_notices_off(compose):
    value = environment_of(compose["services"]["web"])["SUPPORT_TEAM_EMAIL"]

    assert interpolate(value, given={"SUPPORT_TEAM_EMAIL": ""}) == ""


def test_the_compose_configuration_passes_the_deploy_check(compose):
    environment = interpolated_environment(compose["services"]["web"])
    code = textwrap.dedent(
        """
        import json, django
        django.setup()
        from django.conf import settings as s
        from django.core.management import call_command
        call_command("check", deploy=True, fail_level="WARNING")
        database = s.DATABASES["default"]
        print(json.dumps([database["ENGINE"], database["HOST"], s.CELERY_BROKER_URL,
                          s.CACHES["default"]["BACKEND"], s.SECURE_PROXY_SSL_HEADER, s.ALLOWED_HOSTS]))
        """
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env={**BASE_ENV, "DJANGO_SETTINGS_MODULE": "apn_portal.settings", **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        "apn_portal.postgresql",
        "db",
        "redis://redis:6379/0",
        "apn_portal.cache.FailOpenRedisCache",
        ["HTTP_X_FORWARDED_PROTO", "https"],
        ["apn.example.com"],
    ]


def test_the_dockerfile_builds_a_non_root_gunicorn_image_with_static_files(dockerfile):
    assert instruction(dockerfile, "FROM")[0].startswith("python:3.11-slim")
    assert instruction(dockerfile, "USER")[-1] not in ("root", "0")
    assert any("collectstatic" in args for args in instruction(dockerfile, "RUN"))
    assert not [args for key, args in dockerfile if key.upper() == "ENTRYPOINT"]

    cmd = json.loads(instruction(dockerfile, "CMD")[-1])
    assert cmd[:2] == ["gunicorn", "apn_portal.wsgi:application"]


def test_the_dockerfile_and_compose_agree_on_the_web_port(compose, dockerfile):
    cmd = json.loads(instruction(dockerfile, "CMD")[-1])
    web = compose["services"]["web"]
    exposed = instruction(dockerfile, "EXPOSE")[-1].split()[0]

    dockerfile_bind = cmd[cmd.index("--bind") + 1]
    compose_bind = command_of(web)[command_of(web).index("--bind") + 1]
    published = [str(mapping).rsplit(":", 1)[-1] for mapping in web["ports"]]

    assert dockerfile_bind == compose_bind == f"0.0.0.0:{exposed}"
    assert published == [exposed]


def test_gunicorn_is_published_on_the_hosts_loopback_only_unless_the_operator_opens_it(compose):
    # The portal trusts X-Forwarded-For from PROXY_COUNT proxies: a client reaching port 8000 directly
    # could write its own address and walk round the sign-in lockout. Docker's published ports bypass the
    # host's firewall, so only the proxy on the host may reach it, until .env names another interface.
    (mapping,) = compose["services"]["web"]["ports"]

    assert interpolate(mapping, PRODUCTION_DOTENV) == "127.0.0.1:8000:8000"
    assert interpolate(mapping, {**PRODUCTION_DOTENV, "WEB_BIND_ADDRESS": "10.0.0.5"}) == "10.0.0.5:8000:8000"
