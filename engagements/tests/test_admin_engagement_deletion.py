"""An engagement a superuser deletes in the admin (one no partner is on yet: a partner's place in it is
protected) goes with its stage history, listed in the deletion's summary, rather than being refused with
Django's "your account doesn't have permission to delete ... engagement stage event": every engagement has
one from its start, and none is deleted on its own."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from engagements.models import Engagement, EngagementStageEvent
from engagements.services import engagement_create
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db

ENGAGEMENTS = reverse("admin:engagements_engagement_changelist")
DENIED = "your account doesn&#x27;t have permission to delete"


@pytest.fixture
def superuser(client):
    user = SuperUserFactory()
    client.force_login(user)
    return user


def started_engagement(title):
    am = AccountManagerFactory()
    customer = CustomerFactory(account_manager=am)
    return engagement_create(user=am, customer=customer, title=title, workload="WordPress site")


def test_deleting_an_engagement_on_its_page_lists_and_takes_its_stage_history(client, superuser):
    engagement = started_engagement("Mistyped migration")
    delete_url = reverse("admin:engagements_engagement_delete", args=[engagement.pk])

    confirm = client.get(delete_url)
    assert confirm.status_code == 200
    assertNotContains(confirm, DENIED)
    assertContains(confirm, "Engagement stage events: 1")

    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Engagement.objects.filter(pk=engagement.pk).exists()
    assert not EngagementStageEvent.objects.filter(engagement_id=engagement.pk).exists()


def test_bulk_deleting_engagements_lists_and_takes_their_stage_history(client, superuser):
    first = started_engagement("First mistake")
    second = started_engagement("Second mistake")
    selection = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [first.pk, second.pk]}

    confirm = client.post(ENGAGEMENTS, selection)
    assert confirm.status_code == 200
    assertNotContains(confirm, DENIED)
    assertContains(confirm, "Engagement stage events: 2")

    assert client.post(ENGAGEMENTS, {**selection, "post": "yes"}).status_code == 302
    assert not Engagement.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert not EngagementStageEvent.objects.filter(engagement_id__in=[first.pk, second.pk]).exists()


def test_a_stage_event_is_still_not_deleted_on_its_own(client, superuser):
    event = EngagementStageEvent.objects.get(engagement=started_engagement("Kept"))

    assert (
        client.get(reverse("admin:engagements_engagementstageevent_delete", args=[event.pk])).status_code
        == 403
    )
    client.post(
        reverse("admin:engagements_engagementstageevent_changelist"),
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [event.pk], "post": "yes"},
    )
    assert EngagementStageEvent.objects.filter(pk=event.pk).exists()


def test_deleting_an_engagement_a_partner_is_on_says_to_cancel_it_instead(client, superuser):
    # The partner's place on it is its contract (PROTECT): Django's bare "protected related objects" page
    # listed it and said neither why nor what to do.
    engagement = started_engagement("Running migration")
    EngagementPartnerFactory(engagement=engagement, partner=PartnerFactory(name="Lead Consulting"))

    response = client.post(
        reverse("admin:engagements_engagement_delete", args=[engagement.pk]), {"post": "yes"}, follow=True
    )

    assert [str(message) for message in response.context["messages"]] == [
        f"Not deleted: Running migration ({engagement.customer}) has 1 partner on it (Lead Consulting), "
        "whose contracts are kept with it: cancel the engagement instead (Start, hold, resume or cancel, "
        "with a reason)."
    ]
    assert Engagement.objects.filter(pk=engagement.pk).exists()
