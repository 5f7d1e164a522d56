"""A customer reference that a completed engagement records may be withdrawn (deleted) by its partner or
in the admin: the engagement then no longer records it, and its history says so and who did it, rather
than pinning the change on the next person to edit the engagement."""

import pytest
from django.urls import reverse

from partners.services_records import reference_delete
from tests.admin_history import edit_in_admin, history_page
from tests.api.conftest import api_client
from tests.factories import (
    CustomerReferenceFactory,
    EngagementFactory,
    PartnerFactory,
    PartnerUserFactory,
    SuperUserFactory,
)

from .test_admin_services_rules import _change_form

pytestmark = pytest.mark.django_db

WITHDRAWN = "Its customer reference (Alpha Retail) was deleted"


@pytest.fixture
def recorded():
    """A completed engagement recording the (unvalidated) reference its completion registered."""
    partner = PartnerFactory()
    reference = CustomerReferenceFactory(partner=partner, customer_name="Alpha Retail", is_validated=False)
    engagement = EngagementFactory(
        status="completed", completed_on="2026-01-05", customer_reference=reference
    )
    return engagement, reference, PartnerUserFactory(partner=partner)


def _latest(engagement):
    return engagement.history.order_by("-history_date", "-history_id").first()


def test_a_reference_the_partner_withdraws_leaves_the_engagement_in_its_history(client, recorded):
    engagement, reference, staff = recorded

    response = api_client(staff).delete(f"/api/v1/references/{reference.pk}/")
    assert response.status_code == 204, response.content

    engagement.refresh_from_db()
    assert engagement.customer_reference_id is None
    version = _latest(engagement)
    assert (version.customer_reference_id, version.history_user, version.history_change_reason) == (
        None,
        staff,
        WITHDRAWN,
    )

    # Later a superuser corrects the engagement's description in the admin: that is all they changed.
    root = SuperUserFactory(first_name="Rita", last_name="Root")
    client.force_login(root)
    edit_in_admin(client, engagement, lambda c, url: _change_form(c.get(url)), description="Corrected")
    newest, withdrawal = history_page(client, engagement).context["page_obj"][:2]
    assert newest.history_user == root
    assert [change["field"] for change in newest.history_delta_changes] == ["Description"]
    assert withdrawal.history_user == staff
    assert [change["field"] for change in withdrawal.history_delta_changes] == ["Customer reference"]


def test_a_withdrawal_outside_a_request_names_who_withdrew_it(recorded):
    engagement, reference, staff = recorded

    reference_delete(reference=reference, user=staff)

    assert (_latest(engagement).customer_reference_id, _latest(engagement).history_user) == (None, staff)


@pytest.mark.parametrize("how", ["delete page", "bulk action"])
def test_a_reference_deleted_in_the_admin_leaves_the_engagement_in_its_history(client, recorded, how):
    engagement, reference, _ = recorded
    root = SuperUserFactory()
    client.force_login(root)

    if how == "delete page":
        url = reverse("admin:partners_customerreference_delete", args=[reference.pk])
        response = client.post(url, {"post": "yes"})
    else:
        response = client.post(
            reverse("admin:partners_customerreference_changelist"),
            {"action": "delete_selected", "_selected_action": [reference.pk], "post": "yes"},
        )
    assert response.status_code == 302

    engagement.refresh_from_db()
    assert engagement.customer_reference_id is None
    version = _latest(engagement)
    assert (version.customer_reference_id, version.history_user, version.history_change_reason) == (
        None,
        root,
        WITHDRAWN,
    )
