"""Find-a-Partner's filters, facet counts, sorts, near search and pages, on PostgreSQL."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from partners.choices import CertificationLevel, EnrollmentStatus, PartnerType
from partners.models import Partner
from partners.search import PAGE_SIZE, Near
from partners.search_index import partner_search_refresh_due
from partners.tests.search_helpers import facet, names, search, total
from tests.factories import (
    ApprovedEnrollmentFactory,
    CertificationFactory,
    CustomerReferenceFactory,
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    ProgramEnrollmentFactory,
    StaffMemberFactory,
    UseCaseFactory,
    give_certified_people,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate
LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)
BERLIN = (52.52, 13.405)
NEW_YORK = (40.7128, -74.006)


@pytest.fixture
def healthcare():
    return IndustryFactory(name="Healthcare", slug="healthcare")


@pytest.fixture
def retail():
    return IndustryFactory(name="Retail", slug="retail")


@pytest.fixture
def network(healthcare, retail):
    """Four published partners and one unpublished, varied on every filter."""
    iot = UseCaseFactory(name="Internet of Things", slug="iot")
    ai = UseCaseFactory(name="Generative AI", slug="ai")
    alpha = PartnerFactory(
        name="Alpha Consulting", description="", tier=tier(PartnerType.CONSULTING, "advanced")
    )
    alpha.industries.add(healthcare)
    alpha.use_cases.add(iot)
    OfficeFactory(partner=alpha, country="GB", city="London", latitude=LONDON[0], longitude=LONDON[1])
    ApprovedEnrollmentFactory(partner=alpha, program=program("migration"))

    beta = PartnerFactory(name="Beta Consulting", description="", tier=tier(PartnerType.CONSULTING, "select"))
    beta.industries.add(retail)
    beta.use_cases.add(ai)
    OfficeFactory(partner=beta, country="FR", city="Paris", latitude=PARIS[0], longitude=PARIS[1])
    ApprovedEnrollmentFactory(partner=beta, program=program("security"))

    gamma = PartnerFactory(
        name="Gamma Software",
        description="",
        partner_type=PartnerType.TECHNOLOGY,
        tier=tier(PartnerType.TECHNOLOGY, "advanced"),
    )
    gamma.industries.add(healthcare, retail)
    gamma.use_cases.add(ai)
    OfficeFactory(partner=gamma, country="DE", city="Berlin", latitude=BERLIN[0], longitude=BERLIN[1])
    OfficeFactory(partner=gamma, country="GB", city="Manchester", latitude=53.48, longitude=-2.24)
    ApprovedEnrollmentFactory(partner=gamma, program=program("migration"))
    ApprovedEnrollmentFactory(partner=gamma, program=program("security"))

    delta = PartnerFactory(
        name="Delta Cloud", description="", tier=tier(PartnerType.CONSULTING, "registered")
    )
    OfficeFactory(partner=delta, country="US", city="New York", latitude=NEW_YORK[0], longitude=NEW_YORK[1])

    hidden = PartnerFactory(name="Hidden Healthcare Consulting", is_published=False)
    hidden.industries.add(healthcare)
    OfficeFactory(partner=hidden, country="GB")
    return {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta, "hidden": hidden}


def test_the_unfiltered_page_lists_only_published_partners(client, network):
    response = search(client)
    assert sorted(names(response)) == ["Alpha Consulting", "Beta Consulting", "Delta Cloud", "Gamma Software"]
    assert total(response) == 4
    assert b"Hidden Healthcare" not in response.content


def test_unpublishing_takes_a_partner_out_of_the_results(client, network):
    network["alpha"].is_published = False
    network["alpha"].save()
    assert "Alpha Consulting" not in names(search(client))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "technology"}, ["Gamma Software"]),
        (
            {"type": ["consulting", "technology"]},
            ["Alpha Consulting", "Beta Consulting", "Delta Cloud", "Gamma Software"],
        ),
        ({"tier": "advanced"}, ["Alpha Consulting", "Gamma Software"]),  # one slug, both ladders
        ({"tier": ["select", "registered"]}, ["Beta Consulting", "Delta Cloud"]),
        ({"program": "migration"}, ["Alpha Consulting", "Gamma Software"]),
        ({"program": ["migration", "security"]}, ["Alpha Consulting", "Beta Consulting", "Gamma Software"]),
        ({"industry": "healthcare"}, ["Alpha Consulting", "Gamma Software"]),
        ({"industry": ["healthcare", "retail"]}, ["Alpha Consulting", "Beta Consulting", "Gamma Software"]),
        ({"use_case": "ai"}, ["Beta Consulting", "Gamma Software"]),
        ({"country": "GB"}, ["Alpha Consulting", "Gamma Software"]),  # Gamma has an office in Manchester
        ({"country": ["fr", "us"]}, ["Beta Consulting", "Delta Cloud"]),  # codes in any case
        # Different filters narrow.
        ({"industry": "healthcare", "type": "consulting"}, ["Alpha Consulting"]),
        ({"program": "security", "country": "DE"}, ["Gamma Software"]),
        ({"use_case": "ai", "tier": "select", "industry": ["retail", "healthcare"]}, ["Beta Consulting"]),
    ],
)
def test_several_values_of_a_filter_widen_and_different_filters_narrow(client, network, params, expected):
    response = search(client, sort="name", **params)
    assert names(response) == expected
    assert total(response) == len(expected)


def test_only_approved_unexpired_enrollments_count_for_the_program_filter(client, network):
    security = program("security")
    lapsed = PartnerFactory(name="Lapsed Security")
    ApprovedEnrollmentFactory(
        partner=lapsed,
        program=security,
        approved_on=TODAY() - datetime.timedelta(days=400),
        expires_on=TODAY() - datetime.timedelta(days=1),
    )
    applied = PartnerFactory(name="Applied Security")
    ProgramEnrollmentFactory(partner=applied, program=security, status=EnrollmentStatus.UNDER_REVIEW)
    response = search(client, program="security", sort="name")
    assert names(response) == ["Beta Consulting", "Gamma Software"]
    assert facet(search(client), "program")["security"] == 2


def test_facets_count_the_results_with_the_other_filters_applied(client, network):
    response = search(client, industry="healthcare")
    assert total(response) == 2
    # The industry facet ignores its own filter: choosing retail too would add Beta.
    assert facet(response, "industry") == {"healthcare": 2, "retail": 2}
    # Every other facet counts the two healthcare partners.
    assert facet(response, "type") == {"consulting": 1, "technology": 1}
    assert facet(response, "tier")["advanced"] == 2
    assert facet(response, "tier")["select"] == 0
    assert facet(response, "program") == {"migration": 2, "security": 1}
    assert facet(response, "country") == {"GB": 2, "DE": 1}
    assert facet(response, "use_case") == {"iot": 1, "ai": 1}


def test_facets_with_two_filters_each_ignore_only_their_own(client, network):
    response = search(client, industry="healthcare", type="consulting")
    assert names(response) == ["Alpha Consulting"]
    assert facet(response, "type") == {"consulting": 1, "technology": 1}  # healthcare partners by type
    assert facet(response, "industry") == {"healthcare": 1, "retail": 1}  # consulting partners by industry
    assert facet(response, "program") == {"migration": 1}


def test_a_partner_with_two_offices_in_a_country_counts_once_there(client, network):
    OfficeFactory(partner=network["alpha"], country="GB", city="Leeds", latitude=53.8, longitude=-1.55)
    assert facet(search(client), "country")["GB"] == 2


def test_default_order_is_tier_then_active_certifications(client, network):
    give_certified_people(network["gamma"], count=1)
    give_certified_people(network["alpha"], count=3)
    # Expired certifications do not count, however many.
    give_certified_people(
        network["gamma"],
        count=5,
        earned_on=TODAY() - datetime.timedelta(days=1200),
        expires_on=TODAY() - datetime.timedelta(days=1),
    )
    response = search(client)
    assert names(response) == ["Alpha Consulting", "Gamma Software", "Beta Consulting", "Delta Cloud"]
    assert [row.certification_count for row in response.context["page"].rows] == [3, 1, 0, 0]


def test_sort_by_name_certifications_and_references(client, network):
    give_certified_people(network["delta"], count=4)
    give_certified_people(network["beta"], count=2)
    CustomerReferenceFactory.create_batch(3, partner=network["beta"])
    CustomerReferenceFactory(partner=network["gamma"])
    CustomerReferenceFactory.create_batch(5, partner=network["alpha"], is_validated=False, validated_at=None)
    assert names(search(client, sort="name")) == [
        "Alpha Consulting",
        "Beta Consulting",
        "Delta Cloud",
        "Gamma Software",
    ]
    assert names(search(client, sort="certifications"))[:2] == ["Delta Cloud", "Beta Consulting"]
    by_references = search(client, sort="references")
    assert names(by_references)[:2] == ["Beta Consulting", "Gamma Software"]
    assert by_references.context["page"].rows[0].reference_count == 3


def test_a_certification_still_to_be_earned_does_not_count(client, network):
    person = StaffMemberFactory(partner=network["delta"])
    CertificationFactory(staff_member=person, level=CertificationLevel.SPECIALTY, earned_on=TODAY())
    CertificationFactory(
        staff_member=person,
        earned_on=TODAY() + datetime.timedelta(days=3),
        expires_on=TODAY() + datetime.timedelta(days=900),
    )
    row = next(row for row in search(client).context["page"].rows if row.name == "Delta Cloud")
    assert row.certification_count == 1


def test_near_a_place_finds_offices_within_the_radius_nearest_first(client, network):
    response = search(client, lat=LONDON[0], lng=LONDON[1], radius=400)
    assert names(response) == [
        "Alpha Consulting",
        "Gamma Software",
        "Beta Consulting",
    ]  # London, Manchester, Paris
    distances = [row.distance_km for row in response.context["page"].rows]
    assert distances[0] < 1
    assert 255 < distances[1] < 265
    assert 335 < distances[2] < 350
    assert response.context["page"].sort == "distance"
    assert names(search(client, lat=LONDON[0], lng=LONDON[1], radius=50)) == ["Alpha Consulting"]


def test_near_search_default_radius_and_other_filters(client, network):
    assert names(search(client, lat=PARIS[0], lng=PARIS[1])) == ["Beta Consulting"]  # 100 km by default
    assert names(search(client, lat=LONDON[0], lng=LONDON[1], radius=1000, type="technology")) == [
        "Gamma Software"
    ]
    assert (
        names(search(client, lat=LONDON[0], lng=LONDON[1], radius=1000, sort="name"))[0] == "Alpha Consulting"
    )


def test_near_search_across_the_antimeridian():
    ranges = Near(latitude=-17.7, longitude=179.5, radius_km=200).longitude_ranges()
    assert len(ranges) == 2
    assert ranges[0][1] == 180.0 and ranges[1][0] == -180.0
    assert Near(latitude=89.5, longitude=0, radius_km=100).longitude_ranges() is None  # holds the pole


def test_near_search_finds_an_office_on_the_other_side_of_the_antimeridian(client):
    fiji = PartnerFactory(name="Suva Partners")
    OfficeFactory(partner=fiji, country="FJ", city="Taveuni", latitude=-16.85, longitude=-179.95)
    assert names(search(client, lat=-16.85, lng=179.9, radius=50)) == ["Suva Partners"]


def test_pages_show_the_total_and_do_not_overlap(client):
    PartnerFactory.create_batch(PAGE_SIZE + 5)
    first, second = search(client, sort="name"), search(client, sort="name", page=2)
    assert total(first) == total(second) == PAGE_SIZE + 5
    assert len(names(first)) == PAGE_SIZE
    assert len(names(second)) == 5
    assert not set(names(first)) & set(names(second))
    assert f"{PAGE_SIZE + 5} partners".encode() in first.content


def _partners_with_everything(count, industry):
    for partner in PartnerFactory.create_batch(count, description=""):
        partner.industries.add(industry)
        OfficeFactory(partner=partner)
        ApprovedEnrollmentFactory(partner=partner)
        give_certified_people(partner, count=2)


SEARCHES = (
    {},
    {"q": "partner", "industry": "healthcare", "program": "migration"},
    {"lat": LONDON[0], "lng": LONDON[1], "radius": 50, "sort": "name"},
    {"page": 2, "sort": "certifications"},
    {"q": "Partenr"},  # found only with typo tolerance: a second search
)


def _query_counts(client, capture):
    counts = []
    for params in SEARCHES:
        with capture() as context:
            search(client, **params)
        counts.append(len(context.captured_queries))
    return counts


def test_query_count_is_the_same_whatever_the_number_of_results(client, healthcare):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def capture():
        return CaptureQueriesContext(connection)

    _partners_with_everything(PAGE_SIZE + 1, healthcare)  # a second page, of one partner
    with_few = _query_counts(client, capture)
    _partners_with_everything(40, healthcare)
    with_many = _query_counts(client, capture)
    assert with_few == with_many
    # The first day an entry goes stale 1, filter vocabulary 4, the search 1 (2 when typos are retried) in
    # its own transaction, cards 3.
    assert max(with_many) <= 16


def test_query_count_with_an_empty_result_stays_bounded(client, network, django_assert_max_num_queries):
    # The first day an entry goes stale 1 and the filter vocabulary 4 (both read after a change); the
    # search and its two ever more tolerant retries, each in its own transaction (4 each in a test, where
    # a transaction is a savepoint); a count for each filter one could drop.
    with django_assert_max_num_queries(1 + 4 + 3 * 4 + 2):
        response = search(client, q="zzqx", industry="healthcare", lat=0, lng=0)
    assert total(response) == 0


def test_an_empty_result_says_which_filter_to_drop_and_what_it_would_find(client, network):
    response = search(client, industry="healthcare", type="consulting", country="DE")
    assert total(response) == 0
    loosenings = {item["label"]: item["count"] for item in response.context["loosenings"]}
    assert loosenings == {"countries with an office": 1, "partner type": 1}
    assert b"Drop the countries with an office" in response.content
    words = search(client, q="zebra", country="GB")
    assert {item["label"]: item["count"] for item in words.context["loosenings"]} == {"search words": 2}


def test_the_partner_table_path_filters_and_counts_the_same(client, network, monkeypatch):
    """The embedded default (no search entries) reads the partner tables: same parameters, same answers."""
    monkeypatch.setattr("partners.search.search_index_available", lambda: False)
    response = search(client, industry="healthcare", sort="name")
    assert names(response) == ["Alpha Consulting", "Gamma Software"]
    assert facet(response, "industry") == {"healthcare": 2, "retail": 2}
    assert facet(response, "country") == {"GB": 2, "DE": 1}
    assert names(search(client, q="consulting -beta", sort="name")) == ["Alpha Consulting"]
    assert names(search(client, program="security", country="DE")) == ["Gamma Software"]
    assert names(search(client, lat=LONDON[0], lng=LONDON[1], radius=400))[0] == "Alpha Consulting"


def test_everything_counted_is_in_the_search_entries(network):
    """Every published partner has an entry once its rows are saved (the search reads nothing else)."""
    assert Partner.objects.filter(search_entry__isnull=True).count() == 0


def test_a_card_counts_only_the_references_the_profile_shows(client, network, monkeypatch):
    beta, gamma = network["beta"], network["gamma"]
    shown = CustomerReferenceFactory(partner=beta)
    CustomerReferenceFactory.create_batch(3, partner=beta, is_public=False)
    CustomerReferenceFactory(partner=beta, is_validated=False, validated_at=None)
    launch = TODAY() + datetime.timedelta(days=10)
    CustomerReferenceFactory(partner=beta, launched_on=launch)
    CustomerReferenceFactory.create_batch(2, partner=gamma)

    def card_count(response):
        return next(row.reference_count for row in response.context["page"].rows if row.partner_id == beta.pk)

    response = search(client, sort="references")
    assert names(response)[:2] == ["Gamma Software", "Beta Consulting"]
    assert card_count(response) == 1
    profile = client.get(f"/partners/{beta.slug}/").context["profile"]
    assert [reference.pk for reference in profile.references] == [shown.pk]
    with time_machine.travel(launch, tick=False):
        assert partner_search_refresh_due() == 1
        assert card_count(search(client, sort="references")) == 2
    monkeypatch.setattr("partners.search.search_index_available", lambda: False)
    assert card_count(search(client, sort="references")) == 1
