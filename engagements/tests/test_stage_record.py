"""What the engagement page's "Record the next step" form keeps and says: the note shows on the journey
for everyone on the engagement, a date is one the portal can reason about, and a date not yet reached
says whose day it is."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from engagements.models import EngagementStageEvent
from tests.api.conftest import api_client

pytestmark = pytest.mark.django_db


def advance(client, engagement, **fields):
    data = {"to_stage": "copied", "reached_on": "", "note": "", **fields}
    return client.post(reverse("engagements:engagement-advance", args=[engagement.pk]), data)


def page_text(response) -> str:
    return " ".join(response.content.decode().split())


def test_the_note_recorded_with_a_step_shows_on_the_journey_for_the_customer_and_the_partner(client, alpha):
    alpha.partner_user.first_name, alpha.partner_user.last_name = "Ada", "Byron"
    alpha.partner_user.save()
    client.force_login(alpha.partner_user)
    assert advance(client, alpha.engagement, note="Copied the VM image to eu-west-1").status_code == 303

    for user in (alpha.partner_user, alpha.staff):
        client.force_login(user)
        page = page_text(client.get(reverse("engagements:engagement-detail", args=[alpha.engagement.pk])))
        assert "(recorded by Ada Byron)" in page
        assert '<p class="journey__note">Copied the VM image to eu-west-1</p>' in page


@pytest.mark.parametrize("typed", ["0025-11-28", "1925-11-28"])
def test_a_step_or_a_completion_dated_in_another_century_is_refused(client, alpha, typed):
    client.force_login(alpha.partner_user)

    response = advance(client, alpha.engagement, reached_on=typed)

    assert response.status_code == 400
    assert "Give a date no earlier than" in page_text(response)
    api = api_client(alpha.partner_user)
    url = f"/api/v1/engagements/{alpha.engagement.pk}"
    advanced = api.post(f"{url}/advance/", {"reached_on": typed}, format="json")
    assert advanced.status_code == 400
    assert advanced.json()["reached_on"][0].startswith("Give a date no earlier than")
    completed = api.post(f"{url}/complete/", {"completed_on": typed}, format="json")
    assert completed.status_code == 400 and "completed_on" in completed.json()
    assert not EngagementStageEvent.objects.exists()


def test_a_step_dated_the_partners_today_before_the_customers_says_whose_day_it_is(client, alpha):
    alpha.customer.time_zone = "Pacific/Honolulu"
    alpha.customer.save()
    client.force_login(alpha.partner_user)
    london_morning = datetime.datetime(2026, 11, 30, 8, 0, tzinfo=zoneinfo.ZoneInfo("Europe/London"))

    with time_machine.travel(london_morning, tick=False):
        response = advance(client, alpha.engagement, reached_on="2026-11-30")

    assert response.status_code == 400
    assert (
        "A step is recorded once it is reached, not in advance: it is 29 Nov 2026 for "
        f"{alpha.customer.name} (Pacific/Honolulu)."
    ) in page_text(response)
    assert page_text(response).split("<title>")[1].startswith("Error: ")
