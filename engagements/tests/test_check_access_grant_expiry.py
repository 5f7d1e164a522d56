"""access_grant_expiry: grants past their expiry or their contract's end are recorded as expired, both
sides told."""

import datetime
import zoneinfo

import pytest
import time_machine

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from engagements.models import AccessGrant
from engagements.selectors import live_grants
from tests.factories import AccessGrantFactory, CustomerUserFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
GRANTED = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
EXPIRES = datetime.datetime(2026, 4, 15, 17, 30, tzinfo=datetime.UTC)


def at(moment: datetime.datetime):
    return time_machine.travel(moment, tick=False)


def run_at(moment: datetime.datetime):
    with at(moment):
        run = check_run("access_grant_expiry")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    return run


@pytest.fixture
def grant():
    with at(GRANTED):
        grant = AccessGrantFactory(granted_at=GRANTED, expires_at=EXPIRES, role_name="PartnerOps")
        customer = grant.engagement_partner.engagement.customer
        CustomerUserFactory(customer=customer, email="cloud-admin@customer.example", access_admin=True)
        PartnerUserFactory(partner=grant.engagement_partner.partner, email="ops@partner.example")
    return grant


def test_a_grant_is_recorded_as_expired_once_its_end_passes_and_both_sides_are_told(grant):
    run_at(EXPIRES - datetime.timedelta(minutes=1))
    grant.refresh_from_db()
    assert grant.revoked_at is None

    run = run_at(EXPIRES + datetime.timedelta(minutes=10))

    grant.refresh_from_db()
    assert grant.revoked_at == EXPIRES
    assert grant.expired and grant.revoked_by is None  # it ran out: nobody revoked it
    assert grant.revocation_reason == "Expired at 15 Apr 2026, 18:30 BST (scheduled check)."
    assert run.changed == {"grants_expired": 1, "emails": 2}
    customer_email = OutboxMessage.objects.get(dedupe_key=f"grant-revoked:{grant.pk}:customer")
    partner_email = OutboxMessage.objects.get(dedupe_key=f"grant-revoked:{grant.pk}:partner")
    assert customer_email.to == ["cloud-admin@customer.example"]
    assert partner_email.to == ["ops@partner.example"]
    assert grant.account.account_id in customer_email.body_text
    assert "PartnerOps" in partner_email.body_html
    assert grant.history.first().history_change_reason == "By the scheduled check access_grant_expiry"


def test_a_second_run_changes_nothing_and_sends_nothing(grant):
    run_at(EXPIRES + datetime.timedelta(hours=1))
    again = run_at(EXPIRES + datetime.timedelta(hours=2))

    assert not any(again.changed.values())
    assert OutboxMessage.objects.count() == 2


def test_a_grant_ends_with_its_partners_contract_at_midnight_in_the_customers_time_zone():
    last_day = datetime.date(2026, 3, 31)
    midnight = datetime.datetime(2026, 4, 1, 0, 0, tzinfo=LONDON)  # 23:00 UTC on 31 March
    with at(GRANTED):
        grant = AccessGrantFactory(
            granted_at=GRANTED,
            expires_at=midnight,
            engagement_partner__contract_start=datetime.date(2026, 1, 1),
            engagement_partner__contract_end=last_day,
        )

    run_at(midnight - datetime.timedelta(minutes=30))
    grant.refresh_from_db()
    assert grant.revoked_at is None

    with at(midnight + datetime.timedelta(minutes=30)):
        assert not live_grants().filter(pk=grant.pk).exists()  # over at midnight, whenever the check runs
    run_at(midnight + datetime.timedelta(minutes=30))

    grant.refresh_from_db()
    assert grant.revoked_at == midnight
    partner = grant.engagement_partner.partner.name
    assert grant.revocation_reason.startswith(f"{partner}'s contract on ")
    assert "ended on 31 Mar 2026, and the access with it" in grant.revocation_reason


def test_live_grants_are_left_alone(grant):
    with at(GRANTED):
        other = AccessGrantFactory(granted_at=GRANTED, expires_at=EXPIRES + datetime.timedelta(days=30))

    run_at(EXPIRES + datetime.timedelta(days=1))

    assert list(AccessGrant.objects.filter(revoked_at__isnull=True).values_list("pk", flat=True)) == [
        other.pk
    ]


def test_a_role_that_just_expired_can_be_granted_again_before_the_hourly_check():
    from engagements.services import access_grant_create

    granted = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    expires = datetime.datetime(2026, 4, 15, 17, 30, tzinfo=datetime.UTC)
    with time_machine.travel(granted, tick=False):
        old = AccessGrantFactory(granted_at=granted, expires_at=expires, role_name="PartnerOps")
        admin = CustomerUserFactory(customer=old.account.customer, access_admin=True)
        PartnerUserFactory(partner=old.engagement_partner.partner, email="ops@partner.example")
    with time_machine.travel(expires + datetime.timedelta(minutes=10), tick=False):
        new = access_grant_create(
            user=admin,
            account=old.account,
            engagement_partner=old.engagement_partner,
            role_arn=old.role_arn,
            scope=old.scope,
            expires_at=expires + datetime.timedelta(days=7),
        )
        assert list(live_grants().filter(account=old.account)) == [new]
    old.refresh_from_db()
    assert old.revoked_at == expires
    assert "recorded when the role was granted again" in old.revocation_reason
    assert OutboxMessage.objects.filter(dedupe_key__startswith=f"grant-revoked:{old.pk}:").count() == 2
