"""CSV in the admin: the partner export (the filtered list, or a selection) and the all-or-nothing import
of certifications."""

import csv
import io
import threading

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from partners import services
from partners.choices import CertificationLevel, PartnerType
from partners.models import Certification, ConsultingCategory, StaffMember
from partners.services import CERTIFICATION_CSV_COLUMNS
from tests.factories import (
    ContactRequestFactory,
    CustomerReferenceFactory,
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    PdmFactory,
    SuperUserFactory,
    give_certified_people,
    tier,
)
from tests.locks import in_a_thread, sent_twice_at_once

pytestmark = pytest.mark.django_db

EXPORT = "admin:partners_partner_export_csv"
IMPORT = "admin:partners_certification_import_csv"


@pytest.fixture
def superuser(client):
    user = SuperUserFactory()
    client.force_login(user)
    return user


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_export_streams_the_filtered_list_with_every_column(client, superuser):
    pdm = PdmFactory(first_name="Pat", last_name="Doe", email="pat@provider.example")
    partner = PartnerFactory(name="Acme Cloud", slug="acme-cloud", pdm=pdm, website="https://acme.example")
    partner.categories.add(*ConsultingCategory.objects.order_by("name")[:2])
    partner.industries.add(IndustryFactory(name="Retail", slug="retail"))
    OfficeFactory(partner=partner, is_headquarters=True, country="DE", city="Berlin")
    give_certified_people(partner, CertificationLevel.PROFESSIONAL, 3)
    CustomerReferenceFactory.create_batch(2, partner=partner)
    PartnerFactory(name="Tech Co", partner_type=PartnerType.TECHNOLOGY, tier=tier(PartnerType.TECHNOLOGY))

    rows = csv_rows(client.get(reverse(EXPORT) + "?partner_type__exact=consulting"))

    assert len(rows) == 1
    categories = "; ".join(ConsultingCategory.objects.order_by("name").values_list("name", flat=True)[:2])
    assert rows[0] == {
        "name": "Acme Cloud",
        "slug": "acme-cloud",
        "type": "Consulting",
        "tier": "Registered",
        "published": "yes",
        "pdm": "Pat Doe",
        "pdm_email": "pat@provider.example",
        "headquarters_country": "DE",
        "headquarters_city": "Berlin",
        "categories": categories,
        "industries": "Retail",
        "use_cases": "",
        "website": "https://acme.example",
        "active_certifications": "3",
        "validated_references": "2",
    }


def test_export_of_a_selection_and_cells_that_would_run_as_formulas(client, superuser):
    chosen = PartnerFactory(name='=HYPERLINK("http://evil")')
    PartnerFactory(name="Not chosen")

    response = client.post(
        reverse("admin:partners_partner_changelist"),
        {"action": "export_selected_csv", ACTION_CHECKBOX_NAME: [chosen.pk], "index": 0},
    )

    rows = csv_rows(response)
    assert [(row["name"], row["pdm"]) for row in rows] == [('\'=HYPERLINK("http://evil")', "")]


@pytest.mark.parametrize(
    ("name", "city", "website"),
    [
        ("Acme;=1+1;", "Berlin", "https://acme.example/"),
        ("Acme;@SUM(1+1)", "Berlin", "https://acme.example/"),
        ("Acme", "Berlin\t-2+3", "https://acme.example/"),
        # A website the partner's own staff may propose on their profile page.
        ("Acme", "Berlin", "https://acme.example/;=1+1;"),
    ],
)
def test_no_cell_starts_a_formula_in_a_spreadsheet_splitting_on_semicolons_or_tabs(
    client, superuser, name, city, website
):
    partner = PartnerFactory(name=name, website=website)
    partner.full_clean()  # values the partner's own validation accepts
    OfficeFactory(partner=partner, is_headquarters=True, country="DE", city=city)

    text = b"".join(client.get(reverse(EXPORT)).streaming_content).decode("utf-8-sig")

    # Excel where the list separator is ";" splits every line on it, quoted or not.
    cells = [cell for line in text.splitlines()[1:] for cell in line.replace("\t", ";").split(";")]
    assert len(cells) > 1
    assert not [cell for cell in cells if cell.lstrip('"').startswith(("=", "+", "-", "@"))], cells


def test_export_costs_the_same_queries_for_3_and_30_partners(client, superuser):
    def export_queries():
        with CaptureQueriesContext(connection) as queries:
            csv_rows(client.get(reverse(EXPORT)))
        return len(queries)

    for _ in range(3):
        give_certified_people(PartnerFactory(), count=2)
    export_queries()
    with_3 = export_queries()
    for _ in range(27):
        give_certified_people(PartnerFactory(), count=2)

    assert export_queries() == with_3


def upload(rows: list[list[str]], header=CERTIFICATION_CSV_COLUMNS) -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile("certifications.csv", buffer.getvalue().encode(), content_type="text/csv")


def test_import_of_a_good_file_creates_every_certification(client, superuser):
    PartnerFactory(slug="acme")
    good = [
        [
            "acme",
            "Jane Doe",
            "jane@acme.example",
            "Solutions Architect",
            "associate",
            "C-1",
            "2025-01-15",
            "",
        ],
        ["acme", "Jane Doe", "jane@acme.example", "DevOps Engineer", "professional", "C-2", "2025-02-01", ""],
        ["acme", "Raj Patel", "", "Cloud Practitioner", "foundational", "", "2024-06-01", "2027-06-01"],
    ]

    response = client.post(reverse(IMPORT), {"file": upload(good)}, follow=True)

    assert "Imported 3 certifications, and added 2 staff members." in response.content.decode()
    assert Certification.objects.filter(staff_member__partner__slug="acme").count() == 3
    assert StaffMember.objects.filter(partner__slug="acme").count() == 2


def test_import_with_a_bad_row_lists_its_line_and_imports_nothing(client, superuser):
    PartnerFactory(slug="acme")
    rows = [
        [
            "acme",
            "Jane Doe",
            "jane@acme.example",
            "Solutions Architect",
            "associate",
            "C-1",
            "2025-01-15",
            "",
        ],
        ["acme", "Raj Patel", "", "Cloud Practitioner", "expert", "", "2024-06-01", ""],
        ["nobody", "Ann Lee", "", "Security", "specialty", "", "15/01/2025", ""],
    ]

    response = client.post(reverse(IMPORT), {"file": upload(rows)})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was imported" in page
    assert "line 3" in page
    assert "level &#x27;expert&#x27; is not one of" in page
    assert "line 4" in page
    assert "partner &#x27;nobody&#x27; does not exist" in page
    assert "line 2" not in page
    assert not Certification.objects.exists()
    assert not StaffMember.objects.exists()


def test_importing_the_same_file_again_says_how_many_rows_were_already_recorded(client, superuser):
    PartnerFactory(slug="acme")
    rows = [
        [
            "acme",
            "Jane Doe",
            "jane@acme.example",
            "Solutions Architect",
            "associate",
            "C-1",
            "2025-01-15",
            "",
        ],
        ["acme", "Raj Patel", "", "Cloud Practitioner", "foundational", "", "2024-06-01", ""],
    ]
    client.post(reverse(IMPORT), {"file": upload(rows)})
    new_row = ["acme", "Raj Patel", "", "Developer", "associate", "", "2024-09-01", ""]

    response = client.post(reverse(IMPORT), {"file": upload([*rows, new_row])}, follow=True)

    assert "Imported 1 certification; 2 rows already recorded, skipped." in response.content.decode()
    assert Certification.objects.filter(staff_member__partner__slug="acme").count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_same_file_imported_twice_at_once_records_each_row_once():
    """Both imports are held (another session locks the partner) until both wait there, then let go
    together: the second finds what the first recorded, as an import sent again later does."""
    pdm = PdmFactory()
    partner = PartnerFactory(slug="acme", pdm=pdm)
    rows = [
        ["acme", "Jane Doe", "", "Solutions Architect", "associate", "", "2025-01-15", ""],
        ["acme", "Raj Patel", "", "Cloud Practitioner", "foundational", "", "2024-06-01", ""],
    ]

    def send():
        client = Client()
        client.force_login(pdm)
        return client.post(reverse(IMPORT), {"file": upload(rows)}, follow=True).content.decode()

    outcome = sent_twice_at_once(partner, send)

    assert sorted(StaffMember.objects.values_list("full_name", flat=True)) == ["Jane Doe", "Raj Patel"]
    assert Certification.objects.count() == 2
    said = [" ".join(outcome[name].split()) for name in ("one", "other")]
    assert sum("Imported 2 certifications" in page for page in said) == 1
    assert sum("2 rows already recorded, skipped" in page for page in said) == 1


@pytest.mark.parametrize("separator", [";", "\t"], ids=["semicolons", "tabs"])
def test_a_file_saved_by_excel_with_another_separator_is_imported(client, superuser, separator):
    # What Excel saves as CSV where the list separator is ";" (German, French, Dutch...).
    PartnerFactory(slug="acme")
    lines = [
        CERTIFICATION_CSV_COLUMNS,
        ["acme", "Jane Doe", "", "Cloud, Practitioner", "foundational", "", "2025-01-15", ""],
    ]
    text = "".join(separator.join(line) + "\r\n" for line in lines)
    upload = SimpleUploadedFile("certifications.csv", text.encode("utf-8-sig"), content_type="text/csv")

    response = client.post(reverse(IMPORT), {"file": upload}, follow=True)

    assert "Imported 1 certification" in response.content.decode()
    assert Certification.objects.get().name == "Cloud, Practitioner"


@pytest.mark.django_db(transaction=True)
def test_a_customers_request_to_a_partner_does_not_wait_for_an_import_for_it(monkeypatch):
    pdm = PdmFactory()
    partner = PartnerFactory(slug="acme", pdm=pdm)
    rows = [["acme", "Ada Lovelace", "", "Solutions Architect", "associate", "", "2025-01-05", ""]]
    data = upload(rows).read()
    checking, go_on = threading.Event(), threading.Event()
    parse_date = services._parse_date

    def checking_a_long_file(value, column):  # the import half-way through, its partners locked
        checking.set()
        go_on.wait(20)
        return parse_date(value, column)

    monkeypatch.setattr(services, "_parse_date", checking_a_long_file)
    outcome = {}
    importing = in_a_thread(
        outcome, "import", lambda: services.certifications_import_csv(data=data, user=pdm)
    )
    assert checking.wait(20)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            ContactRequestFactory(partner=partner)  # refers to the partner: PostgreSQL locks it FOR KEY SHARE
    finally:
        go_on.set()
        importing.join(30)

    assert outcome["import"].created == 1


def test_a_pdm_cannot_import_for_another_pdms_partner(client):
    pdm = PdmFactory()
    client.force_login(pdm)
    PartnerFactory(slug="theirs", pdm=PdmFactory())
    rows = [["theirs", "Jane Doe", "", "Solutions Architect", "associate", "", "2025-01-15", ""]]

    page = client.post(reverse(IMPORT), {"file": upload(rows)}).content.decode()

    assert "you cannot change partner &#x27;theirs&#x27;" in page
    assert not Certification.objects.exists()


def test_import_of_one_certification_and_one_new_person_says_so_in_the_singular(client, superuser):
    PartnerFactory(slug="acme")
    row = ["acme", "Jane Doe", "", "Cloud Practitioner", "foundational", "", "2025-01-15", ""]

    response = client.post(reverse(IMPORT), {"file": upload([row])}, follow=True)

    assert "Imported 1 certification, and added 1 staff member." in response.content.decode()


def test_the_example_file_has_the_columns_and_imports_as_is(client, superuser):
    PartnerFactory(slug="acme-cloud")
    changelist = client.get(reverse("admin:partners_certification_changelist")).content.decode()
    assert reverse(IMPORT) in changelist

    example = client.get(reverse("admin:partners_certification_import_csv_example"))
    assert example.content.decode().splitlines()[0] == ",".join(CERTIFICATION_CSV_COLUMNS)

    uploaded = SimpleUploadedFile("example.csv", example.content, content_type="text/csv")
    response = client.post(reverse(IMPORT), {"file": uploaded}, follow=True)
    assert "Imported 2 certifications" in response.content.decode()
