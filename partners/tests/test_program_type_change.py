"""A PDM making a program open to one partner type only (Programs -> partner type) while partners of the
other type hold it or have applied for it: the admin saved it, leaving them an approved enrollment in a
program closed to their type (counted for their tier, shown publicly) that could be neither renewed nor
applied for again. It is refused, naming them, as correcting a partner's type is."""

import pytest
from django.urls import reverse

from partners.choices import EnrollmentStatus, PartnerType
from partners.tests.test_admin import change_form_data, page_text
from tests.factories import (
    ApprovedEnrollmentFactory,
    PartnerFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pdm(client):
    user = PdmFactory()
    client.force_login(user)
    return user


def post_partner_type(client, program, partner_type):
    url = reverse("admin:partners_program_change", args=[program.pk])
    return client.post(url, change_form_data(client, url) | {"partner_type": partner_type})


def test_a_program_is_not_closed_to_the_type_of_partners_holding_it(client, pdm):
    program = ProgramFactory(name="Edge Delivery", partner_type="")
    ApprovedEnrollmentFactory(partner=PartnerFactory(name="Acme Consulting", pdm=pdm), program=program)
    ProgramEnrollmentFactory(
        partner=PartnerFactory(name="Birch Advisory"), program=program, status=EnrollmentStatus.UNDER_REVIEW
    )

    response = post_partner_type(client, program, PartnerType.TECHNOLOGY)

    assert response.status_code == 200
    text = page_text(response)
    assert "Edge Delivery cannot be made open only to Technology partners" in text
    assert "Acme Consulting (approved), Birch Advisory (under review)" in text
    program.refresh_from_db()
    assert program.partner_type == ""


def test_ended_enrollments_and_partners_of_the_new_type_do_not_stand_in_the_way(client, pdm):
    program = ProgramFactory(partner_type="")
    for status in (EnrollmentStatus.REVOKED, EnrollmentStatus.EXPIRED):
        ProgramEnrollmentFactory(partner=PartnerFactory(), program=program, status=status)
    ApprovedEnrollmentFactory(partner=PartnerFactory(partner_type=PartnerType.TECHNOLOGY), program=program)

    response = post_partner_type(client, program, PartnerType.TECHNOLOGY)

    assert response.status_code == 302
    program.refresh_from_db()
    assert program.partner_type == PartnerType.TECHNOLOGY


def test_a_program_held_by_one_type_can_be_opened_to_both(client, pdm):
    program = ProgramFactory(partner_type=PartnerType.CONSULTING)
    ApprovedEnrollmentFactory(partner=PartnerFactory(), program=program)

    response = post_partner_type(client, program, "")

    assert response.status_code == 302
    program.refresh_from_db()
    assert program.partner_type == ""
