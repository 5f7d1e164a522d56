"""Moving a customer to another time zone moves its days, and the end of its partners' access with them:
a grant to the end of the contract's last day still ends when that day ends, now in the new zone, on the
pages and for the hourly check alike."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from apn_portal.checks.services import check_run
from apn_portal.exceptions import DomainError, PermissionDeniedError
from apn_portal.outbox.models import OutboxMessage
from engagements import services
from engagements.models import AccessGrant, Customer
from tests.factories import (
    AccountManagerFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementPartnerFactory,
    PartnerUserFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC)
LAST_DAY = datetime.date(2026, 3, 20)


def at(moment: datetime.datetime):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def london():
    """A London customer whose partner's contract's last day is 20 March, holding access to its end."""
    with at(NOW):
        customer = CustomerFactory(name="Acme", time_zone="Europe/London")
        customer.account_manager = AccountManagerFactory()
        customer.save()
        admin = CustomerUserFactory(customer=customer, access_admin=True, email="it@acme.example")
        engaged = EngagementPartnerFactory(
            engagement__customer=customer, contract_start=datetime.date(2026, 3, 1), contract_end=LAST_DAY
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
    assert grant.expires_at == datetime.datetime(2026, 3, 21, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    return customer, admin, grant


def _move_in_admin(client, customer: Customer, time_zone: str):
    client.force_login(customer.account_manager)
    data = {
        "name": customer.name,
        "slug": customer.slug,
        "agreement": customer.agreement,
        "time_zone": time_zone,
        "account_manager": customer.account_manager_id,
        "solutions_architect": "",
        "tam": "",
        "access_administrators": list(customer.access_administrators.values_list("pk", flat=True)),
        "accounts-TOTAL_FORMS": 0,
        "accounts-INITIAL_FORMS": 0,
    }
    url = reverse("admin:engagements_customer_change", args=[customer.pk])
    return client.post(url, data, follow=True)


@pytest.mark.parametrize(
    ("time_zone", "shown", "ends_utc"),
    [
        # East of London: the last day ends 9 hours earlier than it did.
        ("Asia/Tokyo", "21 Mar 2026, 00:00 JST", datetime.datetime(2026, 3, 20, 15, 0, tzinfo=datetime.UTC)),
        # West: 4 hours later; left alone, the access would end at 20:00 on the contract's last day.
        (
            "America/New_York",
            "21 Mar 2026, 00:00 EDT",
            datetime.datetime(2026, 3, 21, 4, 0, tzinfo=datetime.UTC),
        ),
    ],
)
def test_after_a_move_the_access_still_ends_with_the_contracts_last_day_there(
    client, london, time_zone, shown, ends_utc
):
    customer, admin, grant = london
    with at(NOW):
        response = _move_in_admin(client, customer, time_zone)
        assert response.status_code == 200
        assert "1 live access grant(s) now end by the calendar there" in response.content.decode()
        grant.refresh_from_db()
        assert grant.expires_at == ends_utc
        assert grant.history.latest().history_user == customer.account_manager
        client.force_login(admin)
        assert shown in client.get(reverse("engagements:access")).content.decode()

    # The hourly check ends it an hour after that day ended there, saying the contract ended.
    with at(ends_utc - datetime.timedelta(minutes=1)):
        check_run("access_grant_expiry")
    grant.refresh_from_db()
    assert grant.revoked_at is None
    with at(ends_utc + datetime.timedelta(hours=1)):
        check_run("access_grant_expiry")
    grant.refresh_from_db()
    assert grant.revoked_at == ends_utc
    assert "ended on 20 Mar 2026, and the access with it" in grant.revocation_reason


def test_access_whose_end_is_already_past_in_the_new_zone_ends_at_once(client, london):
    """Noon on the last day in London is already 21 March on Kiritimati (UTC+14): the contract is over
    there, so the access ends with the change, by the hand of who made it, and both sides are told."""
    customer, _admin, grant = london
    noon = datetime.datetime(2026, 3, 20, 12, 0, tzinfo=datetime.UTC)
    with at(noon):
        response = _move_in_admin(client, customer, "Pacific/Kiritimati")
    assert "1 ended at once, their end being already past there" in response.content.decode()
    grant.refresh_from_db()
    assert grant.revoked_at == noon and grant.revoked_by == customer.account_manager
    assert "time zone changed from Europe/London to Pacific/Kiritimati" in grant.revocation_reason
    assert OutboxMessage.objects.filter(dedupe_key=f"grant-revoked:{grant.pk}:customer").exists()
    assert OutboxMessage.objects.filter(dedupe_key=f"grant-revoked:{grant.pk}:partner").exists()
    assert Customer.objects.get(pk=customer.pk).time_zone == "Pacific/Kiritimati"


def test_a_grant_given_an_exact_moment_keeps_it_and_an_expired_one_stays_over(london):
    customer, admin, grant = london
    engaged, account = grant.engagement_partner, grant.account
    with at(NOW):
        exact_end = datetime.datetime(2026, 3, 15, 13, 30, tzinfo=datetime.UTC)
        exact = services.access_grant_create(
            user=admin,
            account=account,
            engagement_partner=engaged,
            role_arn=f"arn:aws:iam::{account.account_id}:role/Audit",
            scope="read_only",
            expires_at=exact_end,
        )
        # Access to the end of 10 March, London time: over at 00:00 UTC on 11 March.
        short = services.access_grant_create(
            user=admin,
            account=account,
            engagement_partner=engaged,
            role_arn=f"arn:aws:iam::{account.account_id}:role/Billing",
            scope="billing",
            expires_at=datetime.datetime(2026, 3, 11, tzinfo=zoneinfo.ZoneInfo("Europe/London")),
        )
    # 02:00 UTC on 11 March: in New York it is still 10 March, but the access was over before the move.
    with at(datetime.datetime(2026, 3, 11, 2, 0, tzinfo=datetime.UTC)):
        services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="America/New_York"
        )
    exact.refresh_from_db()
    short.refresh_from_db()
    assert exact.expires_at == exact_end and exact.revoked_at is None
    assert short.revoked_at == datetime.datetime(2026, 3, 11, tzinfo=datetime.UTC)


def test_a_move_is_refused_for_an_unknown_zone_or_an_outsider(london):
    customer, _admin, grant = london
    with pytest.raises(DomainError, match="'Mars/Olympus' is not a time zone name"):
        services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="Mars/Olympus"
        )
    outsider = CustomerUserFactory()
    with pytest.raises(PermissionDeniedError):
        services.customer_time_zone_change(user=outsider, customer=customer, time_zone="Asia/Tokyo")
    assert Customer.objects.get(pk=customer.pk).time_zone == "Europe/London"
    assert AccessGrant.objects.get(pk=grant.pk).expires_at == grant.expires_at
