"""One submit of the grant form is one grant: sent again (a double click, Back and resubmit), it shows the
grant it made, not "already holds role …" for a grant the person has just made, and says so when it has
ended meanwhile rather than that the partner can use the role."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from engagements import services
from engagements.models import AccessGrant

pytestmark = pytest.mark.django_db


def grant_form(client) -> dict:
    """What the browser sends from a freshly opened grant page: its hidden token and the person's values."""
    page = client.get(reverse("engagements:access-grant")).content.decode()
    token = re.search(r'name="submission_token" value="([^"]+)"', page)
    assert token, "the grant form carries a submission token"
    return {"submission_token": token.group(1)}


@pytest.mark.parametrize("time_zone", ["UTC", "Europe/Paris"])
def test_the_grant_form_sent_twice_grants_once_and_says_so_both_times(client, alpha, time_zone):
    alpha.customer.time_zone = time_zone
    alpha.customer.save(update_fields=["time_zone"])
    client.force_login(alpha.admin)
    data = {
        **grant_form(client),
        "account": alpha.management.pk,
        "engagement_partner": alpha.engaged.pk,
        "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Finance",
        "scope": "billing",
        "mfa_required": "on",
    }

    first = client.post(reverse("engagements:access-grant"), data, follow=True)
    again = client.post(reverse("engagements:access-grant"), data, follow=True)

    assert AccessGrant.objects.filter(role_name="Finance").count() == 1
    said = []
    for response, words in (
        (first, "can now use role"),
        (again, "This grant was already sent: .* can use role"),
    ):
        assert response.redirect_chain[-1][1] == 303
        said.append(re.search(rf"{words} Finance on account \d+ until ([^<]+)\.", response.content.decode()))
    assert said[0] and said[1]
    # The same end, on the customer's clock both times, as everywhere on the access pages.
    assert said[0].group(1) == said[1].group(1)
    assert said[0].group(1).endswith("(UTC)") == (time_zone == "UTC")

    # Another grant of the role, from another page: the role is held.
    another_page = {**data, **grant_form(client), "scope": "operations"}
    refused = client.post(reverse("engagements:access-grant"), another_page)
    assert refused.status_code == 400
    assert "already holds role Finance" in refused.content.decode()


def test_a_refused_grant_keeps_its_token_so_the_corrected_submit_is_protected_too(client, alpha):
    client.force_login(alpha.admin)
    data = {
        **grant_form(client),
        "account": alpha.management.pk,
        "engagement_partner": alpha.engaged.pk,
        "role_arn": f"arn:aws:iam::{alpha.member.account_id}:role/Finance",  # the wrong account's id
        "scope": "billing",
        "mfa_required": "on",
    }

    refused = client.post(reverse("engagements:access-grant"), data)

    assert refused.status_code == 400
    assert f'name="submission_token" value="{data["submission_token"]}"' in refused.content.decode()
    corrected = {**data, "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Finance"}
    for _ in range(2):
        assert client.post(reverse("engagements:access-grant"), corrected).status_code == 303
    assert AccessGrant.objects.filter(role_name="Finance").count() == 1


def _finance(alpha, page: dict) -> dict:
    return {
        **page,
        "account": alpha.management.pk,
        "engagement_partner": alpha.engaged.pk,
        "role_arn": f"arn:aws:iam::{alpha.management.account_id}:role/Finance",
        "scope": "billing",
        "mfa_required": "on",
    }


def test_back_to_the_grant_form_fetched_afresh_and_sent_again_grants_once(client, alpha):
    # Signed-in pages are never cached: Back fetches the form again, with a new token, and the browser
    # puts back what was chosen and typed. Not "already holds role Finance" for the grant just made.
    client.force_login(alpha.admin)
    first = client.post(reverse("engagements:access-grant"), _finance(alpha, grant_form(client)))

    again = client.post(reverse("engagements:access-grant"), _finance(alpha, grant_form(client)))

    assert first.status_code == again.status_code == 303
    assert AccessGrant.objects.filter(role_name="Finance").count() == 1


def test_the_same_grant_sent_again_from_a_fresh_form_once_revoked_grants_it_anew(client, alpha):
    client.force_login(alpha.admin)
    client.post(reverse("engagements:access-grant"), _finance(alpha, grant_form(client)))
    first = AccessGrant.objects.get(role_name="Finance")
    services.access_grant_revoke(user=alpha.admin, grant=first, reason="Wrong partner, sorted out since")

    again = client.post(reverse("engagements:access-grant"), _finance(alpha, grant_form(client)), follow=True)

    assert "can now use role Finance" in again.content.decode()
    assert AccessGrant.objects.filter(role_name="Finance", revoked_at=None).exclude(pk=first.pk).count() == 1


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_grant_form_sent_again_after_a_colleague_revoked_the_grant_says_it_was_revoked(client, alpha):
    client.force_login(alpha.admin)
    data = _finance(alpha, grant_form(client))
    client.post(reverse("engagements:access-grant"), data, follow=True)
    grant = AccessGrant.objects.get(role_name="Finance")
    services.access_grant_revoke(user=alpha.account_manager, grant=grant, reason="Contract disputed")

    again = client.post(reverse("engagements:access-grant"), data, follow=True)  # a double click, or Back

    grant.refresh_from_db()
    revoked = alpha.customer.local_time(grant.revoked_at)
    assert _messages(again) == [
        f"This grant was already sent, and {alpha.account_manager} has since revoked it "
        f"({revoked:%d %b %Y %H:%M %Z}): Contract disputed. Alpha Partners Ltd no longer has role Finance "
        f"on account {alpha.management.account_id}."
    ]
    assert not AccessGrant.objects.filter(role_name="Finance", revoked_at=None).exists()


def test_the_grant_form_sent_again_after_the_grant_expired_says_it_expired(client, alpha):
    client.force_login(alpha.admin)
    last_day = alpha.customer.local_today() + datetime.timedelta(days=2)
    data = {**_finance(alpha, grant_form(client)), "expires_on": last_day.isoformat()}
    client.post(reverse("engagements:access-grant"), data, follow=True)
    grant = AccessGrant.objects.get(role_name="Finance")
    ended = alpha.customer.local_time(grant.expires_at)

    with time_machine.travel(timezone.now() + datetime.timedelta(days=4)):
        again = client.post(reverse("engagements:access-grant"), data, follow=True)

    assert _messages(again) == [
        "This grant was already sent, and it has since expired, at the end of "
        f"{last_day.day} {last_day:%b %Y} ({ended:%Z}). "
        f"Alpha Partners Ltd no longer has role Finance on account {alpha.management.account_id}."
    ]


def test_access_to_the_end_of_a_day_reads_as_that_day_not_as_the_midnight_after_it(client, alpha):
    """The customer picks 30 Oct as the last day; its end is 00:00 on 31 Oct, which read as a day more."""
    alpha.customer.time_zone = "Europe/Paris"
    alpha.customer.save(update_fields=["time_zone"])
    client.force_login(alpha.admin)
    last_day = alpha.customer.local_today() + datetime.timedelta(days=10)
    data = {**_finance(alpha, grant_form(client)), "expires_on": last_day.isoformat()}

    granted = client.post(reverse("engagements:access-grant"), data, follow=True)

    grant = AccessGrant.objects.get(role_name="Finance")
    zone = alpha.customer.local_time(grant.expires_at).strftime("%Z")  # CET or CEST, as on that day
    chosen = f"{last_day.day} {last_day:%b %Y}"
    midnight_after = (
        f"{(last_day + datetime.timedelta(days=1)).day} {last_day + datetime.timedelta(days=1):%b %Y}"
    )
    assert _messages(granted) == [
        f"Alpha Partners Ltd can now use role Finance on account {alpha.management.account_id} until the end "
        f"of {chosen} ({zone})."
    ]
    table = (
        granted.content.decode()
        .split('<table class="data-table data-table--cards grants">')[1]
        .split("</table>")[0]
    )
    assert f"The end of {chosen} ({zone})" in table
    assert midnight_after not in table
    revoke = client.get(reverse("engagements:access-revoke", args=[grant.pk])).content.decode()
    assert f"<dt>Would last until</dt><dd>The end of {chosen} ({zone})</dd>" in revoke
