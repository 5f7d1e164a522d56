"""A partner its PDM (or a superuser) may delete, one holding no approved enrollment, goes with the records
that are only its own: its tier history (most partners have one, from the tier checks), its profile
proposals and the webhook endpoints registered for its events, each listed in the deletion's summary. None
of them asks a delete permission of its own, which the deleter has not: a tier change, a proposal or an
endpoint is never deleted alone by a PDM, nor opened: the summary names it without a link to its page."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from apn_portal.accounts.models import User
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from apn_portal.webhooks.services import webhook_endpoint_create
from partners.choices import TierChangeSource
from partners.models import Partner, ProfileChangeRequest, TierChange
from partners.services import partner_tier_change, profile_change_submit
from tests.factories import (
    IndustryFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    SuperUserFactory,
    tier,
)

pytestmark = pytest.mark.django_db

PARTNERS = "/admin/partners/partner/"
DENIED = "your account doesn&#x27;t have permission to delete"


@pytest.fixture(params=["pdm", "superuser"])
def deleter(request, client):
    user = PdmFactory() if request.param == "pdm" else SuperUserFactory()
    client.force_login(user)
    return user


def partner_with_its_records(pdm, name):
    """A partner demoted and promoted by the scheduled check, whose former staff member proposed a new
    profile and registered a webhook endpoint before leaving it (a partner with staff still in it is not
    deleted: they are people, refused as protected)."""
    partner = PartnerFactory(pdm=pdm, name=name)
    partner_tier_change(
        partner=partner,
        to_tier=tier(slug="select"),
        reason="Qualifies",
        source=TierChangeSource.SCHEDULED_CHECK,
    )
    staff = PartnerUserFactory(partner=partner)
    profile_change_submit(
        partner=partner,
        user=staff,
        description="New text",
        website=partner.website,
        industries=[IndustryFactory()],
        use_cases=[],
    )
    endpoint = webhook_endpoint_create(
        user=staff, url="http://localhost:9000/hook", events=["partner.tier_changed"]
    )
    User.objects.filter(pk=staff.pk).update(partner=None)
    return partner, endpoint


def test_deleting_a_partner_on_its_page_lists_and_takes_its_tier_history_proposals_and_endpoints(
    client, deleter
):
    partner, endpoint = partner_with_its_records(
        deleter if deleter.is_pdm else PdmFactory(), "Short Lived Ltd"
    )
    delete_url = f"{PARTNERS}{partner.pk}/delete/"

    confirm = client.get(delete_url, secure=True)
    assert confirm.status_code == 200
    assertNotContains(confirm, DENIED)
    assertContains(confirm, "Tier changes: 1")
    assertContains(confirm, "Profile change requests: 1")
    assertContains(confirm, "Webhook endpoints: 1")

    assert client.post(delete_url, {"post": "yes"}, secure=True).status_code == 302
    assert not Partner.objects.filter(pk=partner.pk).exists()
    assert not TierChange.objects.filter(partner_id=partner.pk).exists()
    assert not ProfileChangeRequest.objects.filter(partner_id=partner.pk).exists()
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.filter(endpoint_id=endpoint.pk).exists()


def test_bulk_deleting_partners_lists_and_takes_their_tier_history_proposals_and_endpoints(client, deleter):
    pdm = deleter if deleter.is_pdm else PdmFactory()
    first, _ = partner_with_its_records(pdm, "First Ltd")
    second, _ = partner_with_its_records(pdm, "Second Ltd")
    selection = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [first.pk, second.pk]}

    confirm = client.post(PARTNERS, selection, secure=True)
    assert confirm.status_code == 200
    assertNotContains(confirm, DENIED)
    assertContains(confirm, "Tier changes: 2")
    assertContains(confirm, "Profile change requests: 2")
    assertContains(confirm, "Webhook endpoints: 2")

    assert client.post(PARTNERS, {**selection, "post": "yes"}, secure=True).status_code == 302
    assert not Partner.objects.filter(pk__in=[first.pk, second.pk]).exists()
    assert not TierChange.objects.filter(partner_id__in=[first.pk, second.pk]).exists()
    assert not WebhookEndpoint.objects.filter(partner_id__in=[first.pk, second.pk]).exists()


def test_a_pdm_still_deletes_no_tier_change_on_its_own(client):
    pdm = PdmFactory()
    client.force_login(pdm)
    partner, _ = partner_with_its_records(pdm, "Kept Ltd")
    change = TierChange.objects.get(partner=partner)

    assert client.get(f"/admin/partners/tierchange/{change.pk}/delete/", secure=True).status_code == 403
    client.post(
        "/admin/partners/tierchange/",
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [change.pk], "post": "yes"},
        secure=True,
    )
    assert TierChange.objects.filter(pk=change.pk).exists()


def test_a_pdms_deletion_summary_names_the_endpoints_without_links_to_pages_they_cannot_open(client):
    # A PDM keeps no webhook endpoint: its page answers them 403, so the summary names it unlinked, as it
    # does a record without an admin page, and still links the partner's records the PDM can open.
    pdm = PdmFactory()
    client.force_login(pdm)
    partner, endpoint = partner_with_its_records(pdm, "Hooked Ltd")
    endpoint_page = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
    change = TierChange.objects.get(partner=partner)
    assert client.get(endpoint_page, secure=True).status_code == 403

    on_its_page = client.get(f"{PARTNERS}{partner.pk}/delete/", secure=True)
    with_the_action = client.post(
        PARTNERS, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [partner.pk]}, secure=True
    )

    for confirm in (on_its_page, with_the_action):
        assertContains(confirm, f"Webhook endpoint: {endpoint.url}")
        assertNotContains(confirm, endpoint_page)
        assertContains(confirm, reverse("admin:partners_tierchange_change", args=[change.pk]))


def test_a_superusers_deletion_summary_still_links_the_endpoints(client):
    client.force_login(SuperUserFactory())
    partner, endpoint = partner_with_its_records(PdmFactory(), "Hooked Ltd")

    confirm = client.get(f"{PARTNERS}{partner.pk}/delete/", secure=True)

    assertContains(confirm, reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
