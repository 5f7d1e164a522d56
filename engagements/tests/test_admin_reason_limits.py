"""The admin takes an engagement's status reason as long as the API takes it (REASON_MAX_LENGTH, a line
break typed counting as one character), no longer."""

import pytest
from django.urls import reverse

from apn_portal.forms import REASON_MAX_LENGTH
from engagements.models import Engagement
from tests.factories import EngagementFactory, SuperUserFactory
from tests.textarea import as_the_browser_sends, typed_in_paragraphs

pytestmark = pytest.mark.django_db


def test_a_status_change_takes_a_reason_up_to_the_apis_limit(client):
    client.force_login(SuperUserFactory())
    engagement = EngagementFactory()
    url = reverse("admin:engagements_engagement_changelist")
    data = {"action": "change_status", "_selected_action": [engagement.pk], "apply": "1", "status": "on_hold"}

    refused = client.post(url, {**data, "reason": "x" * (REASON_MAX_LENGTH + 1)})

    assert refused.status_code == 200
    text = refused.content.decode()
    limit, sent = f"{REASON_MAX_LENGTH:,}", f"{REASON_MAX_LENGTH + 1:,}"  # as the admin shows numbers
    assert f"Ensure this value has at most {limit} characters (it has {sent})." in text
    assert f'maxlength="{REASON_MAX_LENGTH}"' in text
    assert Engagement.objects.get(pk=engagement.pk).status == "active"

    typed = typed_in_paragraphs(REASON_MAX_LENGTH)
    done = client.post(url, {**data, "reason": as_the_browser_sends(typed)})
    assert done.status_code == 302
    assert Engagement.objects.get(pk=engagement.pk).status == "on_hold"
