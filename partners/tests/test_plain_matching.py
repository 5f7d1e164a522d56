"""Find-a-Partner's plain matching, what the embedded SQLite default searches with: words match from the
start of a word, exclusions whole words, case ignored in every alphabet. Its condition is written for both
databases, so these run it on PostgreSQL, with the search index out of the way."""

import datetime

import pytest
from django.utils import timezone

from partners.models import ConsultingCategory, Partner
from partners.search import filter_words, parse_search_words, with_sort_columns
from partners.tests.search_helpers import names, search
from tests.factories import (
    ApprovedEnrollmentFactory,
    IndustryFactory,
    PartnerFactory,
    UseCaseFactory,
    program,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def plain_matching(monkeypatch):
    # As on SQLite: the partner tables themselves, not the search entries.
    monkeypatch.setattr("partners.search.search_index_available", lambda: False)


@pytest.fixture
def network():
    return {
        "ai": PartnerFactory(name="Nimbus AI", description="Machine learning on the cloud."),
        "dubai": PartnerFactory(name="Gulf Cloud", description="Offices in Dubai."),
        "retail": PartnerFactory(name="Shopline", description="Migration for retail chains."),
        "partner": PartnerFactory(name="Partner Works", description="Migration of data centres."),
        "art": PartnerFactory(name="Artisan Data", description="Data lake migration, AI-ready."),
        "sao": PartnerFactory(name="Paulista Tech", description="Escritórios em São Paulo."),
    }


def found(text: str) -> set[str]:
    names = filter_words(Partner.objects.all(), parse_search_words(text)).values_list("name", flat=True)
    return set(names)


def test_a_word_matches_from_the_start_of_a_word_not_inside_one(network):
    assert found("ai") == {"Nimbus AI", "Artisan Data"}
    assert found("art") == {"Artisan Data"}
    assert found("migra") == {"Shopline", "Partner Works", "Artisan Data"}


def test_a_one_letter_language_is_a_whole_word(network):
    PartnerFactory(name="Sharp Builders", description="We write C# and C++ services.")
    assert found("C#") == {"Sharp Builders"}
    assert found("c++") == {"Sharp Builders"}
    assert "Gulf Cloud" in found("c")


def test_names_with_dots_are_found_as_written(network):
    PartnerFactory(name="Dotted Names Ltd", description="Node.js and ASP.NET services; .NET upgrades.")
    PartnerFactory(name="Wide Area Works", description="Network design; nodejs too.")
    assert found("Node.js") == {"Dotted Names Ltd"}
    assert found("asp.net") == {"Dotted Names Ltd"}
    assert found(".NET") == {"Dotted Names Ltd"}


def test_words_too_common_to_search_are_left_out_beside_others_as_on_postgresql(network):
    assert found("migration to the retail") == {"Shopline"}
    assert found('"migration for retail"') == {"Shopline"}


def test_common_words_left_out_of_the_search_are_left_out_of_the_order_too(client):
    PartnerFactory(name="Itasca Data", description="Consulting for retailers.")
    PartnerFactory(name="Zeta Consulting", description="Data platforms.")
    assert names(search(client, q="IT consulting")) == ["Zeta Consulting", "Itasca Data"]


@pytest.mark.parametrize("q", ["S/4", "SAP S/4", "sap s/4h"])
def test_a_digit_after_a_letter_is_still_typed_so_far(q):
    PartnerFactory(name="Slash Works", description="SAP S/4HANA migrations for retailers.")
    PartnerFactory(name="Unrelated Ltd", description="Nothing alike.")
    assert found(q) == {"Slash Works"}


def test_a_search_of_only_common_words_matches_whole_words_of_names_as_on_postgresql(network):
    PartnerFactory(name="IT Partners GmbH", description="Managed services.")
    PartnerFactory(name="AT&T Cloud", description="Telecom.")
    PartnerFactory(name="AT&T Wireless", description="Mobile plans.")
    PartnerFactory(name="Italia Cloud", description="We make it simple.")
    assert found("IT") == {"IT Partners GmbH"}
    assert found("AT&T -mobile") == {"AT&T Cloud"}


def test_a_dot_inside_a_word_does_not_start_or_end_one_as_on_postgresql(network):
    PartnerFactory(name="Blue Harbor Cloud S.A. de C.V.", description="Managed services.")
    PartnerFactory(name="Dotted Names Ltd", description="Node.js and ASP.NET services.")
    PartnerFactory(name="Sharp Builders", description="We write C# services; .NET upgrades.")
    assert found("C#") == {"Sharp Builders"}
    assert found("js") == set()
    assert found(".NET") == {"Sharp Builders"}
    assert found("node") == {"Dotted Names Ltd"}


def test_an_exclusion_leaves_out_only_the_whole_word(network):
    assert found("migration -ai") == {"Shopline", "Partner Works"}
    assert found("migration -migra") == {"Shopline", "Partner Works", "Artisan Data"}


def test_a_phrase_matches_its_words_in_order(network):
    assert found('"data lake"') == {"Artisan Data"}
    assert found('"lake data"') == set()
    assert found('-"data lake" migration') == {"Shopline", "Partner Works"}


def test_case_is_ignored_beyond_ascii(network):
    assert found("SÃO PAULO") == found("são paulo") == {"Paulista Tech"}
    assert found("ESCRITÓRIOS") == {"Paulista Tech"}


def test_a_partner_named_by_the_words_ranks_first_only_when_a_word_starts_there(network):
    words = parse_search_words("art")
    ranked = with_sort_columns(Partner.objects.all(), words=words, near=None)

    relevance = dict(ranked.values_list("name", "relevance"))

    assert relevance["Artisan Data"] == 1.0
    assert relevance["Partner Works"] == 0.0


def test_words_find_a_partner_by_its_active_programs_and_its_tags_as_on_postgresql(client):
    """What PostgreSQL's search document holds besides the name and description: the names of the active
    programs, the categories, the industries and the use cases."""
    today = timezone.localdate()
    held = PartnerFactory(name="Acme Cloud", description="We help companies.")
    ApprovedEnrollmentFactory(partner=held, program=program("security"))
    held.industries.add(IndustryFactory(name="Healthcare"))
    held.use_cases.add(UseCaseFactory(name="Internet of Things"))
    held.categories.add(ConsultingCategory.objects.get_or_create(name="Strategic consultancy")[0])
    lapsed = PartnerFactory(name="Lapsed Ltd", description="We help companies too.")
    ApprovedEnrollmentFactory(
        partner=lapsed,
        program=program("security"),
        approved_on=today - datetime.timedelta(days=400),
        expires_on=today - datetime.timedelta(days=1),
    )

    for words in (
        "security",
        "healthcare",
        "internet things",
        "strategic consult",
        '"help companies" -security',
    ):
        expected = {"Lapsed Ltd"} if words.endswith("-security") else {"Acme Cloud"}
        assert found(words) == expected, words
        assert set(names(search(client, q=words))) == expected, words
