"""Paging: cursor lists walk every row once with no COUNT(*), even while rows are added; page-numbered
lists stop at 100 a page; every ordering ends with the unique id."""

import datetime

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.models import Certification, Partner
from tests.api.conftest import api_client
from tests.factories import (
    CertificationFactory,
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    StaffMemberFactory,
    SuperUserFactory,
)


@pytest.fixture
def client(db):
    return api_client(SuperUserFactory())


def _walk(client, url, on_each_page=lambda: None):
    seen, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        seen.extend(row["id"] for row in body["results"])
        url = body["next"]
        pages += 1
        on_each_page()
    return seen, pages


@pytest.mark.parametrize("ordering", ["id", "-id", "updated_at"])
def test_a_cursor_walk_sees_every_row_once_while_rows_are_inserted(client, ordering):
    member = StaffMemberFactory()
    base = datetime.date(2024, 1, 1)
    # Many rows share an expiry date, so the walk depends on the id tie-break.
    before = [
        CertificationFactory(staff_member=member, earned_on=base - datetime.timedelta(days=i % 3)).pk
        for i in range(23)
    ]
    inserted = []

    def insert_one():
        inserted.append(
            CertificationFactory(staff_member=member, earned_on=base - datetime.timedelta(days=1)).pk
        )

    seen, pages = _walk(client, f"/api/v1/certifications/?page_size=4&ordering={ordering}", insert_one)
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert set(before) <= set(seen), "a row that existed before the walk was missed"
    assert set(seen) <= set(before) | set(inserted)
    assert pages >= 6


@pytest.mark.parametrize("ordering", ["id", "-id", "updated_at"])
def test_a_cursor_walk_misses_no_row_while_rows_change(client, ordering):
    """Each page is read after corrections a PDM makes meanwhile: to rows the walk has passed and to rows
    it has yet to reach (an expiry or an earning day moved earlier, a credential id). By id every row
    comes once; by updated_at a row changed after the walk passed it comes again, with the change."""
    member = StaffMemberFactory()
    base = datetime.date(2024, 6, 1)
    rows = [CertificationFactory(staff_member=member, earned_on=base).pk for _ in range(20)]
    seen_so_far, changed_after_seen = [], set()

    def correct_two():
        passed = [pk for pk in rows if pk in seen_so_far and pk not in changed_after_seen]
        ahead = [pk for pk in rows if pk not in seen_so_far]
        for pk in passed[:1] + ahead[-1:]:
            certification = Certification.objects.get(pk=pk)
            certification.earned_on = certification.earned_on - datetime.timedelta(days=30)
            certification.expires_on = certification.expires_on - datetime.timedelta(days=10)
            certification.credential_id = f"corrected-{pk}"
            certification.save()
            if pk in seen_so_far:
                changed_after_seen.add(pk)

    url = f"/api/v1/certifications/?page_size=3&ordering={ordering}"
    while url:
        body = client.get(url).json()
        seen_so_far.extend(row["id"] for row in body["results"])
        url = body["next"]
        correct_two()

    assert set(seen_so_far) == set(rows), "a row was missed"
    repeated = {pk for pk in seen_so_far if seen_so_far.count(pk) > 1}
    if ordering == "updated_at":
        assert repeated <= changed_after_seen and repeated
    else:
        assert not repeated


@pytest.mark.parametrize(
    ("resource", "moving"),
    [("certifications", "expires_on"), ("certifications", "earned_on"), ("access-grants", "expires_at")],
)
def test_a_cursor_list_is_not_walked_by_a_column_a_correction_moves_back(client, resource, moving):
    for ordering in (moving, f"-{moving}", "-updated_at"):
        response = client.get(f"/api/v1/{resource}/", {"ordering": ordering})
        assert response.status_code == 400, response.content
        assert response.json()["ordering"][0].startswith("Order by one of: id, -id, ")


def test_a_cursor_page_runs_no_count(client):
    CertificationFactory.create_batch(3)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/certifications/?page_size=2").status_code == 200
    assert not [q for q in captured if "COUNT(" in q["sql"].upper()]


def test_a_cursor_from_another_ordering_is_refused(client):
    CertificationFactory.create_batch(3)
    next_url = client.get("/api/v1/certifications/?page_size=1&ordering=id").json()["next"]
    cursor = next_url.split("cursor=")[1].split("&")[0]
    response = client.get(f"/api/v1/certifications/?cursor={cursor}&ordering=-id")
    assert response.status_code == 400
    assert "cursor" in response.json()


CURSOR_LISTS = (
    "certifications",
    "tier-changes",
    "contact-requests",
    "webhook-deliveries",
    "aws-accounts",
    "access-grants",
    "support-subscriptions",
    "support-cases",
)


@pytest.mark.parametrize("resource", CURSOR_LISTS)
def test_a_page_number_on_a_cursor_list_is_a_400_not_page_one_again(client, resource):
    # A client written for the page-numbered lists would otherwise read page 1 over and over.
    response = client.get(f"/api/v1/{resource}/?page=2")
    assert response.status_code == 400, response.content
    assert "follow `next`" in response.json()["page"][0]


def test_the_api_guide_names_every_list_paged_by_cursor(client):
    from pathlib import Path

    from django.conf import settings

    guide = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text()
    paragraph = guide[guide.index("are paged by cursor") - 300 : guide.index("are paged by cursor")]
    for resource in CURSOR_LISTS:
        assert resource.replace("-", " ") in paragraph.replace("\n", " "), resource
        assert "count" not in client.get(f"/api/v1/{resource}/").json()


def test_page_numbered_lists_give_at_most_100_rows_a_page(client):
    PartnerFactory.create_batch(105)
    body = client.get("/api/v1/partners/?page_size=500").json()
    assert len(body["results"]) == 100
    assert body["count"] == 105
    second = client.get(body["next"]).json()
    ids = [row["id"] for row in body["results"]] + [row["id"] for row in second["results"]]
    assert len(ids) == len(set(ids)) == 105


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"page_size": 2, "page": 999}, "Page 999 does not exist: there are 3 pages."),
        ({"page_size": 2, "page": 4}, "Page 4 does not exist: there are 3 pages."),
        ({"page_size": 5, "page": 2}, "Page 2 does not exist: there is 1 page."),
        ({"page_size": 2, "q": "nimbus", "page": 9}, "Page 9 does not exist: there is 1 page."),
        ({"page_size": 2, "q": "nowhere", "page": 2}, "Page 2 does not exist: there is 1 page."),
    ],
)
def test_a_page_past_the_last_is_a_404_saying_how_many_pages_there_are(client, query, detail):
    # A client that asks for the next number until there is none stops at a 404, as on any DRF API; the
    # message tells a person which pages there are.
    PartnerFactory.create_batch(4, description="Consulting.")
    PartnerFactory(name="Nimbus Cloud", description="Consulting.")
    response = client.get("/api/v1/partners/", query)
    assert response.status_code == 404
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", ""])
def test_a_page_that_is_not_a_page_number_is_a_400_naming_page(client, page):
    response = client.get("/api/v1/staff-members/", {"page": page})
    assert response.status_code == 400
    assert response.json() == {"page": ["Give one whole number of at least 1."]}


def test_the_schema_says_what_a_page_past_the_last_and_a_bad_page_answer(db):
    schema = yaml.safe_load(api_client().get("/api/v1/schema/").content)
    for path in ("/api/v1/partners/", "/api/v1/staff-members/", "/api/v1/support-plans/"):
        responses = schema["paths"][path]["get"]["responses"]
        assert "past the last page" in responses["404"]["description"], path
        assert "whole number of at least 1" in responses["400"]["description"], path
        assert "past the last page" not in responses["400"]["description"], path
    # A record's own address, and a list paged by cursor (where `page` is a 400), have no page to be past.
    assert (
        "past the last"
        not in schema["paths"]["/api/v1/partners/{slug}/"]["get"]["responses"]["404"]["description"]
    )
    assert (
        "past the last"
        not in schema["paths"]["/api/v1/certifications/"]["get"]["responses"]["404"]["description"]
    )


def test_ordering_with_ties_still_pages_without_overlap(client):
    PartnerFactory.create_batch(9, name="Same Name")
    first = client.get("/api/v1/partners/?ordering=name&page_size=4").json()
    ids = []
    url = "/api/v1/partners/?ordering=name&page_size=4"
    while url:
        body = client.get(url).json()
        ids.extend(row["id"] for row in body["results"])
        url = body["next"]
    assert first["count"] == 9
    assert len(ids) == len(set(ids)) == 9


@pytest.mark.parametrize("ordering", ["bogus", "tier", "--name", "name,id", "-", ""])
def test_an_unknown_ordering_of_the_partners_is_a_400_naming_it(client, ordering):
    PartnerFactory.create_batch(2)
    response = client.get("/api/v1/partners/", {"ordering": ordering})
    assert response.status_code == 400
    choices = "name, -name, updated_at, -updated_at, id, -id"
    assert response.json() == {"ordering": [f"Order by one of: {choices}."]}


@pytest.mark.parametrize("url", ["/api/v1/customers/", "/api/v1/support-plans/", "/api/v1/staff-members/"])
def test_an_unknown_ordering_of_any_page_numbered_list_is_a_400(client, url):
    response = client.get(url, {"ordering": "bogus"})
    assert response.status_code == 400
    assert list(response.json()) == ["ordering"]


def test_a_known_ordering_of_the_partners_still_orders_them(client):
    PartnerFactory(name="Beta"), PartnerFactory(name="Alpha")
    body = client.get("/api/v1/partners/", {"ordering": "-name"}).json()
    assert [row["name"] for row in body["results"]] == ["Beta", "Alpha"]


def test_the_schema_lists_each_ordering_a_page_numbered_list_takes(db):
    schema = yaml.safe_load(api_client().get("/api/v1/schema/").content)
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/partners/"]["get"]["parameters"]}
    assert parameters["ordering"]["schema"] == {
        "type": "string",
        "enum": ["name", "-name", "updated_at", "-updated_at", "id", "-id"],
    }


def test_updated_since_returns_only_what_changed(client):
    old, recent = StaffMemberFactory(), StaffMemberFactory()
    cutoff = recent.updated_at
    type(old).objects.filter(pk=old.pk).update(updated_at=cutoff - datetime.timedelta(hours=1))
    body = client.get("/api/v1/staff-members/", {"updated_since": cutoff.isoformat()}).json()
    assert [row["id"] for row in body["results"]] == [recent.pk]


def test_past_the_count_cap_the_count_says_so_and_next_still_leads_on(client, monkeypatch):
    from apn_portal.api.pagination import ApiCountPaginator

    monkeypatch.setattr(ApiCountPaginator, "count_cap", 5)
    members = StaffMemberFactory.create_batch(8)
    first = client.get("/api/v1/staff-members/?page_size=3").json()
    assert (first["count"], first["count_is_capped"]) == (5, True)
    ids, url = [], "/api/v1/staff-members/?page_size=3"
    while url:
        body = client.get(url).json()
        ids.extend(row["id"] for row in body["results"])
        url = body["next"]
    assert ids == sorted(member.pk for member in members)


@pytest.mark.parametrize("query", [{}, {"q": "nimbus"}, {"type": "consulting"}, {"ordering": "name"}])
def test_a_page_past_any_row_of_a_capped_list_is_a_404(db, monkeypatch, query):
    # Pages past the capped count are served, but one whose offset no row number reaches (PostgreSQL's
    # OFFSET is a bigint) is not a query to run.
    from apn_portal.api.pagination import ApiCountPaginator

    monkeypatch.setattr(ApiCountPaginator, "count_cap", 5)
    _nimbus_partners(8)

    response = api_client().get("/api/v1/partners/", {"page": "999999999999999999", **query})

    assert response.status_code == 404
    assert response.json() == {"detail": "Page 999999999999999999 does not exist: no list is that long."}


def _nimbus_partners(count):
    """Partners whose names hold the searched word, with descriptions that cannot match it."""
    return [
        PartnerFactory(name=f"Nimbus {letter} Cloud", description="Consulting.")
        for letter in "ABCDEFGH"[:count]
    ]


def test_a_search_by_words_counts_its_matches_in_the_query_that_reads_its_page(db):
    matching = _nimbus_partners(5)
    PartnerFactory(name="Cirrus Data", description="Consulting.")
    client, url = api_client(), "/api/v1/partners/?q=nimbus&page_size=2"
    with CaptureQueriesContext(connection) as queries:
        first = client.get(url).json()
    assert (first["count"], first["count_is_capped"]) == (5, False)
    assert not [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(*)")]
    seen = [row["slug"] for row in first["results"]]
    next_url = first["next"]
    while next_url:
        body = client.get(next_url).json()
        assert body["count"] == 5
        seen.extend(row["slug"] for row in body["results"])
        next_url = body["next"]
    assert sorted(seen) == sorted(partner.slug for partner in matching)
    assert len(seen) == len(set(seen))
    past_the_end = client.get("/api/v1/partners/?q=nimbus&page_size=2&page=4")
    assert past_the_end.status_code == 404
    nothing = client.get("/api/v1/partners/?q=stratus").json()
    assert (nothing["count"], nothing["results"]) == (0, [])


def test_a_search_by_words_past_the_count_cap_says_so_and_next_still_leads_on(db, monkeypatch):
    from apn_portal.api.pagination import ApiCountPaginator

    monkeypatch.setattr(ApiCountPaginator, "count_cap", 3)
    matching = _nimbus_partners(5)
    client = api_client()
    first = client.get("/api/v1/partners/?q=nimbus&page_size=2").json()
    assert (first["count"], first["count_is_capped"]) == (3, True)
    seen, url = [], "/api/v1/partners/?q=nimbus&page_size=2"
    while url:
        body = client.get(url).json()
        seen.extend(row["slug"] for row in body["results"])
        url = body["next"]
    assert sorted(seen) == sorted(partner.slug for partner in matching)


def test_updated_since_sees_a_partner_whose_offices_or_tags_changed(client):
    partner, other = PartnerFactory(slug="changing"), PartnerFactory(slug="other")
    office = OfficeFactory(partner=partner, city="London")
    industry = IndustryFactory(slug="energy")

    def changed_by(change) -> set[str]:
        an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
        Partner.objects.update(updated_at=an_hour_ago)
        change()
        since = (an_hour_ago + datetime.timedelta(minutes=1)).isoformat()
        slugs = set()
        for extra in ({}, {"ordering": "updated_at"}):  # the search's order and a column's
            body = client.get("/api/v1/partners/", {"updated_since": since, **extra}).json()
            slugs.add(frozenset(row["slug"] for row in body["results"]))
        assert len(slugs) == 1
        return set(slugs.pop())

    def edit_office():
        office.city = "Paris"
        office.save()

    def move_office():
        office.partner = other
        office.save()

    def rename_industry(slug):
        def rename():
            industry.slug = slug
            industry.save()

        return rename

    assert changed_by(edit_office) == {"changing"}
    assert changed_by(lambda: OfficeFactory(partner=partner)) == {"changing"}
    assert changed_by(move_office) == {"changing", "other"}
    assert changed_by(office.delete) == {"other"}
    assert changed_by(lambda: partner.industries.add(industry)) == {"changing"}
    assert changed_by(rename_industry("utilities")) == {"changing"}
    assert changed_by(rename_industry("utilities")) == set()  # saved, but the same slug
    assert changed_by(lambda: industry.partners.remove(partner)) == {"changing"}
    industry.partners.add(other)
    assert changed_by(industry.partners.clear) == {"other"}
