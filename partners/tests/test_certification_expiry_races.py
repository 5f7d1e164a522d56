"""certification_expiry while people keep working: what was renewed or deleted after the check read its
certifications is not reminded, and the rest of the run goes on."""

import datetime

import pytest

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_endpoint_create
from partners.checks import certification_expiry
from partners.models import Certification, Partner
from partners.services_records import certification_update
from tests.checks import on
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffMemberFactory,
)
from tests.locks import in_a_thread, sessions_waiting_for_locks, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

START = datetime.date(2026, 3, 2)
EXPIRY = datetime.date(2026, 9, 30)
A_WEEK_BEFORE = EXPIRY - datetime.timedelta(days=7)


def partner_with_expiring_certification(
    name: str, pdm=None, staff_user: bool = True
) -> tuple[Partner, Certification]:
    with on(START):
        partner = PartnerFactory(name=name, pdm=pdm or PdmFactory())
        if staff_user:  # a partner with users cannot be deleted: one without is told through its PDM
            PartnerUserFactory(partner=partner, email=f"ops@{name.lower()}.example")
        member = StaffMemberFactory(partner=partner, full_name=f"Someone at {name}")
        certification = CertificationFactory(
            staff_member=member, earned_on=EXPIRY - datetime.timedelta(days=1000), expires_on=EXPIRY
        )
    return partner, certification


def announced_to(partner: Partner) -> list[WebhookDelivery]:
    """The certification.expiring events an endpoint of the partner's own receives."""
    endpoint = webhook_endpoint_create(
        user=PartnerUserFactory(partner=partner),
        url="http://127.0.0.1:8151/hook",
        events=["certification.expiring"],
        secret="s3cret-for-tests-0123456789",
    )
    return endpoint.deliveries


def reminder_emails(partner: Partner) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(dedupe_key__startswith=f"cert-expiry:{partner.pk}:"))


def after_the_check_reads(monkeypatch, work) -> dict:
    """Once the check has read the certifications due, `work` runs on another connection and commits
    before the check goes on to remind them. Returns the outcome of `work` (tests.locks.in_a_thread)."""
    remind = certification_expiry._remind_batch
    outcome: dict = {}

    def work_then_remind(*args, **kwargs):
        monkeypatch.setattr(certification_expiry, "_remind_batch", remind)
        thread = in_a_thread(outcome, "work", work)
        thread.join(timeout=20)
        assert not thread.is_alive(), "it waited for the check"
        return remind(*args, **kwargs)

    monkeypatch.setattr(certification_expiry, "_remind_batch", work_then_remind)
    return outcome


def run_a_week_before():
    with on(A_WEEK_BEFORE):
        run = check_run("certification_expiry")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    return run


def test_a_certification_renewed_while_the_check_runs_is_not_reminded(monkeypatch):
    pdm = PdmFactory(email="pdm@provider.example")
    renewing, renewed = partner_with_expiring_certification("Renewing", pdm=pdm)
    other, not_renewed = partner_with_expiring_certification("Other", pdm=pdm)
    renewing_hears, other_hears = announced_to(renewing), announced_to(other)
    new_expiry = EXPIRY + datetime.timedelta(days=3 * 365)
    outcome = after_the_check_reads(
        monkeypatch,
        lambda: certification_update(
            certification=Certification.objects.get(pk=renewed.pk), user=pdm, expires_on=new_expiry
        ),
    )

    run = run_a_week_before()

    assert "work error" not in outcome
    assert reminder_emails(renewing) == []  # no "expires in 7 days" for what now runs three more years
    renewed.refresh_from_db()
    assert renewed.expires_on == new_expiry
    assert renewed.last_reminder_days is None  # its new expiry gets reminders of its own
    assert not renewing_hears.exists()

    [email] = reminder_emails(other)
    assert "Someone at Other" in str(email.context)
    [delivery] = other_hears.all()
    assert [c["id"] for c in delivery.payload["data"]["certifications"]] == [not_renewed.pk]
    not_renewed.refresh_from_db()
    assert not_renewed.last_reminder_days == 7
    assert run.changed["certifications_reminded"] == 1


def test_a_partner_deleted_while_the_check_runs_is_skipped_and_the_others_are_reminded(monkeypatch):
    kept, kept_certification = partner_with_expiring_certification("Kept")
    gone, _ = partner_with_expiring_certification("Gone", staff_user=False)
    outcome = after_the_check_reads(monkeypatch, lambda: Partner.objects.filter(pk=gone.pk).delete())

    run = run_a_week_before()

    assert "work error" not in outcome
    assert not Partner.objects.filter(pk=gone.pk).exists()
    assert reminder_emails(gone) == []
    assert len(reminder_emails(kept)) == 1
    kept_certification.refresh_from_db()
    assert kept_certification.last_reminder_days == 7
    assert run.changed["certifications_reminded"] == 1


def test_a_partner_deleted_as_the_check_tells_it_goes_once_the_run_has_committed(monkeypatch):
    kept, _ = partner_with_expiring_certification("Kept")
    gone, _ = partner_with_expiring_certification("Gone", staff_user=False)
    contacts = certification_expiry.partner_contacts
    outcome: dict = {}
    threads = []

    def delete_then_contacts(partner_ids):
        monkeypatch.setattr(certification_expiry, "partner_contacts", contacts)
        threads.append(in_a_thread(outcome, "delete", lambda: Partner.objects.filter(pk=gone.pk).delete()))
        # Its certifications are locked by the run: the deletion waits for the run to commit.
        # Watched from a connection of its own: the run's transaction sees one snapshot of the sessions.
        in_a_thread(outcome, "waited", lambda: wait_for(lambda: sessions_waiting_for_locks() >= 1)).join()
        return contacts(partner_ids)

    monkeypatch.setattr(certification_expiry, "partner_contacts", delete_then_contacts)

    run = run_a_week_before()
    threads[0].join(timeout=20)

    assert "waited error" not in outcome
    assert "delete error" not in outcome
    assert not Partner.objects.filter(pk=gone.pk).exists()
    assert len(reminder_emails(kept)) == 1
    assert run.changed["certifications_reminded"] == 2
