"""certification_expiry: reminders 90 (as the scorecard counts them), 30 and 7 days before, one email per
partner per day, never twice."""

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apn_portal.checks.models import CheckRun, CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_flush, outbox_message_bodies
from partners.checks.certification_expiry import REMINDER_DAYS
from partners.choices import CertificationLevel
from partners.models import Certification
from partners.selectors import active_certifications
from partners.selectors_partner_area import partner_scorecard
from tests.checks import on
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffMemberFactory,
)

pytestmark = pytest.mark.django_db

START = datetime.date(2026, 3, 2)
EXPIRY = datetime.date(2026, 9, 30)


def run_on(day: datetime.date) -> CheckRun:
    with on(day):
        return check_run("certification_expiry")


def before(days: int) -> datetime.date:
    return EXPIRY - datetime.timedelta(days=days)


def reminder_emails(partner) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(dedupe_key__startswith=f"cert-expiry:{partner.pk}:").order_by("id")
    )


@pytest.fixture
def partner():
    with on(START):
        partner = PartnerFactory(name="Acme Cloud")
        PartnerUserFactory(partner=partner, email="ops@acme.example")
    return partner


def certify(partner, name="Solutions Architect - Associate", expires_on=EXPIRY, person="Ann Lee", **kwargs):
    member = StaffMemberFactory(partner=partner, full_name=person)
    return CertificationFactory(
        staff_member=member,
        name=name,
        earned_on=expires_on - datetime.timedelta(days=3 * 365),
        expires_on=expires_on,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("days_before", "reminded"),
    [
        # The first as the date enters the scorecard's window: before today + 90 days.
        (90, None),
        (89, 90),
        (31, 90),
        (30, 30),
        (29, 30),
        (8, 30),
        (7, 7),
        (6, 7),
        (0, 7),
        (-1, None),
    ],
)
def test_the_first_reminder_is_the_threshold_due_that_day(partner, days_before, reminded):
    certification = certify(partner)

    run_on(before(days_before))

    certification.refresh_from_db()
    assert certification.last_reminder_days == reminded
    assert len(reminder_emails(partner)) == (1 if reminded else 0)


def test_a_certification_is_reminded_at_90_30_and_7_days_and_never_twice(partner):
    certify(partner)
    sent_on = []
    for days_before in range(95, -3, -1):  # every day from 95 days before to 2 days after expiry
        day = before(days_before)
        run = run_on(day)
        assert run.status == CheckRunStatus.SUCCEEDED
        if run.changed.get("reminder_emails"):
            sent_on.append(days_before)

    assert sent_on == [89, 30, 7]
    assert len(reminder_emails(partner)) == 3


def test_a_second_run_the_same_day_changes_nothing_and_sends_nothing(partner):
    certify(partner)
    first = run_on(before(30))
    second = run_on(before(30))

    assert first.changed["reminder_emails"] == 1
    assert not any(second.changed.values())
    assert second.summary == "Nothing to do."
    assert len(reminder_emails(partner)) == 1


def test_one_email_per_partner_per_day_lists_all_its_certifications(partner):
    certify(
        partner, name="Cloud Practitioner", person="Ann Lee", expires_on=START + datetime.timedelta(days=80)
    )
    certify(
        partner,
        name="Developer - Associate",
        person="Bo Chen",
        expires_on=START + datetime.timedelta(days=20),
    )
    certify(
        partner, name="Security - Specialty", person="Cy Diaz", expires_on=START + datetime.timedelta(days=3)
    )
    other = PartnerFactory(name="Other Ltd")
    PartnerUserFactory(partner=other, email="it@other.example")
    certify(other, person="Di Egan", expires_on=START + datetime.timedelta(days=45))
    certify(partner, name="Far Away", person="Ed Fox", expires_on=START + datetime.timedelta(days=200))

    run = run_on(START)

    assert run.changed["reminder_emails"] == 2
    assert run.changed["certifications_reminded"] == 4
    [message] = reminder_emails(partner)
    assert message.to == ["ops@acme.example"]
    assert message.dedupe_key == f"cert-expiry:{partner.pk}:{START.isoformat()}"
    body_text, body_html = outbox_message_bodies(message)
    for text in ("Ann Lee", "Cloud Practitioner", "Bo Chen", "Developer - Associate", "Cy Diaz", "in 3 days"):
        assert text in body_text
        assert text in body_html
    assert "Far Away" not in body_text
    assert "3 certifications" in message.subject


def test_the_email_is_delivered_in_text_and_html(partner):
    certify(partner, person="Ann <Lee>")
    run_on(before(30))

    assert outbox_flush() == 1
    [email] = mail.outbox
    assert email.to == ["ops@acme.example"]
    assert "Ann <Lee>" in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "Ann &lt;Lee&gt;" in html


def test_a_certification_found_after_todays_email_waits_for_tomorrows(partner):
    certify(partner, person="Ann Lee")
    run_on(before(30))
    late = certify(partner, person="Bo Chen", credential_id="LATE-1")

    again = run_on(before(30))
    late.refresh_from_db()
    assert late.last_reminder_days is None  # not marked: the partner had today's email already
    assert not any(again.changed.values())

    tomorrow = run_on(before(29))
    late.refresh_from_db()
    assert tomorrow.changed["reminder_emails"] == 1
    assert late.last_reminder_days == 30
    body_text, _ = outbox_message_bodies(reminder_emails(partner)[-1])
    assert "Bo Chen" in body_text
    assert "Ann Lee" not in body_text


def test_a_renewed_certification_is_reminded_again_before_its_new_expiry(partner):
    certification = certify(partner)
    run_on(before(7))
    certification.refresh_from_db()
    assert certification.last_reminder_days == 7

    new_expiry = EXPIRY + datetime.timedelta(days=3 * 365)
    Certification.objects.filter(pk=certification.pk).update(expires_on=new_expiry)
    renewal_day = before(5)
    run = run_on(renewal_day)
    certification.refresh_from_db()
    assert run.changed["reminder_marks_cleared"] == 1
    assert certification.last_reminder_days is None

    run_on(new_expiry - datetime.timedelta(days=89))
    certification.refresh_from_db()
    assert certification.last_reminder_days == 90


def test_a_partner_without_staff_users_has_its_pdm_told_and_one_without_anybody_is_counted():
    pdm = PdmFactory(email="pdm@provider.example")
    with on(START):
        managed = PartnerFactory(pdm=pdm)
        alone = PartnerFactory()
    certify(managed, person="Ann Lee")
    certify(alone, person="Bo Chen")

    run = run_on(before(30))

    [message] = reminder_emails(managed)
    assert message.to == ["pdm@provider.example"]
    text, html = outbox_message_bodies(message)
    admin_path = reverse("admin:partners_partner_change", args=[managed.pk])
    assert f"For the Partner Development Manager, {managed.name} in the admin:\n" in text
    assert admin_path in text and admin_path in html
    assert reminder_emails(alone) == []
    assert run.changed["partners_without_anyone_to_tell"] == 1
    assert Certification.objects.filter(last_reminder_days=30).count() == 2
    assert not any(run_on(before(30)).changed.values())


def test_an_expired_certification_stops_counting_the_day_after_its_date(partner):
    certification = certify(partner, level=CertificationLevel.FOUNDATIONAL)

    assert active_certifications(EXPIRY).filter(pk=certification.pk).exists()
    assert not active_certifications(EXPIRY + datetime.timedelta(days=1)).filter(pk=certification.pk).exists()
    run = run_on(EXPIRY + datetime.timedelta(days=1))
    assert run.status == CheckRunStatus.SUCCEEDED
    assert reminder_emails(partner) == []  # never reminded after the fact


def test_a_certification_not_yet_earned_is_not_reminded(partner):
    certification = certify(partner)
    Certification.objects.filter(pk=certification.pk).update(earned_on=before(10))

    run_on(before(30))

    assert reminder_emails(partner) == []


def test_the_run_is_recorded_with_what_it_changed(partner):
    certify(partner)
    with on(before(30)):
        run = check_run("certification_expiry")
        assert run.started_at <= timezone.now()

    stored = CheckRun.objects.get(pk=run.pk)
    assert stored.status == CheckRunStatus.SUCCEEDED
    assert stored.finished_at is not None
    assert stored.changed["certifications_reminded"] == 1
    assert "Reminded 1 certification (30 days: 1) in 1 email." in stored.summary


def test_what_a_reminder_lists_is_what_the_scorecard_it_links_to_lists(partner, settings):
    """The 90-day email links to the scorecard: both read "expires within 90 days" the same way (the date
    before today + 90 days), so the email never names what the scorecard says does not expire."""
    day = before(100)
    names = {days_on: f"Expiring {days_on} days on" for days_on in (91, 90, 89, 30)}
    for days_on, name in names.items():
        certify(partner, name=name, person=f"P{days_on}", expires_on=day + datetime.timedelta(days=days_on))

    with on(day):
        check_run("certification_expiry")
        scorecard = partner_scorecard(partner)
    [message] = reminder_emails(partner)
    body_text, _ = outbox_message_bodies(message)
    reminded = {name for name in names.values() if name in body_text}
    listed = {certification.name for certification in scorecard.expiring_certifications}

    assert reminded == listed == {names[89], names[30]}
    assert f"expires on {day + datetime.timedelta(days=89):%-d %b %Y}, in 89 days" in body_text
    assert scorecard.horizon == day + datetime.timedelta(days=90)
    assert max(REMINDER_DAYS) == settings.PARTNER_EXPIRING_SOON_DAYS
