"""The admin's forms ask the services' checks, then the services save: when the records change in between
(somebody else's edit, the day turning), the service's refusal at save time is shown on the form, with
what was typed kept, and nothing of the save is kept; never a 500."""

import pytest
from django.urls import reverse

from engagements.admin import EngagementPartnerAddForm
from engagements.models import Engagement, EngagementPartner
from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def test_an_engagement_cancelled_while_a_partner_is_being_added_is_said_not_a_500(client, alpha, monkeypatch):
    checked = EngagementPartnerAddForm.clean

    def checked_then_cancelled_by_somebody_else(form):
        cleaned = checked(form)
        Engagement.objects.filter(pk=alpha.engagement.pk).update(status="cancelled")
        return cleaned

    monkeypatch.setattr(EngagementPartnerAddForm, "clean", checked_then_cancelled_by_somebody_else)
    partner = PartnerFactory(name="Latecomer Ltd")
    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_engagementpartner_add")
    data = {"engagement": alpha.engagement.pk, "partner": partner.pk, "role": "consulting_lead"}
    data |= {
        "contract_start": "2026-11-01",
        "contract_end": "2027-11-01",
        "territory": "",
        "business_function": "",
    }

    response = client.post(url, data)

    assert response.status_code == 200
    page = response.content.decode()
    assert f"“{alpha.engagement.title}” is cancelled." in page
    assert 'name="contract_start" value="2026-11-01"' in page
    assert not EngagementPartner.objects.filter(partner=partner).exists()
