"""program_renewal while people keep working: a partner deleted after the check read its enrollments is
not told, and the rest of the run goes on; a PDM acting on an enrollment the run is expiring waits for it,
rather than deadlock with it."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from partners import services
from partners.checks import contacts as contacts_module
from partners.checks import program_renewal
from partners.models import Partner, ProgramEnrollment
from tests.checks import on
from tests.factories import ApprovedEnrollmentFactory, PartnerFactory, PartnerUserFactory, PdmFactory, program
from tests.locks import in_a_thread, sessions_waiting_for_locks, wait_for

START = datetime.date(2026, 3, 2)
EXPIRY = datetime.date(2026, 9, 30)


def audited_enrollment(name: str, staff_user: bool = True):
    with on(START):
        partner = PartnerFactory(name=name, pdm=PdmFactory())
        if staff_user:  # a partner with users cannot be deleted: one without is told through its PDM
            PartnerUserFactory(partner=partner)
        return ApprovedEnrollmentFactory(
            partner=partner,
            program=program("migration"),  # needs an audit
            approved_on=START - datetime.timedelta(days=300),
            expires_on=EXPIRY,
        )


@pytest.mark.django_db(transaction=True)
def test_a_partner_deleted_while_the_check_runs_is_not_told_and_the_others_are(monkeypatch):
    kept = audited_enrollment("Kept")
    gone = audited_enrollment("Gone", staff_user=False)
    contacts = contacts_module.partner_contacts
    outcome: dict = {}

    def delete_then_contacts(partner_ids):
        monkeypatch.setattr(contacts_module, "partner_contacts", contacts)
        thread = in_a_thread(outcome, "delete", lambda: Partner.objects.filter(pk=gone.partner_id).delete())
        thread.join(timeout=20)
        assert not thread.is_alive(), "the deletion waited for the check"
        return contacts(partner_ids)

    # Where the check's emails read who to tell (partners.checks.contacts.enrollment_emails).
    monkeypatch.setattr(contacts_module, "partner_contacts", delete_then_contacts)

    with on(EXPIRY - datetime.timedelta(days=30)):
        run = check_run("program_renewal")

    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    assert "delete error" not in outcome
    assert not Partner.objects.filter(pk=gone.partner_id).exists()
    reminded = OutboxMessage.objects.filter(dedupe_key__startswith="audit-renewal:")
    assert list(reminded.values_list("dedupe_key", flat=True)) == [
        f"audit-renewal:{kept.pk}:{EXPIRY.isoformat()}:30"
    ]
    assert run.changed["audit_renewal_reminders"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_pdm_revoking_an_enrollment_the_check_is_expiring_waits_for_the_run(monkeypatch):
    today = timezone.localdate()
    pdm = PdmFactory()
    partner = PartnerFactory(name="Acme Cloud", pdm=pdm)  # Registered
    PartnerUserFactory(partner=partner)
    expiring = ApprovedEnrollmentFactory(
        partner=partner,
        program=program("migration"),
        approved_on=today - datetime.timedelta(days=400),
        expires_on=today - datetime.timedelta(days=1),
    )
    # Short of Databases' minimum tier (Select): the run then locks the partner again, to warn or revoke.
    ApprovedEnrollmentFactory(partner=partner, program=program("databases"))
    outcome, threads = {}, []

    def revoke():
        enrollment = ProgramEnrollment.objects.get(pk=expiring.pk)
        services.enrollment_revoke(enrollment=enrollment, user=pdm, reason="Audit failed")

    def waiting() -> int:
        with connection.cursor() as cursor:  # asked in the run's transaction: a fresh view each time
            cursor.execute("SELECT pg_stat_clear_snapshot()")
        return sessions_waiting_for_locks()

    remind = program_renewal._remind_audit_renewals

    def the_pdm_acts_meanwhile(*args, **kwargs):
        # After the run's expiry step, which holds the expired enrollment: the PDM's revocation takes its
        # locks in the order every enrollment write does (the partner, then the enrollment).
        threads.append(in_a_thread(outcome, "revoke", revoke))
        wait_for(lambda: waiting() == 1)
        return remind(*args, **kwargs)

    monkeypatch.setattr(program_renewal, "_remind_audit_renewals", the_pdm_acts_meanwhile)
    run = check_run("program_renewal")
    for thread in threads:
        thread.join(timeout=30)

    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    # The revocation waited for the run, then found the enrollment expired.
    assert outcome == {"revoke error": "ConflictError: This enrollment is already expired."}, outcome
