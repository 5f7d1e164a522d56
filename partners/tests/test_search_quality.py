"""Search quality on PostgreSQL: weighted full text, web-search syntax, prefixes, typos, and a search
document that follows every change to a partner."""

import datetime
import importlib

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.models import Partner, PartnerSearchEntry
from partners.search import TOO_COMMON_WORDS, parse_search_words
from partners.search_index import partner_search_refresh, partner_search_refresh_due
from partners.tests.search_helpers import api_names, facet, names, notes, search
from tests.factories import (
    ApprovedEnrollmentFactory,
    CertificationFactory,
    CustomerReferenceFactory,
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    StaffMemberFactory,
    UseCaseFactory,
    give_certified_people,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


@pytest.fixture
def catalogue():
    PartnerFactory(name="Cobalt Falcon Cloud", description="We run SAP migration projects for retailers.")
    PartnerFactory(
        name="Amber River Labs", description="Migration of databases and a data lake for analytics."
    )
    PartnerFactory(name="Polar Peak Systems", description="Data pipelines; we also clean the lake shore.")
    PartnerFactory(name="Granite Harbor Works", description="Kubernetes platforms and containers.")


def test_words_must_all_match(client, catalogue):
    assert names(search(client, q="migration retailers")) == ["Cobalt Falcon Cloud"]


def test_excluding_a_word(client, catalogue):
    assert names(search(client, q="migration -sap")) == ["Amber River Labs"]


def test_a_quoted_phrase_matches_only_the_words_together(client, catalogue):
    assert names(search(client, q='"data lake"')) == ["Amber River Labs"]
    assert sorted(names(search(client, q="data lake"))) == ["Amber River Labs", "Polar Peak Systems"]


def test_or_allows_either_word(client, catalogue):
    assert sorted(names(search(client, q="kubernetes OR sap"))) == [
        "Cobalt Falcon Cloud",
        "Granite Harbor Works",
    ]


def test_a_word_prefix_finds_the_word(client, catalogue):
    assert sorted(names(search(client, q="migra"))) == ["Amber River Labs", "Cobalt Falcon Cloud"]
    assert names(search(client, q="kube")) == ["Granite Harbor Works"]


def test_a_name_with_two_letters_swapped_still_finds_the_partner(client, catalogue):
    response = search(client, q="Flacon")
    assert names(response) == ["Cobalt Falcon Cloud"]
    assert "matched every word of “Flacon” as typed" in notes(response)[0]
    assert names(search(client, q="Cobalt Flacon Cloud"))[0] == "Cobalt Falcon Cloud"
    assert names(search(client, q="Graniet Harbor"))[0] == "Granite Harbor Works"
    # pg_trgm, for what swapping letters does not explain: a letter missing from a name typed whole.
    assert names(search(client, q="Granite Harbr Works")) == ["Granite Harbor Works"]


def test_the_name_ranks_above_programs_above_the_description(client):
    PartnerFactory(name="Northwind Advisory", description="Our security team audits cloud accounts.")
    named = PartnerFactory(name="Security Northwind", description="We help.")
    enrolled = PartnerFactory(name="Westwind Advisory", description="We help.")
    ApprovedEnrollmentFactory(partner=enrolled, program=program("security"))
    assert names(search(client, q="security")) == [
        "Security Northwind",
        "Westwind Advisory",
        "Northwind Advisory",
    ]
    assert named.pk


def test_the_name_ranks_above_programs_however_long_the_description(client):
    # A real "About" text runs to a hundred words or more, none of them the one searched for.
    about = " ".join(
        f"Our consultants deliver project {i} for enterprise customers in many regions." for i in range(15)
    )
    PartnerFactory(name="DevOps Direct", description=about)
    enrolled = PartnerFactory(name="Short Co", description="Cloud.")
    ApprovedEnrollmentFactory(partner=enrolled, program=program("devops"))  # the DevOps Competency
    assert names(search(client, q="devops")) == ["DevOps Direct", "Short Co"]
    assert names(search(client, q="devops direct")) == ["DevOps Direct"]


def test_the_name_ranks_above_a_description_repeating_the_words(client):
    topics = (
        "design",
        "migration",
        "governance",
        "security",
        "analytics",
        "operations",
        "audits",
        "training",
    )
    PartnerFactory(name="Data Lake Partners", description="Cloud consulting.")
    PartnerFactory(
        name="Keyword Stuffers", description=", ".join(f"data lake {topic}" for topic in topics * 2)
    )
    assert names(search(client, q="data lake")) == ["Data Lake Partners", "Keyword Stuffers"]


@pytest.mark.parametrize(
    ("name", "q"),
    [
        ("Zürich Data AG", "zurich"),
        ("Zürich Data AG", "ZÜRICH"),
        ("Société Générale Numérique", "societe numerique"),
        ("Munchen Cloud GmbH", "München"),
        ("Café24 Cloud", "cafe24"),  # a word with digits is another kind of token to PostgreSQL
    ],
)
def test_accents_are_ignored_either_way(client, name, q):
    PartnerFactory(name=name, description="Cloud consulting.")
    PartnerFactory(name="Unrelated Ltd", description="Nothing alike.")
    assert names(search(client, q=q)) == [name]
    assert api_names(q) == [name]


def test_a_name_with_accents_is_not_hidden_by_a_description_without_them(client):
    # Words found somewhere turn typo tolerance off: the accented name must be found by the words too.
    PartnerFactory(name="Zürich Data AG", description="Cloud consulting.")
    PartnerFactory(name="Alpine Cloud", description="Offices in Zurich and Geneva.")
    assert set(names(search(client, q="zurich"))) == {"Zürich Data AG", "Alpine Cloud"}
    assert names(search(client, q="zurich"))[0] == "Zürich Data AG"


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("AT&T", ["AT&T"]),
        ("at&t", ["AT&T"]),
        ("The Who", ["The Who"]),
        ("here & now", ["Here & Now"]),
    ],
)
def test_a_name_of_words_too_common_to_index_is_found_as_typed(client, q, found):
    # English text search leaves out "at", "the", "who": a query of nothing else is empty, and an empty
    # query matches nothing. Such a search looks for its words in names instead, and finds them outright,
    # not as the closest spelling.
    for name in ["AT&T", "The Who", "Here & Now", "Whole Data Systems"]:
        PartnerFactory(name=name, description="Cloud consulting for the enterprise.")
    response = search(client, q=q)
    assert names(response) == found
    assert notes(response) == []
    assert api_names(q) == found


def test_common_words_with_an_exclusion_still_need_their_words(client):
    PartnerFactory(name="AT&T Cloud Services", description="Telecom partner.")
    PartnerFactory(name="AT&T Wireless", description="Mobile plans.")
    PartnerFactory(name="Blue Ocean", description="Data platforms without wireless.")
    assert names(search(client, q="AT&T -wireless")) == ["AT&T Cloud Services"]
    assert names(search(client, q="at&t -mobile")) == ["AT&T Cloud Services"]


@pytest.mark.parametrize(("q", "found"), [("IT", ["IT Partners GmbH"]), ("the who", ["The Who"])])
def test_a_search_of_only_common_words_matches_whole_words_of_names(client, q, found):
    # "it" is the word IT, not the start of Italia.
    for name in ["IT Partners GmbH", "Italia Cloud", "The Who", "The Whole Story"]:
        PartnerFactory(name=name, description="Cloud services.")
    assert names(search(client, q=q)) == found


def test_the_too_common_words_are_the_ones_postgresql_leaves_out():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_read_file(setting || '/tsearch_data/english.stop') FROM pg_config"
            " WHERE name = 'SHAREDIR'"
        )
        assert set(cursor.fetchone()[0].split()) == TOO_COMMON_WORDS
        cursor.execute(
            "SELECT w FROM unnest(%s::text[]) AS w WHERE numnode(to_tsquery('apn_search', w)) > 0",
            [sorted(TOO_COMMON_WORDS)],
        )
        assert cursor.fetchall() == []


def test_common_words_beside_other_words_are_left_out_as_before(client, catalogue):
    assert names(search(client, q="the migration for retailers")) == ["Cobalt Falcon Cloud"]


@pytest.mark.parametrize("q", ["C#", "c++", "F#"])
def test_a_one_letter_language_is_a_whole_word_not_the_start_of_every_word(client, q):
    # Text search reads "C#" and "C++" as the word "c": as the start of a word, it would find every
    # partner with a word beginning with c ("cloud", "consulting").
    letter = q[0].upper()
    PartnerFactory(name="Sharp Builders", description=f"We write {letter}# and {letter}++ services.")
    PartnerFactory(name="Cloud Consulting Co", description="Cost control for cloud and container fleets.")
    PartnerFactory(name="Fast Forward Finance", description="Fintech forecasting.")
    assert names(search(client, q=q)) == ["Sharp Builders"]
    assert api_names(q) == ["Sharp Builders"]


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("Node.js", ["Dotted Names Ltd"]),
        ("node.j", ["Dotted Names Ltd"]),
        ("ASP.NET", ["Dotted Names Ltd"]),
        (".NET", ["Dotted Names Ltd"]),
        ("network", ["Wide Area Works"]),
    ],
)
def test_names_with_dots_are_found_as_written(client, q, found):
    # Text search reads "Node.js" and "ASP.NET" as one word each, and ".NET" as the word "net".
    PartnerFactory(name="Dotted Names Ltd", description="Node.js and ASP.NET services; .NET upgrades.")
    PartnerFactory(name="Wide Area Works", description="Network design for branch offices.")
    assert names(search(client, q=q)) == found
    assert api_names(q) == found


@pytest.mark.parametrize("q", ["AI/ML", "ML", "CI/CD", "Azure", "S/4HANA", "TypeScript", "24/7"])
def test_words_joined_by_a_slash_are_found(client, q):
    # PostgreSQL's parser reads "AI/ML" as one path, a word no query holds: the slash parts them.
    PartnerFactory(
        name="Slash Works",
        description="AI/ML and CI/CD on AWS/Azure, SAP S/4HANA migrations, Node.js/TypeScript, 24/7 support.",
    )
    PartnerFactory(name="Unrelated Ltd", description="Nothing alike.")
    assert names(search(client, q=q)) == ["Slash Works"]
    assert api_names(q) == ["Slash Works"]


@pytest.mark.parametrize(("q", "found"), [("M&A", "Northwind Advisory"), ("r&d", "Lab Works")])
def test_a_letter_beside_symbols_in_a_word_is_whole(client, q, found):
    PartnerFactory(name="Northwind Advisory", description="M&A due diligence for cloud deals.")
    PartnerFactory(name="Lab Works", description="R&D for robotics.")
    PartnerFactory(name="Migration Masters", description="Managed migration and modernisation.")
    PartnerFactory(name="Rapid Data", description="Realtime dashboards.")
    assert names(search(client, q=q)) == [found]


@pytest.mark.parametrize("q", ["S/4", "SAP S/4"])
def test_a_digit_after_a_letter_is_still_typed_so_far(client, q):
    PartnerFactory(name="Slash Works", description="SAP S/4HANA migrations for retailers.")
    PartnerFactory(name="Unrelated Ltd", description="Nothing alike.")
    assert names(search(client, q=q)) == ["Slash Works"]


def test_a_letter_typed_alone_is_still_the_start_of_a_word(client):
    PartnerFactory(name="Cloud Consulting Co", description="Cost control.")
    PartnerFactory(name="Amber River Labs", description="Data lakes.")
    assert names(search(client, q="amber r")) == ["Amber River Labs"]
    assert names(search(client, q="c")) == ["Cloud Consulting Co"]


def test_industries_use_cases_and_categories_are_searchable(client):
    partner = PartnerFactory(name="Quiet Meadow", description="")
    partner.industries.add(IndustryFactory(name="Agriculture", slug="agriculture"))
    partner.use_cases.add(UseCaseFactory(name="Internet of Things", slug="iot"))
    assert names(search(client, q="agriculture")) == ["Quiet Meadow"]
    assert names(search(client, q="things")) == ["Quiet Meadow"]


def test_search_syntax_cannot_break_the_query(client, catalogue):
    for q in [
        "a & b | !c",
        "'':*",
        "foo:* <-> (bar",
        '"unclosed phrase',
        "- -- ---",
        "\\'; DROP TABLE",
        "a_b__c",
    ]:
        search(client, q=q)


def test_parsing_keeps_only_letters_and_digits_for_the_query():
    words = parse_search_words('data-lake -"sap hana" OR oracle c++ Node.js')
    assert [term.parts for term in words.terms] == [
        ["data", "lake"],
        ["sap", "hana"],
        ["oracle"],
        ["c"],
        ["node.js"],
    ]
    assert [len(group) for group in words.groups] == [1, 2, 1, 1]
    assert words.unwanted[0].text == "sap hana"


# The search document follows every change ---------------------------------------------------------------


def test_renaming_a_partner_updates_its_search_document(client):
    partner = PartnerFactory(name="Old Name Consulting", description="")
    partner.name = "Brandnew Consulting"
    partner.save()
    assert names(search(client, q="brandnew")) == ["Brandnew Consulting"]
    assert names(search(client, q="old")) == []


def test_tagging_and_untagging_an_industry_updates_the_filters(client):
    partner = PartnerFactory(name="Tagged")
    energy = IndustryFactory(name="Energy", slug="energy")
    partner.industries.add(energy)
    assert names(search(client, industry="energy")) == ["Tagged"]
    energy.partners.remove(partner)
    assert names(search(client, industry="energy")) == []
    energy.partners.add(partner)
    energy.partners.clear()
    assert names(search(client, industry="energy")) == []


def test_renaming_a_term_updates_the_documents_of_its_partners(client):
    partner = PartnerFactory(name="Tagged", description="")
    energy = IndustryFactory(name="Energy", slug="energy")
    partner.industries.add(energy)
    energy.name = "Utilities"
    energy.save()
    assert names(search(client, q="utilities")) == ["Tagged"]


def test_an_office_added_or_removed_changes_the_country_filter(client):
    partner = PartnerFactory(name="Travelling")
    office = OfficeFactory(partner=partner, country="JP", city="Tokyo", latitude=35.68, longitude=139.69)
    assert names(search(client, country="JP")) == ["Travelling"]
    office.delete()
    assert names(search(client, country="JP")) == []


def test_a_tier_change_moves_the_partner_in_the_order_and_the_filter(client):
    partner = PartnerFactory(name="Climber")
    PartnerFactory(name="Other")
    partner.tier = tier(slug="advanced")
    partner.save()
    assert names(search(client, tier="advanced")) == ["Climber"]
    assert names(search(client))[0] == "Climber"


def test_expiry_takes_programs_and_certifications_out_once_their_day_has_passed(client):
    partner = PartnerFactory(name="Expiring")
    expiry = TODAY() + datetime.timedelta(days=10)
    ApprovedEnrollmentFactory(partner=partner, program=program("devops"), expires_on=expiry)
    CertificationFactory(staff_member=StaffMemberFactory(partner=partner), expires_on=expiry)
    entry = PartnerSearchEntry.objects.get(partner=partner)
    assert entry.stale_on == expiry + datetime.timedelta(days=1)
    assert names(search(client, program="devops")) == ["Expiring"]

    with time_machine.travel(expiry + datetime.timedelta(days=1), tick=False):
        assert partner_search_refresh_due() == 1
        assert names(search(client, program="devops")) == []
        assert search(client).context["page"].rows[0].certification_count == 0
        assert partner_search_refresh_due() == 0  # a second run the same day finds nothing due


def test_deleting_a_partner_deletes_its_entry():
    partner = PartnerFactory()
    OfficeFactory(partner=partner)
    CertificationFactory(staff_member=StaffMemberFactory(partner=partner))
    partner.delete()
    assert not PartnerSearchEntry.objects.filter(partner_id=partner.pk).exists()


def test_bulk_inserted_partners_are_found_after_a_reindex(client):
    Partner.objects.bulk_create(
        [
            Partner(
                name=f"Bulk {n}", slug=f"bulk-{n}", partner_type="consulting", tier=tier(), is_published=True
            )
            for n in range(3)
        ]
    )
    assert names(search(client, q="bulk")) == []
    call_command("search_reindex", verbosity=0)
    assert sorted(names(search(client, q="bulk"))) == ["Bulk 0", "Bulk 1", "Bulk 2"]


def test_a_refresh_of_many_partners_is_one_statement_after_locking_their_entries():
    partners = PartnerFactory.create_batch(30)
    with CaptureQueriesContext(connection) as refresh:
        assert partner_search_refresh([partner.pk for partner in partners]) == 30

    statements = [query["sql"] for query in refresh.captured_queries if "SAVEPOINT" not in query["sql"]]
    assert len(statements) == 2
    assert statements[0].startswith('SELECT "partners_partnersearchentry"."partner_id"')
    assert statements[0].endswith("FOR UPDATE")
    assert statements[1].lstrip().startswith("INSERT INTO partners_partnersearchentry")


def test_an_imported_certification_counts_at_once(client):
    from partners.services import certifications_import_csv
    from tests.factories import SuperUserFactory

    partner = PartnerFactory(name="Importer", slug="importer")
    csv = (
        "partner,staff_name,name,level,earned_on\n"
        "importer,Ada Lovelace,Developer - Associate,associate,2026-01-05\n"
    )
    with time_machine.travel(datetime.date(2026, 6, 1), tick=False):
        result = certifications_import_csv(data=csv, user=SuperUserFactory())
        assert result.ok, result.errors
        row = search(client).context["page"].rows[0]
    assert row.partner_id == partner.pk
    assert row.certification_count == 1


def _partner_with_every_facet(name="Counted"):
    partner = PartnerFactory(name=name, description="")
    OfficeFactory(partner=partner, country="JP", city="Tokyo", latitude=35.68, longitude=139.69)
    partner.industries.add(IndustryFactory(name="Energy", slug="energy"))
    partner.use_cases.add(UseCaseFactory(name="Backup", slug="backup"))
    ApprovedEnrollmentFactory(partner=partner, program=program("migration"))
    return partner


def test_facet_counts_follow_offices_tags_and_programs_as_they_change(client):
    partner = _partner_with_every_facet()
    PartnerFactory(name="Counted Too", description="")
    response = search(client, q="counted")
    assert facet(response, "country") == {"JP": 1}
    assert facet(response, "industry") == {"energy": 1}
    assert facet(response, "use_case") == {"backup": 1}
    assert facet(response, "program") == {"migration": 1}
    assert facet(response, "type")["consulting"] == 2
    partner.offices.all().delete()
    partner.industries.clear()
    response = search(client, q="counted")
    assert facet(response, "country") == {}
    assert facet(response, "industry") == {}
    assert facet(response, "program") == {"migration": 1}


def test_the_migration_fills_facet_keys_as_a_refresh_writes_them():
    migration = importlib.import_module("partners.migrations.0008_search_entry_facet_keys")
    partner = _partner_with_every_facet()
    written = PartnerSearchEntry.objects.get(pk=partner.pk).facet_keys
    assert {key.partition(":")[0] for key in written} == {
        "type",
        "tier",
        "program",
        "industry",
        "use_case",
        "country",
    }
    PartnerSearchEntry.objects.update(facet_keys=[])
    with connection.cursor() as cursor:
        cursor.execute(migration.FILL)
    assert sorted(PartnerSearchEntry.objects.get(pk=partner.pk).facet_keys) == sorted(written)


def test_the_migration_writes_an_entry_for_every_partner_without_one(client):
    # As a database upgraded from before partners 0005 is: partners, and no entries to search.
    migration = importlib.import_module("partners.migrations.0029_search_parts_words_at_slashes")
    PartnerFactory(name="Slash Works", description="AI/ML on AWS.")
    PartnerSearchEntry.objects.all().delete()
    assert names(search(client, q="ML")) == []
    with connection.schema_editor() as editor:
        migration.write_every_entry(django_apps, editor)
    assert names(search(client, q="ML")) == ["Slash Works"]


def _card(client, partner, **params):
    return next(row for row in search(client, **params).context["page"].rows if row.partner_id == partner.pk)


def test_a_person_moved_to_another_partner_takes_their_certifications_along(client):
    leaving, joining = PartnerFactory(name="Leaving"), PartnerFactory(name="Joining")
    person = give_certified_people(leaving, count=1)[0]
    CertificationFactory(staff_member=person)
    give_certified_people(leaving, count=1)
    assert names(search(client, sort="certifications")) == ["Leaving", "Joining"]
    person.partner = joining  # what the staff member's admin page does
    person.save()
    assert _card(client, leaving).certification_count == 1
    assert _card(client, joining).certification_count == 2
    assert names(search(client, sort="certifications")) == ["Joining", "Leaving"]


def test_a_certification_moved_to_a_person_of_another_partner_counts_there(client):
    leaving, joining = PartnerFactory(name="Leaving"), PartnerFactory(name="Joining")
    certification = CertificationFactory(staff_member=StaffMemberFactory(partner=leaving))
    certification.staff_member = StaffMemberFactory(partner=joining)
    certification.save()
    assert (_card(client, leaving).certification_count, _card(client, joining).certification_count) == (0, 1)


def test_deleting_a_person_takes_their_certifications_off_the_card_in_one_refresh(
    client, django_assert_max_num_queries
):
    partner = PartnerFactory(name="Shrinking")
    person = give_certified_people(partner, count=2)[0]
    CertificationFactory.create_batch(4, staff_member=person)
    # The person, their certifications and history rows (theirs and the certifications'), and one refresh
    # (its entries locked, then rewritten, in a savepoint): not one per certification.
    with django_assert_max_num_queries(13) as captured:
        person.delete()
    refreshes = [
        q for q in captured.captured_queries if "INSERT INTO partners_partnersearchentry" in q["sql"]
    ]
    assert len(refreshes) == 1
    assert _card(client, partner).certification_count == 1


def test_an_office_or_a_reference_moved_to_another_partner_leaves_the_first(client):
    leaving, joining = PartnerFactory(name="Leaving"), PartnerFactory(name="Joining")
    office = OfficeFactory(partner=leaving, country="JP", city="Tokyo", latitude=35.68, longitude=139.69)
    reference = CustomerReferenceFactory(partner=leaving)
    office.partner = reference.partner = joining
    office.save()
    reference.save()
    assert names(search(client, country="JP")) == ["Joining"]
    assert (_card(client, leaving).reference_count, _card(client, joining).reference_count) == (0, 1)
