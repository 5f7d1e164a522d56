"""CSV import of certifications: everything or nothing, and every bad row named by its line number."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.choices import CertificationLevel, RequirementMetric
from partners.models import EARLIEST_TIME_ZONE, Certification, PartnerSearchEntry, StaffMember
from partners.selectors import tier_evaluate
from partners.services import certifications_import_csv
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PdmFactory,
    StaffMemberFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db

HEADER = "partner,staff_name,staff_email,name,level,credential_id,earned_on,expires_on"
GOOD_ROW = "acme,Ana Lima,ana@acme.example,Solutions Architect - Associate,associate,SAA-1,2024-05-10,"
OTHER_GOOD_ROW = "acme,Bruno Costa,,Cloud Practitioner,foundational,CLF-1,2023-01-15,2026-01-15"


def csv_file(*rows, header=HEADER) -> bytes:
    return "\n".join([header, *rows, ""]).encode()


@pytest.fixture
def pdm():
    return PdmFactory()


@pytest.fixture
def acme(pdm):
    return PartnerFactory(slug="acme", pdm=pdm)


def nothing_imported():
    return not Certification.objects.exists() and not StaffMember.objects.exists()


def ana_holding_good_row(acme, earned_on=datetime.date(2024, 5, 10)):
    """Ana Lima of `acme`, recorded with the certification GOOD_ROW names (credential SAA-1)."""
    ana = StaffMemberFactory(partner=acme, full_name="Ana Lima", email="ana@acme.example")
    CertificationFactory(
        staff_member=ana,
        name="Solutions Architect - Associate",
        level=CertificationLevel.ASSOCIATE,
        credential_id="SAA-1",
        earned_on=earned_on,
    )
    return ana


# A good file ----------------------------------------------------------------------------------------------


def test_a_good_file_imports_every_row_and_adds_missing_people(acme, pdm):
    result = certifications_import_csv(
        data=csv_file(
            GOOD_ROW,
            "acme,Ana Lima,ana@acme.example,Security - Specialty,specialty,SCS-1,2024-06-01,2026-06-01",
            OTHER_GOOD_ROW,
        ),
        user=pdm,
    )

    assert result.ok
    assert (result.created, result.staff_created) == (3, 2)
    ana = StaffMember.objects.get(partner=acme, email="ana@acme.example")
    assert ana.full_name == "Ana Lima"
    assert sorted(ana.certifications.values_list("level", flat=True)) == ["associate", "specialty"]
    bruno = StaffMember.objects.get(partner=acme, full_name="Bruno Costa")
    assert bruno.email == ""
    clf = bruno.certifications.get()
    assert (clf.name, clf.credential_id, clf.earned_on, clf.expires_on) == (
        "Cloud Practitioner",
        "CLF-1",
        datetime.date(2023, 1, 15),
        datetime.date(2026, 1, 15),
    )


def test_a_certification_without_expiry_gets_three_years(acme, pdm):
    certifications_import_csv(
        data=csv_file("acme,Ana Lima,,Developer - Associate,associate,,2024-02-29,"), user=pdm
    )

    assert Certification.objects.get().expires_on == datetime.date(2027, 2, 28)


def test_known_people_are_found_by_email_when_given_else_by_name(acme, pdm):
    ana = StaffMemberFactory(partner=acme, full_name="Ana Lima", email="ana@acme.example")
    bruno = StaffMemberFactory(partner=acme, full_name="Bruno Costa", email="")

    result = certifications_import_csv(
        data=csv_file(
            "acme,Ana M. Lima,ANA@acme.example,Developer - Associate,associate,DVA-1,2024-05-10,",
            "acme,bruno costa,,Cloud Practitioner,foundational,CLF-1,2024-05-10,",
            "acme,Ana Lima,ana.other@acme.example,Cloud Practitioner,foundational,CLF-2,2024-05-10,",
        ),
        user=pdm,
    )

    assert result.ok
    assert result.staff_created == 1
    assert ana.certifications.get().credential_id == "DVA-1"
    assert bruno.certifications.get().credential_id == "CLF-1"
    namesake = StaffMember.objects.get(email="ana.other@acme.example")
    assert namesake.full_name == "Ana Lima"
    assert namesake.pk != ana.pk


def test_a_person_imported_without_an_email_is_the_same_person_when_imported_with_one(acme, pdm):
    certifications_import_csv(
        data=csv_file("acme,Jane Doe,,Solutions Architect - Associate,associate,SAA-1,2025-01-10,"), user=pdm
    )

    result = certifications_import_csv(
        data=csv_file("acme,Jane Doe,jane@acme.example,Developer - Associate,associate,DVA-1,2025-02-10,"),
        user=pdm,
    )

    assert result.ok
    assert result.staff_created == 0
    jane = StaffMember.objects.get(partner=acme)
    assert (jane.full_name, jane.email) == ("Jane Doe", "jane@acme.example")
    assert sorted(jane.certifications.values_list("credential_id", flat=True)) == ["DVA-1", "SAA-1"]
    assert tier_evaluate(acme).metrics[RequirementMetric.TECHNICAL_PEOPLE] == 1


def test_within_one_file_a_person_without_then_with_an_email_is_one_person(acme, pdm):
    result = certifications_import_csv(
        data=csv_file(
            "acme,Jane Doe,,Solutions Architect - Associate,associate,SAA-1,2025-01-10,",
            "acme,Jane Doe,jane@acme.example,Developer - Associate,associate,DVA-1,2025-02-10,",
            "acme,jane doe,,Cloud Practitioner,foundational,CLF-1,2025-03-10,",
        ),
        user=pdm,
    )

    assert result.ok
    assert result.staff_created == 1
    assert StaffMember.objects.get(partner=acme).email == "jane@acme.example"


def test_an_email_for_one_of_several_namesakes_without_one_is_refused_as_ambiguous(acme, pdm):
    StaffMemberFactory.create_batch(2, partner=acme, full_name="Jane Doe", email="")

    result = certifications_import_csv(
        data=csv_file("acme,Jane Doe,jane@acme.example,Developer - Associate,associate,DVA-1,2025-02-10,"),
        user=pdm,
    )

    assert result.errors == [
        (
            2,
            "staff_email 'jane@acme.example' is nobody's yet and 2 people named 'Jane Doe' have no email: it "
            "is unclear which one this is. Give that person the email address on the partner's record first.",
        )
    ]
    assert not Certification.objects.exists()
    assert not StaffMember.objects.exclude(email="").exists()


def test_a_row_without_an_email_naming_one_of_several_namesakes_is_refused_as_ambiguous(acme, pdm):
    StaffMemberFactory(partner=acme, full_name="Jane Doe", email="jane.doe@acme.example")
    StaffMemberFactory(partner=acme, full_name="Jane Doe", email="")

    result = certifications_import_csv(
        data=csv_file(
            "acme,Jane Doe,,Developer - Associate,associate,DVA-1,2025-02-10,",
            "acme,John Roe,,Cloud Practitioner,foundational,CLF-1,2025-02-10,",
        ),
        user=pdm,
    )

    assert result.errors == [
        (
            2,
            "staff_email is empty and 2 people are named 'Jane Doe': it is unclear which one this is. "
            "Give the email address of that person on the partner's record.",
        )
    ]
    assert not Certification.objects.exists()
    assert StaffMember.objects.count() == 2


def test_a_row_without_an_email_after_rows_adding_a_namesake_is_refused_as_ambiguous(acme, pdm):
    StaffMemberFactory(partner=acme, full_name="Jane Doe", email="jane.doe@acme.example")

    result = certifications_import_csv(
        data=csv_file(
            "acme,Jane Doe,jane.d@acme.example,Developer - Associate,associate,DVA-1,2025-02-10,",
            "acme,jane doe,,Cloud Practitioner,foundational,CLF-1,2025-02-10,",
        ),
        user=pdm,
    )

    assert [line for line, _ in result.errors] == [3]
    assert "2 people are named 'jane doe'" in result.errors[0][1]
    assert not Certification.objects.exists()


def test_an_email_is_not_given_to_a_namesake_who_has_another(acme, pdm):
    StaffMemberFactory(partner=acme, full_name="Jane Doe", email="jane.doe@acme.example")

    result = certifications_import_csv(
        data=csv_file("acme,Jane Doe,jane@acme.example,Developer - Associate,associate,DVA-1,2025-02-10,"),
        user=pdm,
    )

    assert result.staff_created == 1
    assert StaffMember.objects.filter(partner=acme, full_name="Jane Doe").count() == 2


def test_the_same_person_of_another_partner_is_another_person(acme, pdm):
    other = PartnerFactory(slug="other", pdm=pdm)
    StaffMemberFactory(partner=other, full_name="Ana Lima", email="ana@acme.example")

    result = certifications_import_csv(data=csv_file(GOOD_ROW), user=pdm)

    assert result.staff_created == 1
    assert Certification.objects.get().staff_member.partner == acme


def test_level_and_header_are_read_leniently(acme, pdm):
    result = certifications_import_csv(
        data=csv_file(
            "acme , Ana Lima ,,Solutions Architect - Professional, Professional ,,2024-05-10,",
            header=" partner , staff_name ,staff_email, name , level ,credential_id, earned_on ,expires_on ",
        ),
        user=pdm,
    )

    assert result.ok
    assert Certification.objects.get().level == CertificationLevel.PROFESSIONAL


def test_a_superuser_imports_for_any_partner():
    PartnerFactory(slug="acme", pdm=None)

    result = certifications_import_csv(data=csv_file(GOOD_ROW), user=SuperUserFactory())

    assert result.ok
    assert result.created == 1


def test_a_file_with_a_utf8_bom_is_read(acme, pdm):
    result = certifications_import_csv(
        data="\ufeff".encode() + csv_file("acme,Zoë Ñúñez,,Cloud Practitioner,foundational,,2024-05-10,"),
        user=pdm,
    )

    assert result.ok
    assert StaffMember.objects.get().full_name == "Zoë Ñúñez"


def test_text_with_a_bom_is_read_too(acme, pdm):
    result = certifications_import_csv(data="\ufeff" + csv_file(GOOD_ROW).decode(), user=pdm)

    assert result.ok


def test_windows_line_endings_are_read(acme, pdm):
    data = "\r\n".join([HEADER, GOOD_ROW, OTHER_GOOD_ROW, ""]).encode()

    result = certifications_import_csv(data=data, user=pdm)

    assert result.ok
    assert result.created == 2


def test_blank_lines_are_skipped_and_line_numbers_stay_true(acme, pdm):
    good = certifications_import_csv(data=csv_file("", GOOD_ROW, ",,,,,,,", "", OTHER_GOOD_ROW, ""), user=pdm)

    assert good.ok
    assert good.created == 2

    Certification.objects.all().delete()
    bad = certifications_import_csv(data=csv_file("", "", "acme,Cara,,X,expert,,2024-05-10,"), user=pdm)

    assert bad.errors == [
        (4, "level 'expert' is not one of foundational, associate, professional, specialty.")
    ]


def test_the_history_of_imported_certifications_names_the_importer(acme, pdm):
    certifications_import_csv(data=csv_file(GOOD_ROW, OTHER_GOOD_ROW), user=pdm)

    for certification in Certification.objects.all():
        record = certification.history.get()
        assert record.history_type == "+"
        assert record.history_user == pdm


def _import_queries(partner, pdm, people: int, unmailed: int) -> int:
    """The statements an import costs of `people` rows naming new people of `partner` and `unmailed` rows
    giving an email to a person recorded without one."""
    # Named apart: two random namesakes without an email would make a row ambiguous, rightly refused.
    named = [
        StaffMemberFactory(partner=partner, email="", full_name=f"Unmailed Person {i}")
        for i in range(unmailed)
    ]
    rows = [
        f"{partner.slug},Person {i},p{i}@{partner.slug}.example,Cloud Practitioner,foundational,,2025-01-10,"
        for i in range(people)
    ] + [
        f"{partner.slug},{member.full_name},m{member.pk}@{partner.slug}.example,"
        "Developer - Associate,associate,,2025-01-10,"
        for member in named
    ]
    importer = type(pdm).objects.get(pk=pdm.pk)  # as a request has it: nothing it read cached yet
    with CaptureQueriesContext(connection) as captured:
        result = certifications_import_csv(data=csv_file(*rows), user=importer)
    assert result.ok, result.errors
    assert (result.created, result.staff_created) == (people + unmailed, people)
    return len(captured.captured_queries)


def test_an_import_of_many_people_costs_as_many_statements_as_one_of_a_few(acme, pdm):
    # A file of thousands of new people ran past the web server's timeout: one save (and one search
    # refresh) per person.
    few = _import_queries(acme, pdm, people=2, unmailed=1)
    many = _import_queries(PartnerFactory(slug="beta", pdm=pdm), pdm, people=60, unmailed=20)

    assert many == few
    assert StaffMember.objects.filter(partner__slug="beta").exclude(email="").count() == 80
    if connection.vendor == "postgresql":
        assert PartnerSearchEntry.objects.get(partner__slug="beta").active_certifications == 80


# The same rows again ---------------------------------------------------------------------------------------

# A monthly export from the training system: the rows of the month before, and then some.
MONTHLY_EXPORT = (
    GOOD_ROW,
    OTHER_GOOD_ROW,
    "acme,Cara Dias,,Cloud Practitioner,foundational,,2024-03-01,",
    "acme,Dan Reis,dan@acme.example,Developer - Associate,associate,,2024-04-01,",
)


def test_importing_the_same_file_again_records_nothing_twice_and_counts_the_rows_skipped(acme, pdm):
    first = certifications_import_csv(data=csv_file(*MONTHLY_EXPORT), user=pdm)
    assert (first.created, first.staff_created, first.already_recorded) == (4, 4, 0)

    again = certifications_import_csv(data=csv_file(*MONTHLY_EXPORT), user=pdm)

    assert again.ok, again.errors
    assert (again.created, again.staff_created, again.already_recorded) == (0, 0, 4)
    assert Certification.objects.count() == 4
    assert StaffMember.objects.filter(partner=acme).count() == 4
    for member in StaffMember.objects.filter(partner=acme):
        assert member.certifications.count() == 1, member.full_name


def test_next_months_export_adds_only_its_new_rows(acme, pdm):
    certifications_import_csv(data=csv_file(*MONTHLY_EXPORT), user=pdm)

    result = certifications_import_csv(
        data=csv_file(
            *MONTHLY_EXPORT,
            "acme,Cara Dias,,Solutions Architect - Associate,associate,,2024-09-01,",
        ),
        user=pdm,
    )

    assert result.ok, result.errors
    assert (result.created, result.staff_created, result.already_recorded) == (1, 0, 4)
    cara = StaffMember.objects.get(partner=acme, full_name="Cara Dias")
    assert sorted(cara.certifications.values_list("level", flat=True)) == ["associate", "foundational"]


def test_a_row_naming_a_certification_the_person_holds_is_skipped_with_or_without_its_credential_id(
    acme, pdm
):
    ana = ana_holding_good_row(acme)
    CertificationFactory(
        staff_member=ana,
        name="Cloud Practitioner",
        level=CertificationLevel.FOUNDATIONAL,
        credential_id="CLF-9",
        earned_on=datetime.date(2023, 1, 15),
    )

    result = certifications_import_csv(
        data=csv_file(
            # Its credential id, as recorded.
            GOOD_ROW,
            # The same certification, the export leaving its credential id out.
            "acme,Ana Lima,ana@acme.example,Cloud Practitioner,foundational,,2023-01-15,",
        ),
        user=pdm,
    )

    assert result.ok, result.errors
    assert (result.created, result.already_recorded) == (0, 2)
    assert ana.certifications.count() == 2


def test_a_row_repeated_within_the_file_is_recorded_once(acme, pdm):
    without_credential = "acme,Cara Dias,,Cloud Practitioner,foundational,,2024-03-01,"

    result = certifications_import_csv(
        data=csv_file(GOOD_ROW, without_credential, GOOD_ROW, without_credential.replace("Cara", "cara")),
        user=pdm,
    )

    assert result.ok, result.errors
    assert (result.created, result.staff_created, result.already_recorded) == (2, 2, 2)
    assert Certification.objects.count() == 2


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            "acme,Ana Lima,ana@acme.example,Security - Specialty,specialty,SAA-1,2025-02-01,",
            id="another-name-level-and-day",
        ),
        pytest.param(
            "acme,Ana Lima,ana@acme.example,Security - Specialty,associate,SAA-1,2025-03-12,",
            id="another-name",
        ),
        pytest.param(
            "acme,Ana Lima,ana@acme.example,Solutions Architect - Associate,professional,SAA-1,2025-03-12,",
            id="another-level",
        ),
        pytest.param(
            "acme,Ana Lima,ana@acme.example,Solutions Architect - Associate,associate,SAA-1,2025-03-13,",
            id="another-day",
        ),
    ],
)
def test_a_row_naming_another_certification_with_a_credential_id_the_person_holds_is_refused(acme, pdm, row):
    ana = ana_holding_good_row(acme, earned_on=datetime.date(2025, 3, 12))

    result = certifications_import_csv(data=csv_file(row, OTHER_GOOD_ROW), user=pdm)

    assert result.errors == [
        (
            2,
            "credential_id 'SAA-1' is recorded for another certification of this person "
            "(Solutions Architect - Associate, earned 12 Mar 2025).",
        )
    ]
    assert (result.created, result.staff_created, result.already_recorded) == (0, 0, 0)
    assert list(ana.certifications.values_list("name", flat=True)) == ["Solutions Architect - Associate"]
    assert not StaffMember.objects.filter(partner=acme, full_name="Bruno Costa").exists()


def test_a_row_naming_the_certification_a_credential_id_is_recorded_for_is_skipped_whatever_the_case(
    acme, pdm
):
    ana = ana_holding_good_row(acme)

    result = certifications_import_csv(
        data=csv_file(
            "acme,Ana Lima,ana@acme.example,solutions architect - ASSOCIATE,Associate,SAA-1,2024-05-10,",
            OTHER_GOOD_ROW,
        ),
        user=pdm,
    )

    assert result.ok, result.errors
    assert (result.created, result.already_recorded) == (1, 1)
    assert ana.certifications.count() == 1


def test_a_credential_id_repeated_in_the_file_for_another_certification_of_the_person_is_refused(acme, pdm):
    result = certifications_import_csv(
        data=csv_file(
            GOOD_ROW,
            OTHER_GOOD_ROW,
            "acme,Ana Lima,ana@acme.example,Security - Specialty,specialty,SAA-1,2025-02-01,",
        ),
        user=pdm,
    )

    assert result.errors == [
        (
            4,
            "credential_id 'SAA-1' is on line 2 for another certification of this person "
            "(Solutions Architect - Associate, earned 10 May 2024).",
        )
    ]
    assert (result.created, result.already_recorded) == (0, 0)
    assert nothing_imported()


def test_a_credential_id_recorded_for_another_partners_person_is_still_refused(acme, pdm):
    CertificationFactory(credential_id="SAA-1")

    result = certifications_import_csv(data=csv_file(GOOD_ROW, OTHER_GOOD_ROW), user=pdm)

    assert result.errors == [(2, "credential_id 'SAA-1' is already recorded for another person.")]
    assert Certification.objects.count() == 1
    assert not StaffMember.objects.filter(partner=acme).exists()


def test_a_credential_id_recorded_for_another_person_of_the_partner_is_still_refused(acme, pdm):
    bruno = StaffMemberFactory(partner=acme, full_name="Bruno Costa", email="")
    CertificationFactory(staff_member=bruno, credential_id="SAA-1")

    result = certifications_import_csv(data=csv_file(GOOD_ROW), user=pdm)

    assert result.errors == [(2, "credential_id 'SAA-1' is already recorded for another person.")]
    assert Certification.objects.count() == 1


def test_importing_a_file_again_costs_as_many_statements_as_the_first_time(acme, pdm):
    rows = [
        f"acme,Person {i},p{i}@acme.example,Cloud Practitioner,foundational,{f'C-{i}' if i % 2 else ''},"
        "2025-01-10,"
        for i in range(40)
    ]
    certifications_import_csv(data=csv_file(*rows[:2]), user=pdm)
    certifications_import_csv(data=csv_file(*rows), user=pdm)

    counts = []
    for some in (rows[:2], rows):
        importer = type(pdm).objects.get(pk=pdm.pk)
        with CaptureQueriesContext(connection) as captured:
            result = certifications_import_csv(data=csv_file(*some), user=importer)
        assert (result.created, result.already_recorded) == (0, len(some))
        counts.append(len(captured.captured_queries))

    assert counts[0] == counts[1]
    assert Certification.objects.count() == 40


# A bad row among good ones --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_row, message",
    [
        pytest.param(
            "nope,Cara Dias,,Cloud Practitioner,foundational,,2024-05-10,",
            "partner 'nope' does not exist.",
            id="unknown-partner",
        ),
        pytest.param(
            "someone-elses,Cara Dias,,Cloud Practitioner,foundational,,2024-05-10,",
            "you cannot change partner 'someone-elses'.",
            id="another-pdms-partner",
        ),
        pytest.param(
            "acme,Cara Dias,,Cloud Practitioner,expert,,2024-05-10,",
            "level 'expert' is not one of foundational, associate, professional, specialty.",
            id="bad-level",
        ),
        pytest.param(
            "acme,Cara Dias,,Cloud Practitioner,foundational,,10/05/2024,",
            "earned_on '10/05/2024' is not a date in the form YYYY-MM-DD.",
            id="bad-date-format",
        ),
        pytest.param(
            "acme,Cara Dias,,Cloud Practitioner,foundational,,2024-02-30,",
            "earned_on '2024-02-30' is not a date in the form YYYY-MM-DD.",
            id="impossible-date",
        ),
        pytest.param(
            "acme,Cara Dias,,Cloud Practitioner,foundational,,2024-05-10,2024-05-10",
            "expires_on must be after earned_on.",
            id="expires-on-the-day-earned",
        ),
        pytest.param(
            "acme,Cara Dias,,Cloud Practitioner,foundational,,2024-05-10,2023-05-10",
            "expires_on must be after earned_on.",
            id="expires-before-earned",
        ),
        pytest.param(
            "acme,Cara Dias,,Cloud Practitioner,foundational,,{tomorrow},",
            "earned_on: Give a date no later than today (this one is in the future).",
            id="earned-in-the-future",
        ),
        pytest.param(
            "acme,Cara Dias,,Cloud Practitioner,foundational,SAA-1,2024-05-10,",
            "credential_id 'SAA-1' repeats line 2.",
            id="credential-repeated-in-the-file",
        ),
        pytest.param(
            "acme,Cara Dias,,Cloud Practitioner,foundational,TAKEN-1,2024-05-10,",
            "credential_id 'TAKEN-1' is already recorded for another person.",
            id="credential-already-recorded",
        ),
        pytest.param(
            "acme,Cara Dias,,Cloud Practitioner,foundational,,2024-05-10,,surplus",
            "The row has more fields than the header.",
            id="more-fields-than-the-header",
        ),
        pytest.param(
            "acme,,,Cloud Practitioner,,,2024-05-10,",
            "staff_name is required; level is required.",
            id="required-values-missing",
        ),
        pytest.param(
            "acme,Cara Dias,cara-at-acme,Cloud Practitioner,foundational,,2024-05-10,",
            "staff_email 'cara-at-acme' is not an email address.",
            id="bad-email",
        ),
    ],
)
def test_one_bad_row_imports_nothing_and_names_its_line(acme, pdm, bad_row, message):
    PartnerFactory(slug="someone-elses", pdm=PdmFactory())
    CertificationFactory(credential_id="TAKEN-1")
    # A day that has not begun anywhere on Earth yet (the rule counts from the earliest time zone).
    tomorrow = timezone.localdate(timezone=EARLIEST_TIME_ZONE) + datetime.timedelta(days=1)
    certifications_before = Certification.objects.count()

    result = certifications_import_csv(
        data=csv_file(GOOD_ROW, bad_row.format(tomorrow=tomorrow.isoformat()), OTHER_GOOD_ROW), user=pdm
    )

    assert not result.ok
    assert result.errors == [(3, message)]
    assert (result.created, result.staff_created) == (0, 0)
    assert Certification.objects.count() == certifications_before
    assert not StaffMember.objects.filter(partner=acme).exists()


def test_every_bad_row_is_reported_in_line_order(acme, pdm):
    result = certifications_import_csv(
        data=csv_file(
            "acme,Cara Dias,,X,expert,,2024-05-10,",
            GOOD_ROW,
            "acme,Dan Reis,,X,foundational,,2024-05-10,,surplus",
            "nope,Eva Luz,,X,foundational,,2024-05-10,",
        ),
        user=pdm,
    )

    assert [line for line, _ in result.errors] == [2, 4, 5]
    assert nothing_imported()


def test_a_row_with_several_problems_lists_them_all(acme, pdm):
    result = certifications_import_csv(data=csv_file("nope,Cara Dias,,X,expert,,someday,"), user=pdm)

    assert result.errors == [
        (
            2,
            "partner 'nope' does not exist; level 'expert' is not one of foundational, associate, "
            "professional, specialty; earned_on 'someday' is not a date in the form YYYY-MM-DD.",
        )
    ]


# A bad file -----------------------------------------------------------------------------------------------


def test_a_header_missing_a_column_is_refused(acme, pdm):
    header = "partner,staff_name,staff_email,name,credential_id,earned_on,expires_on"

    result = certifications_import_csv(
        data=csv_file("acme,Ana Lima,,Cloud Practitioner,,2024-05-10,", header=header), user=pdm
    )

    assert result.errors == [(1, "The header lacks the column(s): level.")]
    assert nothing_imported()


def test_a_file_without_a_header_is_refused(acme, pdm):
    result = certifications_import_csv(data=csv_file(OTHER_GOOD_ROW, header=GOOD_ROW), user=pdm)

    assert result.errors == [
        (1, "The header lacks the column(s): partner, staff_name, name, level, earned_on.")
    ]
    assert nothing_imported()


def test_non_utf8_bytes_are_refused_with_their_line(acme, pdm):
    # Saved from a spreadsheet as Latin-1: the "ë" is one byte that is not UTF-8.
    data = csv_file(GOOD_ROW, "acme,Zoe Lima,,Cloud Practitioner,foundational,,2024-05-10,").replace(
        b"Zoe", "Zoë".encode("latin-1")
    )

    result = certifications_import_csv(data=data, user=pdm)

    assert result.errors == [(3, "The file is not UTF-8 text; save it as CSV UTF-8 and try again.")]
    assert nothing_imported()


@pytest.mark.parametrize("data", [b"", b"\n\n", "\ufeff".encode()], ids=["empty", "blank-lines", "bom-only"])
def test_an_empty_file_is_refused(acme, pdm, data):
    result = certifications_import_csv(data=data, user=pdm)

    assert result.errors == [(1, "The file is empty: its first line should be the header.")]
    assert nothing_imported()


def test_a_header_without_rows_is_refused(acme, pdm):
    result = certifications_import_csv(data=csv_file(), user=pdm)

    assert result.errors == [(1, "The file has no rows to import.")]


# What a spreadsheet can hold that the records cannot -------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            f"acme,{'A' * 151},,Cloud Practitioner,foundational,,2024-01-15,",
            "staff_name: Ensure this value has at most 150",
        ),
        (f"acme,Ana Lima,,{'C' * 151},foundational,,2024-01-15,", "name: Ensure this value has at most 150"),
        (f"acme,Ana Lima,,Cloud Practitioner,foundational,{'9' * 101},2024-01-15,", "credential_id: Ensure"),
        ("acme,Ana\x00Lima,,Cloud Practitioner,foundational,,2024-01-15,", "holds a NUL character"),
        ("ac\x00me,Ana Lima,,Cloud Practitioner,foundational,,2024-01-15,", "holds a NUL character"),
        (f'acme,Ana Lima,,"{"x" * 140_000}",foundational,,2024-01-15,', "cannot be read as CSV"),
    ],
    ids=[
        "long person",
        "long certification",
        "long credential id",
        "NUL",
        "NUL in the partner",
        "huge field",
    ],
)
def test_a_value_the_records_cannot_hold_is_named_on_its_line_and_nothing_is_imported(
    acme, pdm, row, message
):
    result = certifications_import_csv(data=csv_file(GOOD_ROW, row), user=pdm)

    assert not result.ok
    assert [line for line, _ in result.errors] == [3]
    assert message in result.errors[0][1]
    assert nothing_imported()


def test_a_file_saved_with_a_classic_macs_line_endings_imports(acme, pdm):
    data = "\r".join([HEADER, GOOD_ROW, OTHER_GOOD_ROW, ""]).encode()

    result = certifications_import_csv(data=data, user=pdm)

    assert result.ok
    assert result.created == 2
