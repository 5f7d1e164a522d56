"""program_renewal while people keep working: a partner deleted after the check read its enrollments is
not told, and the rest of the run goes on."""

import datetime

import pytest

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from partners.checks import program_renewal
from partners.models import Partner
from tests.checks import on
from tests.factories import ApprovedEnrollmentFactory, PartnerFactory, PartnerUserFactory, PdmFactory, program
from tests.locks import in_a_thread

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
    contacts = program_renewal.partner_contacts
    outcome: dict = {}

    def delete_then_contacts(partner_ids):
        monkeypatch.setattr(program_renewal, "partner_contacts", contacts)
        thread = in_a_thread(outcome, "delete", lambda: Partner.objects.filter(pk=gone.partner_id).delete())
        thread.join(timeout=20)
        assert not thread.is_alive(), "the deletion waited for the check"
        return contacts(partner_ids)

    monkeypatch.setattr(program_renewal, "partner_contacts", delete_then_contacts)

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
