"""The engagement page's step form posts to an address of its own, where a refused step is shown: reopened
later (from the history, a restored tab) that address is a GET, which leads back to the engagement rather
than to a blank 405, changes nothing and shows nothing of another organisation's."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_the_step_address_reopened_after_a_refusal_leads_to_the_engagement(client, alpha):
    client.force_login(alpha.partner_user)
    url = reverse("engagements:engagement-advance", args=[alpha.engagement.pk])
    future = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    assert client.post(url, {"to_stage": "copied", "reached_on": future}).status_code == 400
    stage = alpha.engagement.stage

    reopened = client.get(url, follow=True)

    assert reopened.status_code == 200
    assert reopened.redirect_chain == [
        (reverse("engagements:engagement-detail", args=[alpha.engagement.pk]), 302)
    ]
    assert alpha.engagement.title in reopened.content.decode()
    alpha.engagement.refresh_from_db()
    assert alpha.engagement.stage == stage


def test_the_step_address_of_another_organisations_engagement_stays_a_404(client, alpha, bravo):
    client.force_login(alpha.partner_user)

    response = client.get(reverse("engagements:engagement-advance", args=[bravo.engagement.pk]), follow=True)

    assert response.status_code == 404
    assert bravo.engagement.title not in response.content.decode()
