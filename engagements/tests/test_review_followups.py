"""Follow-ups of a review: a grant a time-zone change ends reads expired, not revoked by whoever moved the
zone; the engagement page says why a step was refused even when it no longer offers one; the admin's
grants list shows each grant's state and revokes only live access; the access administrators' rule
about outsiders is one rule."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apn_portal.checks.services import check_run
from apn_portal.exceptions import ConflictError, DomainError
from apn_portal.outbox.models import OutboxMessage
from engagements import services
from engagements.choices import STAGE_ORDER
from engagements.models import AccessGrant, Engagement
from engagements.tests.test_time_zone_change import LAST_DAY, london  # noqa: F401  (fixture)
from support.services import support_subscription_change
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    CustomerFactory,
    QualifiedTamFactory,
    support_plan,
)

from .test_api import api

pytestmark = pytest.mark.django_db


def at(moment: datetime.datetime):
    return time_machine.travel(moment, tick=False)


def text(response) -> str:
    return response.content.decode()


# A grant ended by a change of time zone ----------------------------------------------------------------


def test_a_grant_whose_last_day_is_over_in_the_new_zone_reads_expired_not_revoked_by_the_mover(
    client,
    london,  # noqa: F811
):
    """Noon on 20 March (UTC) is already 21 March on Kiritimati: the contract's last day is over there. The
    access ran out, as the hourly check would have recorded it had the customer always worked there;
    nobody cut it short, least of all the Account Manager who moved the zone."""
    customer, admin, grant = london
    noon = datetime.datetime(2026, 3, 20, 12, 0, tzinfo=datetime.UTC)
    with at(noon):
        done = services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="Pacific/Kiritimati"
        )
        assert [ended.pk for ended in done.ended] == [grant.pk]
        shown = api(admin).get(f"/api/v1/access-grants/{grant.pk}/").json()
        client.force_login(admin)
        page = text(client.get(reverse("engagements:access")))

    grant = AccessGrant.objects.get(pk=grant.pk)
    ended_there = datetime.datetime(2026, 3, 21, tzinfo=zoneinfo.ZoneInfo("Pacific/Kiritimati"))
    assert (grant.state, grant.expired, grant.revoked_by) == ("expired", True, None)
    assert grant.revoked_at == grant.expires_at == ended_there
    assert grant.last_day == LAST_DAY
    assert grant.revocation_reason == (
        f"{grant.engagement_partner.partner.name}'s contract on {grant.engagement_partner.engagement.title} "
        "ended on 20 Mar 2026, and the access with it (noticed when Acme's time zone changed from "
        "Europe/London to Pacific/Kiritimati, where that day had ended at 21 Mar 2026 00:00 +14)."
    )
    assert (shown["state"], shown["revoked_by"]) == ("expired", None)
    assert "status--expired" in page and "status--revoked" not in page
    assert customer.account_manager.username not in page
    # Recorded by the change, in the grant's history, and both sides told as before.
    latest = grant.history.latest()
    assert latest.history_user == customer.account_manager and latest.expired
    assert "Expired; recorded when the customer's time zone changed" in latest.history_change_reason
    assert OutboxMessage.objects.filter(dedupe_key=f"grant-revoked:{grant.pk}:customer").exists()
    assert OutboxMessage.objects.filter(dedupe_key=f"grant-revoked:{grant.pk}:partner").exists()
    # The hourly check finds nothing left to record.
    with at(noon + datetime.timedelta(hours=1)):
        assert check_run("access_grant_expiry").changed["grants_expired"] == 0


def test_a_grant_made_after_its_day_ended_in_the_new_zone_expires_the_moment_it_began(
    london,  # noqa: F811
):
    """Access to the end of 18 March (London), granted at 12:00 UTC that day: in Kiritimati 18 March had
    ended at 10:00 UTC, before the grant was made. It expired when it began (a grant ends after it starts,
    so a microsecond on), not when the zone changed, and no longer ran to the end of a day."""
    customer, admin, grant = london
    granted = datetime.datetime(2026, 3, 18, 12, 0, tzinfo=datetime.UTC)
    with at(granted):
        short = services.access_grant_create(
            user=admin,
            account=grant.account,
            engagement_partner=grant.engagement_partner,
            role_arn=f"arn:aws:iam::{grant.account.account_id}:role/Audit",
            scope="read_only",
            last_day=datetime.date(2026, 3, 18),
        )
    with at(granted + datetime.timedelta(hours=1)):
        done = services.customer_time_zone_change(
            user=customer.account_manager, customer=customer, time_zone="Pacific/Kiritimati"
        )
    assert [ended.pk for ended in done.ended] == [short.pk]
    short = AccessGrant.objects.get(pk=short.pk)
    assert (short.state, short.revoked_by, short.last_day) == ("expired", None, None)
    assert short.revoked_at == short.expires_at == granted + datetime.timedelta(microseconds=1)
    assert short.revocation_reason.startswith("Its last day of access, 18 Mar 2026, is over (noticed when")
    # The contract's grant moved to the end of its last day there, still live.
    moved = AccessGrant.objects.get(pk=grant.pk)
    assert moved.revoked_at is None and not moved.expired
    assert moved.expires_at == datetime.datetime(2026, 3, 21, tzinfo=zoneinfo.ZoneInfo("Pacific/Kiritimati"))


# A step of the journey refused ---------------------------------------------------------------------------


def _advance(client, engagement, to_stage):
    url = reverse("engagements:engagement-advance", args=[engagement.pk])
    return client.post(url, {"to_stage": to_stage, "note": "done"})


def test_the_last_step_sent_twice_says_it_was_already_taken(client, alpha):
    Engagement.objects.filter(pk=alpha.engagement.pk).update(stage=STAGE_ORDER[-2], status="active")
    client.force_login(alpha.staff)
    assert _advance(client, alpha.engagement, STAGE_ORDER[-1].value).status_code == 303

    again = _advance(client, alpha.engagement, STAGE_ORDER[-1].value)

    assert again.status_code == 409
    assert "“Alpha Migration” is already past Operated." in text(again)
    assert Engagement.objects.get(pk=alpha.engagement.pk).stage_events.count() == 1


def test_a_step_sent_after_someone_put_the_engagement_on_hold_says_so(client, alpha):
    client.force_login(alpha.staff)
    Engagement.objects.filter(pk=alpha.engagement.pk).update(status="on_hold")

    response = _advance(client, alpha.engagement, "copied")

    assert response.status_code == 409
    assert "“Alpha Migration” is on hold; resume it before advancing." in text(response)
    assert Engagement.objects.get(pk=alpha.engagement.pk).stage == "on_premises"


def test_a_step_already_taken_is_a_stale_form_even_on_hold(alpha):
    """The step was recorded, then the engagement put on hold: sent again, the form is out of date."""
    services.engagement_stage_advance(user=alpha.admin, engagement=alpha.engagement, to_stage="copied")
    Engagement.objects.filter(pk=alpha.engagement.pk).update(status="on_hold")
    with pytest.raises(ConflictError, match="already past Copy moved to a region") as refused:
        services.engagement_stage_advance(user=alpha.admin, engagement=alpha.engagement, to_stage="copied")
    assert refused.value.field == "to_stage"


# The admin's grants list ---------------------------------------------------------------------------------


def _changelist():
    return reverse("admin:engagements_accessgrant_changelist")


def _grant(alpha, **kwargs):
    return AccessGrantFactory(
        engagement_partner=alpha.engaged, account=alpha.member, granted_by=alpha.admin, **kwargs
    )


def _expired_grant(alpha):
    """A grant that ran out yesterday, recorded by the hourly check."""
    now = timezone.now()
    grant = _grant(
        alpha, granted_at=now - datetime.timedelta(days=10), expires_at=now - datetime.timedelta(days=1)
    )
    check_run("access_grant_expiry")
    grant.refresh_from_db()
    assert grant.expired
    return grant


def _revoke_action(client, grants):
    return client.post(
        _changelist(), {"action": "revoke", "_selected_action": [grant.pk for grant in grants]}, follow=True
    )


def test_revoking_grants_that_already_ended_says_so(client, alpha):
    recorded = _expired_grant(alpha)
    # Past its end, the hourly check not having recorded it yet: it ran out all the same.
    now = timezone.now()
    ran_out = _grant(
        alpha, granted_at=now - datetime.timedelta(days=3), expires_at=now - datetime.timedelta(hours=1)
    )
    client.force_login(alpha.account_manager)

    response = _revoke_action(client, [recorded, ran_out])

    told = [str(message) for message in response.context["messages"]]
    assert told == ["The selected grants have already ended (expired or revoked)."]
    assert AccessGrant.objects.get(pk=ran_out.pk).revoked_at is None


def test_revoking_a_mixed_selection_offers_only_the_live_grants(client, alpha):
    # Past its end, not recorded yet by the hourly check: it is over, not live.
    now = timezone.now()
    ended = _grant(
        alpha, granted_at=now - datetime.timedelta(days=3), expires_at=now - datetime.timedelta(hours=1)
    )
    client.force_login(alpha.account_manager)

    asks = _revoke_action(client, [alpha.grant, ended])

    assert asks.status_code == 200
    assert alpha.grant.role_arn in text(asks)
    assert ended.role_arn not in text(asks)


def _state_cells(html: str) -> list[str]:
    return [cell.split(">", 1)[1].split("<", 1)[0] for cell in html.split('class="field-state"')[1:]]


def test_the_grants_list_shows_each_grants_state_at_no_query_per_row(client, alpha):
    client.force_login(alpha.account_manager)
    with CaptureQueriesContext(connection) as one_row:
        page = client.get(_changelist())
    assert _state_cells(text(page)) == ["Live"]

    _expired_grant(alpha)
    revoked = _grant(alpha)
    services.access_grant_revoke(user=alpha.admin, grant=revoked, reason="Project paused")
    now = timezone.now()
    _grant(alpha, granted_at=now - datetime.timedelta(days=3), expires_at=now - datetime.timedelta(hours=1))
    for _ in range(3):
        _grant(alpha)
    with CaptureQueriesContext(connection) as many_rows:
        page = client.get(_changelist())

    assert sorted(_state_cells(text(page))) == [
        "Expired",
        "Expired",
        "Live",
        "Live",
        "Live",
        "Live",
        "Revoked",
    ]
    assert len(many_rows) == len(one_row)


# Access administrators and the customer's staff ----------------------------------------------------------


def test_naming_an_outsider_access_administrator_is_refused_in_the_same_words_either_way(alpha, bravo):
    with pytest.raises(DomainError) as one:
        services.customer_access_administrator_add(
            user=alpha.account_manager, customer=alpha.customer, member=bravo.staff
        )
    with pytest.raises(DomainError) as many:
        services.customer_access_administrators_set(
            user=alpha.account_manager, customer=alpha.customer, members=[alpha.admin, bravo.staff]
        )
    assert one.value.message == many.value.message
    assert one.value.message == f"Only the customer's own people can administer access: {bravo.staff}."
    assert services.customer_people_problems(alpha.customer, {"access_administrators": [bravo.staff]}) == {
        "access_administrators": one.value.message
    }
    assert list(alpha.customer.access_administrators.all()) == [alpha.admin]


def test_naming_the_tam_gives_back_the_callers_customer_with_it():
    customer = CustomerFactory(name="Acme", account_manager=AccountManagerFactory())
    tara = QualifiedTamFactory(username="tam-tara")
    tom = QualifiedTamFactory(username="tam-tom")
    support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tara
    )

    named = services.customer_assign_staff(
        user=customer.account_manager, customer=customer, field="tam", member=tom
    )

    assert named is customer and customer.tam == tom
