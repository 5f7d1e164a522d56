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


def test_an_engagement_closed_while_its_page_is_saved_keeps_nothing_of_the_save(client, alpha, monkeypatch):
    """A new team row refused at save time (the engagement was cancelled after the rows were checked) undoes
    the whole save, the engagement's own changes included: the page comes back as typed, saying why."""
    from engagements.admin import TeamMemberFormSet
    from tests.factories import SolutionsArchitectFactory

    from .test_admin_services_rules import _with_rows

    checked = TeamMemberFormSet.clean

    def checked_then_cancelled_by_somebody_else(formset):
        checked(formset)
        Engagement.objects.filter(pk=alpha.engagement.pk).update(status="cancelled")

    architect = SolutionsArchitectFactory()
    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_engagement_change", args=[alpha.engagement.pk])
    page = client.get(url)
    new = {"user": architect.pk, "role": "solutions_architect", "joined_on": "2026-01-05"}
    data = _with_rows(page, "team_members", new=[new]) | {"title": "Renamed while cancelled"}
    monkeypatch.setattr(TeamMemberFormSet, "clean", checked_then_cancelled_by_somebody_else)

    response = client.post(url, data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "“Renamed while cancelled” is cancelled." in page
    assert 'value="Renamed while cancelled"' in page
    engagement = Engagement.objects.get(pk=alpha.engagement.pk)
    assert engagement.title == alpha.engagement.title
    assert not engagement.team_members.filter(user=architect).exists()


def test_a_change_page_saved_while_somebody_advances_the_engagement_keeps_their_step(
    client, alpha, monkeypatch
):
    """The stage is read-only on the page (it moves through its action): a save during which somebody
    advanced the engagement (after the page's rows were checked, before they were written) changes the
    title and leaves the step they recorded, rather than writing back the stage it had read."""
    from engagements.admin import TeamMemberFormSet
    from engagements.services import engagement_stage_advance

    from .test_admin_services_rules import _change_form

    checked = TeamMemberFormSet.clean
    advanced = []

    def checked_then_advanced_by_somebody_else(formset):
        checked(formset)
        engagement = Engagement.objects.get(pk=alpha.engagement.pk)
        advanced.append(engagement_stage_advance(user=alpha.account_manager, engagement=engagement).stage)

    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_engagement_change", args=[alpha.engagement.pk])
    data = _change_form(client.get(url)) | {"title": "Retitled"}
    monkeypatch.setattr(TeamMemberFormSet, "clean", checked_then_advanced_by_somebody_else)

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    engagement = Engagement.objects.get(pk=alpha.engagement.pk)
    assert advanced and advanced[0] != alpha.engagement.stage
    assert (engagement.title, engagement.stage) == ("Retitled", advanced[0])
