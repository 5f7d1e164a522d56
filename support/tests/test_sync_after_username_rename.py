"""A person's new username reaches integrators who sync cases on `updated_since`: a case whose replies name
them by it counts as changed, so the sync reads its replies again, with the new name."""

import pytest
from django.utils import timezone

from support import services
from support.tests.test_api import api, open_case
from tests.factories import SupportEngineerFactory, SupportSubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def business(alpha, bravo):
    for org in (alpha, bravo):
        SupportSubscriptionFactory(customer=org.customer, plan="business")


def test_a_reply_authors_new_username_reaches_a_sync_of_cases(alpha, bravo, engineer):
    case = open_case(alpha.staff, alpha.account)
    services.support_case_reply(user=engineer, case=case, body="Looking at it.")  # the first responder
    colleague = SupportEngineerFactory(username="engineer-eve")
    services.support_case_reply(user=colleague, case=case, body="Found it: a full disk.")
    other = open_case(bravo.staff, bravo.account)
    services.support_case_reply(user=engineer, case=other, body="Looking at it.")
    client = api(engineer)  # sees every customer's cases
    since = timezone.now()

    colleague.username = "engineer-eve-2"
    colleague.save()  # as the user admin saves it

    synced = client.get("/api/v1/support-cases/", {"updated_since": since.isoformat()})
    assert synced.status_code == 200
    assert [row["id"] for row in synced.json()["results"]] == [case.pk]
    replies = client.get(f"/api/v1/support-cases/{case.pk}/replies/").json()["results"]
    assert [reply["author"] for reply in replies] == ["engineer-eli", "engineer-eve-2"]


def test_a_rename_of_somebody_who_wrote_no_reply_moves_no_case(alpha, engineer):
    case = open_case(alpha.staff, alpha.account)
    services.support_case_reply(user=engineer, case=case, body="Looking at it.")
    bystander = SupportEngineerFactory(username="engineer-bob")
    since = timezone.now()

    bystander.username = "engineer-bob-2"
    bystander.save()

    synced = api(alpha.admin).get("/api/v1/support-cases/", {"updated_since": since.isoformat()})
    assert synced.json()["results"] == []
