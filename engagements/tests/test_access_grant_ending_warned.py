"""Before a partner's access runs out, the hourly access_grant_expiry check warns the partner holding it
and the customer's access administrators, 7 days and 1 day ahead: which account and role, when it ends
and how to have it extended; once per grant, warning and end, however often the check runs."""

import datetime
import logging
import re
from html import unescape

import pytest
import time_machine

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from engagements import services
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementPartnerFactory,
    PartnerUserFactory,
)

pytestmark = pytest.mark.django_db

GRANTED = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
EXPIRES = datetime.datetime(2026, 4, 15, 17, 30, tzinfo=datetime.UTC)  # 18:30 in London
DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(days=7)


def at(moment: datetime.datetime):
    return time_machine.travel(moment, tick=False)


def run_at(moment: datetime.datetime):
    with at(moment):
        run = check_run("access_grant_expiry")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    return run


def warnings(grant=None):
    prefix = f"access-grant-ending:{grant.pk}:" if grant else "access-grant-ending:"
    return OutboxMessage.objects.filter(dedupe_key__startswith=prefix).order_by("pk")


def words(email) -> tuple[str, str]:
    text = re.sub(r"\s+", " ", email.body_text)
    html = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", email.body_html)))
    return text, html


def _grant(granted=GRANTED, expires=EXPIRES, **kwargs):
    with at(granted):
        grant = AccessGrantFactory(granted_at=granted, expires_at=expires, role_name="PartnerOps", **kwargs)
        customer = grant.engagement_partner.engagement.customer
        CustomerUserFactory(customer=customer, email="cloud-admin@customer.example", access_admin=True)
        CustomerUserFactory(customer=customer, email="analyst@customer.example")  # not an administrator
        PartnerUserFactory(partner=grant.engagement_partner.partner, email="ops@partner.example")
    return grant


@pytest.fixture
def grant():
    return _grant()


def test_both_sides_are_warned_a_week_before_the_access_ends_with_what_ends_when_and_how_to_extend_it(grant):
    run_at(EXPIRES - WEEK - datetime.timedelta(minutes=1))
    assert not warnings().exists()

    run = run_at(EXPIRES - WEEK + datetime.timedelta(minutes=35))

    assert run.changed.get("grants_warned") == 1
    assert run.changed.get("warning_emails") == 2
    customer = grant.account.customer
    partner = grant.engagement_partner.partner
    to_customer = warnings(grant).get(dedupe_key__endswith=":customer")
    to_partner = warnings(grant).get(dedupe_key__endswith=":partner")
    assert to_customer.to == ["cloud-admin@customer.example"]
    assert to_partner.to == ["ops@partner.example"]
    for email in (to_customer, to_partner):
        assert grant.account.account_id in email.subject and "PartnerOps" in email.subject
        assert "15 Apr 2026, 18:30 BST" in email.subject
    for text in words(to_customer):
        assert f"{partner.name}'s access to your AWS account {grant.account.account_id}" in text
        assert "IAM role PartnerOps" in text
        assert "ends in 7 days, at 15 Apr 2026, 18:30 BST" in text
        assert "grant it again" in text
    for text in words(to_partner):
        assert f"Your access to {customer.name}'s AWS account {grant.account.account_id}" in text
        assert "ends in 7 days, at 15 Apr 2026, 18:30 BST" in text
        assert f"ask {customer.name}'s access administrators for a new grant" in text


def test_running_again_sends_nothing_twice_and_the_last_day_brings_the_last_warning(grant):
    run_at(EXPIRES - WEEK + datetime.timedelta(minutes=35))
    again = run_at(EXPIRES - WEEK + datetime.timedelta(minutes=95))
    assert "warning_emails" not in again.changed
    assert warnings(grant).count() == 2

    last = run_at(EXPIRES - DAY + datetime.timedelta(minutes=35))
    run_at(EXPIRES - DAY + datetime.timedelta(minutes=95))

    assert last.changed.get("warning_emails") == 2
    assert warnings(grant).count() == 4
    final = warnings(grant).filter(dedupe_key__contains=":1d:").get(dedupe_key__endswith=":partner")
    assert "ends in 23 hours, at 15 Apr 2026, 18:30 BST" in final.body_text

    run_at(EXPIRES + datetime.timedelta(minutes=35))
    assert warnings(grant).count() == 4  # its end is told by the access-ended email, not another warning
    assert OutboxMessage.objects.filter(dedupe_key__startswith=f"grant-revoked:{grant.pk}:").count() == 2


def test_a_check_that_missed_the_week_sends_only_the_warning_now_due(grant):
    run_at(EXPIRES - datetime.timedelta(hours=5))

    assert [email.dedupe_key.split(":")[2] for email in warnings(grant)] == ["1d", "1d"]
    assert "ends in 5 hours" in warnings(grant).first().body_text


def test_a_revoked_grant_is_not_warned(grant):
    admin = grant.account.customer.access_administrators.get()
    with at(EXPIRES - datetime.timedelta(days=10)):
        services.access_grant_revoke(user=admin, grant=grant, reason="Work finished early.")

    run = run_at(EXPIRES - WEEK + datetime.timedelta(minutes=35))
    run_at(EXPIRES - DAY + datetime.timedelta(minutes=35))

    assert "warning_emails" not in run.changed
    assert not warnings().exists()


def test_a_short_grant_is_not_warned_as_it_is_made_only_when_it_has_lasted_as_long_as_it_has_left():
    # Three days: the granted email has just said when it ends; a week's warning would repeat it at once.
    three_days = _grant(expires=GRANTED + 3 * DAY)
    run_at(GRANTED + datetime.timedelta(minutes=35))
    assert not warnings().exists()

    run_at(GRANTED + 2 * DAY + datetime.timedelta(minutes=35))
    assert [email.dedupe_key.split(":")[2] for email in warnings(three_days)] == ["1d", "1d"]


def test_a_grant_shorter_than_two_days_is_never_warned():
    _grant(expires=GRANTED + datetime.timedelta(hours=36))

    for hours in range(0, 36):
        run_at(GRANTED + datetime.timedelta(hours=hours, minutes=35))

    assert not warnings().exists()


def test_a_grant_ending_with_its_partners_contract_says_a_new_contract_is_needed_first():
    last_day = datetime.date(2026, 4, 30)
    with at(GRANTED):
        customer = CustomerFactory(name="Acme", time_zone="Europe/London")
        admin = CustomerUserFactory(customer=customer, access_admin=True, email="it@acme.example")
        engaged = EngagementPartnerFactory(
            engagement__customer=customer, contract_start=datetime.date(2026, 3, 1), contract_end=last_day
        )
        PartnerUserFactory(partner=engaged.partner, email="ops@partner.example")
        account = AwsAccountFactory(customer=customer)
        grant = services.access_grant_create(
            user=admin,
            account=account,
            engagement_partner=engaged,
            role_arn=f"arn:aws:iam::{account.account_id}:role/PartnerOps",
            scope="operations",
        )

    run_at(grant.expires_at - WEEK + datetime.timedelta(minutes=35))

    for email in warnings(grant):
        for text in words(email):
            assert "at the end of 30 Apr 2026 (BST)" in text
            assert f"the last day of {engaged.partner.name}'s contract on {engaged.engagement.title}" in text
            assert "a new contract" in text


def test_a_grant_whose_end_a_time_zone_change_moves_is_warned_of_its_new_end():
    last_day = datetime.date(2026, 3, 20)
    now = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
    with at(now):
        customer = CustomerFactory(
            name="Acme", time_zone="Europe/London", account_manager=AccountManagerFactory()
        )
        admin = CustomerUserFactory(customer=customer, access_admin=True, email="it@acme.example")
        engaged = EngagementPartnerFactory(
            engagement__customer=customer, contract_start=datetime.date(2026, 3, 1), contract_end=last_day
        )
        PartnerUserFactory(partner=engaged.partner, email="ops@partner.example")
        account = AwsAccountFactory(customer=customer)
        grant = services.access_grant_create(
            user=admin,
            account=account,
            engagement_partner=engaged,
            role_arn=f"arn:aws:iam::{account.account_id}:role/PartnerOps",
            scope="operations",
        )
    london_end = grant.expires_at  # 00:00 on 21 March in London

    # Before the week's warning is due in London: 7 days and 5 hours ahead.
    moving = london_end - WEEK - datetime.timedelta(hours=5)
    run_at(moving)
    assert not warnings().exists()
    with at(moving):
        services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="Pacific/Kiritimati"
        )
    grant.refresh_from_db()
    assert grant.expires_at == london_end - datetime.timedelta(hours=14)  # now within the week

    run_at(moving + datetime.timedelta(minutes=35))
    first = warnings(grant).get(dedupe_key__endswith=":partner")
    assert "at the end of 20 Mar 2026 (+14)" in first.body_text
    assert "ends in 7 days" in first.body_text

    # Moved again after that warning: the end it gave is wrong now, so the right one is sent when due.
    with at(moving + datetime.timedelta(hours=2)):
        services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="Europe/Berlin"
        )
    run_at(london_end - WEEK + datetime.timedelta(minutes=35))
    run_at(london_end - WEEK + datetime.timedelta(minutes=95))

    assert warnings(grant).count() == 4
    latest = warnings(grant).filter(dedupe_key__endswith=":partner").last()
    assert "at the end of 20 Mar 2026 (CET)" in latest.body_text


def test_a_partner_with_nobody_to_warn_is_logged_once_per_warning_not_every_hour(caplog):
    """A partner with nobody signed up and no PDM: its side of the warning has nowhere to go. The operator
    reads that once, when the warning falls due, not at every hourly run until the next one; the customer
    is warned as ever, once."""
    with at(GRANTED):
        grant = AccessGrantFactory(granted_at=GRANTED, expires_at=EXPIRES, role_name="PartnerOps")
        CustomerUserFactory(
            customer=grant.engagement_partner.engagement.customer,
            email="cloud-admin@customer.example",
            access_admin=True,
        )
    assert grant.engagement_partner.partner.pdm_id is None

    def untold_logs(level):
        return [
            record
            for record in caplog.records
            if record.name == "apn_portal.outbox.services"
            and record.levelno == level
            and f"access-grant-ending:{grant.pk}:" in record.getMessage()
        ]

    with caplog.at_level("INFO"):
        run_at(EXPIRES - WEEK + datetime.timedelta(minutes=35))
        for hour in range(1, 6):
            run_at(EXPIRES - WEEK + datetime.timedelta(hours=hour, minutes=35))
        run_at(EXPIRES - DAY + datetime.timedelta(minutes=35))
        run_at(EXPIRES - DAY + datetime.timedelta(hours=1, minutes=35))

    assert [record.getMessage().count(":partner") for record in untold_logs(logging.WARNING)] == [1, 1]
    assert ":7d:" in untold_logs(logging.WARNING)[0].getMessage()
    assert ":1d:" in untold_logs(logging.WARNING)[1].getMessage()
    assert [email.to for email in warnings(grant)] == [["cloud-admin@customer.example"]] * 2
    assert [email.dedupe_key.split(":")[2] for email in warnings(grant)] == ["7d", "1d"]


@pytest.mark.parametrize(
    "partner_staff", [None, "ops@partner.example"], ids=["nobody-on-either-side", "nobody-at-the-customer"]
)
def test_a_customer_with_nobody_to_warn_is_logged_once_per_warning_not_every_hour(caplog, partner_staff):
    """Nobody to warn at the customer (nobody left on its staff), and at the partner too: with no warning
    stored on either side the grant was due again at every hourly run, and the operator read the same
    warning each hour for a week. It is read once, when the warning falls due, and at info after."""
    with at(GRANTED):
        grant = AccessGrantFactory(granted_at=GRANTED, expires_at=EXPIRES, role_name="PartnerOps")
        if partner_staff:
            PartnerUserFactory(partner=grant.engagement_partner.partner, email=partner_staff)
        # Whoever granted it has left since.
        grant.account.customer.users.update(is_active=False)
    assert grant.engagement_partner.partner.pdm_id is None

    def logs(logger, level):
        return [
            record
            for record in caplog.records
            if record.name == logger
            and record.levelno == level
            and f"access-grant-ending:{grant.pk}:" in record.getMessage()
        ]

    hourly = [EXPIRES - WEEK + datetime.timedelta(hours=hour, minutes=35) for hour in range(6)]
    with caplog.at_level("INFO"):
        for moment in [*hourly, EXPIRES - DAY + datetime.timedelta(minutes=35)]:
            run_at(moment)
        run_at(EXPIRES - DAY + datetime.timedelta(hours=1, minutes=35))

    untold = logs("apn_portal.outbox.services", logging.WARNING)
    assert [record.getMessage().count(":customer") for record in untold] == [1, 1]
    assert [record.getMessage().count(":partner") for record in untold] == [0 if partner_staff else 1] * 2
    assert ":7d:" in untold[0].getMessage()
    assert ":1d:" in untold[1].getMessage()
    # The later runs say it still, at info, for whoever looks.
    assert len(logs("engagements.services", logging.INFO)) == 6
    assert [email.to for email in warnings(grant)] == ([[partner_staff]] * 2 if partner_staff else [])
