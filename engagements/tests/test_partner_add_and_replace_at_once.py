"""Adding a partner and replacing another by that same partner, at the same moment, on one engagement:
one of the two wins, the other is told the partner is already there, and the partner holds the role once."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from apn_portal.exceptions import ConflictError
from engagements import services
from engagements.models import Engagement, EngagementPartner
from tests.factories import (
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
)
from tests.locks import lock_held, sessions_waiting_for_locks, wait_for


@pytest.mark.django_db(transaction=True)
def test_an_add_and_a_replace_bringing_in_one_partner_at_once_give_it_the_role_once():
    customer = CustomerFactory()
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    engaged = EngagementPartnerFactory(engagement=EngagementFactory(customer=customer))
    engagement, role = engaged.engagement, engaged.role
    newcomer = PartnerFactory(name="Newcomer Ltd")
    end = timezone.localdate() + datetime.timedelta(days=365)
    outcomes = {}

    def attempt(name, change):
        try:
            change()
            outcomes[name] = "done"
        except ConflictError as error:
            outcomes[name] = str(error)
        except Exception as error:  # a deadlock, say: reported, not raised in the thread
            outcomes[name] = f"{type(error).__name__}: {error}"
        finally:
            connection.close()

    def add():
        services.engagement_partner_add(
            user=admin,
            engagement=Engagement.objects.get(pk=engagement.pk),
            partner=newcomer,
            role=role,
            contract_start=timezone.localdate(),
            contract_end=end,
        )

    def replace():
        services.engagement_partner_replace(
            user=admin,
            engagement_partner=EngagementPartner.objects.get(pk=engaged.pk),
            new_partner=newcomer,
            reason="Lost the tender",
            contract_end=end,
        )

    # Another session holds the engagement, so both changes have to wait for it and then go together.
    threads = [
        threading.Thread(target=attempt, args=("add", add)),
        threading.Thread(target=attempt, args=("replace", replace)),
    ]
    with lock_held(f"SELECT 1 FROM {Engagement._meta.db_table} WHERE id = %s FOR UPDATE", [engagement.pk]):
        for thread in threads:
            thread.start()
        wait_for(lambda: sessions_waiting_for_locks() == 2)
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["add", "replace"]
    done = [name for name, outcome in outcomes.items() if outcome == "done"]
    refused = [outcome for outcome in outcomes.values() if outcome != "done"]
    assert len(done) == 1, outcomes
    role_name = engaged.get_role_display().lower()
    assert refused == [f"Newcomer Ltd is already {role_name} on “{engagement.title}”."]
    assert EngagementPartner.objects.filter(engagement=engagement, partner=newcomer, role=role).count() == 1
