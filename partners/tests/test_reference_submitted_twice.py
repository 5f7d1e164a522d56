"""A customer reference registered in the partner area (/my/references/new/) and sent twice (a double click,
a browser's resend, Back and submit again) is one reference: one for the PDM to validate, one email, one
project counted. Each render of the form is one submit; two renders are two."""

import datetime
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apn_portal.outbox.models import OutboxMessage
from partners.models import CustomerReference
from partners.services import customer_reference_set_validated
from tests.factories import PartnerFactory, PartnerUserFactory, PdmFactory
from tests.locks import sent_twice_at_once

NEW = reverse("my:reference-new")


@pytest.fixture
def acme(db):
    return PartnerFactory(name="Acme Cloud", pdm=PdmFactory(email="pat@provider.example"))


@pytest.fixture
def ann(acme):
    return PartnerUserFactory(partner=acme, username="ann")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _token(client) -> str:
    found = re.search(r'name="submission_token" value="([^"]+)"', client.get(NEW).content.decode())
    assert found, "the form has no submission token"
    return found[1]


def _data(token, **changes) -> dict:
    launched = timezone.localdate() - datetime.timedelta(days=30)
    return {
        "customer_name": "BigCorp",
        "summary": "Moved the web shop to containers.",
        "services_used": "ECS, RDS",
        "launched_on": launched.isoformat(),
        "submission_token": token,
        **changes,
    }


def _emails_to_the_pdm() -> int:
    return OutboxMessage.objects.filter(dedupe_key__startswith="customer-reference:").count()


def test_the_form_sent_twice_registers_one_reference_and_tells_the_pdm_once(ann):
    client = _client(ann)
    data = _data(_token(client))

    first = client.post(NEW, data)
    again = client.post(NEW, data, follow=True)

    assert first.status_code == 303
    assert CustomerReference.objects.count() == 1
    assert _emails_to_the_pdm() == 1
    assert "Your reference for BigCorp was already sent: it is listed once." in again.content.decode()


def test_two_renders_of_the_form_filled_in_for_two_projects_register_two_references(ann):
    client = _client(ann)

    client.post(NEW, _data(_token(client)))
    client.post(NEW, _data(_token(client), customer_name="SmallCorp"))

    assert CustomerReference.objects.count() == 2


def test_back_to_the_form_fetched_afresh_and_sent_again_registers_one_reference(acme, ann):
    # Signed-in pages are never cached: Back fetches the form again, with a new token, and the browser
    # puts back what was typed.
    client = _client(ann)
    client.post(NEW, _data(_token(client)))

    again = client.post(NEW, _data(_token(client)), follow=True)

    assert CustomerReference.objects.count() == 1
    assert _emails_to_the_pdm() == 1
    assert "Your reference for BigCorp was already sent: it is listed once." in again.content.decode()


def test_the_same_reference_from_a_colleague_or_an_hour_later_is_registered_again(acme, ann):
    client = _client(ann)
    client.post(NEW, _data(_token(client)))

    bob = _client(PartnerUserFactory(partner=acme, username="bob"))
    bob.post(NEW, _data(_token(bob)))
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=61)):
        client.post(NEW, _data(_token(client)))

    assert CustomerReference.objects.count() == 3


def _validated(reference, pdm):
    customer_reference_set_validated(reference=reference, validated=True, user=pdm)


def _validated_then_withdrawn(reference, pdm):
    _validated(reference, pdm)
    customer_reference_set_validated(reference=reference, validated=False, user=pdm)


@pytest.mark.parametrize("meanwhile", [_validated, _validated_then_withdrawn])
def test_the_same_reference_sent_again_once_the_pdm_judged_it_is_registered_again(acme, ann, meanwhile):
    # The PDM acted on it: the partner, back on the form (fetched afresh), sends it again on purpose.
    client = _client(ann)
    client.post(NEW, _data(_token(client)))
    first = CustomerReference.objects.get()
    meanwhile(first, acme.pdm)

    again = client.post(NEW, _data(_token(client)), follow=True)

    assert "Your reference for BigCorp was sent to" in again.content.decode()
    assert CustomerReference.objects.count() == 2
    assert _emails_to_the_pdm() == 2


def test_the_form_sent_again_after_an_edit_registers_the_edited_reference_too(ann):
    client = _client(ann)
    token = _token(client)

    client.post(NEW, _data(token))
    client.post(NEW, _data(token, customer_name="BigCorp Europe"))

    assert sorted(CustomerReference.objects.values_list("customer_name", flat=True)) == [
        "BigCorp",
        "BigCorp Europe",
    ]


def test_a_refused_form_comes_back_with_its_token_and_its_corrected_submit_is_one_reference(ann):
    client = _client(ann)
    token = _token(client)

    refused = client.post(NEW, _data(token, customer_name=""))
    client.post(NEW, _data(token))
    client.post(NEW, _data(token))

    assert refused.status_code == 400
    assert f'name="submission_token" value="{token}"' in refused.content.decode()
    assert CustomerReference.objects.count() == 1


def test_a_colleague_sending_the_same_token_registers_their_own(acme, ann):
    bob = PartnerUserFactory(partner=acme, username="bob")
    token = _token(_client(ann))

    _client(ann).post(NEW, _data(token))
    _client(bob).post(NEW, _data(token))

    assert CustomerReference.objects.count() == 2


@pytest.mark.parametrize("token", ["", "not-a-token", "a\x00b", "x" * 5000])
def test_a_form_sent_without_a_usable_token_still_registers_its_reference(ann, token):
    response = _client(ann).post(NEW, _data(token))

    assert response.status_code == 303
    assert CustomerReference.objects.count() == 1


def test_the_correction_form_carries_no_token_and_still_saves(ann, acme):
    client = _client(ann)
    client.post(NEW, _data(_token(client)))
    reference = CustomerReference.objects.get()
    edit = reverse("my:reference-edit", args=[reference.pk])

    assert "submission_token" not in client.get(edit).content.decode()
    response = client.post(edit, _data("", customer_name="BigCorp Group"))

    assert response.status_code == 303
    reference.refresh_from_db()
    assert reference.customer_name == "BigCorp Group"


@pytest.mark.django_db(transaction=True)
def test_the_form_sent_twice_at_once_registers_one_reference(ann, acme):
    data = _data(_token(_client(ann)))

    outcome = sent_twice_at_once(acme, lambda: _client(ann).post(NEW, data))

    assert "one error" not in outcome and "other error" not in outcome, outcome
    assert outcome["one"].status_code == outcome["other"].status_code == 303
    assert CustomerReference.objects.count() == 1
    assert _emails_to_the_pdm() == 1
