import datetime
import html
import io
import re

import psycopg
import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from apn_portal.accounts.models import User
from partners.choices import ContactRequestStatus, EnrollmentStatus, PartnerType
from partners.demo import catalogue
from partners.demo.plans import PartnerPlanner, ProgramInfo
from partners.demo.seeding import ADMIN, DEMO_USERS, PARTNER_USER, PDM, seed_demo_network
from partners.demo.writing import BulkCreateWriter, CopyWriter
from partners.models import (
    Certification,
    ContactRequest,
    CustomerReference,
    Office,
    Partner,
    ProgramEnrollment,
    StaffMember,
    Tier,
    TierChange,
)
from partners.selectors import tier_evaluate_many
from partners.tests.test_admin import change_form_data

pytestmark = pytest.mark.django_db

PARTNERS = 40


def seed(partners=PARTNERS) -> str:
    out = io.StringIO()
    call_command("seed_demo", partners=partners, no_progress=True, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    """Every table the seed can touch: the apps' models, their history and the many-to-many links."""
    counted = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in ("partners", "accounts", "auth"):
            counted[model._meta.label] = model.objects.count()
    return counted


@pytest.mark.parametrize("writer", [CopyWriter, BulkCreateWriter], ids=["copy", "bulk_create"])
def test_seeds_a_consistent_network(writer):
    report = seed_demo_network(partners=PARTNERS, chunk_size=15, writer=writer())

    assert report.created["partners"] == Partner.objects.count() == PARTNERS
    assert set(Partner.objects.values_list("partner_type", flat=True)) == set(PartnerType.values)
    # Every partner has exactly one headquarters, placed on a real city's coordinates.
    headquarters = Partner.objects.annotate(hq=Count("offices", filter=Q(offices__is_headquarters=True)))
    assert set(headquarters.values_list("hq", flat=True)) == {1}
    cities = {(c, city): (lat, lon) for r in catalogue.CITIES_BY_REGION.values() for c, city, lat, lon in r}
    for office in Office.objects.all():
        assert cities[(office.country.code, office.city)] == (office.latitude, office.longitude)
    # Each partner holds exactly the tier its evidence qualifies it for, and the promotion is recorded.
    evaluations = tier_evaluate_many(Partner.objects.all())
    assert all(e.qualified_tier.pk == e.current_tier.pk for e in evaluations.values())
    assert Partner.objects.exclude(tier__rank=0).count() == TierChange.objects.count() > 0
    assert Partner.objects.filter(tier__rank__gte=2).exists()
    assert set(ProgramEnrollment.objects.values_list("status", flat=True)) == set(EnrollmentStatus.values)
    assert CustomerReference.objects.filter(is_validated=True).exists()
    assert CustomerReference.objects.filter(is_validated=False).exists()
    assert ContactRequest.objects.exists()
    # Written in bulk, yet Find-a-Partner's search index knows every partner.
    assert not Partner.objects.filter(search_entry__isnull=True).exists()


def test_some_certifications_expire_soon_and_some_have_expired():
    seed()
    today = timezone.localdate()
    certifications = Certification.objects.all()
    expiring = certifications.filter(
        expires_on__gt=today, expires_on__lte=today + datetime.timedelta(days=90)
    )
    expired = certifications.filter(expires_on__lt=today)
    assert 0.05 < expiring.count() / certifications.count() < 0.15
    assert expired.exists()
    assert set(certifications.values_list("level", flat=True)) == {
        "foundational",
        "associate",
        "professional",
        "specialty",
    }


def test_demo_users_can_sign_in_with_the_printed_credentials(client):
    output = seed()

    for demo in DEMO_USERS:
        assert f"{demo.username:<8} / {demo.password}" in output
        assert User.objects.get(username=demo.username).check_password(demo.password)
    assert User.objects.get(username=ADMIN.username).is_superuser
    pdm = User.objects.get(username=PDM.username)
    assert pdm.is_pdm
    assert pdm.managed_partners.exists()
    partner_user = User.objects.get(username=PARTNER_USER.username)
    assert partner_user.partner.pdm == pdm
    assert not partner_user.is_staff

    client.force_login(pdm)
    assert client.get("/admin/", secure=True).status_code == 200


def test_a_second_run_changes_nothing():
    seed()
    before = row_counts()
    partner_updates = dict(Partner.objects.values_list("slug", "updated_at"))

    output = seed()

    assert "Nothing to do" in output
    assert row_counts() == before
    assert dict(Partner.objects.values_list("slug", "updated_at")) == partner_updates


def test_a_larger_run_adds_only_the_missing_partners():
    seed(partners=10)
    first_ten = dict(Partner.objects.values_list("slug", "pk"))
    staff_of_first_ten = StaffMember.objects.count()

    seed(partners=25)

    assert Partner.objects.count() == 25
    assert dict(Partner.objects.filter(slug__in=first_ten).values_list("slug", "pk")) == first_ten
    assert StaffMember.objects.filter(partner_id__in=first_ten.values()).count() == staff_of_first_ten


def test_a_partner_is_drawn_the_same_whatever_the_run():
    programs = [
        ProgramInfo("migration", "", True, 36, 1, False),
        ProgramInfo("msp", "consulting", True, 12, 2, True),
    ]
    today = datetime.date(2026, 6, 1)

    assert PartnerPlanner(today, programs).plan(123) == PartnerPlanner(today, programs).plan(123)
    assert PartnerPlanner(today, programs).plan(123) != PartnerPlanner(today, programs).plan(124)


def test_every_tier_appears_in_the_default_demo():
    seed(partners=300)
    assert set(Partner.objects.values_list("tier", flat=True).distinct()) == set(
        Tier.objects.values_list("pk", flat=True)
    )


def test_seeding_leaves_other_databases_on_the_server_free_to_analyze():
    # A bare ANALYZE also analyses the server's shared catalogs (pg_database, pg_authid...), holding their
    # lock until the transaction ends: another database's seeding (a concurrent test run with its own
    # TEST_DB_SUFFIX) would wait for this one's.
    seed_demo_network(partners=2)

    database = connection.settings_dict
    with psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as other:
        other.execute("SET lock_timeout = '2s'")
        other.execute("ANALYZE pg_catalog.pg_database")  # LockNotAvailable if it has to wait


def history_rows(response) -> list[dict[str, str]]:
    """The history page's table, newest first: each row's text by its column heading."""
    page = response.content.decode()
    table = page[page.index('id="change-history"') :]

    def text(cell: str) -> str:
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())

    headings = [text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table.split("</thead>")[0], re.S)]
    body = table.split("<tbody>")[1].split("</tbody>")[0]
    return [
        dict(zip(headings, (text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)), strict=True))
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


@pytest.mark.parametrize("writer", [CopyWriter, BulkCreateWriter], ids=["copy", "bulk_create"])
def test_a_demo_partner_edited_in_the_admin_shows_what_changed(client, writer):
    seed_demo_network(partners=PARTNERS, writer=writer())
    partner = User.objects.get(username=PARTNER_USER.username).partner
    before = partner.description
    client.force_login(User.objects.get(username=PDM.username))
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    data = change_form_data(client, url)
    data["description"] = "Landing zones for ports and harbours."

    assert client.post(url, data).status_code == 302

    changed, created = history_rows(client.get(reverse("admin:partners_partner_history", args=[partner.pk])))
    assert (changed["Comment"], changed["Change reason"]) == ("Changed", "")
    # The library shortens a long value in the middle ("...headqu[209 chars]ture.").
    assert changed["Changes"].startswith(f"Description: {before[:40]}")
    assert changed["Changes"].endswith("\N{RIGHTWARDS ARROW} Landing zones for ports and harbours.")
    assert (created["Comment"], created["Change reason"], created["Changes"]) == ("Created", "", "")
    # The seed wrote the first version, not a person: the page says so rather than "None".
    assert (changed["Changed by"], created["Changed by"]) == ("Priya Raman", "The portal")


def test_the_demo_partner_has_leads_to_answer(client):
    seed_demo_network(partners=PARTNERS)
    partner_user = User.objects.get(username=PARTNER_USER.username)
    client.force_login(partner_user)

    response = client.get(reverse("my:leads"))

    leads = ContactRequest.objects.filter(partner=partner_user.partner)
    assert set(leads.values_list("status", flat=True)) == set(ContactRequestStatus.values)
    page = response.content.decode()
    for lead in leads:
        assert html.escape(lead.company) in page
    # One waits for an answer, which the lead's page offers.
    waiting = leads.filter(status=ContactRequestStatus.NEW).first()
    detail = client.get(reverse("my:lead-detail", args=[waiting.reference])).content.decode()
    assert reverse("my:lead-accept", args=[waiting.reference]) in detail
