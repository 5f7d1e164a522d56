"""A certification's `is_active` changes with the calendar, not with a save: the day after it expires (or
on the day it was earned, recorded ahead of it), the scheduled check moves its `updated_at`, once, so an
integrator syncing certifications on `updated_since` is sent it again."""

import datetime

import pytest
import time_machine

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from partners.models import Certification
from tests.api.conftest import api_client
from tests.factories import CertificationFactory, SuperUserFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 3, 2)


def at(day: datetime.date, hour: int = 2):
    return time_machine.travel(
        datetime.datetime.combine(day, datetime.time(hour), tzinfo=datetime.UTC), tick=False
    )


def run_the_check(day: datetime.date) -> dict:
    with at(day):
        run = check_run("certification_expiry")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    return run.changed


def changed_since(client, moment: datetime.datetime) -> dict[int, bool]:
    response = client.get("/api/v1/certifications/", {"updated_since": moment.isoformat(), "page_size": 100})
    assert response.status_code == 200, response.content
    return {row["id"]: row["is_active"] for row in response.json()["results"]}


@pytest.fixture
def client():
    return api_client(SuperUserFactory())


def test_a_certification_that_expired_is_sent_again_to_a_sync_once(client):
    with at(DAY - datetime.timedelta(days=30)):
        expiring = CertificationFactory(earned_on=DAY - datetime.timedelta(days=400), expires_on=DAY)
        lasting = CertificationFactory(
            earned_on=DAY - datetime.timedelta(days=400), expires_on=DAY.replace(year=2028)
        )
    last_sync = datetime.datetime.combine(DAY, datetime.time(12), tzinfo=datetime.UTC)

    run_the_check(DAY + datetime.timedelta(days=1))
    with at(DAY + datetime.timedelta(days=1), hour=3):
        assert changed_since(client, last_sync) == {expiring.pk: False}
    touched_at = Certification.objects.get(pk=expiring.pk).updated_at

    again = run_the_check(DAY + datetime.timedelta(days=1))
    later = run_the_check(DAY + datetime.timedelta(days=5))

    assert again.get("certifications_now_counting_or_not", 0) == 0
    assert later.get("certifications_now_counting_or_not", 0) == 0
    assert Certification.objects.get(pk=expiring.pk).updated_at == touched_at
    assert Certification.objects.get(pk=lasting.pk).updated_at < last_sync


def test_a_certification_recorded_before_the_day_it_was_earned_is_sent_again_that_day(client):
    # Recorded late on the day before in UTC: already the day it was earned in Kiritimati.
    with at(DAY - datetime.timedelta(days=1), hour=20):
        early = CertificationFactory(earned_on=DAY, expires_on=DAY.replace(year=2029))
        assert (
            api_client(SuperUserFactory()).get(f"/api/v1/certifications/{early.pk}/").json()["is_active"]
            is False
        )
    last_sync = datetime.datetime.combine(
        DAY - datetime.timedelta(days=1), datetime.time(21), tzinfo=datetime.UTC
    )

    run_the_check(DAY)

    with at(DAY, hour=3):
        assert changed_since(client, last_sync) == {early.pk: True}


def test_a_worker_stopped_for_days_still_sends_the_change_on_its_next_run(client):
    with at(DAY - datetime.timedelta(days=30)):
        expiring = CertificationFactory(earned_on=DAY - datetime.timedelta(days=400), expires_on=DAY)
    last_sync = datetime.datetime.combine(DAY, datetime.time(12), tzinfo=datetime.UTC)

    run_the_check(DAY + datetime.timedelta(days=10))

    with at(DAY + datetime.timedelta(days=10), hour=3):
        assert changed_since(client, last_sync) == {expiring.pk: False}
