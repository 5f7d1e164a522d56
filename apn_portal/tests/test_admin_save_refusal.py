"""An admin form is checked, then a service saves it: when the records change in between (somebody else's
edit, the day turning) and the service refuses, the form is shown again with what was typed and the
refusal beside the field it names (else above the form), and nothing of the save is kept."""

import datetime
import html
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from engagements import admin as engagements_admin
from engagements.models import Customer
from partners.admin import enrollment as enrollment_admin
from partners.choices import PartnerType
from partners.models import ProgramEnrollment
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    PartnerFactory,
    ProgramFactory,
    QualifiedTamFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db


def field_errors(page: str, field: str) -> str:
    """The text of the errors shown beside `field` on an admin form page ("" when none)."""
    found = re.search(rf'<ul class="errorlist"[^>]*id="id_{field}_error"[^>]*>(.*?)</ul>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def non_field_errors(page: str) -> str:
    found = re.search(r'<ul class="errorlist nonfield"[^>]*>(.*?)</ul>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def input_value(page: str, name: str) -> str | None:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    value = found and re.search(r'value="([^"]*)"', found.group(0))
    return html.unescape(value.group(1)) if value else None


def selected_option(page: str, name: str) -> str | None:
    found = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    option = found and re.search(r'<option value="([^"]*)"[^>]*selected', found.group(1))
    return option.group(1) if option else None


@pytest.fixture
def customer():
    return CustomerFactory(name="Acme", account_manager=AccountManagerFactory())


def customer_form(customer, **changes):
    data = {
        "name": customer.name,
        "slug": customer.slug,
        "agreement": customer.agreement,
        "time_zone": customer.time_zone,
        "account_manager": customer.account_manager_id,
        "solutions_architect": "",
        "tam": "",
        "access_administrators": [],
        "accounts-TOTAL_FORMS": 0,
        "accounts-INITIAL_FORMS": 0,
    }
    return {**data, **changes}


def test_a_change_refused_at_save_shows_the_form_again_as_typed_with_the_refusal_beside_its_field(
    client, customer, monkeypatch
):
    # The form's check found nothing wrong with the TAM; by the save, the customer's plan had none to name.
    monkeypatch.setattr(engagements_admin.services, "customer_people_problems", lambda customer, data: {})
    tara = QualifiedTamFactory(username="tam-tara", first_name="Tara", last_name="Quinn")
    client.force_login(customer.account_manager)
    url = reverse("admin:engagements_customer_change", args=[customer.pk])
    logged = LogEntry.objects.count()

    response = client.post(url, customer_form(customer, name="Acme Renamed", tam=tara.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "which comes without a designated TAM" in field_errors(page, "tam")
    assert input_value(page, "name") == "Acme Renamed"
    assert selected_option(page, "tam") == str(tara.pk)
    customer.refresh_from_db()
    assert (customer.name, customer.tam) == ("Acme", None)
    assert LogEntry.objects.count() == logged
    assert not Customer.history.filter(id=customer.pk, name="Acme Renamed").exists()


def test_an_application_refused_at_save_keeps_what_was_typed_and_says_why_beside_the_program(
    client, monkeypatch
):
    # The form's check passed; by the save the program had been closed to consulting partners.
    monkeypatch.setattr(enrollment_admin, "enrollment_apply_check", lambda **kwargs: None)
    partner = PartnerFactory(name="Latecomer Ltd", partner_type=PartnerType.CONSULTING)
    program = ProgramFactory(name="ISV Path", partner_type=PartnerType.TECHNOLOGY)
    client.force_login(SuperUserFactory())
    url = reverse("admin:partners_programenrollment_add")
    applied_on = (timezone.localdate() - datetime.timedelta(days=40)).isoformat()
    audit_date = (timezone.localdate() - datetime.timedelta(days=10)).isoformat()
    data = {
        "partner": partner.pk,
        "program": program.pk,
        "applied_on": applied_on,
        "audit_date": audit_date,
        "audit_result": "",
    }

    response = client.post(url, data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "ISV Path is only open to Technology partners." in field_errors(page, "program")
    assert input_value(page, "applied_on") == applied_on
    assert input_value(page, "audit_date") == audit_date
    assert selected_option(page, "program") == str(program.pk)
    assert not ProgramEnrollment.objects.filter(partner=partner).exists()


def test_a_refusal_naming_no_field_of_the_form_is_said_above_it(client, customer, monkeypatch):
    monkeypatch.setattr(engagements_admin.services, "customer_people_problems", lambda customer, data: {})
    tara = QualifiedTamFactory(username="tam-tara")
    client.force_login(customer.account_manager)
    url = reverse("admin:engagements_customer_change", args=[customer.pk])
    refused = engagements_admin.services.customer_assign_staff

    def refused_elsewhere(**kwargs):
        try:
            refused(**kwargs)
        except engagements_admin.DomainError as error:
            raise engagements_admin.DomainError(error.message, field="plan") from None

    monkeypatch.setattr(engagements_admin.services, "customer_assign_staff", refused_elsewhere)

    response = client.post(url, customer_form(customer, name="Acme Renamed", tam=tara.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "which comes without a designated TAM" in non_field_errors(page)
    assert input_value(page, "name") == "Acme Renamed"
    customer.refresh_from_db()
    assert (customer.name, customer.tam) == ("Acme", None)


def test_a_save_nothing_refuses_still_goes_back_to_the_list(client, customer):
    client.force_login(customer.account_manager)
    url = reverse("admin:engagements_customer_change", args=[customer.pk])

    response = client.post(url, customer_form(customer, name="Acme Renamed"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:engagements_customer_changelist")
    customer.refresh_from_db()
    assert customer.name == "Acme Renamed"
