"""A designated TAM stays one while a subscription names them: the user admin refuses to deactivate them,
take their TAM role or make them anything but provider staff until another TAM is named there, else the
customer's Enterprise plan names somebody who cannot sign in and its cases and breach emails go to them."""

import datetime
import threading

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User
from support import services
from support.models import SupportSubscription
from tests.admin_forms import user_change_data
from tests.factories import QualifiedTamFactory, SuperUserFactory, SupportSubscriptionFactory, support_plan
from tests.locks import in_a_thread, sessions_waiting_for_locks, wait_for


@pytest.fixture
def superuser(db):
    return SuperUserFactory(username="root")


@pytest.fixture
def admin(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def _designate(customer, tam, **kwargs):
    return SupportSubscriptionFactory(customer=customer, plan="enterprise", tam=tam, **kwargs)


def _change(client, user: User, **changes):
    return client.post(
        reverse("admin:accounts_user_change", args=[user.pk]), user_change_data(user, **changes)
    )


def _form_errors(response) -> str:
    assert response.status_code == 200, response.status_code
    return " ".join(response.context["adminform"].form.non_field_errors())


def _groups_without_tam(user: User) -> list[int]:
    return [group.pk for group in user.groups.exclude(name=StaffRole.TAM.value)]


@pytest.mark.django_db
def test_deactivating_a_designated_tam_is_refused_naming_the_customer(admin, alpha, tam):
    _designate(alpha.customer, tam)

    response = _change(admin, tam, is_active=False)

    assert _form_errors(response) == (
        f"{tam} is the designated TAM of Alpha Customer's Enterprise plan: name another TAM there first."
    )
    tam.refresh_from_db()
    assert tam.is_active


@pytest.mark.django_db
def test_taking_the_tam_role_from_a_designated_tam_is_refused(admin, alpha, tam):
    _designate(alpha.customer, tam)

    response = _change(admin, tam, groups=_groups_without_tam(tam))

    assert "is the designated TAM of Alpha Customer's Enterprise plan" in _form_errors(response)
    assert tam.groups.filter(name=StaffRole.TAM.value).exists()


@pytest.mark.django_db
def test_a_designated_tam_stays_provider_staff(admin, alpha, tam):
    _designate(alpha.customer, tam)

    response = _change(admin, tam, is_staff=False)

    assert "is the designated TAM of Alpha Customer's Enterprise plan" in _form_errors(response)
    tam.refresh_from_db()
    assert tam.is_staff


@pytest.mark.django_db
def test_every_designation_is_named_an_accounts_and_one_yet_to_start(admin, alpha, bravo, tam):
    _designate(alpha.customer, tam, account=alpha.account)
    _designate(bravo.customer, tam, started_at=timezone.now() + datetime.timedelta(days=3))

    response = _change(admin, tam, is_active=False)

    assert _form_errors(response) == (
        f"{tam} is the designated TAM of the Enterprise plan of Alpha Customer's account "
        f"{alpha.account.account_id}, Bravo Customer's Enterprise plan: name another TAM there first."
    )
    tam.refresh_from_db()
    assert tam.is_active


@pytest.mark.django_db
def test_a_tam_whose_subscription_has_ended_may_be_deactivated(admin, alpha, tam):
    _designate(alpha.customer, tam, ended_at=timezone.now() - datetime.timedelta(days=1))

    response = _change(admin, tam, is_active=False, groups=_groups_without_tam(tam))

    assert response.status_code == 302
    tam.refresh_from_db()
    assert not tam.is_active
    assert not tam.groups.filter(name=StaffRole.TAM.value).exists()


@pytest.mark.django_db
def test_a_tam_nobody_designates_may_be_deactivated(admin, alpha, tam):
    _designate(alpha.customer, QualifiedTamFactory(username="tam-other"))

    response = _change(admin, tam, is_active=False)

    assert response.status_code == 302
    tam.refresh_from_db()
    assert not tam.is_active


@pytest.mark.django_db
def test_a_designated_tam_keeps_being_edited_otherwise(admin, alpha, tam):
    _designate(alpha.customer, tam)

    response = _change(admin, tam, email="tara.new@provider.example")

    assert response.status_code == 302
    tam.refresh_from_db()
    assert tam.email == "tara.new@provider.example"


@pytest.mark.django_db
def test_a_designated_tam_is_not_deleted(admin, alpha, tam):
    # Refused as deactivating them is, from the page and the bulk action (SupportSubscription.tam would
    # protect them too, naming no reason).
    _designate(alpha.customer, tam)

    page = admin.post(reverse("admin:accounts_user_delete", args=[tam.pk]), {"post": "yes"})
    bulk = admin.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [tam.pk], "post": "yes"},
    )

    for response in (page, bulk):
        assert response.status_code == 302
        assert (
            f"Not deleted: {tam} is the designated TAM of Alpha Customer's Enterprise plan: name another "
            "TAM there first."
        ) in [str(message) for message in get_messages(response.wsgi_request)]
    assert User.objects.filter(pk=tam.pk, is_active=True).exists()


@pytest.mark.django_db
def test_odd_user_ids_in_the_change_page_are_no_error(admin):
    response = admin.post(reverse("admin:accounts_user_change", args=["not-a-number"]), {})

    assert response.status_code == 302  # Django's "doesn't exist" back to the list


# At the same moment ----------------------------------------------------------------------------------------


def _deactivate(superuser, tam):
    def work():
        client = Client()
        client.force_login(superuser)
        response = _change(client, tam, is_active=False)
        if response.status_code == 200:
            return [" ".join(response.context["adminform"].form.non_field_errors())]
        return [str(message) for message in get_messages(response.wsgi_request)]

    return work


@pytest.mark.django_db(transaction=True)
def test_a_tam_deactivated_while_being_named_waits_and_is_refused(alpha, tam, superuser, monkeypatch):
    # The naming has checked the TAM and saved the new subscription; it pauses before committing.
    saved, go_on = threading.Event(), threading.Event()
    follow = services._customer_tams_follow

    def follow_after_a_pause(customer_ids, now, **kwargs):
        saved.set()
        go_on.wait(20)
        return follow(customer_ids, now, **kwargs)

    monkeypatch.setattr(services, "_customer_tams_follow", follow_after_a_pause)
    outcome = {}
    naming = in_a_thread(
        outcome,
        "naming",
        lambda: services.support_subscription_change(
            user=alpha.account_manager, customer=alpha.customer, plan=support_plan("enterprise"), tam=tam
        ),
    )
    assert saved.wait(20)
    leaving = in_a_thread(outcome, "leaving", _deactivate(superuser, tam))
    # The TAM's row is locked until the naming commits.
    wait_for(lambda: "leaving" in outcome or "leaving error" in outcome or sessions_waiting_for_locks() == 1)
    go_on.set()
    naming.join(timeout=30)
    leaving.join(timeout=30)

    assert "naming error" not in outcome and "leaving error" not in outcome, outcome
    assert SupportSubscription.objects.get(pk=outcome["naming"].pk).tam == tam
    assert any("name another TAM there first" in message for message in outcome["leaving"]), outcome
    assert User.objects.get(pk=tam.pk).is_active


@pytest.mark.django_db(transaction=True)
def test_a_tam_named_while_being_deactivated_is_refused(alpha, tam, superuser, monkeypatch):
    # The deactivation has been judged and saved; it pauses before committing.
    from apn_portal.accounts.admin import UserAdmin

    saved, go_on = threading.Event(), threading.Event()
    save_model = UserAdmin.save_model

    def save_then_pause(self, request, obj, form, change):
        save_model(self, request, obj, form, change)
        saved.set()
        go_on.wait(20)

    monkeypatch.setattr(UserAdmin, "save_model", save_then_pause)
    outcome = {}
    leaving = in_a_thread(outcome, "leaving", _deactivate(superuser, tam))
    assert saved.wait(20)
    naming = in_a_thread(
        outcome,
        "naming",
        lambda: services.support_subscription_change(
            user=alpha.account_manager, customer=alpha.customer, plan=support_plan("enterprise"), tam=tam
        ),
    )
    wait_for(lambda: "naming" in outcome or "naming error" in outcome or sessions_waiting_for_locks() == 1)
    go_on.set()
    leaving.join(timeout=30)
    naming.join(timeout=30)

    assert "leaving error" not in outcome, outcome
    assert not User.objects.get(pk=tam.pk).is_active
    assert "is not one of the provider's Technical Account Managers" in outcome["naming error"]
    assert not SupportSubscription.objects.filter(customer=alpha.customer).exists()
