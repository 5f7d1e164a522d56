"""A customer's access administrator grants a partner access at the very moment its Account Manager
cancels the engagement, or moves the customer to another time zone: whichever commits first, the other
sees it. The grant is never left live on a cancelled engagement, nor ending after the contract's last day
in the customer's new zone. Nor does a grant and a partner joining the engagement at once deadlock."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from engagements import services
from engagements.models import (
    AccessGrant,
    AwsAccount,
    Customer,
    Engagement,
    EngagementPartner,
    access_deadline,
)
from engagements.tests.test_admin_services_rules import _with_rows
from tests.factories import (
    AccountManagerFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    SolutionsArchitectFactory,
)
from tests.locks import in_a_thread, lock_held, sessions_waiting_for_locks, wait_for


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
            user=admin,
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


# A partner joins the engagement while access is granted on it ---------------------------------------------


def _one_after_the_other_on_the_engagement(first, second, engagement) -> dict:
    """`first` starts, then `second`, while another session holds the engagement's row; then both go.
    Each takes its locks as it would: were their orders opposite, PostgreSQL would end one of them."""
    outcome = {}
    with lock_held(f"SELECT id FROM {Engagement._meta.db_table} WHERE id = %s FOR UPDATE", [engagement.pk]):
        threads = [in_a_thread(outcome, "first", first)]
        wait_for(lambda: sessions_waiting_for_locks() == 1)
        threads.append(in_a_thread(outcome, "second", second))
        wait_for(lambda: sessions_waiting_for_locks() == 2)
    for thread in threads:
        thread.join(timeout=30)
    return outcome


@pytest.fixture
def engaged_customer(transactional_db):
    customer = CustomerFactory()
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    account = AwsAccountFactory(customer=customer)
    return admin, account, EngagementPartnerFactory(engagement=EngagementFactory(customer=customer))


def _adding(user, engagement, partner):
    def add():
        services.engagement_partner_add(
            user=user,
            engagement=Engagement.objects.get(pk=engagement.pk),
            partner=partner,
            role="consulting_lead",
            contract_start=timezone.localdate(),
            contract_end=timezone.localdate() + datetime.timedelta(days=300),
        )
        return "added"

    return add


def _granting(admin, account, engaged):
    def grant():
        _grant(admin, AwsAccount.objects.get(pk=account.pk), EngagementPartner.objects.get(pk=engaged.pk))
        return "granted"

    return grant


def test_a_partner_added_while_access_is_granted_on_the_engagement_joins_and_the_grant_is_made(
    engaged_customer,
):
    admin, account, engaged = engaged_customer
    add = _adding(admin, engaged.engagement, PartnerFactory(name="Newcomer Ltd"))

    outcome = _one_after_the_other_on_the_engagement(
        add, _granting(admin, account, engaged), engaged.engagement
    )

    assert outcome == {"first": "added", "second": "granted"}
    assert AccessGrant.objects.filter(engagement_partner=engaged).count() == 1


def test_a_partner_replaced_while_access_is_granted_on_the_engagement_is_replaced_and_the_grant_is_made(
    engaged_customer,
):
    admin, account, engaged = engaged_customer
    other = EngagementPartnerFactory(engagement=engaged.engagement, role="consulting_lead")
    newcomer = PartnerFactory(name="Newcomer Ltd")

    def replace():
        services.engagement_partner_replace(
            user=admin,
            engagement_partner=EngagementPartner.objects.get(pk=other.pk),
            new_partner=newcomer,
            reason="Lost the tender",
            contract_end=timezone.localdate() + datetime.timedelta(days=300),
        )
        return "replaced"

    outcome = _one_after_the_other_on_the_engagement(
        replace, _granting(admin, account, engaged), engaged.engagement
    )

    assert outcome == {"first": "replaced", "second": "granted"}
    assert AccessGrant.objects.filter(engagement_partner=engaged).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_engagements_admin_page_saved_while_a_partner_joins_waits_for_it(alpha):
    """The page saves the engagement, then its new team member (a service locking the customer, then the
    engagement), while the customer's access administrator adds a partner (the same order)."""
    architect = SolutionsArchitectFactory()
    add_partner = _adding(alpha.admin, alpha.engagement, PartnerFactory(name="Newcomer Ltd"))
    browser = Client()
    browser.force_login(alpha.account_manager)
    url = reverse("admin:engagements_engagement_change", args=[alpha.engagement.pk])
    new = {"user": architect.pk, "role": "solutions_architect", "joined_on": "2026-01-05"}
    data = _with_rows(browser.get(url), "team_members", new=[new]) | {"title": "Renamed"}

    outcome = {}
    with lock_held(f"SELECT id FROM {Customer._meta.db_table} WHERE id = %s FOR UPDATE", [alpha.customer.pk]):
        threads = [in_a_thread(outcome, "add", add_partner)]
        wait_for(lambda: sessions_waiting_for_locks() == 1)
        threads.append(in_a_thread(outcome, "admin", lambda: browser.post(url, data).status_code))
        wait_for(lambda: sessions_waiting_for_locks() == 2)
    for thread in threads:
        thread.join(timeout=30)

    assert outcome == {"add": "added", "admin": 302}
    engagement = Engagement.objects.get(pk=alpha.engagement.pk)
    assert engagement.title == "Renamed"
    assert engagement.team_members.filter(user=architect).exists()
