"""The day a program enrollment or a certification expires ends at midnight, not when the scheduled
refresh of the search entries next runs (every 15 minutes, and never while the worker is down): from the
first search of the next day, Find-a-Partner and the API's partner list neither show nor count it."""

import datetime

import pytest
import time_machine

from partners.models import PartnerSearchEntry
from partners.tests.search_helpers import facet, names, search, total
from tests.factories import ApprovedEnrollmentFactory, CertificationFactory, PartnerFactory, program

pytestmark = pytest.mark.django_db

LAST_DAY = datetime.date(2026, 11, 20)
NOON = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.UTC)
NEXT_MORNING = datetime.datetime(2026, 11, 21, 0, 10, tzinfo=datetime.UTC)


@pytest.fixture
def expiring(db):
    """A partner whose Migration Competency and only certification are valid through LAST_DAY, beside one
    whose enrollment runs on."""
    with time_machine.travel(NOON, tick=False):
        partner = PartnerFactory(name="Zebra Expiring Ltd", slug="zebra")
        ApprovedEnrollmentFactory(
            partner=partner,
            program=program("migration"),
            approved_on=datetime.date(2025, 1, 1),
            expires_on=LAST_DAY,
        )
        CertificationFactory(staff_member__partner=partner, expires_on=LAST_DAY)
        lasting = PartnerFactory(name="Yak Lasting Ltd", slug="yak")
        ApprovedEnrollmentFactory(
            partner=lasting,
            program=program("migration"),
            approved_on=datetime.date(2025, 1, 1),
            expires_on=LAST_DAY + datetime.timedelta(days=365),
        )
    return partner


def test_on_its_last_day_the_program_is_found(client, expiring):
    with time_machine.travel(NOON, tick=False):
        found = search(client, program="migration")
    assert sorted(names(found)) == ["Yak Lasting Ltd", "Zebra Expiring Ltd"]
    assert facet(found, "program")["migration"] == 2


def test_the_next_morning_no_search_finds_or_counts_it(client, expiring):
    with time_machine.travel(NEXT_MORNING, tick=False):
        page = search(client, program="migration")
        everything = search(client)
        in_search_order = client.get("/api/v1/partners/", {"program": "migration"}).json()
        by_name = client.get("/api/v1/partners/", {"program": "migration", "ordering": "name"}).json()

    assert names(page) == ["Yak Lasting Ltd"] and total(page) == 1
    assert facet(page, "program")["migration"] == 1
    assert facet(everything, "program")["migration"] == 1
    assert [row["name"] for row in in_search_order["results"]] == ["Yak Lasting Ltd"]
    assert [row["name"] for row in by_name["results"]] == ["Yak Lasting Ltd"]
    entry = PartnerSearchEntry.objects.get(partner=expiring)
    assert entry.program_ids == [] and entry.active_certifications == 0


def test_a_search_while_nothing_is_due_writes_nothing(client, expiring, django_assert_max_num_queries):
    with time_machine.travel(NEXT_MORNING, tick=False):
        search(client, program="migration")  # brings the entries up to date
        before = list(PartnerSearchEntry.objects.order_by("pk").values_list("pk", "stale_on", "program_ids"))
        with django_assert_max_num_queries(12) as captured:
            search(client, program="migration")
    assert not [query for query in captured.captured_queries if "INSERT" in query["sql"]]
    assert (
        list(PartnerSearchEntry.objects.order_by("pk").values_list("pk", "stale_on", "program_ids")) == before
    )
