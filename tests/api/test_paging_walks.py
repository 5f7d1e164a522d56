"""A copy (`ordering=id`) or a sync (`updated_since`, `ordering=updated_at`) of a page-numbered list,
walked by following `next` while colleagues edit and delete rows: every row that exists throughout the
walk comes exactly once (a row changed during a sync comes again further on, with its change). `next`
continues by keyset `cursor` in those orders; a page number would shift the unread rows behind the ones
a change or a deletion took away, and one row would never come."""

import base64
import datetime
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engagements.models import EngagementPartner
from partners.models import CustomerReference, Partner, ProgramEnrollment, StaffMember, Tier
from tests.api.conftest import api_client
from tests.factories import (
    CustomerFactory,
    CustomerReferenceFactory,
    EngagementPartnerFactory,
    OfficeFactory,
    PartnerFactory,
    ProgramEnrollmentFactory,
    StaffMemberFactory,
    SuperUserFactory,
)


@pytest.fixture
def client(db):
    return api_client(SuperUserFactory())


def _recorded_a_while_ago(model, rows):
    """The rows' `updated_at` two days ago, one second apart in id order, as a full sync found them."""
    base = timezone.now() - datetime.timedelta(days=2)
    for i, row in enumerate(rows):
        model.objects.filter(pk=row.pk).update(updated_at=base + datetime.timedelta(seconds=i))
    return [row.pk for row in rows]


def _walk(client, url, after_each_page):
    seen, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert list(body) == ["count", "count_is_capped", "next", "previous", "results"]
        seen.extend(row["id"] for row in body["results"])
        url = body["next"]
        pages += 1
        after_each_page(pages, seen)
    return seen


def _since():
    return (timezone.now() - datetime.timedelta(days=30)).isoformat().replace("+", "%2B")


def test_a_copy_of_staff_members_by_id_sees_every_row_once_while_rows_are_edited_and_deleted(client):
    partner = PartnerFactory()
    before = _recorded_a_while_ago(StaffMember, StaffMemberFactory.create_batch(9, partner=partner))
    deleted, added = [], []

    def colleagues_at_work(pages, seen):
        if pages == 1:  # a row already read is removed, another renamed; one is added
            assert client.delete(f"/api/v1/staff-members/{seen[0]}/").status_code == 204
            deleted.append(seen[0])
            edit = client.patch(
                f"/api/v1/staff-members/{seen[1]}/", {"job_title": "Architect"}, format="json"
            )
            assert edit.status_code == 200
            added.append(StaffMemberFactory(partner=partner).pk)
        if pages == 2:  # the last row read, where the next page starts, is removed too
            assert client.delete(f"/api/v1/staff-members/{seen[-1]}/").status_code == 204
            deleted.append(seen[-1])

    seen = _walk(
        client, f"/api/v1/staff-members/?partner={partner.slug}&ordering=id&page_size=2", colleagues_at_work
    )

    assert len(seen) == len(set(seen)), "a row came twice"
    assert set(seen) == set(before) | set(added), "a row that exists was never seen"
    assert seen == sorted(seen)
    assert set(deleted) <= set(seen)  # read before they went


def test_a_sync_of_staff_members_by_updated_at_misses_no_row_while_rows_are_edited_and_deleted(client):
    partner = PartnerFactory()
    before = _recorded_a_while_ago(StaffMember, StaffMemberFactory.create_batch(8, partner=partner))
    edited, deleted = [], []

    def colleagues_at_work(pages, seen):
        if pages == 1:
            edit = client.patch(
                f"/api/v1/staff-members/{seen[0]}/", {"job_title": "Architect"}, format="json"
            )
            assert edit.status_code == 200
            edited.append(seen[0])
            assert client.delete(f"/api/v1/staff-members/{seen[1]}/").status_code == 204
            deleted.append(seen[1])
        if pages == 2:  # one row not yet read changes: it comes once, at the end, with its change
            ahead = next(pk for pk in before if pk not in seen and pk not in deleted)
            edit = client.patch(f"/api/v1/staff-members/{ahead}/", {"job_title": "Lead"}, format="json")
            assert edit.status_code == 200
            edited.append(ahead)

    seen = _walk(
        client,
        f"/api/v1/staff-members/?partner={partner.slug}&updated_since={_since()}&ordering=updated_at&page_size=2",
        colleagues_at_work,
    )

    assert set(seen) == set(before), "a row was never seen (unchanged, no later sync would bring it)"
    # Only the row changed after it was read comes again (with its change); every other row once.
    assert {pk for pk in seen if seen.count(pk) > 1} == {edited[0]}
    assert seen[-2:] == edited


def test_a_sync_of_partners_by_updated_at_misses_no_partner_edited_or_deleted_during_it(client):
    partners = PartnerFactory.create_batch(7)
    before = _recorded_a_while_ago(Partner, partners)
    edited, deleted = [], []
    slugs = {partner.pk: partner.slug for partner in partners}

    def colleagues_at_work(pages, seen):
        if pages == 1:
            edit = client.patch(f"/api/v1/partners/{slugs[seen[0]]}/", {"description": "New."}, format="json")
            assert edit.status_code == 200, edit.content
            edited.append(seen[0])
            Partner.objects.filter(pk=seen[1]).delete()  # in the admin: the API deletes no partner
            deleted.append(seen[1])

    seen = _walk(
        client,
        f"/api/v1/partners/?updated_since={_since()}&ordering=updated_at&page_size=2",
        colleagues_at_work,
    )

    assert set(seen) == set(before), "a partner was never seen"
    assert {pk for pk in seen if seen.count(pk) > 1} == set(edited)
    assert seen[-1] == edited[0]


@pytest.mark.parametrize(
    "path", ["partners", "customers", "programs", "engagements", "tiers", "support-plans"]
)
def test_every_list_not_in_id_order_can_be_copied_and_synced_as_the_doc_says(client, path):
    # docs/api.md: "to copy or sync one of those lists, ask for ordering=id or ordering=updated_at".
    for ordering in ("id", "updated_at"):
        response = client.get(f"/api/v1/{path}/?updated_since={_since()}&ordering={ordering}")
        assert response.status_code == 200, (ordering, response.content)


def test_a_sync_of_tiers_by_updated_at_brings_a_renamed_tier_again_at_the_end(client):
    tiers = list(Tier.objects.order_by("id"))
    before = _recorded_a_while_ago(Tier, tiers)
    edited = []

    def the_provider_renames_one(pages, seen):
        if pages == 1:
            renamed = Tier.objects.get(pk=seen[0])
            renamed.name = f"{renamed.name} Plus"
            renamed.save()
            edited.append(renamed.pk)

    seen = _walk(
        client,
        f"/api/v1/tiers/?updated_since={_since()}&ordering=updated_at&page_size=2",
        the_provider_renames_one,
    )

    assert set(seen) == set(before)
    assert {pk for pk in seen if seen.count(pk) > 1} == set(edited)
    assert seen[-1] == edited[0]


def test_a_copy_of_partners_by_id_sees_every_partner_once_while_one_is_deleted(client):
    before = [partner.pk for partner in PartnerFactory.create_batch(7)]

    def a_partner_removed(pages, seen):
        if pages == 1:
            Partner.objects.filter(pk=seen[0]).delete()

    seen = _walk(client, "/api/v1/partners/?ordering=id&page_size=2", a_partner_removed)

    assert seen == sorted(before)


def test_a_copy_by_id_of_a_word_search_walks_by_cursor_too(client):
    matching = [
        PartnerFactory(name=f"Nimbus {letter} Cloud", description="Consulting.").pk for letter in "ABCDE"
    ]
    PartnerFactory(name="Cirrus Data", description="Consulting.")

    def a_partner_removed(pages, seen):
        if pages == 1:
            Partner.objects.filter(pk=seen[0]).delete()

    seen = _walk(client, "/api/v1/partners/?q=nimbus&ordering=id&page_size=2", a_partner_removed)

    assert seen == matching


# The page-numbered lists whose own order (no `ordering` asked for) is by id.
LISTS_IN_ID_ORDER = {
    "staff-members": (StaffMember, StaffMemberFactory),
    "references": (CustomerReference, CustomerReferenceFactory),
    "enrollments": (ProgramEnrollment, ProgramEnrollmentFactory),
    "engagement-partners": (EngagementPartner, EngagementPartnerFactory),
}


@pytest.mark.parametrize("resource", LISTS_IN_ID_ORDER)
def test_a_copy_in_a_lists_own_id_order_sees_every_row_while_an_early_one_is_deleted(client, resource):
    model, factory = LISTS_IN_ID_ORDER[resource]
    before = sorted(row.pk for row in factory.create_batch(7))

    def an_early_row_removed(pages, seen):
        if pages == 1:  # a row already read goes, so every unread row moves up one place
            model.objects.filter(pk=seen[0]).delete()

    seen = _walk(client, f"/api/v1/{resource}/?page_size=2", an_early_row_removed)

    assert seen == before, "a row that exists throughout the walk was never seen, or came twice"


def test_a_lists_own_id_order_continues_by_cursor_and_still_opens_a_page_by_number(client):
    members = sorted(member.pk for member in StaffMemberFactory.create_batch(7))
    first = client.get("/api/v1/staff-members/?page_size=2").json()
    assert set(_query(first["next"])) == {"page_size", "cursor"}
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == members[2:4]
    assert (second["count"], second["previous"]) == (7, None)
    third = client.get("/api/v1/staff-members/?page_size=2&page=3").json()
    assert [row["id"] for row in third["results"]] == members[4:6]
    assert _query(third["previous"]) == {"page": ["2"], "page_size": ["2"]}
    assert set(_query(third["next"])) == {"page_size", "cursor"}
    assert [row["id"] for row in client.get(third["next"]).json()["results"]] == members[6:]


def test_a_list_in_its_own_name_order_still_pages_by_number(client):
    CustomerFactory.create_batch(5)
    body = client.get("/api/v1/customers/?page_size=2").json()
    assert _query(body["next"]).get("page") == ["2"] and "cursor" not in _query(body["next"])
    cursor = _cursor_of(client.get("/api/v1/customers/?ordering=id&page_size=2").json()["next"])
    response = client.get(f"/api/v1/customers/?page_size=2&cursor={cursor}")
    assert response.status_code == 400 and list(response.json()) == ["cursor"]


def _query(url) -> dict:
    return parse_qs(urlsplit(url).query)


def _cursor_of(url):
    return url.split("cursor=")[1].split("&")[0]


def test_next_continues_by_cursor_in_a_walks_order_and_by_page_number_in_the_others(client):
    StaffMemberFactory.create_batch(5)
    for ordering in ("id", "updated_at"):
        first = client.get(f"/api/v1/staff-members/?ordering={ordering}&page_size=2").json()
        assert set(_query(first["next"])) == {"ordering", "page_size", "cursor"}
        assert (first["count"], first["count_is_capped"], first["previous"]) == (5, False, None)
        second = client.get(first["next"]).json()
        assert second["count"] == 5 and second["previous"] is None and "cursor=" in second["next"]
        last = client.get(second["next"]).json()
        assert (len(last["results"]), last["next"]) == (1, None)
    for query in ("ordering=-id&", "ordering=-updated_at&", "ordering=full_name&"):
        body = client.get(f"/api/v1/staff-members/?{query}page_size=2").json()
        assert _query(body["next"]).get("page") == ["2"] and "cursor" not in _query(body["next"])


def test_a_page_jumped_to_by_number_still_works_and_its_next_continues_by_cursor(client):
    members = sorted(member.pk for member in StaffMemberFactory.create_batch(7))
    third = client.get("/api/v1/staff-members/?ordering=id&page_size=2&page=3").json()
    assert [row["id"] for row in third["results"]] == members[4:6]
    assert _query(third["previous"]) == {"ordering": ["id"], "page": ["2"], "page_size": ["2"]}
    assert set(_query(third["next"])) == {"ordering", "page_size", "cursor"}
    assert [row["id"] for row in client.get(third["next"]).json()["results"]] == members[6:]


def test_past_the_count_cap_a_cursor_page_says_so_and_counts_no_further(client, monkeypatch):
    from apn_portal.api.pagination import ApiCountPaginator

    monkeypatch.setattr(ApiCountPaginator, "count_cap", 3)
    StaffMemberFactory.create_batch(6)
    url = client.get("/api/v1/staff-members/?ordering=id&page_size=2").json()["next"]
    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).json()
    assert (body["count"], body["count_is_capped"]) == (3, True)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 4" in counts[0]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/staff-members/?ordering=updated_at&page_size=5",
        "/api/v1/partners/?ordering=id&page_size=5",
        "/api/v1/partners/?q=nimbus&ordering=updated_at&page_size=5",
        "/api/v1/references/?ordering=id&page_size=5",
    ],
)
def test_a_cursor_page_costs_the_queries_a_first_page_costs(client, url):
    for i in range(12):
        partner = PartnerFactory(name=f"Nimbus {i} Cloud", description="Consulting.")
        OfficeFactory(partner=partner)
        StaffMemberFactory(partner=partner)
        CustomerReferenceFactory(partner=partner)
    client.get(url)  # the search entries brought up to date, once
    with CaptureQueriesContext(connection) as first:
        next_url = client.get(url).json()["next"]
    with CaptureQueriesContext(connection) as second:
        assert len(client.get(next_url).json()["results"]) == 5
    assert len(second) == len(first)


def _forged(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "query",
    [
        "ordering=id&cursor=",
        "ordering=id&cursor=%20",
        "ordering=id&cursor=not-a-cursor",
        "ordering=id&cursor=a&cursor=b",
        f"ordering=id&cursor={_forged({'o': 'id', 'p': ['x']})}",
        f"ordering=id&cursor={_forged({'o': 'id', 'p': [1, 2]})}",
        f"ordering=id&cursor={_forged({'o': 'id', 'p': 1})}",
        f"ordering=updated_at&cursor={_forged({'o': 'updated_at', 'p': ['2024-01-01T00:00:00', 1]})}",
        f"ordering=updated_at&cursor={_forged({'o': 'id', 'p': [1]})}",
        # No ordering: the list's own order is by id, and this cursor is one of `ordering=updated_at`'s.
        f"cursor={_forged({'o': 'updated_at', 'p': ['2024-01-01T00:00:00+00:00', 1]})}",
        f"ordering=-id&cursor={_forged({'o': '-id', 'p': [1]})}",
        f"ordering=full_name&cursor={_forged({'o': 'full_name', 'p': ['a', 1]})}",
    ],
)
def test_a_bad_cursor_on_a_page_numbered_list_is_a_400_naming_it(client, query):
    StaffMemberFactory.create_batch(2)
    response = client.get(f"/api/v1/staff-members/?{query}")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["cursor"]


def test_a_cursor_with_a_page_number_is_a_400(client):
    StaffMemberFactory.create_batch(3)
    cursor = _cursor_of(client.get("/api/v1/staff-members/?ordering=id&page_size=1").json()["next"])
    response = client.get(f"/api/v1/staff-members/?ordering=id&page_size=1&page=2&cursor={cursor}")
    assert response.status_code == 400
    assert list(response.json()) == ["page"]


def test_the_schema_documents_cursor_on_page_numbered_lists(db):
    schema = yaml.safe_load(api_client().get("/api/v1/schema/").content)
    for path in (
        "/api/v1/partners/",
        "/api/v1/staff-members/",
        "/api/v1/references/",
        "/api/v1/enrollments/",
    ):
        parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        assert {"page", "page_size", "cursor"} <= set(parameters), path
        assert parameters["cursor"]["schema"] == {"type": "string", "minLength": 1}
