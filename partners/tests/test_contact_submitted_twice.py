"""One submit of a partner's contact form is one request: a double click, Back and resubmit, or the same
submit sent twice at once stores one lead, emails the partner once and shows the same reference."""

import datetime
import os
import re
import threading
import uuid

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_flush
from partners.models import ContactRequest
from partners.services import contact_request_accept, contact_request_decline
from tests.factories import PartnerFactory, PartnerUserFactory
from tests.locks import lock_held, sessions_waiting_for_locks, wait_for

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="submission_token" value="([^"]*)"')


@pytest.fixture
def partner():
    partner = PartnerFactory(name="Acme Cloud", slug="acme-cloud")
    PartnerUserFactory(partner=partner, email="sales@acme.example")
    return partner


def form_data(token=None, **overrides):
    data = {
        "name": "Jane Doe",
        "email": "jane@bigcorp.example",
        "company": "BigCorp",
        "country": "DE",
        "message": "We want to move our data centre to the cloud by next spring.",
        "project_size": "medium",
        "timeline": "quarter",
        "website": "",
    }
    if token is not None:
        data["submission_token"] = token
    return {**data, **overrides}


def token_on(page) -> str:
    [token] = TOKEN.findall(page.content.decode())
    return token


def profile_token(client, partner) -> str:
    return token_on(client.get(reverse("partners:profile", args=[partner.slug])))


def send(client, partner, token=None, ip="203.0.113.7", **overrides):
    return client.post(
        reverse("partners:contact", args=[partner.slug]), form_data(token, **overrides), REMOTE_ADDR=ip
    )


def test_a_double_click_stores_one_request_emails_once_and_shows_one_reference(client, partner):
    token = profile_token(client, partner)

    first = send(client, partner, token)
    again = send(client, partner, token)

    assert first.status_code == again.status_code == 303
    assert again["Location"] == first["Location"]
    lead = ContactRequest.objects.get()
    assert first["Location"] == reverse("partners:contact-sent", args=[lead.reference])
    assert lead.reference in client.get(again["Location"]).content.decode()
    assert OutboxMessage.objects.count() == 1
    assert outbox_flush() == 1
    assert len(mail.outbox) == 1


def test_each_view_of_the_profile_gives_a_new_form(client, partner):
    first, second = profile_token(client, partner), profile_token(client, partner)

    assert first and second and first != second
    send(client, partner, first)
    send(client, partner, second, message="And a second project: our data lake.")
    assert ContactRequest.objects.count() == 2  # two forms filled in: two requests


def test_back_to_a_profile_fetched_afresh_and_send_again_is_the_same_request(client, partner):
    # Without the back-forward cache, Back fetches the profile again: a new token, and the browser puts
    # back what was typed.
    first = send(client, partner, profile_token(client, partner))
    again = send(client, partner, profile_token(client, partner))

    assert again["Location"] == first["Location"]
    assert ContactRequest.objects.count() == 1
    assert OutboxMessage.objects.count() == 1


def test_the_same_text_sent_again_an_hour_later_is_a_new_request(client, partner):
    first = send(client, partner, profile_token(client, partner))

    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=61)):
        later = send(client, partner, profile_token(client, partner))

    assert later.status_code == 303
    assert later["Location"] != first["Location"]
    assert ContactRequest.objects.count() == 2


@pytest.mark.parametrize(
    "answer",
    [
        lambda lead, user: contact_request_accept(contact_request=lead, user=user),
        lambda lead, user: contact_request_decline(contact_request=lead, user=user, reason="Not our region."),
    ],
    ids=["accepted", "declined"],
)
def test_the_same_text_sent_again_once_the_partner_answered_is_a_new_request(client, partner, answer):
    # The partner answered the lead: the customer, back on the profile (fetched afresh), asks again.
    first = send(client, partner, profile_token(client, partner))
    answer(ContactRequest.objects.get(), partner.users.get())

    again = send(client, partner, profile_token(client, partner))

    assert again.status_code == 303
    assert again["Location"] != first["Location"]
    assert ContactRequest.objects.count() == 2
    assert OutboxMessage.objects.count() == 2


def test_the_same_form_sent_again_with_other_text_is_a_new_request(client, partner):
    # Back, edit, send: the customer meant another request, and nothing of the first is shown for it.
    token = profile_token(client, partner)
    first = send(client, partner, token)
    edited = send(client, partner, token, message="Actually, we need help with our data lake too.")

    assert edited.status_code == 303
    assert edited["Location"] != first["Location"]
    assert ContactRequest.objects.count() == 2
    assert (
        send(client, partner, token, message="Actually, we need help with our data lake too.")["Location"]
        == edited["Location"]
    )
    assert ContactRequest.objects.count() == 2


def test_a_token_used_for_another_partner_never_leads_to_that_partners_request(client, partner):
    other = PartnerFactory(slug="other-cloud")
    token = profile_token(client, partner)
    mine = send(client, partner, token)

    theirs = send(Client(), other, token)

    assert theirs.status_code == 303
    assert theirs["Location"] != mine["Location"]
    assert ContactRequest.objects.filter(partner=other).count() == 1
    assert ContactRequest.objects.filter(partner=partner).count() == 1


def test_the_token_is_kept_when_the_form_comes_back_with_errors(client, partner):
    token = profile_token(client, partner)

    refused = send(client, partner, token, email="not-an-email")
    assert refused.status_code == 400
    assert token_on(refused) == token

    corrected = send(client, partner, token)
    again = send(client, partner, token)
    assert corrected.status_code == again.status_code == 303
    assert again["Location"] == corrected["Location"]
    assert ContactRequest.objects.count() == 1


def test_a_form_without_a_token_still_sends_and_a_corrected_one_gets_one(client, partner):
    # An old cached page, or a script: it works as before.
    assert send(client, partner).status_code == 303
    assert send(client, partner).status_code == 303
    assert ContactRequest.objects.count() == 2

    refused = send(client, partner, email="not-an-email")
    assert refused.status_code == 400
    token = token_on(refused)
    assert token
    send(client, partner, token)
    send(client, partner, token)
    assert ContactRequest.objects.count() == 3


@pytest.mark.parametrize(
    "token", ["not-a-uuid", "x" * 5000, "{" * 40, "ab\x00", "6f1c3a52-8d0e-4b7a-9c1d-2e5f4a7b8c90\x00"]
)
def test_a_tampered_token_is_ignored_and_the_request_sent(client, partner, token):
    response = send(client, partner, token)

    assert response.status_code == 303
    assert ContactRequest.objects.count() == 1


def test_a_repeat_does_not_use_up_the_throttle(client, partner):
    token = profile_token(client, partner)
    first = send(client, partner, token)
    for _ in range(3):
        assert send(client, partner, token)["Location"] == first["Location"]

    for number in range(4):  # with the first, the five an address may send
        assert send(client, partner, message=f"Another request, number {number}.").status_code == 303
    assert send(client, partner, message="One too many, this time.").status_code == 429

    # Even then, the first sent again still leads to its confirmation.
    assert send(client, partner, token)["Location"] == first["Location"]
    assert ContactRequest.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_the_same_submit_sent_twice_at_once_stores_one_request(partner):
    """Both sends are held (another session locks the outbox) until both have got as far as they can,
    so neither could see the other's request before storing its own; then the lock goes."""
    token = str(uuid.uuid4())
    responses = {}

    def submit(name):
        try:
            responses[name] = send(Client(), partner, token)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(name,)) for name in ("one", "two")]
    with lock_held(f"LOCK TABLE {OutboxMessage._meta.db_table} IN EXCLUSIVE MODE"):
        for thread in threads:
            thread.start()
        wait_for(lambda: sessions_waiting_for_locks() == 2)
    for thread in threads:
        thread.join(timeout=30)

    assert [responses[name].status_code for name in ("one", "two")] == [303, 303]
    assert responses["one"]["Location"] == responses["two"]["Location"]
    lead = ContactRequest.objects.get()
    assert responses["one"]["Location"] == reverse("partners:contact-sent", args=[lead.reference])
    assert OutboxMessage.objects.count() == 1
    for number in range(4):  # the repeat gave back its place in the throttle: four more, five in all
        assert send(Client(), partner, message=f"Another request, number {number}.").status_code == 303


@pytest.fixture
def shared_cache(settings):
    """The throttle's count in Redis, as every web process shares it in production (a key prefix of this
    test's own, so no other test or run reads it)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-{uuid.uuid4()}",
            "TIMEOUT": 600,
        }
    }


@pytest.mark.django_db(transaction=True)
def test_requests_sent_at_one_instant_from_one_address_store_no_more_than_the_limit(partner, shared_cache):
    """Twelve different requests from one address, held (another session locks the requests' table) just
    before the throttle, then let go together: only the five an address may send get through."""
    responses = []

    def submit(number):
        try:
            responses.append(
                send(Client(), partner, str(uuid.uuid4()), message=f"Request number {number}, all at once.")
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(number,)) for number in range(12)]
    with lock_held(f"LOCK TABLE {ContactRequest._meta.db_table} IN ACCESS EXCLUSIVE MODE"):
        for thread in threads:
            thread.start()
        wait_for(lambda: sessions_waiting_for_locks() == 12)
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(response.status_code for response in responses) == [303] * 5 + [429] * 7
    assert ContactRequest.objects.count() == 5
