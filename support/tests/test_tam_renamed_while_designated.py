"""A TAM's username changed while their customer's Account Manager changes its plan naming them: the rename
updates the customers naming the TAM, the plan's change locks the customer and then the TAM, so the rename
takes those customers first too, and the two wait on each other rather than deadlock."""

import threading

import pytest
from django.db import transaction

import engagements.signals
from apn_portal.accounts.models import User
from engagements.models import Customer
from support import services
from tests.factories import support_plan
from tests.locks import in_a_thread, sessions_waiting_for_locks, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_renaming_a_tam_while_their_customers_plan_changes_waits_rather_than_deadlocks(
    alpha, tam, monkeypatch
):
    services.support_subscription_change(
        user=alpha.account_manager, customer=alpha.customer, plan=support_plan("enterprise"), tam=tam
    )
    assert Customer.objects.get(pk=alpha.customer.pk).tam_id == tam.pk
    # The rename is held once it has written the user's row, just before it updates the customers.
    user_written, go_on = threading.Event(), threading.Event()
    real_customers = engagements.signals.Customer

    class HeldCustomers:
        class objects:
            @staticmethod
            def filter(*args, **kwargs):
                user_written.set()
                go_on.wait(20)
                return real_customers.objects.filter(*args, **kwargs)

    monkeypatch.setattr(engagements.signals, "Customer", HeldCustomers)

    def rename():
        with transaction.atomic():
            user = User.objects.get(pk=tam.pk)
            user.username = "tam-tara-renamed"
            user.save()
        return "renamed"

    def put_an_account_on_enterprise_with_the_same_tam():
        services.support_subscription_change(
            user=alpha.account_manager,
            customer=alpha.customer,
            account=alpha.account,
            plan=support_plan("enterprise"),
            tam=tam,
        )
        return "changed"

    outcome = {}
    renaming = in_a_thread(outcome, "rename", rename)
    assert user_written.wait(20)
    changing = in_a_thread(outcome, "plan", put_an_account_on_enterprise_with_the_same_tam)
    wait_for(lambda: sessions_waiting_for_locks() == 1)
    go_on.set()
    renaming.join(timeout=30)
    changing.join(timeout=30)

    assert outcome == {"rename": "renamed", "plan": "changed"}
    assert User.objects.get(pk=tam.pk).username == "tam-tara-renamed"
