"""The front page's counts are cached for a minute: a search that runs while a change is being saved reads
the partners as they were and caches that, so the cache is dropped again once the change commits."""

import pytest
from django.db import transaction
from django.test import Client

from partners.tests.search_helpers import search, total
from tests.factories import PartnerFactory
from tests.locks import in_a_thread

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_search_while_a_partner_is_unpublished_leaves_no_old_count_after_the_change(client):
    PartnerFactory(name="Acme Cloud")
    PartnerFactory(name="Globex Systems")
    leaving = PartnerFactory(name="Initech")
    assert total(search(client)) == 3
    outcome = {}

    with transaction.atomic():
        leaving.is_published = False
        leaving.save()
        in_a_thread(outcome, "meanwhile", lambda: total(search(Client()))).join()

    assert outcome == {"meanwhile": 3}  # the change was not in yet
    assert total(search(client)) == 2
