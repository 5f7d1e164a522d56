"""The signed-in pages: each kind of user sees its own organisation's records and nothing of another's,
revoking is confirmed and recorded, and every list costs the same number of queries however long."""

import datetime
import re

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apn_portal.outbox.models import OutboxMessage
from engagements import services
from engagements.choices import TeamRole
from engagements.models import AccessGrant, Engagement
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    AwsAccountFactory,
    ContactRequestFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
)
from tests.textarea import as_the_browser_sends, typed_in_paragraphs

pytestmark = pytest.mark.django_db


def page(client, user, name, *args):
    client.force_login(user)
    return client.get(reverse(f"engagements:{name}", args=args))


def text(response) -> str:
    return response.content.decode()


def assert_shows_none_of(response, other):
    body = text(response)
    for marker in (
        other.customer.name,
        other.management.account_id,
        other.member.account_id,
        other.engagement.title,
        other.grant.role_arn,
        other.partner.name,
    ):
        assert marker not in body, f"{marker!r} leaked"


# Isolation --------------------------------------------------------------------------------------------


def test_customer_sees_own_organisation_tree_engagements_and_access_only(client, alpha, bravo):
    response = page(client, alpha.staff, "organisation")
    assert response.status_code == 200
    body = text(response)
    assert "Alpha Customer" in body and alpha.management.account_id in body
    # The member account is nested under its management account.
    assert body.index(alpha.management.account_id) < body.index(alpha.member.account_id)
    assert "consolidated billing" in body
    assert_shows_none_of(response, bravo)

    for name in ("engagement-list", "access"):
        response = page(client, alpha.staff, name)
        assert response.status_code == 200
        assert alpha.engagement.title in text(response)
        assert_shows_none_of(response, bravo)
    assert alpha.grant.role_arn in text(page(client, alpha.staff, "access"))

    assert page(client, alpha.staff, "engagement-detail", bravo.engagement.pk).status_code == 404
    assert page(client, alpha.admin, "access-revoke", bravo.grant.pk).status_code == 404


def test_partner_sees_its_engagements_and_the_access_it_holds_only(client, alpha, bravo):
    for name in ("engagement-list", "grants"):
        response = page(client, alpha.partner_user, name)
        assert response.status_code == 200
        assert alpha.engagement.title in text(response)
        assert_shows_none_of(response, bravo)
    assert alpha.grant.role_arn in text(page(client, alpha.partner_user, "grants"))
    detail = page(client, alpha.partner_user, "engagement-detail", alpha.engagement.pk)
    assert detail.status_code == 200 and alpha.grant.role_arn in text(detail)
    assert page(client, alpha.partner_user, "engagement-detail", bravo.engagement.pk).status_code == 404
    # Customer pages are not a partner's.
    for name in ("organisation", "access", "customers"):
        assert page(client, alpha.partner_user, name).status_code == 403
    assert page(client, alpha.partner_user, "access-revoke", alpha.grant.pk).status_code == 403


def test_a_partner_sees_only_its_own_grants_on_a_shared_engagement(client, alpha):
    rival = EngagementPartnerFactory(
        engagement=alpha.engagement, partner=PartnerFactory(name="Rival Ltd"), role="managed_service"
    )
    rival_grant = AccessGrantFactory(engagement_partner=rival, account=alpha.management, role_name="RivalOps")
    detail = text(page(client, alpha.partner_user, "engagement-detail", alpha.engagement.pk))
    assert alpha.grant.role_arn in detail and rival_grant.role_arn not in detail
    # The customer sees both.
    detail = text(page(client, alpha.staff, "engagement-detail", alpha.engagement.pk))
    assert alpha.grant.role_arn in detail and rival_grant.role_arn in detail


def test_a_new_engagements_journey_starts_where_the_workload_is(client, alpha):
    detail = text(page(client, alpha.staff, "engagement-detail", alpha.engagement.pk))

    current = re.search(r'<li class="journey__step is-current" aria-current="step">(.*?)</li>', detail, re.S)
    assert "Workload on premises" in current.group(1) and "where it started" in current.group(1)
    assert detail.count("not yet") == 4  # the four steps ahead


def test_only_the_partner_the_lead_was_sent_to_sees_its_reference(client, alpha):
    lead = ContactRequestFactory(partner=alpha.partner)
    Engagement.objects.filter(pk=alpha.engagement.pk).update(contact_request=lead)
    vendor = PartnerFactory(name="Tech Vendor", partner_type="technology")
    EngagementPartnerFactory(engagement=alpha.engagement, partner=vendor, role="technology")

    own = text(page(client, alpha.partner_user, "engagement-detail", alpha.engagement.pk))
    other = page(client, PartnerUserFactory(partner=vendor), "engagement-detail", alpha.engagement.pk)

    assert f"<dd>{lead.reference}</dd>" in own
    assert other.status_code == 200 and alpha.engagement.title in text(other)
    assert lead.reference not in text(other)


def test_account_manager_sees_assigned_customers_only(client, alpha, bravo):
    response = page(client, alpha.account_manager, "customers")
    assert response.status_code == 200
    assert "Alpha Customer" in text(response) and "Bravo Customer" not in text(response)
    detail = page(client, alpha.account_manager, "customer-detail", alpha.customer.slug)
    assert detail.status_code == 200 and alpha.grant.role_arn in text(detail)
    assert_shows_none_of(detail, bravo)
    assert page(client, alpha.account_manager, "customer-detail", bravo.customer.slug).status_code == 404
    response = page(client, alpha.account_manager, "engagement-list")
    assert alpha.engagement.title in text(response)
    assert_shows_none_of(response, bravo)
    assert page(client, alpha.account_manager, "engagement-detail", bravo.engagement.pk).status_code == 404


def test_a_customer_without_access_administrators_tells_staff_how_to_name_one(client, alpha):
    """Its Account Manager names them on the customer's admin page; the customer's own people ask them."""
    alpha.customer.access_administrators.clear()

    detail = text(page(client, alpha.account_manager, "customer-detail", alpha.customer.slug))
    own = text(page(client, alpha.staff, "organisation"))

    admin_page = reverse("admin:engagements_customer_change", args=[alpha.customer.pk])
    assert "ask your Account Manager" not in detail
    assert "Nobody yet: name one on " in detail and f'href="{admin_page}"' in detail
    assert "Nobody yet: ask your Account Manager to name one." in own and admin_page not in own
    client.force_login(alpha.account_manager)
    assert 'name="access_administrators"' in text(client.get(admin_page))


def test_staff_who_cannot_name_access_administrators_are_told_who_can(client, alpha):
    """On one of its engagement teams, not assigned to the customer: they see its page, not its admin."""
    seated = AccountManagerFactory(username="seated")
    services.team_member_add(
        user=alpha.account_manager, engagement=alpha.engagement, role=TeamRole.ACCOUNT_MANAGER, member=seated
    )
    alpha.customer.access_administrators.clear()

    detail = text(page(client, seated, "customer-detail", alpha.customer.slug))

    assert "ask your Account Manager" not in detail
    assert "Nobody yet: its Account Manager names them." in detail


def test_a_replaced_partner_no_longer_sees_the_engagement(client, alpha):
    from engagements.services import engagement_partner_replace

    engagement_partner_replace(
        user=alpha.admin,
        engagement_partner=alpha.engaged,
        new_partner=PartnerFactory(),
        reason="Contract lost",
        contract_end=timezone.localdate() + datetime.timedelta(days=90),
    )
    assert page(client, alpha.partner_user, "engagement-detail", alpha.engagement.pk).status_code == 404
    held = text(page(client, alpha.partner_user, "grants"))
    assert "Revoked" in held and "Contract ended: Contract lost" in held


def test_pages_need_signing_in(client, alpha):
    for name, args in (("organisation", ()), ("engagement-list", ()), ("access-revoke", (alpha.grant.pk,))):
        response = client.get(reverse(f"engagements:{name}", args=args))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# Revoking and granting --------------------------------------------------------------------------------


def test_a_revoked_grant_reads_as_lasting_until_it_was_revoked_not_until_its_planned_end(client, alpha):
    client.force_login(alpha.admin)
    client.post(reverse("engagements:access-revoke", args=[alpha.grant.pk]), {"reason": "Project paused"})
    revoked = AccessGrant.objects.select_related("account__customer").get(pk=alpha.grant.pk)
    page = client.get(reverse("engagements:access")).content.decode()

    row = next(row for row in page.split("<tr>") if revoked.role_arn in row)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    until = revoked.account.customer.local_time(revoked.revoked_at)
    access_until = re.sub(r"<[^>]+>", " ", cells[5])
    assert f"{until.day} {until:%b %Y, %H:%M %Z}" in access_until
    assert f"planned: {revoked.ends_in_words}" in access_until


def test_revoke_is_confirmed_then_recorded(client, alpha):
    url = reverse("engagements:access-revoke", args=[alpha.grant.pk])
    client.force_login(alpha.admin)
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Revoke Alpha Partners Ltd" in text(confirm) and alpha.grant.role_arn in text(confirm)
    AccessGrant.objects.get(pk=alpha.grant.pk)  # nothing happened on GET
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is None

    no_reason = client.post(url, {"reason": ""})
    assert no_reason.status_code == 400 and "This field is required" in text(no_reason)
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is None

    done = client.post(url, {"reason": "Project paused"})
    assert done.status_code == 303 and done["Location"] == reverse("engagements:access")
    revoked = AccessGrant.objects.get(pk=alpha.grant.pk)
    assert revoked.revoked_by == alpha.admin and revoked.revocation_reason == "Project paused"
    assert "no longer has role AlphaOps" in text(client.get(done["Location"]))
    again = text(client.get(url))  # the address opened once more: said as it now is
    assert "This access was already revoked" in again
    assert "Was to last until" in again and "Would last until" not in again
    # Told as when access runs out: the partner to stop using the role, the customer to remove it.
    revoker = alpha.admin.get_full_name() or alpha.admin.get_username()
    for side, told in (("partner", alpha.partner_user.email), ("customer", alpha.admin.email)):
        email = OutboxMessage.objects.get(dedupe_key=f"grant-revoked:{alpha.grant.pk}:{side}")
        assert told in email.to
        assert f"{revoker} revoked it: Project paused" in " ".join(email.body_text.split())


def test_a_revoke_reason_typed_in_paragraphs_up_to_the_pages_limit_is_taken_as_typed(client, alpha):
    # The page's maxlength counts each line break as one character; the browser sends it as two.
    client.force_login(alpha.admin)
    typed = typed_in_paragraphs(2000)

    response = client.post(
        reverse("engagements:access-revoke", args=[alpha.grant.pk]), {"reason": as_the_browser_sends(typed)}
    )

    assert response.status_code == 303
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revocation_reason == typed


def test_every_ended_grant_can_be_read_a_page_at_a_time_saying_how_many_there_are(client, alpha):
    """A customer checking who had access must reach the oldest ended grant, and be told the list goes on."""
    start = timezone.now() - datetime.timedelta(days=30)
    for n in range(51):  # the first one the oldest to end
        ended_at = start + datetime.timedelta(hours=n)
        AccessGrantFactory(
            engagement_partner=alpha.engaged,
            account=alpha.member,
            role_name=f"Old{n}",
            granted_by=alpha.admin,
            granted_at=ended_at - datetime.timedelta(days=1),
            revoked_at=ended_at,
            revoked_by=alpha.admin,
            revocation_reason="Done",
        )
    AccessGrant.objects.filter(role_name__startswith="Old").update(updated_at=F("revoked_at"))

    def ended_section(query=""):
        client.force_login(alpha.admin)
        body = text(client.get(reverse("engagements:access") + query))
        assert alpha.grant.role_arn in body.split("<h2>Ended access</h2>")[0]  # the live one, on every page
        return body.split("<h2>Ended access</h2>")[1]

    first = ended_section()
    assert "latest first: 1\N{EN DASH}50 of 51" in first.split("<tbody>")[0]
    assert first.count("status--revoked") == 50 and "/Old50<" in first and "/Old0<" not in first
    assert 'href="?page=2"' in first

    second = ended_section("?page=2")
    assert "latest first: 51\N{EN DASH}51 of 51" in second.split("<tbody>")[0]
    assert second.count("status--revoked") == 1 and "/Old0<" in second


def test_customer_staff_without_the_access_role_cannot_revoke_or_grant(client, alpha):
    assert page(client, alpha.staff, "access-revoke", alpha.grant.pk).status_code == 403
    response = client.post(reverse("engagements:access-revoke", args=[alpha.grant.pk]), {"reason": "x"})
    assert response.status_code == 403
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is None
    assert page(client, alpha.staff, "access-grant").status_code == 403


def test_account_manager_revokes_from_the_customer_page(client, alpha):
    client.force_login(alpha.account_manager)
    response = client.post(
        reverse("engagements:access-revoke", args=[alpha.grant.pk]), {"reason": "Incident"}
    )
    assert response.status_code == 303
    assert response["Location"] == reverse("engagements:customer-detail", args=[alpha.customer.slug])
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is not None


def test_grant_form_explains_bad_input_and_grants_good(client, alpha, bravo):
    url = reverse("engagements:access-grant")
    client.force_login(alpha.admin)
    assert client.get(url).status_code == 200
    data = {
        "account": alpha.management.pk,
        "engagement_partner": alpha.engaged.pk,
        "role_arn": f"arn:aws:iam::{alpha.member.account_id}:role/Finance",
        "scope": "billing",
        "mfa_required": "on",
    }
    wrong_account = client.post(url, data)
    assert wrong_account.status_code == 400
    assert f"names account {alpha.member.account_id}, but the grant is on account" in text(wrong_account)
    foreign = client.post(url, {**data, "account": bravo.member.pk})
    assert foreign.status_code == 400 and "Select a valid choice" in text(foreign)
    too_long = client.post(
        url,
        {
            **data,
            "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Finance",
            "expires_on": (alpha.engaged.contract_end + datetime.timedelta(days=1)).isoformat(),
        },
    )
    assert too_long.status_code == 400 and "the grant must expire by then" in text(too_long)
    ok = client.post(url, {**data, "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Finance"})
    assert ok.status_code == 303
    assert AccessGrant.objects.filter(role_name="Finance", account=alpha.management, scope="billing").exists()


def test_stage_advance_from_the_engagement_page(client, alpha, bravo):
    client.force_login(alpha.partner_user)
    response = client.post(
        reverse("engagements:engagement-advance", args=[alpha.engagement.pk]), {"to_stage": "copied"}
    )
    assert response.status_code == 303
    alpha.engagement.refresh_from_db()
    assert alpha.engagement.stage == "copied"
    future = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    refused = client.post(
        reverse("engagements:engagement-advance", args=[alpha.engagement.pk]),
        {"to_stage": "rehosted", "reached_on": future},
    )
    assert refused.status_code == 400 and "not in advance" in text(refused)
    other = client.post(reverse("engagements:engagement-advance", args=[bravo.engagement.pk]), {})
    assert other.status_code == 404


# Query counts -----------------------------------------------------------------------------------------


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def grow(organisation, n):
    """More engagements, partners, accounts and grants for the organisation."""
    for i in range(n):
        engagement = EngagementFactory(customer=organisation.customer)
        engaged = EngagementPartnerFactory(engagement=engagement, partner=organisation.partner)
        account = AwsAccountFactory(
            customer=organisation.customer, management_account=organisation.management
        )
        AccessGrantFactory(engagement_partner=engaged, account=account, granted_by=organisation.admin)
        EngagementPartnerFactory(
            engagement=organisation.engagement,
            partner=PartnerFactory(),
            role="managed_service" if i % 2 else "consulting_lead",
        )


@pytest.mark.parametrize(
    ("who", "name"),
    [
        ("staff", "organisation"),
        ("staff", "engagement-list"),
        ("admin", "access"),
        ("partner_user", "engagement-list"),
        ("partner_user", "grants"),
        ("account_manager", "customers"),
        ("staff", "engagement-detail"),
        ("partner_user", "engagement-detail"),
    ],
)
def test_query_count_does_not_grow_with_the_list(client, alpha, who, name):
    client.force_login(getattr(alpha, who))
    args = [alpha.engagement.pk] if name == "engagement-detail" else []
    url = reverse(f"engagements:{name}", args=args)
    before = count_queries(client, url)
    grow(alpha, 6)
    assert count_queries(client, url) == before


def test_customer_detail_query_count_is_constant(client, alpha):
    client.force_login(alpha.account_manager)
    url = reverse("engagements:customer-detail", args=[alpha.customer.slug])
    before = count_queries(client, url)
    grow(alpha, 6)
    assert count_queries(client, url) == before


def test_a_last_day_of_access_near_the_calendars_end_is_refused_beside_the_field(client, alpha):
    client.force_login(alpha.admin)
    response = client.post(
        "/my/access/grant/",
        {
            "account": alpha.management.pk,
            "engagement_partner": alpha.engaged.pk,
            "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Ops",
            "scope": "operations",
            "expires_on": "9999-12-31",
        },
    )
    assert response.status_code == 400
    assert "no later than" in response.content.decode()


def test_an_engagement_on_hold_offers_no_next_step_until_resumed(client, alpha):
    from engagements.choices import EngagementStatus

    client.force_login(alpha.admin)
    page = reverse("engagements:engagement-detail", args=[alpha.engagement.pk])
    assert "Record the next step" in client.get(page).content.decode()
    alpha.engagement.status = EngagementStatus.ON_HOLD
    alpha.engagement.save()
    assert "Record the next step" not in client.get(page).content.decode()


def test_grant_times_are_shown_in_the_customers_time_zone(client, alpha):
    """20:00 in UTC is already 05:00 the next day in Tokyo: a Tokyo customer reads its own calendar on
    the grants table, the revoke page and the timeline alike."""
    from zoneinfo import ZoneInfo

    alpha.customer.time_zone = "Asia/Tokyo"
    alpha.customer.save()
    evening = timezone.now().astimezone(datetime.UTC).replace(hour=20, minute=0, second=0, microsecond=0)
    granted, expires = evening - datetime.timedelta(days=2), evening + datetime.timedelta(days=10)
    AccessGrant.objects.filter(pk=alpha.grant.pk).update(granted_at=granted, expires_at=expires)
    tokyo = ZoneInfo("Asia/Tokyo")
    granted_there = f"{granted.astimezone(tokyo):%-d %b %Y}"
    expires_there = f"{expires.astimezone(tokyo):%-d %b %Y}, 05:00 JST"
    assert granted_there != f"{granted:%-d %b %Y}"

    detail = text(page(client, alpha.admin, "engagement-detail", alpha.engagement.pk))
    table = detail.split('id="grants-heading"')[1].split('id="timeline-heading"')[0]
    assert f">{granted_there}</time><br>" in table and expires_there in table
    revoke = text(page(client, alpha.admin, "access-revoke", alpha.grant.pk))
    assert f"<dd>{granted_there} by" in revoke and f"<dd>{expires_there}</dd>" in revoke

    AccessGrant.objects.filter(pk=alpha.grant.pk).update(
        revoked_at=granted, revoked_by=alpha.admin, revocation_reason="Ended"
    )
    access = text(page(client, alpha.admin, "access"))
    assert f"{granted_there} by {alpha.admin}: Ended" in access


def test_the_grant_form_offers_only_partners_the_customer_may_grant_access_to(client, alpha):
    """A partner whose contract ended or has not begun, or whose engagement was cancelled, is refused by
    the service: the form does not offer it, and one sent all the same (from a page shown before it
    stopped being offered) is refused in the service's words beside the field."""
    today = alpha.customer.local_today()
    ended = EngagementPartnerFactory(
        engagement=alpha.engagement,
        partner=PartnerFactory(name="Ended Ltd"),
        contract_start=today - datetime.timedelta(days=90),
        contract_end=today - datetime.timedelta(days=1),
    )
    not_begun = EngagementPartnerFactory(
        engagement=alpha.engagement,
        partner=PartnerFactory(name="Later Ltd"),
        contract_start=today + datetime.timedelta(days=10),
    )
    cancelled = EngagementPartnerFactory(
        engagement=EngagementFactory(customer=alpha.customer, status="cancelled"),
        partner=PartnerFactory(name="Cancelled Ltd"),
    )
    client.force_login(alpha.admin)
    form = client.get(reverse("engagements:access-grant")).context["form"]
    offered = list(form.fields["engagement_partner"].queryset)
    assert offered == [alpha.engaged]
    body = text(client.get(reverse("engagements:access-grant")))
    assert "Alpha Partners Ltd" in body
    for name in ("Ended Ltd", "Later Ltd", "Cancelled Ltd"):
        assert name not in body
    refusals = {
        ended: "Ended Ltd's contract runs from",
        not_begun: "Later Ltd's contract runs from",
        cancelled: f"“{cancelled.engagement.title}” was cancelled.",
    }
    for engaged, reason in refusals.items():
        response = client.post(
            reverse("engagements:access-grant"),
            {
                "account": alpha.management.pk,
                "engagement_partner": engaged.pk,
                "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Late",
                "scope": "operations",
            },
        )
        assert response.status_code == 400 and "Select a valid choice" not in text(response)
        [error] = response.context["form"].errors["engagement_partner"]
        assert error.startswith(reason), error
    assert not AccessGrant.objects.filter(role_name="Late").exists()
