"""A TAM named on a plan at the very moment the certification that qualifies them is taken away (deleted in
the admin, or given to somebody else): one of the two is refused, whichever comes first, so no current
subscription designates a TAM who holds no qualifying certification."""

import threading

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from support import selectors, services
from support.models import StaffCertification, SupportSubscription
from tests.factories import support_plan
from tests.locks import in_a_thread, lock_held, sessions_waiting_for_locks, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _designate(alpha, tam):
    return lambda: services.support_subscription_change(
        user=alpha.account_manager, customer=alpha.customer, plan=support_plan("enterprise"), tam=tam
    )


def _take_away(engineer, certification: StaffCertification, how: str):
    """The certification deleted on its page or with the bulk action, or given to somebody else; returns
    the messages the admin showed."""

    def work():
        client = Client()
        client.force_login(engineer)
        if how == "delete":
            url = reverse("admin:support_staffcertification_delete", args=[certification.pk])
            response = client.post(url, {"post": "yes"})
        elif how == "bulk delete":
            response = client.post(
                reverse("admin:support_staffcertification_changelist"),
                {"action": "delete_selected", "_selected_action": [certification.pk], "post": "yes"},
            )
        else:
            url = reverse("admin:support_staffcertification_change", args=[certification.pk])
            data = {
                "user": engineer.pk,
                "track": certification.track,
                "level": certification.level,
                "name": certification.name,
                "credential_id": "",
                "earned_on": certification.earned_on,
                "expires_on": certification.expires_on,
            }
            response = client.post(url, data)
            if response.status_code == 200:
                return [" ".join(response.context["adminform"].form.non_field_errors())]
        return [str(message) for message in get_messages(response.wsgi_request)]

    return work


def _designated_without_qualification() -> list[SupportSubscription]:
    return [
        subscription
        for subscription in SupportSubscription.objects.filter(ended_at__isnull=True, tam__isnull=False)
        if selectors.tam_problem(subscription.tam)
    ]


@pytest.mark.parametrize("how", ["delete", "bulk delete", "give to somebody else"])
def test_a_certification_taken_while_its_holder_is_named_waits_and_is_refused(
    alpha, tam, engineer, monkeypatch, how
):
    certification = StaffCertification.objects.get(user=tam)
    # The naming has checked the TAM and saved the new subscription; it pauses before committing.
    saved, go_on = threading.Event(), threading.Event()
    follow = services._customer_tams_follow

    def follow_after_a_pause(customer_ids, now, **kwargs):
        saved.set()
        go_on.wait(20)
        return follow(customer_ids, now, **kwargs)

    monkeypatch.setattr(services, "_customer_tams_follow", follow_after_a_pause)
    outcome = {}
    naming = in_a_thread(outcome, "naming", _designate(alpha, tam))
    assert saved.wait(20)
    taking = in_a_thread(outcome, "taking", _take_away(engineer, certification, how))
    # The certification's holder is locked until the naming commits.
    wait_for(lambda: "taking" in outcome or "taking error" in outcome or sessions_waiting_for_locks() == 1)
    go_on.set()
    naming.join(timeout=30)
    taking.join(timeout=30)

    assert "naming error" not in outcome and "taking error" not in outcome, outcome
    assert SupportSubscription.objects.get(pk=outcome["naming"].pk).tam == tam
    assert StaffCertification.objects.get(pk=certification.pk).user == tam
    assert any("name another TAM first" in message for message in outcome["taking"]), outcome
    assert _designated_without_qualification() == []


@pytest.mark.parametrize("how", ["delete", "give to somebody else"])
def test_a_tam_named_as_their_certification_is_taken_is_refused(alpha, tam, engineer, how):
    certification = StaffCertification.objects.get(user=tam)
    outcome = {}
    # The naming has checked the TAM and waits for the customer, which another change of its plan holds.
    with lock_held(
        f"SELECT 1 FROM {alpha.customer._meta.db_table} WHERE id = %s FOR UPDATE", [alpha.customer.pk]
    ):
        naming = in_a_thread(outcome, "naming", _designate(alpha, tam))
        wait_for(lambda: sessions_waiting_for_locks() == 1)
        taken = _take_away(engineer, certification, how)()
        assert not any("name another TAM first" in message for message in taken), taken
    naming.join(timeout=30)

    assert "naming" not in outcome, outcome
    assert "holds no current Solutions Architect certification" in outcome["naming error"]
    assert not SupportSubscription.objects.filter(customer=alpha.customer).exists()
    assert _designated_without_qualification() == []
