"""The partner's customer references in its own area (/my/references/): register, correct, withdraw, and see
which its PDM has validated."""

import datetime
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apn_portal.exceptions import GoneError
from apn_portal.outbox.models import OutboxMessage
from partners.models import CustomerReference
from partners.services import customer_reference_set_validated
from partners.services_records import reference_delete, reference_update
from tests.factories import (
    CustomerReferenceFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
)

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


@pytest.fixture
def pdm():
    return PdmFactory(username="pat", email="pat@provider.example", first_name="Pat", last_name="Lee")


@pytest.fixture
def acme(pdm):
    return PartnerFactory(name="Acme Cloud", slug="acme-cloud", pdm=pdm)


@pytest.fixture
def acme_user(acme):
    return PartnerUserFactory(partner=acme, username="ann", email="ann@acme.example")


@pytest.fixture
def acme_client(client, acme_user):
    client.force_login(acme_user)
    return client


def waiting(partner, **values):
    return CustomerReferenceFactory(partner=partner, is_validated=False, validated_at=None, **values)


def form_values(**changes):
    return {
        "customer_name": "BigCorp",
        "summary": "Moved the web shop to containers.",
        "services_used": "ECS, RDS",
        "launched_on": days_ago(30).isoformat(),
        "is_public": "on",
        **changes,
    }


# The list -----------------------------------------------------------------------------------------------


def test_the_list_shows_validated_and_waiting_references_with_who_validated(acme_client, acme, pdm):
    CustomerReferenceFactory(partner=acme, customer_name="Initrode", validated_by=pdm, is_public=False)
    waiting(acme, customer_name="Umbrella", is_public=True)

    page = text_of(acme_client.get(reverse("my:references")))

    assert "1 validated, 1 waiting for validation." in page
    assert re.search(r"Initrode .* Validated \d+ \w+ \d{4} by Pat Lee No", page)
    assert re.search(r"Umbrella .* Waiting for validation Once validated", page)


def test_only_waiting_references_can_be_opened_for_correction(acme_client, acme):
    validated = CustomerReferenceFactory(partner=acme, customer_name="Initrode")
    open_one = waiting(acme, customer_name="Umbrella")

    html = acme_client.get(reverse("my:references")).content.decode()

    assert reverse("my:reference-edit", args=[open_one.pk]) in html
    assert reverse("my:reference-edit", args=[validated.pk]) not in html


def test_the_list_shows_the_partners_own_references_only(acme_client, acme):
    waiting(PartnerFactory(name="Globex Systems"), customer_name="Globex's secret customer")
    waiting(acme, customer_name="Umbrella")

    page = text_of(acme_client.get(reverse("my:references")))

    assert "Umbrella" in page
    assert "secret customer" not in page
    assert "0 validated, 1 waiting for validation." in page


def test_an_empty_list_says_what_to_do(acme_client):
    page = text_of(acme_client.get(reverse("my:references")))

    assert "No customer references yet." in page


def test_the_list_is_paginated_and_reads_in_a_constant_number_of_queries(acme_client, acme, pdm):
    CustomerReferenceFactory(partner=acme, validated_by=pdm)
    with CaptureQueriesContext(connection) as few:
        acme_client.get(reverse("my:references"))
    CustomerReferenceFactory.create_batch(15, partner=acme, validated_by=pdm)
    for _ in range(15):
        waiting(acme)

    with CaptureQueriesContext(connection) as many:
        response = acme_client.get(reverse("my:references"))

    assert len(many) == len(few)
    assert "31 references, page 1 of 2" in text_of(response)
    assert "page 2 of 2" in text_of(acme_client.get(reverse("my:references") + "?page=2"))


@pytest.mark.parametrize("page", ["abc", "0", "99", "9" * 40])
def test_an_odd_page_number_still_gives_a_page(acme_client, acme, page):
    waiting(acme, customer_name="Umbrella")

    response = acme_client.get(reverse("my:references"), {"page": page})

    assert response.status_code == 200
    assert "Umbrella" in text_of(response)


def test_the_scorecard_links_the_references_requirement_to_the_list(acme_client):
    html = acme_client.get(reverse("my:scorecard")).content.decode()

    # The default Select tier asks for launched projects (validated references).
    assert re.search(rf'<a href="{reverse("my:references")}">Launched customer projects', html)


# Registering --------------------------------------------------------------------------------------------


def test_a_partners_staff_register_a_reference_that_waits_for_the_pdm(acme_client, acme, acme_user):
    response = acme_client.post(reverse("my:reference-new"), form_values())

    assert response.status_code == 303
    assert response["Location"] == reverse("my:references")
    reference = CustomerReference.objects.get()
    assert (reference.partner, reference.customer_name, reference.is_validated, reference.is_public) == (
        acme,
        "BigCorp",
        False,
        True,
    )
    page = text_of(acme_client.get(response["Location"]))
    assert "Your reference for BigCorp was sent to your Partner Development Manager" in page
    assert re.search(r"BigCorp .* Waiting for validation", page)


def test_the_pdm_is_told_of_a_registered_reference_once(acme_client, acme):
    acme_client.post(reverse("my:reference-new"), form_values())

    email = OutboxMessage.objects.get(subject="Acme Cloud registered a customer reference to validate")
    reference = CustomerReference.objects.get()
    assert email.to == ["pat@provider.example"]
    assert "BigCorp" in email.body_text
    assert reverse("admin:partners_customerreference_change", args=[reference.pk]) in email.body_text


def test_a_reference_the_pdm_enters_themselves_sends_no_email(acme, pdm):
    from partners.services_records import reference_create

    reference_create(
        partner=acme, user=pdm, customer_name="BigCorp", summary="Shop.", launched_on=days_ago(3)
    )

    assert not OutboxMessage.objects.filter(subject__contains="customer reference").exists()


def test_without_a_pdm_the_reference_waits_for_the_network_team_and_nobody_is_emailed(client):
    partner = PartnerFactory(name="Orphan Cloud", pdm=None)
    client.force_login(PartnerUserFactory(partner=partner))

    response = client.post(reverse("my:reference-new"), form_values(), follow=True)

    assert "was sent to the partner network's team" in text_of(response)
    assert not OutboxMessage.objects.filter(subject__contains="customer reference").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"customer_name": ""}, "Name the customer."),
        ({"summary": "  "}, "Say what you built for the customer."),
        ({"launched_on": ""}, "Give the day the project went live."),
        ({"launched_on": "not a date"}, "Enter a valid date."),
        ({"launched_on": (timezone.localdate() + datetime.timedelta(days=3)).isoformat()}, "in the future"),
        ({"customer_name": "x" * 201}, "at most 200 characters"),
        ({"customer_name": "Big\x00Corp"}, "Null characters are not allowed."),
    ],
)
def test_bad_input_is_shown_beside_the_field_and_nothing_is_stored(acme_client, changes, message):
    response = acme_client.post(reverse("my:reference-new"), form_values(**changes))

    assert response.status_code == 400
    assert message in text_of(response)
    assert "Please correct the following:" in text_of(response)
    assert not CustomerReference.objects.exists()
    assert not OutboxMessage.objects.exists()


# Correcting and withdrawing -----------------------------------------------------------------------------


def test_a_waiting_reference_can_be_corrected(acme_client, acme):
    reference = waiting(acme, customer_name="Umbrela", services_used="EC2")
    form = text_of(acme_client.get(reverse("my:reference-edit", args=[reference.pk])))
    assert "Correct your reference for Umbrela" in form

    response = acme_client.post(
        reverse("my:reference-edit", args=[reference.pk]),
        form_values(customer_name="Umbrella", services_used="EC2, S3"),
        follow=True,
    )

    reference.refresh_from_db()
    assert (reference.customer_name, reference.services_used, reference.is_validated) == (
        "Umbrella",
        "EC2, S3",
        False,
    )
    assert "Your reference for Umbrella was saved." in text_of(response)


def test_a_correction_with_bad_input_keeps_the_reference_as_it_was(acme_client, acme):
    reference = waiting(acme, customer_name="Umbrella")

    response = acme_client.post(reverse("my:reference-edit", args=[reference.pk]), form_values(summary=""))

    assert response.status_code == 400
    reference.refresh_from_db()
    assert reference.customer_name == "Umbrella"


def test_a_validated_reference_is_not_offered_for_correction(acme_client, acme):
    reference = CustomerReferenceFactory(partner=acme, customer_name="Initrode")

    response = acme_client.get(reverse("my:reference-edit", args=[reference.pk]), follow=True)

    page = text_of(response)
    assert "Your reference for Initrode is validated" in page
    assert "changes only through your Partner Development Manager" in page
    assert response.redirect_chain[-1][0] == reverse("my:references")


def test_a_reference_validated_while_the_form_was_open_is_not_changed(acme_client, acme, pdm):
    reference = waiting(acme, customer_name="Umbrella")
    acme_client.get(reverse("my:reference-edit", args=[reference.pk]))
    customer_reference_set_validated(reference=reference, user=pdm, validated=True)

    response = acme_client.post(
        reverse("my:reference-edit", args=[reference.pk]), form_values(customer_name="Changed"), follow=True
    )

    reference.refresh_from_db()
    assert reference.customer_name == "Umbrella"
    assert "Your reference for Umbrella is validated: it counts toward your tier" in text_of(response)


def test_a_waiting_reference_can_be_withdrawn(acme_client, acme):
    reference = waiting(acme, customer_name="Umbrella")

    response = acme_client.post(reverse("my:reference-withdraw", args=[reference.pk]), follow=True)

    assert not CustomerReference.objects.filter(pk=reference.pk).exists()
    assert "Your reference for Umbrella was withdrawn." in text_of(response)


def test_a_validated_reference_cannot_be_withdrawn(acme_client, acme):
    reference = CustomerReferenceFactory(partner=acme, customer_name="Initrode")

    response = acme_client.post(reverse("my:reference-withdraw", args=[reference.pk]), follow=True)

    assert CustomerReference.objects.filter(pk=reference.pk).exists()
    assert "PDM has validated this reference: it now changes only through them." in text_of(response)


def test_withdrawing_is_a_post(acme_client, acme):
    reference = waiting(acme)

    response = acme_client.get(reverse("my:reference-withdraw", args=[reference.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("my:reference-edit", args=[reference.pk])
    assert CustomerReference.objects.filter(pk=reference.pk).exists()


# Nobody else's ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method"),
    [("my:reference-edit", "get"), ("my:reference-edit", "post"), ("my:reference-withdraw", "post")],
)
def test_another_partners_reference_is_not_found(acme_client, name, method):
    theirs = waiting(PartnerFactory(name="Globex Systems"), customer_name="Globex customer")

    response = getattr(acme_client, method)(reverse(name, args=[theirs.pk]), form_values())

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.customer_name == "Globex customer"


@pytest.mark.parametrize("path", ["/my/references/99999999999999999999999/", "/my/references/0/withdraw/"])
def test_a_reference_that_cannot_exist_is_a_404(acme_client, path):
    assert acme_client.post(path).status_code == 404


def test_the_correction_form_starts_from_the_stored_launch_day_as_a_date_picker_reads_it(acme_client, acme):
    reference = waiting(acme, launched_on=datetime.date(2024, 3, 15))

    html = acme_client.get(reverse("my:reference-edit", args=[reference.pk])).content.decode()

    assert re.search(r'<input type="date" name="launched_on" value="2024-03-15"', html)


def test_the_list_says_which_references_the_profile_shows_and_whether_it_is_published(acme_client, acme):
    page = text_of(acme_client.get(reverse("my:references")))
    assert "Your public profile shows the 10 most recently launched of the validated references" in page

    acme.is_published = False
    acme.save()

    page = text_of(acme_client.get(reverse("my:references")))
    assert "Once it is published, your public profile will show the 10 most recently launched" in page


# Withdrawn by a colleague while another page was open ----------------------------------------------------


def test_the_pdm_validating_a_reference_withdrawn_meanwhile_is_told_so(acme, pdm):
    reference = waiting(acme, customer_name="Umbrella")
    CustomerReference.objects.filter(pk=reference.pk).delete()  # the partner withdrew it meanwhile

    with pytest.raises(GoneError, match="This customer reference no longer exists"):
        customer_reference_set_validated(reference=reference, user=pdm, validated=True)


def test_correcting_a_reference_a_colleague_withdrew_meanwhile_says_so(acme, acme_user, client):
    reference = waiting(acme, customer_name="Umbrella")
    CustomerReference.objects.filter(pk=reference.pk).delete()

    with pytest.raises(GoneError, match="no longer exists: it was deleted meanwhile"):
        reference_update(reference=reference, user=acme_user, summary="Changed.")
    with pytest.raises(GoneError):
        reference_delete(reference=reference, user=acme_user)


@pytest.fixture
def withdrawn_by_a_colleague(acme, client):
    """A waiting reference a colleague withdrew from their own page."""
    reference = waiting(acme, customer_name="Umbrella")
    client.force_login(PartnerUserFactory(partner=acme, first_name="Bob", last_name="Stone"))
    assert client.post(reverse("my:reference-withdraw", args=[reference.pk])).status_code == 303
    client.logout()
    return reference


@pytest.mark.parametrize(
    ("name", "method"),
    [("my:reference-edit", "get"), ("my:reference-edit", "post"), ("my:reference-withdraw", "post")],
)
def test_a_reference_a_colleague_withdrew_since_the_page_was_opened_says_so(
    withdrawn_by_a_colleague, acme_user, client, name, method
):
    client.force_login(acme_user)

    response = getattr(client, method)(
        reverse(name, args=[withdrawn_by_a_colleague.pk]), form_values(summary="A correction."), follow=True
    )

    assert response.redirect_chain == [(reverse("my:references"), 303)]
    assert "Your reference for Umbrella was withdrawn by Bob Stone: it no longer exists." in text_of(response)


def test_withdrawing_twice_says_it_was_withdrawn(acme_client, acme):
    reference = waiting(acme, customer_name="Umbrella")
    url = reverse("my:reference-withdraw", args=[reference.pk])
    acme_client.post(url)

    response = acme_client.post(url, follow=True)  # a double click, or Back and send again

    assert response.redirect_chain == [(reverse("my:references"), 303)]
    assert "Your reference for Umbrella was withdrawn by you: it no longer exists." in text_of(response)
