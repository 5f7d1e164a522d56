"""A PDM who left the provider (moved to a partner, out of the provider's staff) or lost the PDM role, but
is still recorded as a partner's PDM, is no PDM of it: they are not sent the partner's private news (new
leads with the customer's details, tier and enrollment notices, profile proposals, references to
validate), its staff are not told "your PDM" reviews their proposals, and the admin neither offers nor
accepts them as a partner's PDM; the user admin will not take the role from somebody still a partner's
PDM."""

import datetime
import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.outbox.models import OutboxMessage
from partners.checks.contacts import partner_contacts
from partners.forms import PartnerAdminForm
from partners.selectors_partner_area import profile_change_reviewer
from partners.services import contact_request_create, profile_change_submit
from partners.services_records import reference_create
from partners.tests.test_admin import change_form_data
from tests.admin_forms import user_change_data
from tests.factories import PartnerFactory, PartnerUserFactory, PdmFactory, SuperUserFactory

pytestmark = pytest.mark.django_db

LEAD = {
    "name": "Carol Customer",
    "email": "carol@bigcorp.example",
    "company": "BigCorp",
    "country": "DE",
    "message": "Please help us migrate our ERP, budget 2M.",
}


def _moved_to_competitor(pdm):
    pdm.is_staff = False
    pdm.partner = PartnerFactory(name="Competitor Ltd")
    pdm.save()


def _lost_pdm_role(pdm):
    pdm.groups.remove(Group.objects.get(name=StaffRole.PDM.value))


LEAVINGS = {"to-competitor": _moved_to_competitor, "role-removed": _lost_pdm_role}


def sent_to(address):
    return list(OutboxMessage.objects.filter(to__contains=[address]).values_list("subject", flat=True))


@pytest.fixture(params=list(LEAVINGS))
def former(request):
    """Acme's recorded PDM, who then left the provider or lost the role."""
    pdm = PdmFactory(email="pat@provider.example")
    acme = PartnerFactory(name="Acme Cloud", pdm=pdm)
    LEAVINGS[request.param](pdm)
    pdm.refresh_from_db()
    assert not pdm.is_pdm  # no longer a PDM by the portal's own rule
    return acme


def test_a_former_pdm_is_not_sent_the_partners_new_leads(former):
    # Acme has no staff signed up yet: a lead goes to its PDM, while it has one.
    contact_request_create(partner=former, data=LEAD)

    assert sent_to("pat@provider.example") == []


def test_a_former_pdm_is_not_among_whom_the_partners_notices_go_to(former):
    PartnerUserFactory(partner=former, email="ann@acme.example")

    contacts = partner_contacts([former.pk])[former.pk]

    assert contacts.staff_and_pdm == ["ann@acme.example"]
    assert contacts.pdm_path_with_staff == ""


def test_a_former_pdm_is_not_sent_the_partners_profile_proposal(former):
    ann = PartnerUserFactory(partner=former, email="ann@acme.example")

    profile_change_submit(
        partner=former, user=ann, description="New text.", website="", industries=[], use_cases=[]
    )

    assert sent_to("pat@provider.example") == []
    assert profile_change_reviewer(former).startswith("the partner network's team")


def test_a_former_pdm_is_not_sent_the_partners_reference_to_validate(former):
    ann = PartnerUserFactory(partner=former, email="ann@acme.example")

    reference_create(
        partner=former,
        user=ann,
        customer_name="BigCorp",
        summary="Shop.",
        launched_on=timezone.localdate() - datetime.timedelta(days=3),
    )

    assert sent_to("pat@provider.example") == []


def test_the_current_pdm_is_still_told():
    pdm = PdmFactory(email="pat@provider.example")
    acme = PartnerFactory(name="Acme Cloud", pdm=pdm)

    contact_request_create(partner=acme, data=LEAD)

    assert len(sent_to("pat@provider.example")) == 1
    assert profile_change_reviewer(acme) == "your Partner Development Manager"
    assert partner_contacts([acme.pk])[acme.pk].pdm_email == "pat@provider.example"


def test_only_current_pdms_are_offered_as_a_partners_pdm():
    current = PdmFactory(email="priya@provider.example")
    moved = PdmFactory(email="pat@provider.example")
    _moved_to_competitor(moved)
    gone = PdmFactory(email="gone@provider.example", is_active=False)

    offered = set(PartnerAdminForm().fields["pdm"].queryset.values_list("pk", flat=True))

    assert current.pk in offered
    assert moved.pk not in offered and gone.pk not in offered


def test_the_partner_admin_refuses_a_former_pdm_with_a_clear_message(client):
    client.force_login(SuperUserFactory())
    acme = PartnerFactory(name="Acme Cloud")
    moved = PdmFactory(email="pat@provider.example")
    _moved_to_competitor(moved)
    url = reverse("admin:partners_partner_change", args=[acme.pk])
    data = change_form_data(client, url) | {"pdm": str(moved.pk)}

    response = client.post(url, data)

    assert response.status_code == 200
    assert "Choose a current Partner Development Manager" in response.content.decode()
    acme.refresh_from_db()
    assert acme.pdm is None


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda pdm: {"groups": []}, id="role-removed"),
        pytest.param(lambda pdm: {"is_staff": False, "partner": PartnerFactory().pk}, id="to-a-partner"),
        pytest.param(lambda pdm: {"is_active": False}, id="deactivated"),
    ],
)
def test_the_user_admin_keeps_a_partners_pdm_until_another_is_named(client, change):
    client.force_login(SuperUserFactory())
    pdm = PdmFactory(email="pat@provider.example")
    PartnerFactory(name="Acme Cloud", pdm=pdm)
    PartnerFactory(name="Beta Systems", pdm=pdm)

    response = client.post(
        reverse("admin:accounts_user_change", args=[pdm.pk]), user_change_data(pdm, **change(pdm))
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "is the PDM of Acme Cloud and Beta Systems: name another PDM there first." in page
    pdm.refresh_from_db()
    assert pdm.is_pdm and pdm.is_active


def test_the_user_admin_lets_a_pdm_without_partners_go(client):
    client.force_login(SuperUserFactory())
    pdm = PdmFactory(email="pat@provider.example")

    response = client.post(
        reverse("admin:accounts_user_change", args=[pdm.pk]), user_change_data(pdm, groups=[])
    )

    assert response.status_code == 302
    pdm.refresh_from_db()
    assert not pdm.is_pdm


def _selected_option(page: str, name: str) -> str | None:
    """The value the change page's select `name` shows chosen: what the browser posts back untouched."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    chosen = re.search(r'<option value="([^"]*)" selected>', select.group(1))
    return chosen.group(1) if chosen else None


def _partner_with_a_former_pdm():
    pdm = PdmFactory(first_name="Pat", last_name="Former", email="pat@provider.example")
    acme = PartnerFactory(name="Acme Cloud", pdm=pdm)
    # The role taken by a path that skips the user admin's guard (the shell, a group edit, an older release).
    pdm.groups.remove(Group.objects.get(name=StaffRole.PDM.value))
    return acme, pdm


def test_the_partner_admin_keeps_a_former_pdm_when_other_fields_are_edited(client):
    client.force_login(SuperUserFactory())
    acme, pdm = _partner_with_a_former_pdm()
    url = reverse("admin:partners_partner_change", args=[acme.pk])

    page = client.get(url).content.decode()
    shown = _selected_option(page, "pdm")
    data = change_form_data(client, url) | {"pdm": shown or "", "description": "Edited text."}
    response = client.post(url, data)

    # The page shows who is recorded, and says they are no current PDM any more.
    assert shown == str(pdm.pk)
    assert "Pat Former is no longer a current Partner Development Manager" in page
    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.description == "Edited text."
    assert acme.pdm_id == pdm.pk


def test_the_partner_admin_still_refuses_another_former_pdm(client):
    client.force_login(SuperUserFactory())
    acme, _ = _partner_with_a_former_pdm()
    other = PdmFactory(email="gone@provider.example", is_active=False)
    url = reverse("admin:partners_partner_change", args=[acme.pk])

    response = client.post(url, change_form_data(client, url) | {"pdm": str(other.pk)})

    assert response.status_code == 200
    assert "Choose a current Partner Development Manager" in response.content.decode()
    acme.refresh_from_db()
    assert acme.pdm_id != other.pk
