"""An email waiting in the outbox (the mail server was down over a weekend; it is retried for about three
days) for an organisation's people goes to none of them who has left it since: as a webhook delivery queued
before its owner left is not sent after."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.outbox.services import (
    OutboxEmail,
    outbox_deliver_message,
    outbox_email_enqueue,
    outbox_email_enqueue_many,
    outbox_flush,
)
from partners.services import contact_request_create, profile_change_submit
from tests.factories import (
    CustomerFactory,
    CustomerUserFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db

TEMPLATE = "emails/profile_change_proposed"
CONTEXT = {"partner": {"name": "Acme Cloud"}, "proposed_by": "Ann", "change": None, "admin_path": "/admin/x/"}


def sent_to() -> list[str]:
    return [address for email in mail.outbox for address in email.to]


def test_a_queued_lead_email_is_not_sent_to_someone_who_left_the_partner_since(client):
    acme = PartnerFactory(name="Acme Cloud")
    bob = PartnerUserFactory(partner=acme, email="bob@acme.example")
    PartnerUserFactory(partner=acme, email="ann@acme.example")
    lead = contact_request_create(
        partner=acme,
        data={
            "name": "Carol",
            "email": "carol@bigcorp.example",
            "company": "BigCorp",
            "country": "DE",
            "message": "Migrate our ERP, budget 2M.",
        },
    )
    message = OutboxMessage.objects.get(dedupe_key=f"contact-request:{lead.reference}:partner")
    assert "bob@acme.example" in message.to  # queued; the mail server is down for the weekend

    bob.partner = PartnerFactory(name="Competitor Ltd")  # Monday: Bob joins a competitor
    bob.save()

    assert outbox_deliver_message(message.pk)
    assert sent_to() == ["ann@acme.example"], "Acme's lead went to its former staff member"
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    # The admin says why Bob was left out.
    client.force_login(SuperUserFactory())
    page = client.get(reverse("admin:outbox_outboxmessage_change", args=[message.pk])).content.decode()
    assert "Not sent to bob@acme.example: no longer one of the people it was for" in page


def test_a_customer_address_typed_on_a_form_still_gets_its_email():
    acme = PartnerFactory()
    bob = PartnerUserFactory(partner=acme, email="bob@acme.example")
    # Carol typed her address on the form; she also signs in for another customer, whom she then leaves.
    carol = CustomerUserFactory(email="carol@bigcorp.example")
    outbox_email_enqueue(
        dedupe_key="lead:1",
        to=["bob@acme.example", "carol@bigcorp.example"],
        subject="Your request",
        template=TEMPLATE,
        context=CONTEXT,
        for_partner=acme.pk,
    )
    bob.is_active = False
    bob.save()
    carol.is_active = False
    carol.save()

    assert outbox_flush() == 1
    assert sent_to() == ["carol@bigcorp.example"]


def test_an_email_whose_people_have_all_left_is_marked_not_sent_with_the_reason_and_never_retried(client):
    acme = PartnerFactory()
    bob = PartnerUserFactory(partner=acme, email="bob@acme.example")
    message = outbox_email_enqueue(
        dedupe_key="lead:2",
        to=["bob@acme.example"],
        subject="A new lead",
        template=TEMPLATE,
        context=CONTEXT,
        for_partner=acme.pk,
    )
    bob.partner = PartnerFactory()
    bob.save()

    assert not outbox_deliver_message(message.pk)
    message.refresh_from_db()
    assert message.status == OutboxStatus.NOT_SENT
    assert message.attempts == 0
    assert message.last_error.startswith("Not sent: everyone it was for has left")
    assert "bob@acme.example" in message.last_error
    assert outbox_flush() == 0
    assert mail.outbox == []
    client.force_login(SuperUserFactory())
    listing = client.get(reverse("admin:outbox_outboxmessage_changelist")).content.decode()
    assert "Not sent: nobody it was for is left" in listing


@pytest.mark.parametrize("render_when_sent", [False, True])
def test_many_queued_at_once_leave_out_a_deactivated_customer_admin_and_a_pdm_who_left(render_when_sent):
    customer = CustomerFactory()
    admin = CustomerUserFactory(customer=customer, email="it@bigcorp.example", access_admin=True)
    acme = PartnerFactory()
    PartnerUserFactory(partner=acme, email="ann@acme.example")
    pdm = PdmFactory(email="pdm@provider.example")
    stored = outbox_email_enqueue_many(
        [
            OutboxEmail(
                "grant:1:customer",
                ["it@bigcorp.example"],
                "Access ended",
                TEMPLATE,
                CONTEXT,
                None,
                customer.pk,
            ),
            OutboxEmail(
                "grant:1:partner",
                ["ann@acme.example", "pdm@provider.example"],
                "Access ended",
                TEMPLATE,
                CONTEXT,
                for_partner=acme.pk,
            ),
        ],
        render_when_sent=render_when_sent,
    )
    assert stored == {"grant:1:customer", "grant:1:partner"}
    admin.is_active = False
    admin.save()
    pdm.is_active = False
    pdm.save()

    assert outbox_flush() == 1
    assert sent_to() == ["ann@acme.example"]
    assert OutboxMessage.objects.get(dedupe_key="grant:1:customer").status == OutboxStatus.NOT_SENT


def test_a_message_queued_without_saying_whose_people_it_is_for_is_sent_as_stored():
    bob = PartnerUserFactory(email="bob@acme.example")
    outbox_email_enqueue(
        dedupe_key="old:1", to=["bob@acme.example"], subject="s", template=TEMPLATE, context=CONTEXT
    )
    bob.is_active = False
    bob.save()

    assert outbox_flush() == 1
    assert sent_to() == ["bob@acme.example"]


def _refusing_mail_server(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2


def _mail_server_back(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.mark.parametrize("leaves", ["deactivated", "no longer staff"])
def test_a_pdm_only_notice_waiting_for_the_mail_server_is_not_sent_to_a_pdm_who_left_since(
    settings, client, leaves
):
    pdm = PdmFactory(email="pat@provider.example")
    acme = PartnerFactory(name="Acme Cloud", pdm=pdm)
    _refusing_mail_server(settings)  # Friday night: the mail server is down for the weekend
    change, _ = profile_change_submit(
        partner=acme,
        user=PartnerUserFactory(partner=acme),
        description="New text.",
        website="",
        industries=[],
        use_cases=[],
    )
    message = OutboxMessage.objects.get(dedupe_key=f"profile-change:{change.pk}:proposed")
    assert message.to == ["pat@provider.example"]
    assert outbox_flush() == 0
    if leaves == "deactivated":
        pdm.is_active = False
    else:
        pdm.is_staff = False
    pdm.save()

    _mail_server_back(settings)  # Monday
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=2)):
        assert outbox_flush() == 0

    assert mail.outbox == [], "the partner's proposal went to a PDM who has left the provider"
    message.refresh_from_db()
    assert message.status == OutboxStatus.NOT_SENT
    assert message.last_error.startswith("Not sent: everyone it was for has left")
    assert "pat@provider.example" in message.last_error


def test_a_notice_to_the_pdm_and_a_colleague_still_reaches_the_colleague():
    pat = PdmFactory(email="pat@provider.example")
    PdmFactory(email="sam@provider.example")
    outbox_email_enqueue(
        dedupe_key="pdm:1",
        to=["pat@provider.example", "sam@provider.example", "desk@provider.example"],
        subject="s",
        template=TEMPLATE,
        context=CONTEXT,
    )
    pat.is_active = False
    pat.save()

    assert outbox_flush() == 1
    assert sorted(sent_to()) == ["desk@provider.example", "sam@provider.example"]
    assert OutboxMessage.objects.get(dedupe_key="pdm:1").last_error.startswith(
        "Not sent to pat@provider.example"
    )


def test_a_password_reset_is_sent_to_whoever_asked_even_if_they_are_no_longer_staff_by_then(client):
    pat = PdmFactory(email="pat@provider.example")
    pat.set_password("an old password 123")
    pat.save()
    client.post(reverse("password_reset"), {"email": "pat@provider.example"})
    assert OutboxMessage.objects.filter(to=["pat@provider.example"]).exists()
    pat.is_staff = False  # still has an account, and still needs the link
    pat.save()

    assert outbox_flush() == 1
    assert sent_to() == ["pat@provider.example"]
