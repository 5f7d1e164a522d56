"""A customer ends one partner's contract early without naming a successor: it takes the work in house,
fires the partner, or hands a region to the partner that already runs the other one (which holds that
role on the engagement already, so replacing the old partner with it is refused). The contract's last day
becomes the customer's today, its access ends at once with the reason, and the partner is told; the
other partners' contracts go on."""

import datetime
import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apn_portal.exceptions import ConflictError, DomainError, PermissionDeniedError
from apn_portal.outbox.models import OutboxMessage
from engagements import services
from engagements.models import AccessGrant, Engagement, EngagementPartner
from engagements.selectors import accounts_visible_to, engagements_visible_to
from tests.factories import (
    AccessGrantFactory,
    AwsAccountFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def words(email) -> tuple[str, str]:
    html = unescape(re.sub(r"<[^>]+>", " ", email.body_html))
    return " ".join(email.body_text.split()), " ".join(html.split())


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def regions(alpha):
    """Alpha's work split by region: its partner runs Europe (with an operations grant), Region Two Cloud
    the US, in the same role."""
    alpha.engaged.territory = "Europe"
    alpha.engaged.save()
    us_partner = PartnerFactory(name="Region Two Cloud")
    PartnerUserFactory(partner=us_partner, email="ops@region-two.example")
    PartnerUserFactory(partner=alpha.partner, email="desk@alpha-partners.example")
    us = EngagementPartnerFactory(
        engagement=alpha.engagement, partner=us_partner, role=alpha.engaged.role, territory="US"
    )
    return us


def _end(alpha, reason="Consolidating regions", user=None):
    return services.engagement_partner_end(
        user=user or alpha.admin, engagement_partner=alpha.engaged, reason=reason
    )


# The service ------------------------------------------------------------------------------------------


def test_replacing_by_the_partner_of_the_other_region_is_refused_so_the_customer_ends_the_contract(
    alpha, regions
):
    with pytest.raises(ConflictError, match="already"):
        services.engagement_partner_replace(
            user=alpha.admin,
            engagement_partner=alpha.engaged,
            new_partner=regions.partner,
            reason="Consolidating regions",
            contract_end=timezone.localdate() + 100 * DAY,
        )
    before = Engagement.objects.get(pk=alpha.engagement.pk).updated_at

    ended = _end(alpha)

    today = alpha.customer.local_today()
    ended.refresh_from_db()
    assert ended.contract_end == today and ended.ended_reason == "Consolidating regions"
    assert not ended.ended_before_start and not ended.in_force_on(today)
    assert ended.history.latest().ended_reason == "Consolidating regions"
    grant = AccessGrant.objects.get(pk=alpha.grant.pk)
    assert grant.revoked_by == alpha.admin
    assert grant.revocation_reason == "Contract ended: Consolidating regions"
    assert not accounts_visible_to(alpha.partner_user).exists()
    assert not engagements_visible_to(alpha.partner_user).exists()
    assert engagements_visible_to(regions.partner.users.get()).filter(pk=alpha.engagement.pk).exists()
    assert Engagement.objects.get(pk=alpha.engagement.pk).updated_at > before
    # The US contract goes on, untouched.
    regions.refresh_from_db()
    assert regions.ended_reason == "" and regions.in_force_on(today)

    told = OutboxMessage.objects.get(dedupe_key=f"engagement-partner-ended:{ended.pk}:ended")
    assert told.subject == f"Your contract on {alpha.engagement.title} ended"
    assert "desk@alpha-partners.example" in told.to
    for body in words(told):
        assert "ended: Consolidating regions" in body
        assert (
            f"{alpha.customer.name} ended your contract as consulting lead early, on {today:%-d %b %Y}"
            in body
        )
        assert "to another partner" not in body
    customer_told = OutboxMessage.objects.get(dedupe_key=f"grant-revoked:{grant.pk}:customer")
    assert alpha.admin.email in customer_told.to
    assert not OutboxMessage.objects.filter(dedupe_key__startswith=f"engagement-partner-ended:{regions.pk}")


def test_a_contract_ended_twice_is_refused_saying_it_already_ended(alpha):
    _end(alpha)
    with pytest.raises(ConflictError, match=r"was already ended early: Consolidating regions\."):
        _end(alpha, reason="Again")
    assert EngagementPartner.objects.get(pk=alpha.engaged.pk).ended_reason == "Consolidating regions"


def test_a_contract_ended_early_is_not_then_replaced_the_successor_is_added(alpha):
    _end(alpha)
    with pytest.raises(ConflictError, match="already ended early: add the partner"):
        services.engagement_partner_replace(
            user=alpha.admin,
            engagement_partner=alpha.engaged,
            new_partner=PartnerFactory(),
            reason="Found one",
            contract_end=timezone.localdate() + 100 * DAY,
        )


def test_a_contract_replaced_or_run_out_is_not_ended(alpha):
    today = alpha.customer.local_today()
    ran_out = EngagementPartnerFactory(
        engagement=alpha.engagement, partner=PartnerFactory(), contract_end=today - DAY
    )
    with pytest.raises(ConflictError, match=f"already ended on {today - DAY:%-d %b %Y}"):
        services.engagement_partner_end(user=alpha.admin, engagement_partner=ran_out, reason="Done")
    services.engagement_partner_replace(
        user=alpha.admin,
        engagement_partner=alpha.engaged,
        new_partner=PartnerFactory(),
        reason="Cheaper",
        contract_end=today + 100 * DAY,
    )
    with pytest.raises(ConflictError, match="was already replaced"):
        _end(alpha)


def test_only_the_customers_access_administrators_or_a_superuser_end_a_contract(alpha):
    for user in (alpha.staff, alpha.account_manager, alpha.partner_user):
        with pytest.raises(PermissionDeniedError, match="access administrators can end"):
            _end(alpha, user=user)
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is None
    _end(alpha, user=SuperUserFactory())
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is not None


def test_a_reason_is_required(alpha):
    with pytest.raises(DomainError, match="Say why the contract ends early") as refused:
        _end(alpha, reason="  ")
    assert refused.value.field == "reason"


def test_a_contract_not_started_yet_ends_before_it_starts(alpha):
    PartnerUserFactory(partner=alpha.partner, email="desk@alpha-partners.example")
    start = alpha.customer.local_today() + 10 * DAY
    alpha.engaged.contract_start = start
    alpha.engaged.save()

    ended = _end(alpha, reason="Changed our mind")

    assert ended.ended_before_start and ended.contract_end == start
    told = OutboxMessage.objects.get(dedupe_key=f"engagement-partner-ended:{ended.pk}:ended")
    text, _ = words(told)
    assert f"It was to start on {start:%-d %b %Y}: it will not start." in text


def test_cancelling_the_engagement_the_day_a_contract_was_ended_early_leaves_that_contract_as_it_was(alpha):
    PartnerUserFactory(partner=alpha.partner, email="desk@alpha-partners.example")
    ended = _end(alpha, reason="In house")

    services.engagement_status_change(
        user=alpha.admin, engagement=alpha.engagement, status="cancelled", reason="Budget cut"
    )

    # Its last day is today, still to run out: the cancellation neither rewrites why nor tells it again.
    stored = EngagementPartner.objects.get(pk=ended.pk)
    assert (stored.ended_reason, stored.ended_by_cancellation) == ("In house", False)
    told = OutboxMessage.objects.filter(dedupe_key__startswith=f"engagement-partner-ended:{ended.pk}:")
    assert list(told.values_list("dedupe_key", flat=True)) == [f"engagement-partner-ended:{ended.pk}:ended"]


# The API ----------------------------------------------------------------------------------------------


def test_the_api_ends_a_contract_and_answers_with_it(alpha):
    url = f"/api/v1/engagement-partners/{alpha.engaged.pk}/end/"
    response = _api(alpha.admin).post(url, {"reason": "Taking operations in house"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == alpha.engaged.pk
    assert body["contract_end"] == str(alpha.customer.local_today())
    assert body["ended_reason"] == "Taking operations in house" and body["replaced_by"] is None
    grant = _api(alpha.admin).get(f"/api/v1/access-grants/{alpha.grant.pk}/").json()
    assert grant["state"] == "revoked"

    again = _api(alpha.admin).post(url, {"reason": "Again"}, format="json")
    assert again.status_code == 409 and "already ended early" in str(again.json())


def test_the_api_refuses_a_missing_reason_another_customers_contract_and_a_partner(alpha, bravo):
    url = f"/api/v1/engagement-partners/{alpha.engaged.pk}/end/"
    assert _api(alpha.admin).post(url, {}, format="json").status_code == 400
    assert _api(alpha.admin).post(url, {"reason": "x", "until": "1"}, format="json").status_code == 400
    assert _api(bravo.admin).post(url, {"reason": "x"}, format="json").status_code == 404
    assert _api(alpha.partner_user).post(url, {"reason": "x"}, format="json").status_code == 403
    assert _api(alpha.staff).post(url, {"reason": "x"}, format="json").status_code == 403
    assert EngagementPartner.objects.get(pk=alpha.engaged.pk).ended_reason == ""


def test_the_schema_documents_the_end_action(db):
    import yaml

    schema = yaml.safe_load(APIClient().get("/api/v1/schema/").content)
    operation = schema["paths"]["/api/v1/engagement-partners/{id}/end/"]["post"]
    assert operation["summary"] == "End the contract early"
    assert {"200", "400", "403", "404", "409"} <= set(operation["responses"])
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "reason" in schema["components"]["schemas"][request]["required"]


# The engagement page ----------------------------------------------------------------------------------


def _page(client, alpha):
    return client.get(reverse("engagements:engagement-detail", args=[alpha.engagement.pk]))


def test_the_page_offers_an_access_administrator_to_end_a_running_contract(client, alpha, regions):
    client.force_login(alpha.admin)
    page = _page(client, alpha).content.decode()
    assert page.count("End this contract early") == 2
    assert f'name="contract" value="{alpha.engaged.pk}"' in page
    assert f'name="end-contract-{alpha.engaged.pk}-reason"' in page
    assert "csrfmiddlewaretoken" in page

    client.force_login(alpha.staff)
    assert "End this contract early" not in _page(client, alpha).content.decode()


def test_the_page_ends_the_contract_and_shows_it_ended(client, alpha, regions):
    client.force_login(alpha.admin)
    url = reverse("engagements:engagement-partner-end", args=[alpha.engagement.pk])
    response = client.post(
        url,
        {"contract": alpha.engaged.pk, f"end-contract-{alpha.engaged.pk}-reason": "Consolidating regions"},
    )
    assert response.status_code == 303
    page = client.get(response["Location"]).content.decode()
    assert "has ended, and any access it held under it with it." in page
    assert "Ended early: Consolidating regions" in page
    assert page.count("End this contract early") == 1  # the US contract's
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is not None


def test_the_page_says_a_contract_ended_before_it_started_ended_not_cancelled(client, alpha):
    start = alpha.customer.local_today() + 10 * DAY
    alpha.engaged.contract_start = start
    alpha.engaged.save()
    _end(alpha, reason="Changed our mind")

    client.force_login(alpha.admin)
    page = " ".join(unescape(re.sub(r"<[^>]+>", " ", _page(client, alpha).content.decode())).split())
    # The engagement goes on: the customer ended this contract, nobody cancelled anything.
    assert f"Was to start {start:%-d %b %Y}; ended before it started: Changed our mind" in page
    assert "Alpha Partners Ltd's contract was ended before it started: Changed our mind" in page
    assert "cancelled before it started" not in page


def test_the_page_keeps_bad_input_with_the_message_beside_the_field(client, alpha):
    client.force_login(alpha.admin)
    url = reverse("engagements:engagement-partner-end", args=[alpha.engagement.pk])
    field = f"end-contract-{alpha.engaged.pk}-reason"
    too_long = "Because " + "x" * 3000

    response = client.post(url, {"contract": alpha.engaged.pk, field: too_long})

    assert response.status_code == 400
    page = response.content.decode()
    assert "<title>Error: " in page
    assert too_long in page
    assert re.search(r'class="field__error" id="id_' + field + r'_error">Ensure this value has at most', page)
    assert '<details class="contract-end" open>' in page
    blank = client.post(url, {"contract": alpha.engaged.pk, field: " "})
    assert blank.status_code == 400 and "This field is required." in blank.content.decode()
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is None


def test_the_page_says_so_when_the_contract_ended_meanwhile(client, alpha):
    client.force_login(alpha.admin)
    _end(alpha)
    url = reverse("engagements:engagement-partner-end", args=[alpha.engagement.pk])
    response = client.post(
        url, {"contract": alpha.engaged.pk, f"end-contract-{alpha.engaged.pk}-reason": "x"}
    )
    assert response.status_code == 409
    assert "was already ended early: Consolidating regions." in response.content.decode()


def test_the_page_is_refused_to_staff_and_to_another_customer(client, alpha, bravo):
    url = reverse("engagements:engagement-partner-end", args=[alpha.engagement.pk])
    body = {"contract": alpha.engaged.pk, f"end-contract-{alpha.engaged.pk}-reason": "x"}
    client.force_login(alpha.staff)
    assert client.post(url, body).status_code == 403
    client.force_login(bravo.admin)
    assert client.post(url, body).status_code == 404
    client.force_login(alpha.admin)
    for contract in ("²", "9" * 30, ""):
        assert client.post(url, {**body, "contract": contract}).status_code == 404
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is None


def test_a_partner_granted_an_account_of_its_own_keeps_it_when_another_contract_ends(alpha, regions):
    other = AccessGrantFactory(
        engagement_partner=regions, account=AwsAccountFactory(customer=alpha.customer), granted_by=alpha.admin
    )
    _end(alpha)
    assert AccessGrant.objects.get(pk=other.pk).revoked_at is None
