"""Cancelling an engagement ends the contracts still running under it, as replacing a partner ends the old
one: their last day becomes the day of the cancellation in the customer's calendar, and why is recorded,
so the page and the API stop showing a contract that runs on. A contract that had already ended is left as
it was, and its partner, who loses nothing, is not told that it ends now."""

import datetime

import pytest
import time_machine
import yaml
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apn_portal.outbox.models import OutboxMessage
from engagements import services
from engagements.choices import PartnerRole
from engagements.models import AccessGrant, Engagement, EngagementPartner
from partners.choices import PartnerType
from tests.factories import (
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _cancel(org, reason="Budget cut"):
    return services.engagement_status_change(
        user=org.admin, engagement=org.engagement, status="cancelled", reason=reason
    )


def _api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_a_running_contract_ends_on_the_day_of_the_cancellation_in_the_api_and_on_the_page(client, alpha):
    today = alpha.customer.local_today()
    first_day = alpha.engaged.contract_start

    _cancel(alpha)

    for user in (alpha.admin, alpha.partner_user):
        contract = _api(user).get(f"/api/v1/engagement-partners/{alpha.engaged.pk}/").json()
        assert (contract["contract_start"], contract["contract_end"]) == (str(first_day), str(today))
        assert contract["ended_reason"] == "Budget cut"
        assert contract["replaced_by"] is None
        listed = _api(user).get(f"/api/v1/engagements/{alpha.engagement.pk}/").json()["partners"]
        assert [brief["contract_end"] for brief in listed] == [str(today)]
    client.force_login(alpha.admin)
    page = client.get(reverse("engagements:engagement-detail", args=[alpha.engagement.pk])).content.decode()
    assert f"{first_day:%-d %b %Y} to {today:%-d %b %Y}" in page
    assert "Ended early: Budget cut" in page
    assert f"{alpha.partner}'s contract ended: Budget cut" in page.replace("&#x27;", "'")


def test_only_the_partner_whose_contract_was_still_running_is_told_of_the_cancellation():
    """At noon UTC on 3 March it is already 4 March on Kiritimati: the contract whose last day was 3 March
    is over there, though not on the server's clock."""
    customer = CustomerFactory(time_zone="Pacific/Kiritimati")
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    engagement = EngagementFactory(customer=customer)
    with time_machine.travel(datetime.datetime(2026, 3, 3, 12, 0, tzinfo=datetime.UTC), tick=False):
        assert customer.local_today() == datetime.date(2026, 3, 4)
        ended = EngagementPartnerFactory(
            engagement=engagement,
            contract_start=datetime.date(2026, 1, 1),
            contract_end=datetime.date(2026, 3, 3),
        )
        running = EngagementPartnerFactory(
            engagement=engagement,
            role=PartnerRole.TECHNOLOGY,
            contract_start=datetime.date(2026, 1, 1),
            contract_end=datetime.date(2026, 9, 30),
        )
        for contract in (ended, running):
            PartnerUserFactory(partner=contract.partner)

        services.engagement_status_change(
            user=admin, engagement=engagement, status="cancelled", reason="Budget cut"
        )

    told = OutboxMessage.objects.filter(dedupe_key__startswith="engagement-partner-ended:")
    assert list(told.values_list("dedupe_key", flat=True)) == [
        f"engagement-partner-ended:{running.pk}:cancelled"
    ]
    ended.refresh_from_db()
    running.refresh_from_db()
    assert (ended.contract_end, ended.ended_reason) == (datetime.date(2026, 3, 3), "")
    assert (running.contract_end, running.ended_reason) == (datetime.date(2026, 3, 4), "Budget cut")


def test_a_contract_that_had_not_started_ends_on_its_first_day_and_is_never_in_force(alpha):
    start = alpha.customer.local_today() + 10 * DAY
    later = EngagementPartnerFactory(
        engagement=alpha.engagement,
        role=PartnerRole.TECHNOLOGY,
        contract_start=start,
        contract_end=start + 90 * DAY,
    )
    PartnerUserFactory(partner=later.partner)

    _cancel(alpha)

    later.refresh_from_db()
    assert (later.contract_start, later.contract_end, later.ended_reason) == (start, start, "Budget cut")
    assert not later.in_force_on(start)
    assert OutboxMessage.objects.filter(dedupe_key=f"engagement-partner-ended:{later.pk}:cancelled").exists()


def test_a_cancellation_that_fails_at_its_last_step_leaves_every_contract_and_grant_as_it_was(
    alpha, monkeypatch
):
    before = alpha.engaged.contract_end
    enqueue = services.outbox_email_enqueue_many

    def down_when_partners_are_told(emails):
        # The contracts are ended by then: failing here shows they are undone with the rest.
        if any(email.dedupe_key.startswith("engagement-partner-ended:") for email in emails):
            raise RuntimeError("The mail queue is down")
        return enqueue(emails)

    monkeypatch.setattr(services, "outbox_email_enqueue_many", down_when_partners_are_told)
    with pytest.raises(RuntimeError):
        _cancel(alpha)

    engaged = EngagementPartner.objects.get(pk=alpha.engaged.pk)
    assert (engaged.contract_end, engaged.ended_reason) == (before, "")
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is None
    assert Engagement.objects.get(pk=alpha.engagement.pk).status != "cancelled"


def test_a_contract_cancelled_before_it_started_reads_so_on_the_page_in_the_api_and_in_its_email(
    client, alpha
):
    """Its last day becomes its first (a contract cannot end before it starts), but nobody should read
    "10 Dec to 10 Dec", a day's work: the page, the partner's own view, the API and the email say it
    never started."""
    start = alpha.customer.local_today() + 10 * DAY
    later = EngagementPartnerFactory(
        engagement=alpha.engagement,
        role=PartnerRole.TECHNOLOGY,
        contract_start=start,
        contract_end=start + 90 * DAY,
    )
    later_user = PartnerUserFactory(partner=later.partner)

    _cancel(alpha)

    for user in (alpha.admin, later_user):
        contract = _api(user).get(f"/api/v1/engagement-partners/{later.pk}/").json()
        assert contract["ended_before_start"] is True
        assert contract["ended_reason"] == "Budget cut"
        client.force_login(user)
        page = client.get(reverse("engagements:engagement-detail", args=[alpha.engagement.pk]))
        text = page.content.decode().replace("&#x27;", "'")
        assert f"Was to start {start:%-d %b %Y}; cancelled before it started: Budget cut" in text
        assert f"{start:%-d %b %Y} to {start:%-d %b %Y}" not in text
        assert f"{later.partner}'s contract was cancelled before it started: Budget cut" in text
        assert f"{later.partner} joins as" not in text
    ran = _api(alpha.admin).get(f"/api/v1/engagement-partners/{alpha.engaged.pk}/").json()
    assert ran["ended_before_start"] is False

    email = OutboxMessage.objects.get(dedupe_key=f"engagement-partner-ended:{later.pk}:cancelled")
    for body in (email.body_text, email.body_html):
        assert f"It was to start on {start:%-d %b %Y}: it will not start." in body.replace("&#x27;", "'")


def test_a_contract_replaced_before_it_started_reads_so_too(client, alpha):
    start = alpha.customer.local_today() + 10 * DAY
    later = EngagementPartnerFactory(
        engagement=alpha.engagement,
        partner=PartnerFactory(partner_type=PartnerType.TECHNOLOGY),
        role=PartnerRole.TECHNOLOGY,
        contract_start=start,
        contract_end=start + 90 * DAY,
    )
    new = services.engagement_partner_replace(
        user=alpha.admin,
        engagement_partner=later,
        new_partner=PartnerFactory(name="Winner Tech", partner_type=PartnerType.TECHNOLOGY),
        reason="Found a better fit",
        contract_start=start,
        contract_end=start + 90 * DAY,
    )

    contract = _api(alpha.admin).get(f"/api/v1/engagement-partners/{later.pk}/").json()
    assert (contract["ended_before_start"], contract["replaced_by"]) == (True, new.pk)
    assert (
        _api(alpha.admin).get(f"/api/v1/engagement-partners/{new.pk}/").json()["ended_before_start"] is False
    )
    client.force_login(alpha.admin)
    page = client.get(reverse("engagements:engagement-detail", args=[alpha.engagement.pk]))
    text = page.content.decode().replace("&#x27;", "'")
    assert (
        f"Was to start {start:%-d %b %Y}; handed to Winner Tech before it started: Found a better fit" in text
    )
    assert f"{later.partner}'s contract was handed to Winner Tech before it started" in text


def test_the_engagements_partners_say_a_contract_never_started_as_its_own_resource_does(alpha):
    """GET /api/v1/engagements/ lists the partners on each engagement: a contract cancelled before its
    first day must not read there as one day's work ("contract_start" == "contract_end" and nothing
    else), and each reader learns there why it ended exactly as far as /engagement-partners/ tells them
    (another partner on the engagement, nothing)."""
    start = alpha.customer.local_today() + 10 * DAY
    later = EngagementPartnerFactory(
        engagement=alpha.engagement,
        role=PartnerRole.TECHNOLOGY,
        contract_start=start,
        contract_end=start + 90 * DAY,
    )
    later_user = PartnerUserFactory(partner=later.partner)

    _cancel(alpha)

    seen = {
        alpha.admin: {later.pk: (True, "Budget cut"), alpha.engaged.pk: (False, "Budget cut")},
        later_user: {later.pk: (True, "Budget cut"), alpha.engaged.pk: (False, "")},
        alpha.partner_user: {later.pk: (True, ""), alpha.engaged.pk: (False, "Budget cut")},
    }
    for user, expected in seen.items():
        api = _api(user)
        detail = api.get(f"/api/v1/engagements/{alpha.engagement.pk}/").json()["partners"]
        (listed,) = api.get("/api/v1/engagements/").json()["results"]
        for briefs in (detail, listed["partners"]):
            assert {
                brief["id"]: (brief["ended_before_start"], brief["ended_reason"]) for brief in briefs
            } == expected
        for pk in expected:
            contract = api.get(f"/api/v1/engagement-partners/{pk}/").json()
            assert expected[pk] == (contract["ended_before_start"], contract["ended_reason"])


def test_the_api_says_which_contract_the_cancellation_ended_and_which_the_customer_ended_before_it(alpha):
    """Both end that day with an `ended_reason`: only `ended_by_cancellation` tells an integrator that the
    engagement's cancellation ended one, and the customer the other early, before it was cancelled."""
    earlier = EngagementPartnerFactory(
        engagement=alpha.engagement, partner=PartnerFactory(name="Earlier Ltd"), role=PartnerRole.RESELLER
    )
    services.engagement_partner_end(user=alpha.admin, engagement_partner=earlier, reason="In house")

    _cancel(alpha)

    expected = {alpha.engaged.pk: True, earlier.pk: False}
    api = _api(alpha.admin)
    for pk, by_cancellation in expected.items():
        assert (
            api.get(f"/api/v1/engagement-partners/{pk}/").json()["ended_by_cancellation"] is by_cancellation
        )
    listed = api.get("/api/v1/engagement-partners/").json()["results"]
    assert {contract["id"]: contract["ended_by_cancellation"] for contract in listed} == expected
    briefs = api.get(f"/api/v1/engagements/{alpha.engagement.pk}/").json()["partners"]
    assert {brief["id"]: brief["ended_by_cancellation"] for brief in briefs} == expected
    schemas = yaml.safe_load(api.get("/api/v1/schema/").content)["components"]["schemas"]
    for name in ("EngagementPartner", "EngagedPartnerBrief"):
        assert schemas[name]["properties"]["ended_by_cancellation"]["readOnly"] is True
