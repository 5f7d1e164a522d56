"""Search entries while partners change: a refresh that waited for a change to commit writes the entry as
the change left it, never as it read it before; and a search never waits for a change still running (a
scheduled check's long transaction), whose own refresh brings the entry up to date when it commits."""

import datetime
import threading

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from partners.models import Partner, PartnerSearchEntry
from partners.search_index import partner_search_refresh, partner_search_refresh_due
from partners.services import partners_set_published
from tests.factories import ApprovedEnrollmentFactory, PartnerFactory, PdmFactory, program
from tests.locks import in_a_thread, sessions_waiting_for_locks, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def due_today():
    """A published partner whose entry goes stale today (its enrollment's last day was yesterday), and
    its PDM."""
    today, pdm = timezone.localdate(), PdmFactory()
    partner = PartnerFactory(name="Zebra Consulting", slug="zebra", pdm=pdm)
    ApprovedEnrollmentFactory(
        partner=partner,
        program=program("migration"),
        approved_on=today - datetime.timedelta(days=300),
        expires_on=today - datetime.timedelta(days=1),
    )
    partner_search_refresh([partner.pk], today=today - datetime.timedelta(days=1))  # as written yesterday
    assert PartnerSearchEntry.objects.get(partner=partner).stale_on == today
    return partner, pdm


def _unpublished_meanwhile(partner, pdm, meanwhile):
    """The PDM unpublishes the partner; before its transaction commits, `meanwhile` starts in another
    session (until it waits on a lock, or ends). Returns what `meanwhile` returned or raised."""
    unpublished, commit = threading.Event(), threading.Event()
    outcome = {}

    def unpublish():
        with transaction.atomic():
            partners_set_published(partners=[Partner.objects.get(pk=partner.pk)], published=False, user=pdm)
            unpublished.set()
            assert commit.wait(30)

    writer = in_a_thread(outcome, "pdm", unpublish)
    assert unpublished.wait(30)
    other = in_a_thread(outcome, "meanwhile", meanwhile)
    wait_for(lambda: not other.is_alive() or sessions_waiting_for_locks() == 1)
    finished_first = not other.is_alive()
    commit.set()
    writer.join(30)
    other.join(30)
    assert "pdm error" not in outcome, outcome
    return finished_first, outcome.get("meanwhile", outcome.get("meanwhile error"))


def test_the_scheduled_refresh_waiting_for_an_unpublishing_writes_the_entry_unpublished(due_today):
    partner, pdm = due_today

    _, written = _unpublished_meanwhile(partner, pdm, partner_search_refresh_due)

    # The refresh waited for the change, then found the entry written by it, and nothing left to do.
    assert written == 0
    entry = PartnerSearchEntry.objects.get(partner=partner)
    assert (entry.is_published, entry.stale_on) == (False, None)
    assert Client().get("/api/v1/partners/", {"q": "Zebra"}).json()["count"] == 0


@pytest.mark.parametrize("path", ["/partners/", "/api/v1/partners/"])
def test_a_search_does_not_wait_for_a_change_still_running_and_then_shows_it(due_today, path):
    partner, pdm = due_today

    finished_first, status = _unpublished_meanwhile(partner, pdm, lambda: Client().get(path).status_code)

    assert (finished_first, status) == (True, 200)
    entry = PartnerSearchEntry.objects.get(partner=partner)
    assert (entry.is_published, entry.stale_on) == (False, None)
    assert Client().get("/partners/", {"q": "Zebra"}).context["page"].total == 0
