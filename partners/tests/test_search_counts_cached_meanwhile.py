"""The front page's counts are cached for a minute: a change (a partner unpublished, or deleted) drops them,
and a search that runs while the change is being saved reads the partners as they were and caches that, so
the cache is dropped again once the change commits."""

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from partners.models import Partner
from partners.tests.search_helpers import facet, search, total
from tests.factories import PartnerFactory, PdmFactory
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


def _delete_in_the_admin(pdm, partner, bulk=False):
    admin = Client()
    admin.force_login(pdm)
    if bulk:
        url, data = (
            reverse("admin:partners_partner_changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [partner.pk],
                "post": "yes",
            },
        )
    else:
        url, data = reverse("admin:partners_partner_delete", args=[partner.pk]), {"post": "yes"}
    response = admin.post(url, data)
    assert response.status_code == 302
    assert not Partner.objects.filter(pk=partner.pk).exists()


@pytest.mark.parametrize("bulk", [False, True], ids=["its page", "the list's bulk delete"])
def test_a_partner_deleted_in_the_admin_is_counted_no_more(client, bulk):
    pdm = PdmFactory()
    PartnerFactory(name="Acme Cloud", pdm=pdm)
    PartnerFactory(name="Globex Systems", pdm=pdm)
    leaving = PartnerFactory(name="Initech", pdm=pdm)
    before = search(client)
    assert (total(before), facet(before, "type")["consulting"]) == (3, 3)

    _delete_in_the_admin(pdm, leaving, bulk)

    after = search(client)
    assert (total(after), facet(after, "type")["consulting"]) == (2, 2)


def test_a_search_while_a_partner_is_deleted_leaves_no_old_count_after_the_deletion(client):
    PartnerFactory(name="Acme Cloud")
    leaving = PartnerFactory(name="Initech")
    assert total(search(client)) == 2
    outcome = {}

    with transaction.atomic():
        leaving.delete()
        in_a_thread(outcome, "meanwhile", lambda: total(search(Client()))).join()

    assert outcome == {"meanwhile": 2}  # the deletion was not in yet
    assert total(search(client)) == 1
