"""The scheduled-check framework: registry, tasks and beat schedule, runs recorded, one run at a time."""

import datetime
import threading

import pytest
import time_machine
from celery import current_app
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection, connections
from django.utils import timezone

from apn_portal.checks import registry
from apn_portal.checks.models import CheckRun, CheckRunStatus, CheckTrigger
from apn_portal.checks.registry import ScheduledCheck, registered_checks
from apn_portal.checks.results import CheckResult
from apn_portal.checks.selectors import checks_overdue
from apn_portal.checks.services import check_lock, check_run
from apn_portal.checks.tasks import TRANSIENT_ERRORS, check_task, checks_catch_up
from apn_portal.outbox.models import OutboxMessage
from partners.models import Certification, Partner, TierChange
from tests.checks import on
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PartnerUserFactory,
    StaffMemberFactory,
    SuperUserFactory,
    tier,
)

TODAY = datetime.date(2026, 3, 2)


@pytest.fixture
def temporary_check():
    """Register a check for one test, and remove it afterwards."""
    added = []

    def add(name, function):
        registry.register(ScheduledCheck(name=name, function=function, description=f"Test check {name}."))
        added.append(name)

    yield add
    for name in added:
        registry._checks.pop(name, None)


def expiring_certification(days_left=30):
    with on(TODAY):
        partner = PartnerFactory()
        PartnerUserFactory(partner=partner, email="ops@acme.example")
        return CertificationFactory(
            staff_member=StaffMemberFactory(partner=partner),
            earned_on=TODAY - datetime.timedelta(days=400),
            expires_on=TODAY + datetime.timedelta(days=days_left),
        )


def test_every_check_has_a_task_and_a_beat_entry_and_nothing_else_is_scheduled_as_a_check():
    names = {check.name for check in registered_checks()}
    assert {"certification_expiry", "tier_health", "program_renewal"} <= names
    scheduled = {
        entry["task"].removeprefix("checks.")
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"].startswith("checks.") and entry["task"] != checks_catch_up.name
    }
    assert scheduled == names
    assert "outbox-sweep" in settings.CELERY_BEAT_SCHEDULE
    for check in registered_checks():
        task = current_app.tasks[check.task_name]
        assert task.acks_late is check.idempotent
        assert set(task.autoretry_for) == set(TRANSIENT_ERRORS)
        assert task.retry_backoff and task.max_retries
        # Redis redelivers a message unacknowledged for this long: a run must end well before.
        assert task.time_limit < settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(
            "visibility_timeout", 2 * 60 * 60
        )


def test_only_transient_errors_are_retried():
    assert OperationalError in TRANSIENT_ERRORS
    assert not any(issubclass(ValueError, error) for error in TRANSIENT_ERRORS)


@pytest.mark.django_db
def test_the_task_runs_the_check_and_records_it_as_scheduled():
    expiring_certification()

    with on(TODAY):
        status = check_task(registry.get_check("certification_expiry")).apply().get()

    assert status == CheckRunStatus.SUCCEEDED
    run = CheckRun.objects.get(name="certification_expiry")
    assert run.trigger == CheckTrigger.SCHEDULE
    assert run.changed["reminder_emails"] == 1


@pytest.mark.django_db
def test_run_checks_prints_what_each_check_changed(capsys):
    expiring_certification()

    with on(TODAY):
        call_command("run_checks", "certification_expiry", "tier_health")

    out = capsys.readouterr().out
    assert "certification_expiry: succeeded" in out
    assert "Reminded 1 certification (30 days: 1) in 1 email." in out
    assert "tier_health: succeeded" in out
    assert f"Evaluated {Partner.objects.count()} partner" in out
    assert list(CheckRun.objects.order_by("id").values_list("name", "trigger")) == [
        ("certification_expiry", CheckTrigger.COMMAND),
        ("tier_health", CheckTrigger.COMMAND),
    ]


@pytest.mark.django_db
def test_run_checks_without_names_runs_them_all_in_order(capsys):
    with on(TODAY):
        call_command("run_checks")
    assert list(CheckRun.objects.order_by("id").values_list("name", flat=True)) == [
        check.name for check in registered_checks()
    ]


@pytest.mark.django_db
def test_run_checks_refuses_an_unknown_name():
    with pytest.raises(CommandError, match="no scheduled check named 'nope'"):
        call_command("run_checks", "nope")
    assert not CheckRun.objects.exists()


@pytest.mark.django_db
def test_a_failing_check_is_rolled_back_and_recorded_with_its_error(temporary_check):
    def half_done(*, today):
        Partner.objects.update(name="Half-renamed")
        raise RuntimeError("the mail template is missing")

    partner = PartnerFactory(name="Acme Cloud")
    temporary_check("half_done", half_done)

    with pytest.raises(RuntimeError):
        check_run("half_done")

    partner.refresh_from_db()
    assert partner.name == "Acme Cloud"
    run = CheckRun.objects.get(name="half_done")
    assert run.status == CheckRunStatus.FAILED
    assert "RuntimeError: the mail template is missing" in run.error
    assert run.summary == "Rolled back: nothing was changed."
    assert run.finished_at is not None


def _at(day: datetime.date, hour: int, minute: int = 0):
    return time_machine.travel(
        datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=datetime.UTC), tick=False
    )


@pytest.mark.django_db
def test_a_daily_run_beat_missed_is_caught_up_once_its_time_is_past():
    # certification_expiry is due at 01:00 each day: yesterday's ran; today's never started (beat or its
    # broker was down at 01:00, and beat has moved on to tomorrow's).
    with _at(TODAY - datetime.timedelta(days=1), 1):
        check_run("certification_expiry")
    with _at(TODAY, 0, 50):
        assert "certification_expiry" not in checks_overdue()  # today's is not due yet
    with _at(TODAY, 1, 5):
        assert "certification_expiry" not in checks_overdue()  # beat may be starting it now
    with _at(TODAY, 1, 30):
        assert "certification_expiry" in checks_overdue()
        check_run("certification_expiry")
        assert "certification_expiry" not in checks_overdue()  # caught up once


@pytest.mark.django_db
def test_a_check_under_way_or_failed_today_is_not_queued_again_but_beat_starting_retries_a_failure():
    with _at(TODAY, 1, 30):
        CheckRun.objects.create(
            name="certification_expiry", status=CheckRunStatus.RUNNING, started_at=timezone.now()
        )
        CheckRun.objects.create(
            name="tier_health",
            status=CheckRunStatus.FAILED,
            started_at=timezone.now(),
            finished_at=timezone.now(),
            error="RuntimeError: the mail template is missing",
        )
        overdue = checks_overdue()
        after_a_restart = checks_overdue(failed_again=True)

    assert "certification_expiry" not in overdue and "tier_health" not in overdue
    assert "tier_health" in after_a_restart and "certification_expiry" not in after_a_restart


@pytest.mark.django_db
def test_a_run_left_running_by_a_dead_worker_does_not_hold_the_catch_up_back():
    with _at(TODAY, 1, 0):
        CheckRun.objects.create(
            name="certification_expiry", status=CheckRunStatus.RUNNING, started_at=timezone.now()
        )
    with _at(TODAY, 2, 30):
        assert "certification_expiry" in checks_overdue()


@pytest.mark.django_db
def test_a_check_that_runs_every_few_minutes_is_caught_up_only_when_it_stopped():
    with _at(TODAY, 9, 0):
        check_run("support_sla")  # every five minutes
    with _at(TODAY, 9, 12):
        assert "support_sla" not in checks_overdue()
    with _at(TODAY, 9, 20):
        assert "support_sla" in checks_overdue()


def test_beat_queues_the_catch_up_every_quarter_of_an_hour():
    entries = [
        entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == "checks.catch_up"
    ]

    assert [entry["schedule"] for entry in entries] == [15 * 60.0]


@pytest.mark.django_db
def test_the_catch_up_task_queues_what_is_due():
    with on(TODAY):
        queued = checks_catch_up.apply().get()
    assert queued == [check.name for check in registered_checks()]


# One run at a time --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_run_that_finds_the_check_locked_skips_and_changes_nothing():
    certification = expiring_certification()
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with check_lock("certification_expiry") as acquired:
                assert acquired
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert holding.wait(10)
    try:
        with on(TODAY):
            run = check_run("certification_expiry")
    finally:
        release.set()
        holder.join()

    assert run.status == CheckRunStatus.SKIPPED
    assert "Another run of this check was in progress" in run.summary
    certification.refresh_from_db()
    assert certification.last_reminder_days is None
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_have_one_effect():
    """Two workers (threads, each with its own connection) start the same check together."""
    for _ in range(20):
        expiring_certification()
    start = threading.Barrier(2)
    runs, errors = [], []

    def worker():
        try:
            start.wait(10)
            with on(TODAY):
                runs.append(check_run("certification_expiry"))
        except Exception as exc:  # reported below: an assertion in a thread would be lost
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert OutboxMessage.objects.filter(dedupe_key__startswith="cert-expiry:").count() == 20
    assert Certification.objects.filter(last_reminder_days=30).count() == 20
    sent = sorted(run.changed.get("reminder_emails", 0) for run in runs)
    assert sent == [0, 20]
    assert connection.vendor == "postgresql"


def test_a_result_says_nothing_to_do_when_nothing_changed():
    result = CheckResult()
    result.add("emails", 0)
    assert result.nothing_changed
    assert result.summary == "Nothing to do."


# The admin -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_runs_are_listed_read_only_in_the_admin_and_filtered_by_check_and_status(client):
    with on(TODAY):
        check_run("certification_expiry")
        check_run("tier_health")
    client.force_login(SuperUserFactory())

    listed = client.get("/admin/checks/checkrun/", {"name": "tier_health", "status": "succeeded"})
    assert listed.status_code == 200
    assert [run.name for run in listed.context["cl"].result_list] == ["tier_health"]
    run = CheckRun.objects.get(name="tier_health")
    page = client.get(f"/admin/checks/checkrun/{run.pk}/change/")
    assert page.status_code == 200
    assert "Evaluated" in page.content.decode()
    assert b'name="_save"' not in page.content  # nothing to edit
    assert client.get("/admin/checks/checkrun/add/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_two_tier_health_runs_at_once_demote_a_partner_once():
    with on(TODAY):
        partner = PartnerFactory(tier=tier(slug="select"))  # no evidence at all: short of Select
        PartnerUserFactory(partner=partner, email="ops@acme.example")
    Partner.objects.filter(pk=partner.pk).update(
        grace_started_on=TODAY - datetime.timedelta(days=90), grace_ends_on=TODAY
    )
    start = threading.Barrier(2)
    errors = []

    def worker():
        try:
            start.wait(10)
            with on(TODAY):
                check_run("tier_health")
        except Exception as exc:  # reported below: an assertion in a thread would be lost
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    partner.refresh_from_db()
    assert partner.tier.slug == "registered"
    assert TierChange.objects.filter(partner=partner).count() == 1
    assert OutboxMessage.objects.filter(dedupe_key__startswith="tier-demoted:").count() == 1
