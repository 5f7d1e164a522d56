"""A grant's state means the same for good: one that simply ran out stays "expired", before the hourly check
records it and after; "revoked" is access somebody cut short, with who and why. As the API's `state` (field
and filter), the pages and the timeline all say."""

import datetime
import importlib

import pytest
import time_machine
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from engagements import services
from engagements.models import AccessGrant, access_deadline
from tests.factories import AccessGrantFactory, CustomerUserFactory, PartnerFactory, PartnerUserFactory

from .test_api import api

pytestmark = pytest.mark.django_db

STATES = ("live", "expired", "revoked")


def at(moment: datetime.datetime):
    return time_machine.travel(moment, tick=False)


def run_check():
    run = check_run("access_grant_expiry")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    return run


def seen(org, grant) -> dict:
    """What the customer, the partner and the API show of `grant` now."""
    client = api(org.admin)
    filtered = {
        state: {row["id"] for row in client.get("/api/v1/access-grants/", {"state": state}).json()["results"]}
        for state in STATES
    }
    pages = {}
    for user, name, args in (
        (org.admin, "access", ()),
        (org.partner_user, "grants", ()),
        (org.admin, "engagement-detail", (org.engagement.pk,)),
    ):
        browser = Client()
        browser.force_login(user)
        html = browser.get(reverse(f"engagements:{name}", args=args)).content.decode()
        pages[name] = sorted(state for state in STATES if f"status--{state}" in html)
        if name == "engagement-detail":
            pages["timeline"] = html.split('id="timeline-heading"')[1]
    return {
        "filters": {state for state, ids in filtered.items() if grant.pk in ids},
        "field": client.get(f"/api/v1/access-grants/{grant.pk}/").json().get("state"),
        "pages": pages,
    }


def test_a_grant_that_ran_out_is_expired_before_and_after_the_check(alpha):
    account = alpha.grant.account.account_id
    with at(alpha.grant.expires_at + datetime.timedelta(minutes=10)):
        before = seen(alpha, alpha.grant)
        run = run_check()
        after = seen(alpha, alpha.grant)
        again = run_check()

    for shown in (before, after):
        assert shown["filters"] == {"expired"}
        assert shown["pages"]["access"] == shown["pages"]["grants"] == ["expired"]
        assert shown["pages"]["engagement-detail"] == ["expired"]
        assert shown["field"] == "expired"
        assert f"access to account {account} expired" in shown["pages"]["timeline"]
        assert f"access to account {account} revoked" not in shown["pages"]["timeline"]
    assert run.changed == {"grants_expired": 1, "emails": 2}
    assert not any(again.changed.values())  # safe to run twice: recorded once, told once
    grant = AccessGrant.objects.get(pk=alpha.grant.pk)
    assert grant.expired and grant.revoked_by is None and grant.revoked_at == grant.expires_at
    assert grant.revocation_reason.startswith("Expired at ")


def test_a_grant_revoked_by_a_person_is_revoked_with_who_and_why_and_stays_so(alpha):
    services.access_grant_revoke(user=alpha.admin, grant=alpha.grant, reason="Project paused")

    shown = seen(alpha, alpha.grant)
    assert shown["filters"] == {"revoked"} and shown["field"] == "revoked"
    assert shown["pages"]["access"] == shown["pages"]["grants"] == ["revoked"]
    browser_html = api(alpha.admin).get(f"/api/v1/access-grants/{alpha.grant.pk}/").json()
    assert browser_html["revoked_by"] == alpha.admin.username
    assert browser_html["revocation_reason"] == "Project paused"
    with at(alpha.grant.expires_at + datetime.timedelta(hours=1)):
        run = run_check()
        assert seen(alpha, alpha.grant)["filters"] == {"revoked"}
    assert run.changed["grants_expired"] == 0


def test_a_grant_whose_contract_ran_to_its_end_expired(alpha):
    """Nobody cut it short: the contract's last day passed, and the reason says so."""
    engaged = alpha.engaged
    end = access_deadline(engaged.contract_end, alpha.customer.time_zone)
    AccessGrant.objects.filter(pk=alpha.grant.pk).update(expires_at=end, last_day=engaged.contract_end)
    alpha.grant.refresh_from_db()
    with at(end + datetime.timedelta(minutes=5)):
        assert seen(alpha, alpha.grant)["filters"] == {"expired"}
        run_check()
        assert seen(alpha, alpha.grant)["filters"] == {"expired"}
    grant = AccessGrant.objects.get(pk=alpha.grant.pk)
    assert grant.expired and "ended on" in grant.revocation_reason


def test_replacing_the_partner_revokes_its_live_access_but_what_already_ran_out_stays_expired(alpha):
    """The replacement cuts the live grant short, by the person who replaced the partner; a grant of the
    same partner that had already run out (the hourly check not having recorded it yet) expired."""
    ran_out = AccessGrantFactory(
        engagement_partner=alpha.engaged,
        account=alpha.management,
        granted_by=alpha.admin,
        granted_at=timezone.now() - datetime.timedelta(days=10),
        expires_at=timezone.now() - datetime.timedelta(minutes=30),
    )
    CustomerUserFactory(customer=alpha.customer, email="it@alpha.example", access_admin=True)

    services.engagement_partner_replace(
        user=alpha.admin,
        engagement_partner=alpha.engaged,
        new_partner=PartnerFactory(),
        reason="Lost the tender",
        contract_end=timezone.localdate() + datetime.timedelta(days=90),
    )

    live = AccessGrant.objects.get(pk=alpha.grant.pk)
    assert live.state == "revoked" and live.revoked_by == alpha.admin
    assert live.revocation_reason == "Contract ended: Lost the tender"
    over = AccessGrant.objects.get(pk=ran_out.pk)
    assert over.state == "expired" and over.expired and over.revoked_by is None
    assert over.revoked_at == over.expires_at
    assert OutboxMessage.objects.filter(dedupe_key=f"grant-revoked:{over.pk}:customer").exists()
    client = api(alpha.admin)
    assert {
        row["id"] for row in client.get("/api/v1/access-grants/", {"state": "revoked"}).json()["results"]
    } == {live.pk}
    assert {
        row["id"] for row in client.get("/api/v1/access-grants/", {"state": "expired"}).json()["results"]
    } == {over.pk}


def test_an_expired_grant_cannot_be_revoked_after_the_fact(alpha):
    with at(alpha.grant.expires_at + datetime.timedelta(minutes=10)):
        response = api(alpha.admin).post(
            f"/api/v1/access-grants/{alpha.grant.pk}/revoke/", {"reason": "Tidying up"}, format="json"
        )
        browser = Client()
        browser.force_login(alpha.admin)
        access = browser.get(reverse("engagements:access")).content.decode()
        confirm = browser.get(reverse("engagements:access-revoke", args=[alpha.grant.pk])).content.decode()
        grant = AccessGrant.objects.get(pk=alpha.grant.pk)
        assert grant.revoked_at is None and grant.state == "expired"

    assert response.status_code == 409
    assert "already expired at" in response.json()["detail"]
    assert reverse("engagements:access-revoke", args=[alpha.grant.pk]) not in access
    assert "already expired at" in confirm and "<form" not in confirm.split("</dl>")[1]


def test_grants_the_check_ended_before_read_as_expired_once_migrated(alpha):
    """Migration 0006 on what the check recorded before it: revoked by nobody, at the grant's end."""
    ended_by_check = alpha.grant
    ended_by_check.revoked_at = ended_by_check.expires_at
    ended_by_check.revocation_reason = "Expired on 1 Jan 2026 00:00 (UTC) (scheduled check)."
    ended_by_check.save()  # with its history row, as the check wrote it
    by_person = AccessGrantFactory(engagement_partner=alpha.engaged, account=alpha.management)
    services.access_grant_revoke(user=alpha.admin, grant=by_person, reason="Incident")
    assert AccessGrant.objects.get(pk=ended_by_check.pk).state == "revoked"  # as it read until now

    migration = importlib.import_module("engagements.migrations.0006_grant_expired")
    migration.mark_expired(apps, None)

    assert AccessGrant.objects.get(pk=ended_by_check.pk).state == "expired"
    assert ended_by_check.history.first().expired
    assert AccessGrant.objects.get(pk=by_person.pk).state == "revoked"
    assert seen(alpha, ended_by_check)["filters"] == {"expired"}


def test_only_a_grant_that_ran_out_by_nobodys_hand_is_recorded_expired(alpha):
    grant = alpha.grant
    with pytest.raises(IntegrityError, match="access_grant_expired_at_its_end"), transaction.atomic():
        AccessGrant.objects.filter(pk=grant.pk).update(
            expired=True, revoked_at=timezone.now(), revocation_reason="Cut short"
        )
    with pytest.raises(IntegrityError, match="access_grant_expired_at_its_end"), transaction.atomic():
        AccessGrant.objects.filter(pk=grant.pk).update(
            expired=True, revoked_at=grant.expires_at, revoked_by=alpha.admin, revocation_reason="Expired"
        )


def test_the_check_costs_the_same_queries_however_many_grants_ran_out():
    soon, later = timezone.now() + datetime.timedelta(days=1), timezone.now() + datetime.timedelta(days=2)
    for expires_at in (soon, later, later, later, later):
        grant = AccessGrantFactory(expires_at=expires_at)
        CustomerUserFactory(customer=grant.account.customer, access_admin=True)
        PartnerUserFactory(partner=grant.engagement_partner.partner)

    def expire(moment, count):
        with at(moment + datetime.timedelta(minutes=1)), CaptureQueriesContext(connection) as queries:
            assert run_check().changed == {"grants_expired": count, "emails": 2 * count}
        return len(queries)

    assert expire(soon, 1) == expire(later, 4)
