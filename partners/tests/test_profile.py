"""A partner's public profile at /partners/<slug>/."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.choices import CertificationLevel, EnrollmentStatus
from tests.factories import (
    ApprovedEnrollmentFactory,
    CustomerReferenceFactory,
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    ProgramEnrollmentFactory,
    UseCaseFactory,
    give_certified_people,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


@pytest.fixture
def partner():
    partner = PartnerFactory(
        name="Harbor Lights",
        description="We modernise <b>legacy</b> systems.",
        website="https://harbor.example.com",
        tier=tier(slug="advanced"),
    )
    partner.industries.add(IndustryFactory(name="Healthcare", slug="healthcare"))
    partner.use_cases.add(UseCaseFactory(name="Machine learning", slug="ml"))
    OfficeFactory(partner=partner, city="Lisbon", country="PT", is_headquarters=True)
    OfficeFactory(partner=partner, city="Porto", country="PT")
    ApprovedEnrollmentFactory(
        partner=partner,
        program=program("migration"),
        approved_on=datetime.date(2025, 3, 4),
        expires_on=TODAY() + datetime.timedelta(days=200),
    )
    ApprovedEnrollmentFactory(
        partner=partner,
        program=program("security"),
        approved_on=TODAY() - datetime.timedelta(days=400),
        expires_on=TODAY() - datetime.timedelta(days=1),
    )
    ProgramEnrollmentFactory(partner=partner, program=program("devops"), status=EnrollmentStatus.APPLIED)
    give_certified_people(partner, level=CertificationLevel.PROFESSIONAL, count=3)
    give_certified_people(partner, level=CertificationLevel.FOUNDATIONAL, count=2)
    give_certified_people(
        partner,
        level=CertificationLevel.SPECIALTY,
        count=4,
        earned_on=TODAY() - datetime.timedelta(days=1200),
        expires_on=TODAY() - datetime.timedelta(days=5),
    )
    CustomerReferenceFactory(partner=partner, customer_name="Public Validated Bank")
    CustomerReferenceFactory(partner=partner, customer_name="Private Bank", is_public=False)
    CustomerReferenceFactory(
        partner=partner, customer_name="Unchecked Bank", is_validated=False, validated_at=None
    )
    return partner


def test_the_profile_shows_what_a_customer_needs(client, partner):
    response = client.get(f"/partners/{partner.slug}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1" in body and "Harbor Lights" in body
    assert "Advanced tier" in body and "Consulting partner" in body
    assert "We modernise &lt;b&gt;legacy&lt;/b&gt; systems." in body
    assert 'href="https://harbor.example.com"' in body
    assert "Healthcare" in body and "Machine learning" in body
    assert "Lisbon, Portugal" in body and "(headquarters)" in body and "Porto, Portugal" in body
    assert "Migration Competency" in body and "validated 4 Mar 2025" in body
    assert "Public Validated Bank" in body


def test_only_what_counts_today_is_shown(client, partner):
    body = client.get(f"/partners/{partner.slug}/").content.decode()
    assert "Security Competency" not in body  # expired yesterday
    assert "DevOps Competency" not in body  # only applied
    assert "Private Bank" not in body and "Unchecked Bank" not in body
    rows = dict(client.get(f"/partners/{partner.slug}/").context["profile"].certifications_by_level)
    assert rows == {"Foundational": 2, "Professional": 3}  # the expired specialty ones are gone


def test_a_reference_not_launched_yet_is_not_shown(client, partner):
    # Written straight to the database, as before the admin and the API refused a future launch.
    CustomerReferenceFactory(
        partner=partner, customer_name="Future Bank", launched_on=TODAY() + datetime.timedelta(days=400)
    )

    body = client.get(f"/partners/{partner.slug}/").content.decode()

    assert "Future Bank" not in body
    assert "Public Validated Bank" in body


def test_the_profile_has_the_contact_form(client, partner):
    body = client.get(f"/partners/{partner.slug}/").content.decode()
    assert 'id="contact"' in body
    assert f'action="/partners/{partner.slug}/contact/"' in body
    assert "csrfmiddlewaretoken" in body


def test_unknown_and_unpublished_partners_are_not_found(client, partner):
    assert client.get("/partners/no-such-partner/").status_code == 404
    partner.is_published = False
    partner.save()
    assert client.get(f"/partners/{partner.slug}/").status_code == 404


def test_the_profile_reads_a_fixed_number_of_queries(client, partner, django_assert_max_num_queries):
    for _ in range(5):
        OfficeFactory(partner=partner)
        CustomerReferenceFactory(partner=partner)
    with django_assert_max_num_queries(10):
        client.get(f"/partners/{partner.slug}/")


def test_a_profile_with_more_references_than_it_lists_says_how_many_and_shows_them_all_on_request(
    client, partner, django_assert_num_queries
):
    for month in range(1, 12):
        CustomerReferenceFactory(
            partner=partner, customer_name=f"Bank {month:02}", launched_on=datetime.date(2025, month, 1)
        )
    # What the search card counts and sorts by, and what the profile must account for.
    assert partner.references.filter(is_public=True, is_validated=True).count() == 12

    first = client.get(f"/partners/{partner.slug}/")
    listed = [reference.customer_name for reference in first.context["profile"].references]
    assert len(listed) == 10
    assert "Bank 01" not in listed and "Bank 11" in listed
    page = " ".join(first.content.decode().split())
    assert "The 10 most recently launched of 12." in page
    assert '<a href="?references=all#references-heading">Show all 12 references</a>' in page

    with CaptureQueriesContext(connection) as listing_ten:
        client.get(f"/partners/{partner.slug}/")
    with django_assert_num_queries(len(listing_ten)):
        every = client.get(f"/partners/{partner.slug}/?references=all")
    assert len(every.context["profile"].references) == 12
    assert "Show all" not in every.content.decode()


def test_a_profile_listing_every_reference_says_nothing_more(client, partner):
    page = client.get(f"/partners/{partner.slug}/").content.decode()

    assert "Public Validated Bank" in page
    assert "most recently launched of" not in page and "Show all" not in page


def test_head_gets_the_profile_headers_as_get_does(client, partner):
    # Uptime monitors (UptimeRobot's default), link checkers and proxies send HEAD in place of GET.
    response = client.head(f"/partners/{partner.slug}/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert client.head("/partners/no-such-partner/").status_code == 404
