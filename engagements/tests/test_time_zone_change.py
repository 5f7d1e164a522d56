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
        (
            "Asia/Tokyo",
            "The end of 20 Mar 2026 (JST)",
            datetime.datetime(2026, 3, 20, 15, 0, tzinfo=datetime.UTC),
        ),
        # West: 4 hours later; left alone, the access would end at 20:00 on the contract's last day.
        (
            "America/New_York",
            "The end of 20 Mar 2026 (EDT)",
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
    there, so the access is recorded as expired with the change, when that day ended there (nobody cut it
    short), and both sides are told."""
    customer, _admin, grant = london
    noon = datetime.datetime(2026, 3, 20, 12, 0, tzinfo=datetime.UTC)
    with at(noon):
        response = _move_in_admin(client, customer, "Pacific/Kiritimati")
    assert "1 ended at once, their end being already past there" in response.content.decode()
    grant.refresh_from_db()
    kiritimati_midnight = datetime.datetime(2026, 3, 21, tzinfo=zoneinfo.ZoneInfo("Pacific/Kiritimati"))
    assert grant.expired and grant.state == "expired" and grant.revoked_by is None
    assert grant.revoked_at == grant.expires_at == kiritimati_midnight
    assert grant.last_day == LAST_DAY
    assert "ended on 20 Mar 2026, and the access with it" in grant.revocation_reason
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


def _customer_with_contract(time_zone: str, contract_end: datetime.date):
    customer = CustomerFactory(name="Nile", time_zone=time_zone)
    customer.account_manager = AccountManagerFactory()
    customer.save()
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    engaged = EngagementPartnerFactory(
        engagement__customer=customer, contract_start=datetime.date(2026, 1, 1), contract_end=contract_end
    )
    return customer, admin, engaged, AwsAccountFactory(customer=customer)


@pytest.mark.parametrize(
    ("time_zone", "last_day", "contract_end", "moved_to", "ends_utc"),
    [
        # Cairo's clocks go from 00:00 to 01:00 on 24 April 2026: the last day of access, 23 April, ends
        # at 01:00 there. In New York it ends at midnight EDT, not at 18:00 EDT.
        (
            "Africa/Cairo",
            datetime.date(2026, 4, 23),
            datetime.date(2026, 4, 30),
            "America/New_York",
            datetime.datetime(2026, 4, 24, 4, 0, tzinfo=datetime.UTC),
        ),
        # Santiago's clocks go from 00:00 to 01:00 on 6 September 2026: access to the end of the contract
        # (its last day 5 September, nothing chosen on the page) ends at midnight in Los Angeles, not 21:00.
        (
            "America/Santiago",
            None,
            datetime.date(2026, 9, 5),
            "America/Los_Angeles",
            datetime.datetime(2026, 9, 6, 7, 0, tzinfo=datetime.UTC),
        ),
    ],
)
def test_access_to_the_end_of_a_day_that_ends_at_1am_still_ends_with_that_day(
    client, time_zone, last_day, contract_end, moved_to, ends_utc
):
    with at(datetime.datetime(2026, 4, 1, 12, 0, tzinfo=datetime.UTC)):
        customer, admin, engaged, account = _customer_with_contract(time_zone, contract_end)
        client.force_login(admin)
        response = client.post(
            reverse("engagements:access-grant"),
            {
                "account": account.pk,
                "engagement_partner": engaged.pk,
                "role_arn": f"arn:aws:iam::{account.account_id}:role/PartnerOps",
                "scope": "operations",
                "mfa_required": "on",
                "expires_on": last_day.isoformat() if last_day else "",
            },
        )
        assert response.status_code == 303
        grant = AccessGrant.objects.get(account=account)
        local_end = grant.expires_at.astimezone(zoneinfo.ZoneInfo(time_zone))
        assert (local_end.date(), local_end.hour) == (
            (last_day or contract_end) + datetime.timedelta(days=1),
            1,
        )

        response = _move_in_admin(client, customer, moved_to)
        assert "1 live access grant(s) now end by the calendar there" in response.content.decode()
    grant.refresh_from_db()
    assert grant.expires_at == ends_utc


def test_access_given_until_an_exact_midnight_is_not_lengthened_by_a_move_west(client):
    """Through the API a UTC customer gives access until 00:00Z on 1 April, an exact moment. Moved to Los
    Angeles (UTC-7), the access still ends then: it does not run on to 07:00Z, the end of 31 March there."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    until = datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC)
    with at(NOW):
        customer, admin, engaged, account = _customer_with_contract("UTC", datetime.date(2026, 4, 30))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin).key}")
        response = api.post(
            "/api/v1/access-grants/",
            {
                "account": account.account_id,
                "engagement_partner": engaged.pk,
                "role_arn": f"arn:aws:iam::{account.account_id}:role/Audit",
                "scope": "read_only",
                "expires_at": "2026-04-01T00:00:00Z",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        grant = AccessGrant.objects.get(pk=response.json()["id"])
        assert grant.expires_at == until
        services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="America/Los_Angeles"
        )
    grant.refresh_from_db()
    assert grant.expires_at == until
    with at(until + datetime.timedelta(minutes=1)):
        assert not grant.is_live()


def test_a_grant_records_whether_it_runs_to_the_end_of_a_day(client):
    """The page's last day of access and the contract's end are days; the API's expires_at is a moment,
    even at midnight. The API shows which, and does not take it as input."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    with at(NOW):
        _customer, admin, engaged, account = _customer_with_contract("UTC", datetime.date(2026, 4, 30))

        def grant(role, **ends):
            return services.access_grant_create(
                user=admin,
                account=account,
                engagement_partner=engaged,
                role_arn=f"arn:aws:iam::{account.account_id}:role/{role}",
                scope="read_only",
                **ends,
            )

        assert grant("Contract").last_day == datetime.date(2026, 4, 30)
        chosen = grant("Chosen", last_day=datetime.date(2026, 3, 31))
        assert (chosen.last_day, chosen.expires_at) == (
            datetime.date(2026, 3, 31),
            datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC),
        )
        assert grant("Moment", expires_at=datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC)).last_day is None
        with pytest.raises(DomainError, match="not both"):
            grant("Both", last_day=datetime.date(2026, 3, 31), expires_at=NOW + datetime.timedelta(days=1))

        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin).key}")
        body = {
            "account": account.account_id,
            "engagement_partner": engaged.pk,
            "role_arn": f"arn:aws:iam::{account.account_id}:role/Api",
            "scope": "read_only",
            "last_day": "2026-03-31",
        }
        response = api.post("/api/v1/access-grants/", body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["last_day"] == "2026-04-30"  # read-only: the contract's end, the default
        assert api.get(f"/api/v1/access-grants/{chosen.pk}/").json()["last_day"] == "2026-03-31"


def test_a_moment_cut_short_by_a_move_east_is_not_lengthened_by_a_move_back(london):
    """An exact moment late on the contract's last day is past that day's end in Tokyo: it is cut to the
    end of the contract there, and stays a moment, so moving on to New York does not lengthen it."""
    customer, admin, grant = london
    grant.engagement_partner.refresh_from_db()
    with at(NOW):
        late = services.access_grant_create(
            user=admin,
            account=grant.account,
            engagement_partner=grant.engagement_partner,
            role_arn=f"arn:aws:iam::{grant.account.account_id}:role/Late",
            scope="read_only",
            expires_at=datetime.datetime(2026, 3, 20, 22, 0, tzinfo=datetime.UTC),
        )
        manager = customer.account_manager
        services.customer_time_zone_change(user=manager, customer=customer, time_zone="Asia/Tokyo")
        late.refresh_from_db()
        assert (late.expires_at, late.last_day) == (
            datetime.datetime(2026, 3, 20, 15, tzinfo=datetime.UTC),
            None,
        )
        services.customer_time_zone_change(user=manager, customer=customer, time_zone="America/New_York")
    late.refresh_from_db()
    assert late.expires_at == datetime.datetime(2026, 3, 20, 15, tzinfo=datetime.UTC)
    grant.refresh_from_db()
    assert (grant.last_day, grant.expires_at) == (
        LAST_DAY,
        datetime.datetime(2026, 3, 21, 4, tzinfo=datetime.UTC),
    )


def test_existing_grants_are_read_as_ending_with_a_day_when_they_end_exactly_when_one_ends():
    """The migration's backfill: the end of a day is midnight, or 01:00 where the clocks skip midnight."""
    import importlib

    from django.apps import apps

    from tests.factories import AccessGrantFactory

    backfill = importlib.import_module("engagements.migrations.0005_grant_last_day").backfill_last_day
    with at(datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC)):
        _c, _a, cairo, cairo_account = _customer_with_contract("Africa/Cairo", datetime.date(2026, 4, 30))
        _c, _a, utc, utc_account = _customer_with_contract("UTC", datetime.date(2026, 4, 30))
        cairo_day = AccessGrantFactory(
            engagement_partner=cairo,
            account=cairo_account,
            expires_at=datetime.datetime(2026, 4, 23, 22, 0, tzinfo=datetime.UTC),  # 01:00 on 24 April
        )
        cairo_hour = AccessGrantFactory(
            engagement_partner=cairo,
            account=cairo_account,
            expires_at=datetime.datetime(2026, 4, 23, 21, 0, tzinfo=datetime.UTC),  # 23:00 on 23 April
        )
        utc_day = AccessGrantFactory(
            engagement_partner=utc,
            account=utc_account,
            expires_at=datetime.datetime(2026, 4, 10, tzinfo=datetime.UTC),
        )
    AccessGrant.objects.update(last_day=None)
    backfill(apps, None)
    found = dict(AccessGrant.objects.values_list("pk", "last_day"))
    assert found[cairo_day.pk] == datetime.date(2026, 4, 23)
    assert found[cairo_hour.pk] is None
    assert found[utc_day.pk] == datetime.date(2026, 4, 9)


def test_the_database_refuses_a_live_grant_that_does_not_end_with_its_last_day(london):
    from django.db import IntegrityError, transaction

    _customer, _admin, grant = london
    with pytest.raises(IntegrityError, match="must end when that day ends"), transaction.atomic():
        AccessGrant.objects.filter(pk=grant.pk).update(last_day=datetime.date(2026, 3, 19))
    AccessGrant.objects.filter(pk=grant.pk).update(last_day=None)  # an exact moment may be any moment


def _grant_to_contract_end(admin, engaged, account) -> AccessGrant:
    return services.access_grant_create(
        user=admin,
        account=account,
        engagement_partner=engaged,
        role_arn=f"arn:aws:iam::{account.account_id}:role/PartnerOps",
        scope="operations",
    )


def test_a_grant_ended_by_a_move_is_recorded_once_by_the_mover_and_both_sides_told_once(london):
    """The move records the expiry as the hourly check records one: one change in the grant's history,
    by whoever moved the zone, and one email to each side, whatever else the move has to record."""
    customer, _admin, grant = london
    before = grant.history.count()
    with at(datetime.datetime(2026, 3, 20, 12, 0, tzinfo=datetime.UTC)):
        done = services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="Pacific/Kiritimati"
        )
    assert ([g.pk for g in done.ended], done.moved) == ([grant.pk], [])
    assert grant.history.count() == before + 1
    latest = grant.history.latest()
    assert latest.history_user == customer.account_manager
    assert latest.history_change_reason == (
        "Expired; recorded when the customer's time zone changed to Pacific/Kiritimati"
    )
    told = OutboxMessage.objects.filter(dedupe_key__startswith=f"grant-revoked:{grant.pk}:")
    assert sorted(told.values_list("dedupe_key", flat=True)) == [
        f"grant-revoked:{grant.pk}:customer",
        f"grant-revoked:{grant.pk}:partner",
    ]


@pytest.mark.parametrize(
    ("time_zone", "moved_to", "moment", "ended"),
    [
        # 20:00 UTC on 20 March: still the contract's last day in Los Angeles, already 21 March in Melbourne.
        (
            "America/Los_Angeles",
            "Australia/Melbourne",
            datetime.datetime(2026, 3, 20, 20, tzinfo=datetime.UTC),
            True,
        ),
        # The longest names there are: the grant moves to the end of its last day there.
        ("America/North_Dakota/New_Salem", "America/Argentina/ComodRivadavia", NOW, False),
    ],
)
def test_a_move_between_long_zone_names_is_recorded_in_the_grants_history(
    client, time_zone, moved_to, moment, ended
):
    """A grant's history keeps a change's reason in 100 characters: naming both zones in it made the
    move fail (a server error in the admin) between zones with long names."""
    with at(NOW):
        customer, admin, engaged, account = _customer_with_contract(time_zone, LAST_DAY)
        grant = _grant_to_contract_end(admin, engaged, account)
    with at(moment):
        response = _move_in_admin(client, customer, moved_to)
    assert response.status_code == 200
    page = response.content.decode()
    assert ("1 ended at once" in page) is ended
    assert ("1 live access grant(s) now end by the calendar there" in page) is not ended
    grant.refresh_from_db()
    assert Customer.objects.get(pk=customer.pk).time_zone == moved_to
    assert grant.expired is ended
    assert grant.expires_at == datetime.datetime(2026, 3, 21, tzinfo=zoneinfo.ZoneInfo(moved_to))
    assert moved_to in grant.history.latest().history_change_reason
