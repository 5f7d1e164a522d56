"""program_renewal: enrollments expire, audits are renewed in time, a program's minimum tier is enforced."""

import datetime
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_endpoint_create
from partners.checks import program_renewal
from partners.choices import EnrollmentStatus, TierChangeSource
from partners.models import Partner, PartnerSearchEntry, Program, ProgramEnrollment
from partners.selectors import active_enrollments
from partners.services import partner_tier_change
from partners.services_records import partner_update
from tests.checks import check_run_on, on
from tests.factories import (
    ApprovedEnrollmentFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    SuperUserFactory,
    program,
    tier,
)
from tests.locks import sessions_waiting_for_locks, wait_for

pytestmark = pytest.mark.django_db

START = datetime.date(2026, 3, 2)
EXPIRY = datetime.date(2026, 9, 30)


def run_on(day: datetime.date):
    return check_run_on("program_renewal", day)


@pytest.fixture
def partner():
    pdm = PdmFactory(email="pdm@provider.example")
    with on(START):
        partner = PartnerFactory(name="Acme Cloud", tier=tier(slug="select"), pdm=pdm)
        PartnerUserFactory(partner=partner, email="ops@acme.example")
    return partner


def enroll(partner, slug="databases", expires_on=EXPIRY):
    with on(START):
        return ApprovedEnrollmentFactory(
            partner=partner,
            program=program(slug),
            approved_on=START - datetime.timedelta(days=300),
            expires_on=expires_on,
        )


def test_an_enrollment_expires_the_day_after_its_date_and_leaves_the_public_page(partner):
    enrollment = enroll(partner)

    run_on(EXPIRY)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED
    assert program("databases").pk in PartnerSearchEntry.objects.get(partner=partner).program_ids

    run = run_on(EXPIRY + datetime.timedelta(days=1))
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.EXPIRED
    assert enrollment.status_reason == "Expired on 2026-09-30: not renewed in time."
    assert run.changed["enrollments_expired"] == 1
    assert program("databases").pk not in PartnerSearchEntry.objects.get(partner=partner).program_ids
    assert not active_enrollments(EXPIRY + datetime.timedelta(days=1)).filter(pk=enrollment.pk).exists()
    latest = enrollment.history.first()
    assert latest.status == EnrollmentStatus.EXPIRED
    assert latest.history_change_reason == "By the scheduled check program_renewal"
    [message] = OutboxMessage.objects.filter(dedupe_key=f"enrollment-expired:{enrollment.pk}")
    assert sorted(message.to) == ["ops@acme.example", "pdm@provider.example"]
    assert "expired on 30 Sep 2026" in message.body_text
    # Each reader has a link to follow, in either part: the staff their scorecard, the PDM the admin's page.
    admin_path = reverse("admin:partners_partner_change", args=[partner.pk])
    for body in (message.body_text, message.body_html):
        assert f"{settings.PORTAL_URL}{reverse('my:scorecard')}" in body
        assert f"{settings.PORTAL_URL}{admin_path}" in body


def test_expiring_twice_changes_nothing_the_second_time(partner):
    enroll(partner)
    enroll(PartnerFactory(), slug="security")

    first = run_on(EXPIRY + datetime.timedelta(days=3))
    second = run_on(EXPIRY + datetime.timedelta(days=3))

    assert first.changed["enrollments_expired"] == 2
    assert not any(second.changed.values())
    assert ProgramEnrollment.objects.filter(status=EnrollmentStatus.EXPIRED).count() == 2


def test_a_long_partner_and_program_name_do_not_stop_the_nights_expiries(partner):
    # Both names within their fields' limits (a partner's 200 characters, a program's 150), the subject
    # built from them is not: it goes out cut, and every enrollment due still expires.
    long_named = PartnerFactory(name="L" * 200, tier=tier(slug="select"), pdm=partner.pdm)
    PartnerUserFactory(partner=long_named, email="ops@long.example")
    Program.objects.filter(slug="databases").update(name="Database Migration and Modernisation " * 4)
    enrollments = [enroll(partner), enroll(long_named)]

    run = run_on(EXPIRY + datetime.timedelta(days=1))

    assert run.changed["enrollments_expired"] == 2
    for enrollment in enrollments:
        enrollment.refresh_from_db()
        assert enrollment.status == EnrollmentStatus.EXPIRED
    message = OutboxMessage.objects.get(dedupe_key=f"enrollment-expired:{enrollments[1].pk}")
    assert message.subject.startswith("L" * 200 + ": Database Migration") and message.subject.endswith("…")
    assert len(message.subject) == OutboxMessage._meta.get_field("subject").max_length


@pytest.mark.parametrize(
    ("days_before", "reminder"), [(61, None), (60, 60), (59, 60), (31, 60), (30, 30), (0, 30)]
)
def test_an_audited_program_is_reminded_60_and_30_days_before_it_expires(partner, days_before, reminder):
    enrollment = enroll(partner, slug="migration")  # the Migration Competency needs an audit

    run_on(EXPIRY - datetime.timedelta(days=days_before))

    reminders = OutboxMessage.objects.filter(dedupe_key__startswith=f"audit-renewal:{enrollment.pk}:")
    if reminder is None:
        assert not reminders.exists()
    else:
        [message] = reminders
        assert message.dedupe_key == f"audit-renewal:{enrollment.pk}:{EXPIRY.isoformat()}:{reminder}"
        assert "Migration Competency" in message.subject
        assert f"in {days_before} day" in message.body_text
        assert f"{settings.PORTAL_URL}{reverse('my:scorecard')}" in message.body_html


def test_audit_reminders_go_once_each_and_not_for_programs_without_audits(partner):
    audited = enroll(partner, slug="migration")
    enroll(partner, slug="databases")
    for days_before in range(65, -1, -1):
        run_on(EXPIRY - datetime.timedelta(days=days_before))

    keys = list(
        OutboxMessage.objects.filter(dedupe_key__startswith="audit-renewal:").values_list(
            "dedupe_key", flat=True
        )
    )
    assert sorted(keys) == [
        f"audit-renewal:{audited.pk}:{EXPIRY.isoformat()}:30",
        f"audit-renewal:{audited.pk}:{EXPIRY.isoformat()}:60",
    ]


def test_an_enrollment_whose_minimum_tier_is_lost_is_revoked_after_the_grace_period(partner):
    enrollment = enroll(partner, slug="databases", expires_on=datetime.date(2027, 12, 31))  # needs Select
    webhook_endpoint_create(
        user=SuperUserFactory(),
        url="http://127.0.0.1:8151/hook",
        events=["enrollment.revoked"],
        secret="s3cret-for-tests-0123456789",
    )
    demoted_at = datetime.datetime(2026, 4, 1, 3, 0, tzinfo=datetime.UTC)
    partner_tier_change(
        partner=partner,
        to_tier=tier(slug="registered"),
        reason="Test",
        source=TierChangeSource.SCHEDULED_CHECK,
        at=demoted_at,
    )
    revoke_on = datetime.date(2026, 4, 1) + datetime.timedelta(days=90)

    warned = run_on(datetime.date(2026, 4, 1))
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED
    assert warned.changed["enrollments_warned_of_revocation"] == 1
    [warning] = OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-tier-short:{enrollment.pk}:")
    assert "30 Jun 2026" in warning.body_text

    run_on(revoke_on - datetime.timedelta(days=1))
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED

    run = run_on(revoke_on)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REVOKED
    assert "below the Select tier this program requires since 01 Apr 2026" in enrollment.status_reason
    assert run.changed["enrollments_revoked"] == 1
    assert program("databases").pk not in PartnerSearchEntry.objects.get(partner=partner).program_ids
    [told] = OutboxMessage.objects.filter(dedupe_key=f"enrollment-revoked:{enrollment.pk}")
    assert "Once it holds the Select tier again, it can apply anew." in told.body_text
    [announced] = WebhookDelivery.objects.filter(event="enrollment.revoked")
    assert (announced.payload["data"]["id"], announced.payload["data"]["status"]) == (
        enrollment.pk,
        "revoked",
    )
    assert not any(run_on(revoke_on).changed.values())
    assert WebhookDelivery.objects.filter(event="enrollment.revoked").count() == 1


def test_an_enrollment_that_expires_before_its_revocation_day_is_warned_of_its_expiry_not_of_a_revocation(
    partner,
):
    # Short of Select from 1 Apr, it would be revoked on 30 Jun; it expires on 1 May, and a partner below
    # the minimum tier cannot renew it. The warning named 30 Jun, a day that never came.
    enrollment = enroll(partner, slug="databases", expires_on=datetime.date(2026, 5, 1))
    _move(partner, "registered", datetime.date(2026, 4, 1))

    warned = run_on(datetime.date(2026, 4, 1))
    again = [run_on(datetime.date(2026, 4, 1)), run_on(datetime.date(2026, 4, 2))]

    assert warned.changed["enrollments_warned_of_revocation"] == 1
    assert not any(run.changed.get("enrollments_warned_of_revocation") for run in again)
    [warning] = OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-tier-short:{enrollment.pk}:")
    body = " ".join(warning.body_text.split())
    assert "revoked" not in body and "30 Jun 2026" not in body
    assert (
        "Its Database Service Competency validation expires on 1 May 2026, and cannot be renewed unless "
        "Acme Cloud holds Select again by then." in body
    )
    assert "cannot be renewed unless Acme Cloud holds Select again by then" in warning.body_html

    expired = run_on(datetime.date(2026, 5, 2))
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.EXPIRED
    assert expired.changed["enrollments_expired"] == 1
    assert not run_on(datetime.date(2026, 6, 30)).changed.get("enrollments_revoked")


def test_an_enrollment_that_expired_below_its_minimum_tier_is_told_why_it_could_not_be_renewed(
    partner, client
):
    # Warned on 1 Apr that it expires on 1 May and cannot be renewed below Select, it expired; the expiry
    # email, the page's reason and the webhook said only that it was "not renewed in time".
    enrollment = enroll(partner, slug="databases", expires_on=datetime.date(2026, 5, 1))
    webhook_endpoint_create(
        user=SuperUserFactory(),
        url="http://127.0.0.1:8151/hook",
        events=["enrollment.expired"],
        secret="s3cret-for-tests-0123456789",
    )
    _move(partner, "registered", datetime.date(2026, 4, 1))
    run_on(datetime.date(2026, 4, 1))

    run_on(datetime.date(2026, 5, 2))

    why = "It could not be renewed because Acme Cloud holds Registered and the program requires Select."
    [told] = OutboxMessage.objects.filter(dedupe_key=f"enrollment-expired:{enrollment.pk}")
    assert "validation expired on 1 May 2026" in " ".join(told.body_text.split())
    assert why in " ".join(told.body_text.split())
    assert why in " ".join(told.body_html.split())
    assert "once Acme Cloud holds Select again" in " ".join(told.body_text.split())
    reason = (
        "Expired on 2026-05-01: it could not be renewed, as the partner holds Registered and the program "
        "requires Select."
    )
    enrollment.refresh_from_db()
    assert enrollment.status_reason == reason
    [announced] = WebhookDelivery.objects.filter(event="enrollment.expired")
    assert announced.payload["data"]["status_reason"] == reason
    client.force_login(PartnerUserFactory(partner=partner))
    with on(datetime.date(2026, 5, 2)):
        page = client.get(reverse("my:programs")).content.decode()
    assert reason in " ".join(page.split())


def test_an_enrollment_that_expired_at_or_above_its_minimum_tier_is_told_only_it_was_not_renewed(partner):
    # Select, the program's minimum, when it expired: nothing stood in the way of a renewal.
    enrollment = enroll(partner, slug="databases", expires_on=datetime.date(2026, 5, 1))

    run_on(datetime.date(2026, 5, 2))

    told = OutboxMessage.objects.get(dedupe_key=f"enrollment-expired:{enrollment.pk}")
    assert "could not be renewed" not in told.body_text and "could not be renewed" not in told.body_html
    assert "To hold it again, apply for the program anew; your Partner" in " ".join(told.body_text.split())
    enrollment.refresh_from_db()
    assert enrollment.status_reason == "Expired on 2026-05-01: not renewed in time."


def test_expiring_enrollments_below_their_minimum_tier_costs_the_same_queries_however_many(partner):
    def expire(count: int) -> int:
        for _ in range(count):
            with on(START):
                short = PartnerFactory(tier=tier(slug="select"), pdm=partner.pdm)
                PartnerUserFactory(partner=short)
            enroll(short, slug="databases", expires_on=datetime.date(2026, 5, 1))
            _move(short, "registered", datetime.date(2026, 4, 1))
        with CaptureQueriesContext(connection) as queries:
            run = run_on(datetime.date(2026, 5, 2))
        assert run.changed["enrollments_expired"] == count
        return len(queries)

    assert expire(1) == expire(3)


def test_an_enrollment_that_expires_on_its_revocation_day_is_revoked_that_day_as_warned(partner):
    revoke_on = datetime.date(2026, 4, 1) + datetime.timedelta(days=tier(slug="select").grace_period_days)
    enrollment = enroll(partner, slug="databases", expires_on=revoke_on)
    _move(partner, "registered", datetime.date(2026, 4, 1))

    run_on(datetime.date(2026, 4, 1))
    [warning] = OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-tier-short:{enrollment.pk}:")
    assert "validation is revoked on 30 Jun 2026" in " ".join(warning.body_text.split())

    run_on(revoke_on)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REVOKED


def test_an_enrollment_is_kept_when_the_partner_regains_the_tier_in_time(partner):
    enrollment = enroll(partner, slug="databases", expires_on=datetime.date(2027, 12, 31))
    pdm = partner.pdm
    with on(datetime.date(2026, 4, 1)):
        partner_tier_change(partner=partner, to_tier=tier(slug="registered"), reason="Short", user=pdm)
    with on(datetime.date(2026, 5, 1)):
        partner_tier_change(partner=partner, to_tier=tier(slug="select"), reason="Back", user=pdm)

    run_on(datetime.date(2026, 8, 1))

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED


def _move(partner, to: str, day: datetime.date) -> None:
    partner_tier_change(
        partner=partner,
        to_tier=tier(slug=to),
        reason="Test",
        source=TierChangeSource.SCHEDULED_CHECK,
        at=datetime.datetime.combine(day, datetime.time(1, 0), tzinfo=datetime.UTC),
    )


def test_a_second_demotion_below_the_minimum_does_not_restart_the_grace_period():
    with on(START):
        partner = PartnerFactory(name="Acme Cloud", tier=tier(slug="advanced"), pdm=PdmFactory())
        PartnerUserFactory(partner=partner, email="ops@acme.example")
    enrollment = enroll(partner, slug="managed-service-provider", expires_on=datetime.date(2027, 12, 31))
    _move(partner, "select", datetime.date(2026, 4, 1))  # below Advanced, the program's minimum
    run_on(datetime.date(2026, 4, 1))
    _move(partner, "registered", datetime.date(2026, 6, 1))  # further down, still below it
    run_on(datetime.date(2026, 6, 1))
    revoke_on = datetime.date(2026, 4, 1) + datetime.timedelta(days=tier(slug="advanced").grace_period_days)

    run_on(revoke_on)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REVOKED
    assert "since 01 Apr 2026" in enrollment.status_reason
    # One warning, with the one date it was revoked on.
    [warning] = OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-tier-short:{enrollment.pk}:")
    assert f"{revoke_on:%d %b %Y}" in warning.body_text


def test_falling_short_again_after_regaining_the_tier_is_warned_again(partner):
    enrollment = enroll(partner, slug="databases", expires_on=datetime.date(2028, 12, 31))  # needs Select
    _move(partner, "registered", datetime.date(2026, 4, 1))
    run_on(datetime.date(2026, 4, 1))
    _move(partner, "select", datetime.date(2026, 5, 1))
    run_on(datetime.date(2026, 5, 1))
    _move(partner, "registered", datetime.date(2027, 5, 1))
    run_on(datetime.date(2027, 5, 1))

    warnings = OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-tier-short:{enrollment.pk}:")
    falls = sorted(warning.dedupe_key.rsplit(":", 1)[1] for warning in warnings)
    assert falls == ["2026-04-01", "2027-05-01"]
    run_on(datetime.date(2027, 7, 30))  # 90 days after the second fall
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REVOKED


# A PDM's tier change committed while the check runs, between its read and its lock ---------------------


def pdm_moves_it_after_the_check_reads(monkeypatch, partner, *slugs: str) -> None:
    """When the check has read the enrollments short of their minimum tier, the partner's PDM moves it to
    `slugs` in turn, from another connection, committed before the check goes on."""
    read = program_renewal._enrollments_short_of_minimum_tier
    errors = []

    def pdm_moves():
        try:
            for slug in slugs:
                partner_tier_change(
                    partner=Partner.objects.get(pk=partner.pk),
                    to_tier=tier(slug=slug),
                    reason="Re-certified",
                    user=partner.pdm,
                )
        except Exception as exc:  # reported by the check's thread, which waits for this one
            errors.append(exc)
        finally:
            connection.close()

    def read_then_pdm_moves(today):
        short = read(today)
        thread = threading.Thread(target=pdm_moves)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive() and not errors, errors
        return short

    monkeypatch.setattr(program_renewal, "_enrollments_short_of_minimum_tier", read_then_pdm_moves)


@pytest.mark.django_db(transaction=True)
def test_a_partner_promoted_while_the_check_runs_keeps_its_enrollment(partner, monkeypatch):
    enrollment = enroll(partner, slug="databases", expires_on=datetime.date(2027, 12, 31))  # needs Select
    _move(partner, "registered", datetime.date(2026, 4, 1))
    pdm_moves_it_after_the_check_reads(monkeypatch, partner, "select")

    run = run_on(datetime.date(2026, 7, 1))  # past the 90-day grace period

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED
    assert not run.changed.get("enrollments_revoked")
    assert not enrollment.history.filter(status=EnrollmentStatus.REVOKED).exists()
    assert not OutboxMessage.objects.filter(dedupe_key=f"enrollment-revoked:{enrollment.pk}").exists()
    assert program("databases").pk in PartnerSearchEntry.objects.get(partner=partner).program_ids


@pytest.mark.django_db(transaction=True)
def test_a_partner_promoted_while_the_check_runs_is_not_warned(partner, monkeypatch):
    enrollment = enroll(partner, slug="databases", expires_on=datetime.date(2027, 12, 31))
    _move(partner, "registered", datetime.date(2026, 4, 1))
    pdm_moves_it_after_the_check_reads(monkeypatch, partner, "select")

    run = run_on(datetime.date(2026, 4, 1))

    assert not run.changed.get("enrollments_warned_of_revocation")
    assert not OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-tier-short:{enrollment.pk}:")


@pytest.mark.django_db(transaction=True)
def test_a_partner_promoted_and_demoted_again_while_the_check_runs_starts_a_new_grace_period(
    partner, monkeypatch
):
    enrollment = enroll(partner, slug="databases", expires_on=datetime.date(2027, 12, 31))
    _move(partner, "registered", datetime.date(2026, 4, 1))
    pdm_moves_it_after_the_check_reads(monkeypatch, partner, "select", "registered")

    run_on(datetime.date(2026, 7, 1))  # 91 days after the first fall, the day of the second

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED
    [warning] = OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-tier-short:{enrollment.pk}:")
    assert warning.dedupe_key.endswith(":2026-07-01")
    assert "29 Sep 2026" in warning.body_text


@pytest.mark.django_db(transaction=True)
def test_a_slug_rename_while_the_check_runs_waits_for_it_rather_than_deadlocking(partner):
    """A PDM renames the partner (its edit locks the partner, then its enrollments) just as the check
    locks the partner's enrollments short of their minimum tier: one waits for the other, and both go
    through."""
    enroll(partner, slug="databases", expires_on=datetime.date(2027, 12, 31))
    _move(partner, "registered", datetime.date(2026, 4, 1))
    holding, release = threading.Event(), threading.Event()
    outcomes = {}

    def hold_the_rename(sender, instance, **kwargs):
        if threading.current_thread().name == "rename":
            holding.set()
            release.wait(20)

    def attempt(name, work):
        try:
            outcomes[name] = work()
        except Exception as error:  # a deadlock, say: reported, not raised in the thread
            outcomes[name] = f"{type(error).__name__}: {error}"
        finally:
            connection.close()

    def rename():
        partner_update(partner=Partner.objects.get(pk=partner.pk), user=partner.pdm, slug="acme-renamed")
        return "renamed"

    pre_save.connect(hold_the_rename, sender=Partner, weak=False)
    try:
        with on(datetime.date(2026, 7, 1)):
            renaming = threading.Thread(target=attempt, args=("rename", rename), name="rename")
            renaming.start()
            assert holding.wait(20)
            checking = threading.Thread(
                target=attempt, args=("check", lambda: check_run("program_renewal").status)
            )
            checking.start()
            wait_for(lambda: sessions_waiting_for_locks() >= 1)
            release.set()
            checking.join(60)
            renaming.join(60)
    finally:
        pre_save.disconnect(hold_the_rename, sender=Partner)

    assert outcomes == {"rename": "renamed", "check": CheckRunStatus.SUCCEEDED}
    assert Partner.objects.get(pk=partner.pk).slug == "acme-renamed"


# A PDM raises a program's minimum tier: the partners it leaves short are warned, and keep the program for
# the new tier's grace period counted from the raise, not from a tier change made long before it.

RAISED_ON = datetime.date(2026, 8, 3)


def _raise_databases_to_advanced():
    with on(RAISED_ON):
        databases = program("databases")
        databases.minimum_tier = tier(slug="advanced")  # what the program's admin form saves
        databases.save()


def test_raising_the_minimum_tier_warns_first_and_revokes_after_the_grace_period(partner):
    enrollment = enroll(partner, expires_on=datetime.date(2027, 12, 31))  # a Select partner, since March
    _raise_databases_to_advanced()
    grace = datetime.timedelta(days=tier(slug="advanced").grace_period_days)

    warned = run_on(RAISED_ON)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED
    assert warned.changed["enrollments_warned_of_revocation"] == 1
    assert warned.changed.get("enrollments_revoked", 0) == 0
    [warning] = OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-tier-short:{enrollment.pk}:")
    revoke_on = RAISED_ON + grace
    assert f"revoked on {revoke_on.day} {revoke_on:%b %Y}" in warning.body_text

    run_on(RAISED_ON + grace - datetime.timedelta(days=1))
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED

    run_on(RAISED_ON + grace)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REVOKED
    assert (
        f"below the Advanced tier this program requires since {RAISED_ON:%d %b %Y}"
        in enrollment.status_reason
    )


def test_saving_a_program_without_changing_its_minimum_keeps_when_it_began(partner):
    _raise_databases_to_advanced()
    with on(RAISED_ON + datetime.timedelta(days=10)):
        databases = program("databases")
        databases.description = "Relational and NoSQL databases."
        databases.save()
    since = program("databases").minimum_tier_since
    assert since is not None and since.date() == RAISED_ON


def test_the_programs_admin_page_says_when_its_minimum_tier_was_raised(admin_client):
    _raise_databases_to_advanced()

    page = admin_client.get(f"/admin/partners/program/{program('databases').pk}/change/")

    assert page.status_code == 200
    assert "Minimum tier raised" in page.content.decode()
    assert "3 Aug 2026" in page.content.decode()


def _demoted_to_registered(partner) -> datetime.date:
    demoted_on = START + datetime.timedelta(days=10)
    with on(demoted_on):
        partner_tier_change(
            partner=partner, to_tier=tier(slug="registered"), reason="Short", user=partner.pdm
        )
    return demoted_on + datetime.timedelta(days=tier(slug="select").grace_period_days)


def _databases_minimum(slug: str, day: datetime.date) -> None:
    with on(day):
        databases = program("databases")
        databases.minimum_tier = tier(slug=slug)
        databases.save()


def test_a_raise_does_not_postpone_a_revocation_already_under_way(partner):
    enrollment = enroll(partner, expires_on=datetime.date(2027, 12, 31))
    due = _demoted_to_registered(partner)  # short of Select, the minimum, from then
    _databases_minimum("advanced", due - datetime.timedelta(days=1))

    run_on(due)

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REVOKED


def test_lowering_the_minimum_does_not_restart_the_countdown_of_a_partner_short_of_the_lower_one(partner):
    _databases_minimum("advanced", START)
    enrollment = enroll(partner, expires_on=datetime.date(2027, 12, 31))
    due = _demoted_to_registered(partner)
    _databases_minimum("select", due - datetime.timedelta(days=1))

    run_on(due)

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REVOKED
    assert program("databases").minimum_tier_since is None
