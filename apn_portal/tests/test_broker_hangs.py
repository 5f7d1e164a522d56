"""A broker (Redis) that takes connections and never answers: every publish after a commit waits out the
broker's socket timeout (5 s) before giving up to the sweep. A superuser's admin action over many rows must
not pay that once per row, or the request outlives gunicorn's 30 s limit after its changes were committed:
the superuser gets no page and likely does it all again. Each test runs a process of its own, configured
as production configures Celery, writing to this test's database."""

import subprocess
import sys

import kombu.exceptions
import pytest
from django.db import connection
from django.urls import reverse

from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.tests.settings_env import BASE_ENV, PROJECT_DIR
from apn_portal.tests.test_health import a_server_that_never_answers
from partners.choices import ProfileChangeStatus
from partners.models import ProfileChangeRequest
from partners.services import profile_change_submit
from tests.factories import PartnerFactory, PartnerUserFactory, SuperUserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# gunicorn.conf.py: a request still running after this is killed, and its user gets no page.
WEB_REQUEST_TIMEOUT_SECONDS = 30
# CELERY_BROKER_TRANSPORT_OPTIONS' socket_timeout: what one publish to a hung Redis waits.
BROKER_SOCKET_TIMEOUT_SECONDS = 5
# One timeout, plus the rows' own work, which a busy 2-core machine has seen take 5 s: waiting per row
# would take 30 s or more. That only one wait happened is asserted by the one "Could not queue" logged.
ONE_WAIT_AT_MOST_SECONDS = 3 * BROKER_SOCKET_TIMEOUT_SECONDS


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def run_with_a_hung_broker(code: str, **env) -> subprocess.CompletedProcess:
    setup = "import time, django; django.setup()\n"
    with a_server_that_never_answers() as port:
        environment = {
            **BASE_ENV,
            "DJANGO_SETTINGS_MODULE": "apn_portal.settings",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            **env,
        }
        try:
            return subprocess.run(
                [sys.executable, "-c", setup + code],
                cwd=PROJECT_DIR,
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            pytest.fail("still publishing to a broker that never answers after 120 s")


def seconds_taken(done: subprocess.CompletedProcess) -> float:
    assert "took" in done.stdout, done.stderr[-3000:]
    return float(done.stdout.split("took")[-1].split()[0])


def test_resending_failed_emails_while_the_broker_hangs_answers_within_a_web_request_limit():
    admin = SuperUserFactory()
    for number in range(7):
        OutboxMessage.objects.create(
            dedupe_key=f"failed:{number}",
            to=["a@example.com"],
            subject="S",
            body_text="B",
            status=OutboxStatus.FAILED,
            attempts=78,
        )
    code = (
        "from apn_portal.accounts.models import User\n"
        "from apn_portal.outbox.models import OutboxMessage\n"
        "from apn_portal.outbox.services import outbox_messages_resend\n"
        f"user = User.objects.get(pk={admin.pk})\n"
        "started = time.monotonic()\n"
        "n = outbox_messages_resend(messages=OutboxMessage.objects.all(), user=user)\n"
        "print('resent', n, 'took', round(time.monotonic() - started, 1), flush=True)\n"
    )

    done = run_with_a_hung_broker(code)

    assert "resent 7" in done.stdout, done.stderr[-3000:]
    # All pending again: the sweep sends them once the broker is back.
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.PENDING}
    taken = seconds_taken(done)
    assert taken < ONE_WAIT_AT_MOST_SECONDS, (
        f"sending 7 failed emails again took {taken:.0f} s with the broker hanging (gunicorn kills a "
        f"request after {WEB_REQUEST_TIMEOUT_SECONDS} s); publish failures logged: "
        f"{done.stderr.count('Could not queue')}"
    )


def test_approving_proposals_one_row_at_a_time_waits_on_a_hung_broker_once_not_per_row():
    """ "Approve selected proposals" commits each row on its own, each queueing an email to the proposer:
    the first email's publish gives up after the socket timeout, and the others are left to the sweep at
    once, rather than each waiting its own timeout (six rows would be 30 s, and a killed request)."""
    pdm = SuperUserFactory()
    changes = []
    for _ in range(6):
        partner = PartnerFactory(pdm=pdm)
        proposer = PartnerUserFactory(partner=partner)
        change, _ = profile_change_submit(
            partner=partner,
            user=proposer,
            description="Our new text.",
            website=partner.website,
            industries=[],
            use_cases=[],
        )
        changes.append(change)
    code = (
        "from django.test import Client, override_settings\n"
        "from apn_portal.accounts.models import User\n"
        # The pages' static files unbuilt here: their plain names, as in development.
        "override_settings(STORAGES={**django.conf.settings.STORAGES, 'staticfiles': "
        "{'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'}}).enable()\n"
        "client = Client()\n"
        f"client.force_login(User.objects.get(pk={pdm.pk}))\n"
        "started = time.monotonic()\n"
        "response = client.post(\n"
        f"    {reverse('admin:partners_profilechangerequest_changelist')!r},\n"
        f"    {{'action': 'approve', '_selected_action': {[change.pk for change in changes]!r}}},\n"
        "    secure=True, follow=True,\n"
        ")\n"
        "print('answered', response.status_code, 'took', round(time.monotonic() - started, 1), flush=True)\n"
        "print(' '.join(response.content.decode().split()), flush=True)\n"
    )

    # The cache on a Redis of its own that is up (none: local memory), so only the broker hangs.
    with a_server_that_never_answers() as port:
        done = run_with_a_hung_broker(code, REDIS_URL="", CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0")

    assert "answered 200" in done.stdout, done.stderr[-3000:]
    assert "Approved and live:" in done.stdout
    assert set(ProfileChangeRequest.objects.values_list("status", flat=True)) == {
        ProfileChangeStatus.APPROVED
    }
    decided = OutboxMessage.objects.filter(
        dedupe_key__startswith="profile-change:", dedupe_key__endswith="approved"
    )
    assert decided.count() == 6
    assert set(decided.values_list("status", flat=True)) == {OutboxStatus.PENDING}  # for the sweep
    taken = seconds_taken(done)
    assert taken < ONE_WAIT_AT_MOST_SECONDS, (
        f"approving 6 proposals took {taken:.0f} s with the broker hanging; publish failures logged: "
        f"{done.stderr.count('Could not queue')}"
    )
    # One warning says the broker could not be reached; the rows after it add none.
    assert done.stderr.count("Could not queue") == 1, done.stderr[-3000:]


def test_after_a_failed_publish_every_publisher_leaves_its_tasks_to_the_sweep_until_the_pause_ends(
    monkeypatch, caplog, settings
):
    """One failed publish pauses them all, the outbox's and the webhooks' alike, in this process, with one
    warning; the broker is tried again once BROKER_PAUSE_SECONDS have passed."""
    from apn_portal import breaker
    from apn_portal.outbox import tasks as outbox_tasks
    from apn_portal.outbox.services import _schedule_batch_delivery, _schedule_delivery
    from apn_portal.webhooks import tasks as webhook_tasks
    from apn_portal.webhooks.services import webhook_deliveries_queue

    settings.BROKER_PAUSE_SECONDS = 30
    clock = [1000.0]
    monkeypatch.setattr(breaker, "_now", lambda: clock[0])
    tried = []

    def broker_down(args, **kwargs):
        tried.append(args)
        raise kombu.exceptions.OperationalError("timed out")

    for task in (
        outbox_tasks.outbox_deliver,
        outbox_tasks.outbox_deliver_batch,
        webhook_tasks.webhook_deliver_task,
    ):
        monkeypatch.setattr(task, "apply_async", broker_down)

    _schedule_delivery(1)
    _schedule_delivery(2)
    _schedule_batch_delivery([3, 4])
    webhook_deliveries_queue([5, 6])
    clock[0] += 29

    _schedule_delivery(7)

    assert tried == [(1,)]
    assert caplog.text.count("Could not queue") == 1
    assert "Could not queue outbox message 1; the sweep will send it" in caplog.text

    clock[0] += 1
    webhook_deliveries_queue([8, 9])

    assert tried == [(1,), (8,)]  # tried again, and stopped at the first failure again
    assert caplog.text.count("Could not queue") == 2
