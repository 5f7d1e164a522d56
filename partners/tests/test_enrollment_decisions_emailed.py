"""A PDM's decisions on an enrollment reach the partner's staff (and its PDM) by email, as its revocation
does: an approval or a renewal says until when, an audit scheduled says its day. Through the outbox in the
transaction of the change, once per event (each renewal, each audit scheduled)."""

import datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from apn_portal.dates import add_months
from apn_portal.outbox.models import OutboxMessage
from partners.choices import AuditResult, EnrollmentStatus
from partners.services import enrollment_renew, enrollment_schedule_audit
from partners.services_records import enrollment_update
from tests.factories import (
    ApprovedEnrollmentFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

ENROLLMENTS = "admin:partners_programenrollment_changelist"


def run_action(client, url_name, action, objects, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], **extra}
    if "apply" not in extra:
        data["index"] = 0
    return client.post(reverse(url_name), data, follow=True)


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


@pytest.fixture
def pdm():
    return PdmFactory(first_name="Pat", last_name="Morgan", email="pat@provider.example")


@pytest.fixture
def acme(pdm):
    partner = PartnerFactory(name="Acme Cloud", pdm=pdm, tier=tier("consulting", "select"))
    PartnerUserFactory(partner=partner, email="ann@acme.example")
    return partner


def test_an_enrollment_approved_in_the_admin_emails_the_partners_staff_and_pdm(client, pdm, acme):
    enrollment = ProgramEnrollmentFactory(partner=acme, program=ProgramFactory(name="Zeta Program"))
    client.force_login(pdm)

    run_action(client, ENROLLMENTS, "approve", [enrollment])

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED
    [message] = OutboxMessage.objects.filter(dedupe_key=f"enrollment-approved:{enrollment.pk}")
    assert message.to == ["ann@acme.example", "pat@provider.example"]
    assert message.subject == "Acme Cloud: Zeta Program approved"
    valid_until = add_months(timezone.localdate(), 12)
    assert (
        f"Acme Cloud's application to Zeta Program was approved by Pat Morgan on "
        f"{timezone.localdate():%-d %b %Y}. It is valid until {valid_until:%-d %b %Y}" in message.body_text
    )
    assert f"{valid_until:%-d %b %Y}" in message.body_html
    assert reverse("my:programs") in message.body_text  # where the partner's staff read it again


def test_a_renewal_emails_the_new_term_once(pdm, acme):
    acme.tier = tier("consulting", "advanced")
    acme.save()
    enrollment = ApprovedEnrollmentFactory(
        partner=acme,
        program=program("managed-service-provider"),
        approved_on=in_days(-340),
        expires_on=in_days(25),
        audit_date=in_days(-345),
        audit_result=AuditResult.PASSED,
    )

    enrollment_renew(enrollment=enrollment, user=pdm, audit_date=in_days(-3), audit_result=AuditResult.PASSED)

    renewed_until = add_months(timezone.localdate(), 12)
    [message] = OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-renewed:{enrollment.pk}:")
    assert message.to == ["ann@acme.example", "pat@provider.example"]
    assert message.subject == "Acme Cloud: Managed Service Provider renewed until " + (
        f"{renewed_until:%-d %b %Y}"
    )
    assert (
        f"renewed by Pat Morgan on the audit of {in_days(-3):%-d %b %Y}: it is now valid until "
        f"{renewed_until:%-d %b %Y} (it was {in_days(25):%-d %b %Y})" in message.body_text
    )
    assert not OutboxMessage.objects.filter(dedupe_key=f"enrollment-approved:{enrollment.pk}").exists()


def test_an_audit_scheduled_and_scheduled_again_after_a_failed_one_is_emailed_each_time(client, pdm, acme):
    enrollment = ProgramEnrollmentFactory(partner=acme, program=program("migration"))
    client.force_login(pdm)

    run_action(client, ENROLLMENTS, "schedule_audit", [enrollment], apply="1", audit_date=str(in_days(0)))
    enrollment_update(enrollment=enrollment, user=pdm, audit_result=AuditResult.FAILED)
    enrollment_schedule_audit(enrollment=enrollment, user=pdm, audit_date=in_days(30))

    messages = OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-audit:{enrollment.pk}:")
    assert [m.subject for m in messages.order_by("pk")] == [
        f"Acme Cloud: Migration Competency audit on {in_days(0):%-d %b %Y}",
        f"Acme Cloud: Migration Competency audit on {in_days(30):%-d %b %Y}",
    ]
    latest = messages.order_by("pk").last()
    assert latest.to == ["ann@acme.example", "pat@provider.example"]
    assert (
        f"The third-party audit of Acme Cloud's application to Migration Competency is scheduled for "
        f"{in_days(30):%-d %b %Y}" in latest.body_text
    )


def test_an_audit_scheduled_again_for_the_same_day_after_a_failed_one_is_emailed_again(client, pdm, acme):
    enrollment = ProgramEnrollmentFactory(partner=acme, program=program("migration"))
    client.force_login(pdm)
    today = str(in_days(0))

    run_action(client, ENROLLMENTS, "schedule_audit", [enrollment], apply="1", audit_date=today)
    enrollment_update(enrollment=enrollment, user=pdm, audit_result=AuditResult.FAILED)
    # The auditor comes back later the same day: a new audit, the partner is told of it.
    run_action(client, ENROLLMENTS, "schedule_audit", [enrollment], apply="1", audit_date=today)
    # The same decision sent again (Back and resubmit): refused, told once.
    page = run_action(client, ENROLLMENTS, "schedule_audit", [enrollment], apply="1", audit_date=today)

    assert "already scheduled" in page.content.decode()
    messages = list(
        OutboxMessage.objects.filter(dedupe_key__startswith=f"enrollment-audit:{enrollment.pk}:").order_by(
            "pk"
        )
    )
    assert len(messages) == 2
    assert messages[0].dedupe_key != messages[1].dedupe_key
    for message in messages:
        assert message.to == ["ann@acme.example", "pat@provider.example"]
        assert message.subject == f"Acme Cloud: Migration Competency audit on {in_days(0):%-d %b %Y}"
        assert (
            f"The third-party audit of Acme Cloud's application to Migration Competency is scheduled for "
            f"{in_days(0):%-d %b %Y}, by Pat Morgan" in message.body_text
        )


def test_approving_many_in_the_admin_emails_each_partner_once(client, pdm):
    enrollments = []
    for name in ("Alpha", "Bravo", "Charlie"):
        partner = PartnerFactory(name=name, pdm=pdm)
        PartnerUserFactory(partner=partner, email=f"staff@{name.lower()}.example")
        enrollments.append(ProgramEnrollmentFactory(partner=partner, program=ProgramFactory()))
    client.force_login(pdm)

    run_action(client, ENROLLMENTS, "approve", enrollments)
    run_action(client, ENROLLMENTS, "approve", enrollments)  # refused: already approved

    told = OutboxMessage.objects.filter(dedupe_key__startswith="enrollment-approved:").order_by("subject")
    assert [(message.subject.split(":")[0], sorted(message.to)) for message in told] == [
        (name, ["pat@provider.example", f"staff@{name.lower()}.example"])
        for name in ("Alpha", "Bravo", "Charlie")
    ]
