"""A DELETE answered 409 says why, and the schema says when it can be: besides a stale `If-Match`, a
record referring to this one that another request added while it was being deleted. A DELETE, or a
webhook endpoint's PATCH, meeting another request that deleted the record, or took the right to change it,
answers as the row now is."""

import threading
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connection

from apn_portal.webhooks.models import WebhookEndpoint
from apn_portal.webhooks.services import webhook_endpoint_create
from engagements.models import Customer
from partners.models import Certification, StaffMember
from tests.api.conftest import api_client
from tests.factories import (
    CertificationFactory,
    CustomerUserFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffMemberFactory,
)
from tests.locks import lock_held, sessions_waiting_for_locks, wait_for


def _copy_sql(model, **changed) -> str:
    """An INSERT copying one row of `model` (its id as the last parameter), with `changed` columns set from
    the first parameters."""
    columns = [field.column for field in model._meta.concrete_fields if not field.primary_key]
    values = ["%s" if column in changed else column for column in columns]
    table = model._meta.db_table
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {table} WHERE id = %s"


def test_a_certification_added_while_its_person_is_deleted_makes_the_delete_a_409_to_send_again(
    transactional_db,
):
    pdm = PdmFactory()
    member = StaffMemberFactory(partner=PartnerFactory(pdm=pdm))
    held = CertificationFactory(staff_member=member, credential_id="")
    client, answers = api_client(pdm), []

    def delete():
        try:
            answers.append(client.delete(f"/api/v1/staff-members/{member.pk}/"))
        finally:
            connection.close()

    thread = threading.Thread(target=delete)
    # Another request holds the person's certification while the deletion, which has read the person's
    # certifications, waits to delete it; meanwhile a second certification of theirs is stored.
    with lock_held(
        f"SELECT 1 FROM {Certification._meta.db_table} WHERE id = %s FOR UPDATE", [held.pk]
    ) as cursor:
        thread.start()
        wait_for(lambda: sessions_waiting_for_locks() == 1)
        cursor.execute(_copy_sql(Certification, staff_member_id=True), [member.pk, held.pk])
    thread.join(timeout=30)

    assert answers[0].status_code == 409
    assert answers[0].json() == {
        "detail": "Another request added a record that refers to this one while it was being deleted: "
        "nothing was deleted. Send the DELETE again to delete it as it is now."
    }
    assert StaffMember.objects.filter(pk=member.pk).exists()
    assert Certification.objects.filter(staff_member=member).count() == 2

    again = client.delete(f"/api/v1/staff-members/{member.pk}/")
    assert again.status_code == 204
    assert not Certification.objects.filter(staff_member_id=member.pk).exists()


@pytest.fixture
def schema(db):
    response = api_client().get("/api/v1/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


@pytest.mark.parametrize(
    ("path", "referred_to"),
    [
        ("/api/v1/staff-members/{id}/", True),  # by their certifications
        ("/api/v1/references/{id}/", True),  # by the engagement that records it
        ("/api/v1/webhook-endpoints/{id}/", True),  # by its deliveries
        ("/api/v1/certifications/{id}/", False),  # by nothing
    ],
)
def test_a_deletes_409_says_when_a_record_referring_to_it_is_the_cause(schema, path, referred_to):
    conflict = schema["paths"][path]["delete"]["responses"]["409"]["description"]
    assert "`If-Match`" in conflict
    assert ("refers to this one" in conflict) is referred_to


def test_the_guide_says_a_delete_can_meet_a_record_added_meanwhile():
    guide = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text()
    conflict_row = next(line for line in guide.splitlines() if line.startswith("| 409 |"))
    assert "a DELETE while another request added a record that refers to the one deleted" in conflict_row


def _delete_while_held(client, record, path, change_sql, params) -> list:
    """The API DELETE of `record` sent while another request holds its row, which that request then
    changes (`change_sql`) and commits: what the DELETE answered."""
    answers = []

    def delete():
        try:
            answers.append(client.delete(path))
        finally:
            connection.close()

    thread = threading.Thread(target=delete)
    with lock_held(f"SELECT 1 FROM {record._meta.db_table} WHERE id = %s FOR UPDATE", [record.pk]) as cursor:
        thread.start()
        wait_for(lambda: sessions_waiting_for_locks() == 1)
        cursor.execute(change_sql, params)
    thread.join(timeout=30)
    return answers


def test_a_staff_member_deleted_by_another_request_meanwhile_is_a_404_saying_so(transactional_db):
    pdm = PdmFactory()
    member = StaffMemberFactory(partner=PartnerFactory(pdm=pdm))

    answers = _delete_while_held(
        api_client(pdm),
        member,
        f"/api/v1/staff-members/{member.pk}/",
        f"DELETE FROM {StaffMember._meta.db_table} WHERE id = %s",
        [member.pk],
    )

    assert answers[0].status_code == 404
    assert answers[0].json() == {"detail": "This staff member no longer exists: it was deleted meanwhile."}


def test_a_staff_member_moved_to_another_partner_meanwhile_is_not_deleted_by_the_old_partners_pdm(
    transactional_db,
):
    pdm = PdmFactory()
    member = StaffMemberFactory(partner=PartnerFactory(pdm=pdm))
    elsewhere = PartnerFactory(pdm=PdmFactory(), name="Elsewhere Ltd")

    answers = _delete_while_held(
        api_client(pdm),
        member,
        f"/api/v1/staff-members/{member.pk}/",
        f"UPDATE {StaffMember._meta.db_table} SET partner_id = %s WHERE id = %s",
        [elsewhere.pk, member.pk],
    )

    assert answers[0].status_code == 403
    assert answers[0].json() == {
        "detail": "You cannot change Elsewhere Ltd: only its assigned PDM or a superuser can."
    }
    assert StaffMember.objects.filter(pk=member.pk, partner=elsewhere).exists()


def test_a_webhook_endpoint_deleted_by_another_request_meanwhile_is_a_404_saying_so(transactional_db):
    owner = PartnerUserFactory(partner=PartnerFactory())
    endpoint = webhook_endpoint_create(
        user=owner, url="http://localhost:9000/hook", events=["partner.tier_changed"]
    )

    answers = _delete_while_held(
        api_client(owner),
        endpoint,
        f"/api/v1/webhook-endpoints/{endpoint.pk}/",
        f"DELETE FROM {WebhookEndpoint._meta.db_table} WHERE id = %s",
        [endpoint.pk],
    )

    assert answers[0].status_code == 404
    assert answers[0].json() == {
        "detail": "This webhook endpoint no longer exists: it was deleted meanwhile."
    }


def _patch_while_held(client, record, path, data, change_sql, params) -> list:
    """As _delete_while_held, for a PATCH of `data`: what it answered."""
    answers = []

    def patch():
        try:
            answers.append(client.patch(path, data, format="json"))
        finally:
            connection.close()

    thread = threading.Thread(target=patch)
    with lock_held(f"SELECT 1 FROM {record._meta.db_table} WHERE id = %s FOR UPDATE", [record.pk]) as cursor:
        thread.start()
        wait_for(lambda: sessions_waiting_for_locks() == 1)
        cursor.execute(change_sql, params)
    thread.join(timeout=30)
    return answers


def test_a_webhook_endpoint_deleted_by_another_request_while_patched_is_a_404_saying_so(transactional_db):
    owner = PartnerUserFactory(partner=PartnerFactory())
    endpoint = webhook_endpoint_create(
        user=owner, url="http://localhost:9000/hook", events=["partner.tier_changed"]
    )

    answers = _patch_while_held(
        api_client(owner),
        endpoint,
        f"/api/v1/webhook-endpoints/{endpoint.pk}/",
        {"description": "Ops"},
        f"DELETE FROM {WebhookEndpoint._meta.db_table} WHERE id = %s",
        [endpoint.pk],
    )

    assert answers[0].status_code == 404
    assert answers[0].json() == {
        "detail": "This webhook endpoint no longer exists: it was deleted meanwhile."
    }


def test_a_customers_webhook_endpoint_is_not_changed_by_an_owner_no_longer_its_access_administrator(
    transactional_db,
):
    # The update asks who may change the endpoint once it holds the endpoint's row, as the deletion does:
    # asked before, an owner whose role was taken while the update waited for the row changed it still.
    owner = CustomerUserFactory(access_admin=True)
    endpoint = webhook_endpoint_create(
        user=owner, url="http://localhost:9000/hook", events=["access_grant.revoked"]
    )
    administrators = Customer.access_administrators.through._meta.db_table

    answers = _patch_while_held(
        api_client(owner),
        endpoint,
        f"/api/v1/webhook-endpoints/{endpoint.pk}/",
        {"description": "Ops"},
        f"DELETE FROM {administrators} WHERE user_id = %s",
        [owner.pk],
    )

    assert answers[0].status_code == 403
    assert answers[0].json() == {
        "detail": "Only a customer's access administrators can register its webhooks."
    }
    endpoint.refresh_from_db()
    assert endpoint.description == ""
