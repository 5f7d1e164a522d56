"""Updates of a partner and its records through the API: a PATCH that changes nothing is no new version,
an owner chosen at creation cannot be changed, and a partner whose tier changes while a write waits for
its row is still found."""

import threading

import pytest
from django.db import connection, transaction

from apn_portal.checks.results import CheckResult
from partners.checks.tier_health import _demote
from partners.choices import EnrollmentStatus
from partners.models import Certification, ConsultingCategory, CustomerReference, Partner, StaffMember
from tests.api.conftest import api_client
from tests.factories import (
    IndustryFactory,
    PartnerFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    tier,
)
from tests.locks import lock_held, sessions_waiting_for_locks, wait_for

# A PATCH that changes nothing ----------------------------------------------------------------------------


def _patch_with_what_a_read_shows(client, url, fields):
    read = client.get(url)
    assert read.status_code == 200
    response = client.patch(url, {name: read.json()[name] for name in fields}, format="json")
    assert response.status_code == 200, response.content
    return read, response


def _same_version(read, response):
    assert response["ETag"] == read["ETag"]
    assert response.json()["updated_at"] == read.json()["updated_at"]
    assert response.json() == read.json()


def test_a_partner_patched_with_its_own_values_is_not_a_new_version(world):
    partner = world.partner_a
    categories = list(ConsultingCategory.objects.order_by("slug")[:2])
    partner.categories.set(categories)
    partner.industries.set([IndustryFactory(), IndustryFactory()])
    versions = partner.history.count()
    client = world.client("pdm_a")
    url = "/api/v1/partners/alpha/"
    read = client.get(url)
    same = {name: read.json()[name] for name in ("name", "slug", "description", "website", "is_published")}
    # The tag lists in another order are the same tags.
    same |= {name: list(reversed(read.json()[name])) for name in ("categories", "industries", "use_cases")}
    same["partner_type"] = read.json()["partner_type"]

    response = client.patch(url, same, format="json")

    assert response.status_code == 200, response.content
    _same_version(read, response)
    assert partner.history.count() == versions


def test_a_partner_patched_with_new_tags_only_is_a_new_version(world):
    client = world.client("pdm_a")
    read = client.get("/api/v1/partners/alpha/")
    slug = ConsultingCategory.objects.order_by("slug").values_list("slug", flat=True)[0]

    response = client.patch("/api/v1/partners/alpha/", {"categories": [slug]}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["categories"] == [slug]
    assert response["ETag"] != read["ETag"]


@pytest.mark.parametrize(
    ("record", "fields"),
    [
        ("staff-members", ("partner", "full_name", "email", "job_title")),
        ("certifications", ("staff_member", "name", "level", "credential_id", "earned_on", "expires_on")),
        ("references", ("partner", "customer_name", "summary", "services_used", "launched_on", "is_public")),
    ],
)
def test_a_record_patched_with_its_own_values_is_not_a_new_version(world, record, fields):
    pk = {
        "staff-members": world.staff_member_a.pk,
        "certifications": world.certification_a.pk,
        "references": world.reference_a.pk,
    }[record]
    versions = world.certification_a.history.count()

    read, response = _patch_with_what_a_read_shows(world.client("pdm_a"), f"/api/v1/{record}/{pk}/", fields)

    _same_version(read, response)
    assert world.certification_a.history.count() == versions


def test_a_patch_that_changes_one_field_of_several_is_a_new_version(world):
    client = world.client("pdm_a")
    url = f"/api/v1/certifications/{world.certification_a.pk}/"
    read = client.get(url)
    versions = world.certification_a.history.count()

    response = client.patch(url, {"name": "Renamed", "level": read.json()["level"]}, format="json")

    assert response.status_code == 200, response.content
    assert response["ETag"] != read["ETag"]
    assert response.json()["name"] == "Renamed"
    assert world.certification_a.history.count() == versions + 1


# An owner chosen at creation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "model", "field", "other"),
    [
        ("staff-members", StaffMember, "partner", "bravo"),
        ("certifications", Certification, "staff_member", 999999),
        ("references", CustomerReference, "partner", "bravo"),
    ],
)
def test_changing_a_records_owner_is_refused_naming_the_field(world, record, model, field, other):
    instance = {
        StaffMember: world.staff_member_a,
        Certification: world.certification_a,
        CustomerReference: world.reference_a,
    }[model]
    client = world.client("superuser")
    url = f"/api/v1/{record}/{instance.pk}/"
    read = client.get(url)

    refused = client.patch(url, {field: other}, format="json")

    assert refused.status_code == 400
    assert "cannot change after creation" in refused.json()[field][0]
    assert client.get(url).json() == read.json()

    # Sending the owner it has, as a read shows it, is no change.
    accepted = client.patch(url, {field: read.json()[field]}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()[field] == read.json()[field]


def test_a_records_owner_sent_unchanged_beside_a_change_is_accepted(world):
    client = world.client("pdm_a")
    url = f"/api/v1/staff-members/{world.staff_member_a.pk}/"

    response = client.patch(url, {"partner": "alpha", "job_title": "Architect"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["job_title"] == "Architect"
    assert StaffMember.objects.get(pk=world.staff_member_a.pk).partner == world.partner_a


# Approving an enrollment that has ended -------------------------------------------------------------------


@pytest.mark.parametrize("status", [EnrollmentStatus.REVOKED, EnrollmentStatus.EXPIRED])
def test_approving_an_ended_enrollment_is_a_conflict_like_revoking_it(world, status):
    enrollment = ProgramEnrollmentFactory(partner=world.partner_a, program=ProgramFactory(), status=status)
    client = world.client("pdm_a")

    approve = client.post(f"/api/v1/enrollments/{enrollment.pk}/approve/", {}, format="json")
    revoke = client.post(f"/api/v1/enrollments/{enrollment.pk}/revoke/", {"reason": "again"}, format="json")

    assert (approve.status_code, revoke.status_code) == (409, 409)
    assert "cannot be approved" in approve.json()["detail"]
    enrollment.refresh_from_db()
    assert enrollment.status == status


# A write that waits while the partner's tier changes -----------------------------------------------------


def _while_the_tier_changes(partner, to_tier, send):
    """`send()` in a thread while another session moves the partner to `to_tier` and holds that open until
    the request waits for the partner's row; then the tier change commits."""
    responses = []

    def run():
        try:
            responses.append(send())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    with lock_held(
        f"UPDATE {Partner._meta.db_table} SET tier_id = %s WHERE id = %s", [to_tier.pk, partner.pk]
    ):
        thread.start()
        wait_for(lambda: sessions_waiting_for_locks() == 1)
    thread.join(timeout=30)
    return responses[0]


@pytest.fixture
def waiting(transactional_db):
    pdm = PdmFactory()
    partner = PartnerFactory(pdm=pdm, slug="moving", name="Moving Ltd")
    return partner, api_client(pdm), tier(partner.partner_type, "select")


def test_a_patch_while_the_tier_changes_is_written(waiting):
    partner, client, select = waiting

    response = _while_the_tier_changes(
        partner, select, lambda: client.patch("/api/v1/partners/moving/", {"name": "Renamed"}, format="json")
    )

    assert response.status_code == 200, response.content
    assert response.json()["tier"]["slug"] == "select"
    partner.refresh_from_db()
    assert (partner.name, partner.tier) == ("Renamed", select)


def test_a_tier_change_while_the_tier_changes_starts_from_the_new_tier(waiting):
    partner, client, select = waiting
    advanced = tier(partner.partner_type, "advanced")

    response = _while_the_tier_changes(
        partner,
        select,
        lambda: client.post(
            "/api/v1/partners/moving/tier-change/", {"to_tier": advanced.pk, "reason": "Audit"}, format="json"
        ),
    )

    assert response.status_code == 201, response.content
    assert (response.json()["from_tier"]["slug"], response.json()["to_tier"]["slug"]) == (
        "select",
        "advanced",
    )
    partner.refresh_from_db()
    assert partner.tier == advanced


def test_an_application_while_the_tier_changes_is_filed(waiting):
    partner, client, select = waiting
    program = ProgramFactory(partner_type="")

    response = _while_the_tier_changes(
        partner,
        select,
        lambda: client.post(
            "/api/v1/enrollments/", {"partner": "moving", "program": program.slug}, format="json"
        ),
    )

    assert response.status_code == 201, response.content
    assert partner.enrollments.get().program == program


def test_the_tier_health_check_finds_a_partner_whose_tier_changed_while_it_waited(waiting):
    partner, _, select = waiting
    errors = []

    def demote():
        try:
            with transaction.atomic():  # as the check runs it
                _demote(partner.pk, {}, {}, partner.created_at.date(), CheckResult())
        except Exception as error:  # reported to the test, which a thread's exception is not
            errors.append(error)

    _while_the_tier_changes(partner, select, lambda: demote())

    assert errors == []


# A write sent with If-Match while a service holds the partner ----------------------------------------------


@pytest.fixture
def held_partner(transactional_db):
    pdm = PdmFactory()
    return PartnerFactory(pdm=pdm, slug="held", name="Held Ltd"), api_client(pdm)


def _partner_locked(partner):
    """Another session that has locked the partner's row, as every service writing a partner and its
    records does first; the block goes on with its cursor, and it commits at the end."""
    return lock_held(f"SELECT id FROM {Partner._meta.db_table} WHERE id = %s FOR UPDATE", [partner.pk])


def _send_with_if_match(client, url, body) -> tuple[threading.Thread, list]:
    etag = client.get(url)["ETag"]
    responses = []

    def run():
        try:
            responses.append(client.patch(url, body, format="json", HTTP_IF_MATCH=etag))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, responses


def test_an_enrollment_patch_with_if_match_waits_for_the_partner_before_locking_the_enrollment(held_partner):
    partner, client = held_partner
    enrollment = ProgramEnrollmentFactory(partner=partner, status=EnrollmentStatus.APPLIED)

    with _partner_locked(partner) as held:
        thread, responses = _send_with_if_match(
            client, f"/api/v1/enrollments/{enrollment.pk}/", {"audit_date": str(enrollment.applied_on)}
        )
        wait_for(lambda: sessions_waiting_for_locks() == 1)
        # The holder's next step, as an approval's: the enrollment. Were the PATCH holding it while it waits
        # for the partner, each would wait on the other, and PostgreSQL would end one of them (a 500).
        held.execute("SET LOCAL lock_timeout = '3s'")
        held.execute(f"SELECT id FROM {enrollment._meta.db_table} WHERE id = %s FOR UPDATE", [enrollment.pk])
    thread.join(timeout=30)

    assert responses[0].status_code == 200, responses[0].content
    enrollment.refresh_from_db()
    assert enrollment.audit_date == enrollment.applied_on


def test_a_staff_member_patch_with_if_match_does_not_wait_for_its_partner(held_partner):
    partner, client = held_partner
    member = StaffMember.objects.create(partner=partner, full_name="Ada Lovelace", email="ada@held.example")

    with _partner_locked(partner):
        thread, responses = _send_with_if_match(
            client, f"/api/v1/staff-members/{member.pk}/", {"full_name": "Ada King"}
        )
        # A write of the member alone takes no lock of its partner's row, which a rename of the partner,
        # say, holds while it rewrites its staff members.
        thread.join(timeout=10)
        assert responses and responses[0].status_code == 200, responses
    thread.join(timeout=30)

    member.refresh_from_db()
    assert member.full_name == "Ada King"
