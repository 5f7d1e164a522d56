"""A customer's access administrator grants a partner access at the very moment its Account Manager
cancels the engagement, or moves the customer to another time zone: whichever commits first, the other
sees it. The grant is never left live on a cancelled engagement, nor ending after the contract's last day
in the customer's new zone."""

import pytest
from django.db import connection

from engagements import services
from engagements.models import AccessGrant, Customer, Engagement, access_deadline
from tests.factories import (
    AccountManagerFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
)
from tests.locks import in_a_thread, sessions_waiting_for_locks, wait_for


def _waiting_for_locks() -> int:
    # Asked inside the grant's transaction: PostgreSQL would show the sessions as they were when first
    # asked in it, so its snapshot is dropped each time.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
    return sessions_waiting_for_locks()


def _meanwhile(outcome: dict, name: str, work):
    """Runs `work` in another session while the grant is being made (its checks done): returns once it
    has committed, or waits on a lock the grant holds. Returns its thread, to join after the grant."""
    thread = in_a_thread(outcome, name, work)
    wait_for(lambda: not thread.is_alive() or _waiting_for_locks() > 0)
    return thread


def _grant(admin, account, engaged):
    return services.access_grant_create(
        user=admin,
        account=account,
        engagement_partner=engaged,
        role_arn=f"arn:aws:iam::{account.account_id}:role/PartnerOps",
        scope="operations",
    )


@pytest.mark.django_db(transaction=True)
def test_a_grant_made_while_the_engagement_is_cancelled_does_not_stay_live(monkeypatch):
    am = AccountManagerFactory()
    customer = CustomerFactory(account_manager=am)
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    account = AwsAccountFactory(customer=customer)
    engaged = EngagementPartnerFactory(engagement=EngagementFactory(customer=customer))
    outcome, threads, started = {}, [], []

    def cancel():
        services.engagement_status_change(
            user=am,
            engagement=Engagement.objects.get(pk=engaged.engagement_id),
            status="cancelled",
            reason="Customer pulled the budget",
        )
        return "done"

    real_problem = services.engaged_partner_grant_problem

    def cancelled_as_it_is_checked(*args, **kwargs):
        answer = real_problem(*args, **kwargs)
        if not started:
            started.append(True)
            threads.append(_meanwhile(outcome, "cancel", cancel))
        return answer

    monkeypatch.setattr(services, "engaged_partner_grant_problem", cancelled_as_it_is_checked)
    grant = _grant(admin, account, engaged)
    for thread in threads:
        thread.join(timeout=30)

    assert outcome == {"cancel": "done"}
    assert Engagement.objects.get(pk=engaged.engagement_id).status == "cancelled"
    grant = AccessGrant.objects.get(pk=grant.pk)
    assert not grant.is_live(), "a grant stays live on a cancelled engagement"
    assert grant.revocation_reason == "Engagement cancelled: Customer pulled the budget"


@pytest.mark.django_db(transaction=True)
def test_a_grant_made_while_the_time_zone_changes_ends_with_the_contract_in_the_new_zone(monkeypatch):
    am = AccountManagerFactory()
    customer = CustomerFactory(account_manager=am, time_zone="Europe/London")
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    account = AwsAccountFactory(customer=customer)
    engaged = EngagementPartnerFactory(engagement=EngagementFactory(customer=customer))
    outcome, threads, started = {}, [], []

    def move_zone():
        services.customer_time_zone_change(
            user=am, customer=Customer.objects.get(pk=customer.pk), time_zone="Pacific/Kiritimati"
        )
        return "done"

    real_live_grants = services.live_grants

    def zone_moved_as_it_is_written(*args, **kwargs):
        # Called once the grant row is written, not yet committed (and by the zone change itself).
        if not started:
            started.append(True)
            threads.append(_meanwhile(outcome, "zone", move_zone))
        return real_live_grants(*args, **kwargs)

    monkeypatch.setattr(services, "live_grants", zone_moved_as_it_is_written)
    grant = _grant(admin, account, engaged)
    for thread in threads:
        thread.join(timeout=30)

    assert outcome == {"zone": "done"}
    assert Customer.objects.get(pk=customer.pk).time_zone == "Pacific/Kiritimati"
    grant = AccessGrant.objects.get(pk=grant.pk)
    contract_over = access_deadline(engaged.contract_end, "Pacific/Kiritimati")
    assert grant.expires_at == contract_over, f"grant ends {grant.expires_at}, the contract {contract_over}"
    assert grant.last_day == engaged.contract_end
