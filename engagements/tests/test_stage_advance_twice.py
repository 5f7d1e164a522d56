"""Recording a step of the journey twice (a double click, a resubmitted page, two tabs, the admin's action
sent again) records it once: each form carries the step it offered, and the service refuses one already
taken, in words the person sees."""

import re

import pytest
from django.urls import reverse

from engagements.models import Engagement, EngagementStageEvent

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def stage_of(engagement) -> str:
    return Engagement.objects.get(pk=engagement.pk).stage


def offered_form(client, engagement) -> dict:
    """What the browser sends from the engagement page's "Mark … reached" form, with a note."""
    page = client.get(reverse("engagements:engagement-detail", args=[engagement.pk]))
    assert page.status_code == 200
    offered = re.search(r'<input type="hidden" name="to_stage" value="([^"]*)"', text(page))
    assert offered, "the advance form carries the step it offers"
    return {"to_stage": offered.group(1), "note": "done"}


def advance(client, engagement, data):
    return client.post(reverse("engagements:engagement-advance", args=[engagement.pk]), data)


def test_the_engagement_page_sent_twice_advances_once_and_says_why(client, alpha):
    client.force_login(alpha.staff)
    data = offered_form(client, alpha.engagement)
    assert data["to_stage"] == "copied"

    first = advance(client, alpha.engagement, data)
    assert first.status_code == 303
    again = advance(client, alpha.engagement, data)

    assert again.status_code == 409
    assert "is already past Copy moved to a region" in text(again)
    assert stage_of(alpha.engagement) == "copied"
    assert list(
        EngagementStageEvent.objects.filter(engagement=alpha.engagement).values_list("stage", flat=True)
    ) == ["copied"]
    # The refusal shows the journey as it is, and its form offers the step that now comes next.
    assert 'name="to_stage" value="rehosted"' in text(again)
    assert "Record the next step: Re-hosted" in text(again)


def test_two_people_sending_the_same_step_advance_it_once(client, alpha):
    """The customer's IT and the partner's lead both had the page open on "Copy moved to a region". The
    service locks the engagement's row (select_for_update) before it compares the step, so two submits at
    the same moment queue up exactly as these two do one after the other."""
    partner_client = client.__class__()
    client.force_login(alpha.staff)
    partner_client.force_login(alpha.partner_user)
    customer_data = offered_form(client, alpha.engagement)
    partner_data = offered_form(partner_client, alpha.engagement)

    responses = [
        advance(client, alpha.engagement, customer_data),
        advance(partner_client, alpha.engagement, partner_data),
    ]

    assert sorted(r.status_code for r in responses) == [303, 409]
    assert stage_of(alpha.engagement) == "copied"
    assert list(alpha.engagement.stage_events.values_list("stage", flat=True)) == ["copied"]


def test_a_deliberate_second_step_from_the_refreshed_page_is_recorded(client, alpha):
    client.force_login(alpha.staff)
    assert advance(client, alpha.engagement, offered_form(client, alpha.engagement)).status_code == 303
    assert advance(client, alpha.engagement, offered_form(client, alpha.engagement)).status_code == 303
    assert stage_of(alpha.engagement) == "rehosted"


@pytest.mark.parametrize("to_stage", [None, "", "nowhere", "rehosted", "on_premises"])
def test_a_form_without_the_offered_step_or_with_another_moves_nothing(client, alpha, to_stage):
    client.force_login(alpha.staff)
    data = {"note": "done"} if to_stage is None else {"to_stage": to_stage, "note": "done"}

    response = advance(client, alpha.engagement, data)

    assert response.status_code in (400, 409)
    assert stage_of(alpha.engagement) == "on_premises"
    assert 'name="to_stage" value="copied"' in text(response)


def test_another_customers_engagement_stays_out_of_reach(client, alpha, bravo):
    client.force_login(alpha.staff)
    response = advance(client, bravo.engagement, {"to_stage": "copied"})
    assert response.status_code == 404
    assert stage_of(bravo.engagement) == "on_premises"


# The admin's action ------------------------------------------------------------------------------------


def changelist():
    return reverse("admin:engagements_engagement_changelist")


def test_the_admin_action_names_the_step_then_advances_once_however_often_it_is_sent(client, alpha):
    client.force_login(alpha.account_manager)
    selected = {"action": "advance_stage", "_selected_action": [alpha.engagement.pk]}

    asks = client.post(changelist(), selected)
    assert asks.status_code == 200
    assert "Workload on premises → Copy moved to a region" in text(asks)
    assert stage_of(alpha.engagement) == "on_premises"

    confirmed = {**selected, "apply": "1", "targets": [f"{alpha.engagement.pk}:copied"]}
    done = client.post(changelist(), confirmed, follow=True)
    assert "Advanced 1: Alpha Migration." in text(done)
    again = client.post(changelist(), confirmed, follow=True)

    assert "Alpha Migration: “Alpha Migration” is already past Copy moved to a region." in text(again)
    assert stage_of(alpha.engagement) == "copied"
    assert list(alpha.engagement.stage_events.values_list("stage", flat=True)) == ["copied"]


def test_the_admin_action_still_reports_the_services_refusals(client, alpha):
    client.force_login(alpha.account_manager)
    Engagement.objects.filter(pk=alpha.engagement.pk).update(status="on_hold")
    response = client.post(
        changelist(),
        {
            "action": "advance_stage",
            "_selected_action": [alpha.engagement.pk],
            "apply": "1",
            "targets": [f"{alpha.engagement.pk}:copied"],
        },
        follow=True,
    )
    assert "is on hold; resume it before advancing" in text(response)
    assert stage_of(alpha.engagement) == "on_premises"


@pytest.mark.parametrize("target", ["{bravo}:copied", "{alpha}:nowhere", "junk", "{alpha}"])
def test_the_admin_action_advances_only_what_it_listed(client, alpha, bravo, target):
    client.force_login(alpha.account_manager)
    response = client.post(
        changelist(),
        {
            "action": "advance_stage",
            "_selected_action": [alpha.engagement.pk],
            "apply": "1",
            "targets": [target.format(alpha=alpha.engagement.pk, bravo=bravo.engagement.pk)],
        },
    )
    assert response.status_code == 200  # the confirmation again, with what is wrong
    assert "Select a valid choice" in text(response)
    assert stage_of(alpha.engagement) == "on_premises"
    assert stage_of(bravo.engagement) == "on_premises"


def test_the_admin_action_on_engagements_at_the_last_step_says_so(client, alpha):
    client.force_login(alpha.account_manager)
    Engagement.objects.filter(pk=alpha.engagement.pk).update(stage="operated")
    response = client.post(
        changelist(), {"action": "advance_stage", "_selected_action": [alpha.engagement.pk]}, follow=True
    )
    assert "The selected engagements have all reached the last step." in text(response)


def test_an_engagement_deleted_meanwhile_is_refused_as_gone_not_a_crash(alpha):
    from apn_portal.exceptions import GoneError
    from engagements.services import engagement_stage_advance
    from tests.factories import EngagementFactory, SuperUserFactory

    engagement = EngagementFactory(customer=alpha.customer)  # no partner on it yet: it may be deleted
    Engagement.objects.filter(pk=engagement.pk).delete()  # in the admin, by a colleague

    with pytest.raises(GoneError, match="This engagement no longer exists"):
        engagement_stage_advance(user=SuperUserFactory(), engagement=engagement, note="done")
