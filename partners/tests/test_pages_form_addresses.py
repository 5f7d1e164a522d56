"""A form that posts to an address of its own shows a refusal at that address; reopened later (from the
history, a restored tab) that address is a GET, which must lead back to the form's page, not to a blank
405, and change nothing."""

import pytest
from django.urls import reverse

from partners.choices import ContactRequestStatus
from partners.models import ContactRequest
from tests.factories import ContactRequestFactory, PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db


def test_the_contact_address_reopened_after_a_refusal_leads_to_the_profiles_form(client):
    partner = PartnerFactory(name="Acme Cloud", slug="acme-cloud")
    url = reverse("partners:contact", args=[partner.slug])
    refused = client.post(url, {"name": "Jane"})
    assert refused.status_code == 400

    reopened = client.get(url, follow=True)

    assert reopened.status_code == 200
    assert reopened.redirect_chain == [(reverse("partners:profile", args=[partner.slug]) + "#contact", 302)]
    assert 'id="contact"' in reopened.content.decode()
    assert not ContactRequest.objects.exists()


def test_the_contact_address_of_a_partner_that_is_not_there_is_a_404_page(client):
    response = client.get(reverse("partners:contact", args=["no-such-partner"]), follow=True)

    assert response.status_code == 404


def test_the_decline_address_reopened_after_a_refusal_leads_to_the_lead(client):
    acme = PartnerFactory(name="Acme Cloud", slug="acme-cloud")
    client.force_login(PartnerUserFactory(partner=acme, username="ann"))
    lead = ContactRequestFactory(partner=acme)
    url = reverse("my:lead-decline", args=[lead.reference])
    assert client.post(url, {"reason": " "}).status_code == 400

    reopened = client.get(url, follow=True)

    assert reopened.status_code == 200
    assert reopened.redirect_chain == [(reverse("my:lead-detail", args=[lead.reference]), 302)]
    assert lead.reference in reopened.content.decode()
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.NEW


def test_the_decline_address_of_another_partners_lead_stays_a_404(client):
    client.force_login(PartnerUserFactory(partner=PartnerFactory(slug="acme-cloud"), username="ann"))
    theirs = ContactRequestFactory(partner=PartnerFactory(slug="globex"))

    response = client.get(reverse("my:lead-decline", args=[theirs.reference]), follow=True)

    assert response.status_code == 404
