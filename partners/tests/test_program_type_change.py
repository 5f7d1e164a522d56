"""A PDM making a program open to one partner type only (Programs -> partner type) while partners of the
other type hold it or have applied for it: the admin saved it, leaving them an approved enrollment in a
program closed to their type (counted for their tier, shown publicly) that could be neither renewed nor
applied for again. It is refused, naming them, as correcting a partner's type is."""

from functools import partial

import pytest
from django.urls import reverse

from apn_portal.exceptions import DomainError
from partners.choices import LIVE_ENROLLMENT_STATUSES, EnrollmentStatus, PartnerType
from partners.models import PartnerSearchEntry, Program
from partners.services import partner_type_change
from partners.services_records import enrollment_apply
from partners.tests.test_admin import change_form_data, page_text
from tests.factories import (
    ApprovedEnrollmentFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
)
from tests.locks import in_a_thread, lock_held, sessions_waiting_for_locks, wait_for

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


def test_an_application_filed_after_the_form_was_checked_still_stops_the_save(pdm):
    # The PDM's form found nobody in the way; a Consulting partner applied before the save reached the
    # database: the save asks again, and refuses with the same words.
    from partners.services import program_update

    program = ProgramFactory(name="Edge Delivery", partner_type="")
    edited = Program.objects.get(pk=program.pk)
    edited.partner_type = PartnerType.TECHNOLOGY
    ProgramEnrollmentFactory(partner=PartnerFactory(name="Acme Consulting"), program=program)

    with pytest.raises(DomainError) as refused:
        program_update(program=edited, user=pdm)

    assert refused.value.message.startswith(
        "Edge Delivery cannot be made open only to Technology partners while partners of the other type "
        "hold it or have applied for it: Acme Consulting (applied)."
    )
    program.refresh_from_db()
    assert program.partner_type == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["apply", "close"])
def test_an_application_and_closing_the_program_to_its_type_at_once_leave_no_application_it_cannot_pass(
    client, first
):
    """A Consulting partner applies while its PDM makes the program Technology-only: the one that reaches
    the program first goes through and the other is refused; before, both were saved, and the application
    could never be approved (approval asks the program's type again)."""
    pdm = PdmFactory()
    client.force_login(pdm)
    program = ProgramFactory(name="Edge Delivery", partner_type="")
    partner = PartnerFactory(name="Acme Consulting", partner_type=PartnerType.CONSULTING)
    staff = PartnerUserFactory(partner=partner)
    url = reverse("admin:partners_program_change", args=[program.pk])
    closing = change_form_data(client, url) | {"partner_type": PartnerType.TECHNOLOGY}
    work = {
        "close": lambda: page_text(client.post(url, closing)),
        "apply": lambda: enrollment_apply(partner=partner, program=program, user=staff),
    }
    outcome = {}

    # Another session holds the program: both wait for it, in this order, and then go.
    with lock_held(f"SELECT 1 FROM {Program._meta.db_table} WHERE id = %s FOR UPDATE", [program.pk]):
        threads = []
        for waiting, name in enumerate([first, *(set(work) - {first})], start=1):
            threads.append(in_a_thread(outcome, name, work[name]))
            wait_for(lambda waiting=waiting: sessions_waiting_for_locks() == waiting)
    for thread in threads:
        thread.join(timeout=30)

    assert "close error" not in outcome, outcome
    program.refresh_from_db()
    live = list(program.enrollments.filter(status__in=LIVE_ENROLLMENT_STATUSES))
    if first == "close":
        assert program.partner_type == PartnerType.TECHNOLOGY
        assert live == []
        assert outcome["apply error"] == "DomainError: Edge Delivery is only open to Technology partners."
    else:
        assert program.partner_type == ""
        assert [enrollment.partner for enrollment in live] == [partner], outcome
        assert "Edge Delivery cannot be made open only to Technology partners" in outcome["close"]
        assert "Acme Consulting (applied)" in outcome["close"]


@pytest.mark.django_db(transaction=True)
def test_correcting_a_partner_and_closing_its_program_to_the_new_type_at_once_leave_it_no_closed_program(
    client,
):
    """A PDM makes a program Consulting-only while another corrects a partner enrolled in it to Technology:
    each asked the program and the partner as they stood before the other's change, and both were saved,
    leaving a Technology partner approved in a Consulting-only program. The correction now waits for the
    program and is refused."""
    pdm = PdmFactory()
    client.force_login(pdm)
    program = ProgramFactory(name="Edge Delivery", partner_type="")
    partner = PartnerFactory(name="Acme Consulting", partner_type=PartnerType.CONSULTING, pdm=pdm)
    ApprovedEnrollmentFactory(partner=partner, program=program)
    url = reverse("admin:partners_program_change", args=[program.pk])
    closing = change_form_data(client, url) | {"partner_type": PartnerType.CONSULTING}
    outcome = {}

    # The partner's search entry is held by another session: the program's save, checked and written,
    # waits there to refresh it, uncommitted, while the correction is asked for.
    entry = f"SELECT 1 FROM {PartnerSearchEntry._meta.db_table} WHERE partner_id = %s FOR UPDATE"
    with lock_held(entry, [partner.pk]):
        threads = [in_a_thread(outcome, "close", lambda: client.post(url, closing).status_code)]
        wait_for(lambda: sessions_waiting_for_locks() == 1)
        correct = partial(
            partner_type_change,
            user=pdm,
            partner=partner,
            partner_type=PartnerType.TECHNOLOGY,
            reason="Sells its own product",
        )
        threads.append(in_a_thread(outcome, "correct", correct))
        wait_for(lambda: sessions_waiting_for_locks() == 2)
    for thread in threads:
        thread.join(timeout=30)

    assert outcome["close"] == 302, outcome
    program.refresh_from_db()
    partner.refresh_from_db()
    assert (program.partner_type, partner.partner_type) == (PartnerType.CONSULTING, PartnerType.CONSULTING)
    assert outcome["correct error"].startswith(
        "DomainError: Acme Consulting cannot become a Technology partner yet. First revoke its applications "
        "and enrollments in programs closed to Technology partners (Edge Delivery)"
    ), outcome
