"""A partner never sees another partner's private records, whatever list or filter it asks for."""

import datetime

import pytest
from django.utils import timezone

from partners.choices import PartnerType
from partners.models import TierChange
from tests.factories import (
    CertificationFactory,
    ContactRequestFactory,
    CustomerReferenceFactory,
    PartnerFactory,
    PartnerUserFactory,
    ProgramEnrollmentFactory,
    StaffMemberFactory,
    tier,
)

PRIVATE_LISTS = [
    "/api/v1/contact-requests/",
    "/api/v1/tier-changes/",
    "/api/v1/staff-members/",
    "/api/v1/certifications/",
]


def _results(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def b_records(world):
    """B's own records, so "B sees nothing" cannot pass merely because the lists are empty."""
    b = world.partner_b
    member = StaffMemberFactory(partner=b)
    CertificationFactory(staff_member=member)
    ContactRequestFactory(partner=b)
    TierChange.objects.create(
        partner=b,
        from_tier=tier(),
        to_tier=tier(PartnerType.CONSULTING, "select"),
        reason="Qualified",
        changed_at=timezone.now(),
    )
    return b


@pytest.mark.parametrize("url", PRIVATE_LISTS)
def test_partner_b_sees_only_its_own_private_records(world, b_records, url):
    rows = _results(world.client("user_b"), url)
    assert rows
    assert {row["partner"] for row in rows} == {"bravo"}
    assert _results(world.client("user_b"), f"{url}?partner=alpha") == []


@pytest.mark.parametrize("url", PRIVATE_LISTS)
def test_partner_a_sees_its_own_and_the_provider_sees_both(world, b_records, url):
    assert {row["partner"] for row in _results(world.client("user_a"), url)} == {"alpha"}
    assert {row["partner"] for row in _results(world.client("other_pdm"), url)} == {"alpha", "bravo"}


def test_private_references_and_open_enrollments_stay_with_their_partner(world):
    CustomerReferenceFactory(partner=world.partner_a, is_public=True, customer_name="Shown")
    for role, expected in (("user_b", {"Shown"}), ("anonymous", {"Shown"}), ("user_a", {"Shown", "hidden"})):
        names = {
            "hidden" if row["id"] == world.reference_a.pk else row["customer_name"]
            for row in _results(world.client(role), "/api/v1/references/?partner=alpha")
        }
        assert names == expected, role
    assert _results(world.client("user_b"), "/api/v1/enrollments/?partner=alpha") == []
    assert len(_results(world.client("user_a"), "/api/v1/enrollments/?partner=alpha")) == 1


def test_an_unpublished_partner_is_not_found_except_by_its_own_staff_and_the_provider(world):
    hidden = PartnerFactory(slug="hidden", is_published=False)
    insider = PartnerUserFactory(partner=hidden)
    ProgramEnrollmentFactory(partner=hidden)
    from tests.api.conftest import api_client

    assert world.client("anonymous").get("/api/v1/partners/hidden/").status_code == 404
    assert world.client("user_b").get("/api/v1/partners/hidden/").status_code == 404
    assert "hidden" not in {row["slug"] for row in _results(world.client("user_b"), "/api/v1/partners/")}
    assert api_client(insider).get("/api/v1/partners/hidden/").status_code == 200
    assert world.client("other_pdm").get("/api/v1/partners/hidden/").status_code == 200
    # Nor can one send it a lead, or name it when writing.
    response = world.client("anonymous").post(
        "/api/v1/contact-requests/",
        {
            "partner": "hidden",
            "name": "X",
            "email": "x@example.com",
            "company": "X",
            "country": "DE",
            "message": "Hi, can you help us move?",
        },
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["partner"]


def test_a_deactivated_users_token_stops_working(world):
    client = world.client("user_a")
    user = world.users["user_a"]
    user.is_active = False
    user.save()
    assert client.get("/api/v1/contact-requests/").status_code == 401


def test_a_reference_the_profile_does_not_show_stays_with_its_partner_and_the_provider(world, client):
    CustomerReferenceFactory(partner=world.partner_a, customer_name="Shown")
    unvalidated = CustomerReferenceFactory(
        partner=world.partner_a, customer_name="Unvalidated", is_validated=False, validated_at=None
    )
    CustomerReferenceFactory(
        partner=world.partner_a,
        customer_name="Launching",
        launched_on=timezone.localdate() + datetime.timedelta(days=30),
    )
    profile = client.get("/partners/alpha/").context["profile"]
    assert {reference.customer_name for reference in profile.references} == {"Shown"}
    everything = {"Shown", "Unvalidated", "Launching", world.reference_a.customer_name}
    for role, expected in (
        ("anonymous", {"Shown"}),
        ("user_b", {"Shown"}),
        ("user_a", everything),
        ("other_pdm", everything),
    ):
        names = {row["customer_name"] for row in _results(world.client(role), "/api/v1/references/")}
        assert names == expected, role
        status = world.client(role).get(f"/api/v1/references/{unvalidated.pk}/").status_code
        assert status == (404 if expected == {"Shown"} else 200), role
