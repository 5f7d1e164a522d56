"""A lead becomes an engagement from its page in the partner's area: offered only when it can be, once,
with its refusals said on the page, and the lead then links to the engagement it became."""

import datetime
import re
from html import unescape

import pytest
from django.contrib import messages as django_messages
from django.urls import reverse
from django.utils import timezone

from engagements.choices import PartnerRole, TeamRole
from engagements.models import Customer, Engagement
from partners.choices import ContactRequestStatus, PartnerType
from tests.factories import (
    ContactRequestFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
)

pytestmark = pytest.mark.django_db

START = "Start an engagement"


def today():
    return timezone.localdate()


def text_of(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def form_actions(response) -> list[str]:
    return re.findall(r'<form[^>]*action="([^"]*)"', response.content.decode())


def shown_messages(response) -> list[str]:
    return [str(m) for m in django_messages.get_messages(response.wsgi_request)]


@pytest.fixture
def acme():
    return PartnerFactory(name="Acme Cloud", slug="acme-cloud")


@pytest.fixture
def acme_user(acme):
    return PartnerUserFactory(partner=acme, username="ann")


@pytest.fixture
def acme_client(client, acme_user):
    client.force_login(acme_user)
    return client


def contract(**changes) -> dict:
    return {
        "workload": "WordPress site",
        "title": "",
        "procurement_model": "direct",
        "contract_start": today().isoformat(),
        "contract_end": (today() + datetime.timedelta(days=180)).isoformat(),
        **changes,
    }


@pytest.mark.parametrize("status", [ContactRequestStatus.NEW, ContactRequestStatus.ACCEPTED])
def test_a_partner_turns_its_lead_into_an_engagement_and_the_lead_links_to_it(
    acme_client, acme, acme_user, status
):
    lead = ContactRequestFactory(partner=acme, company="Blue Sky Charity", name="Ada Lovelace", status=status)
    url = reverse("my:lead-engagement", args=[lead.reference])
    page = acme_client.get(reverse("my:lead-detail", args=[lead.reference]))
    assert url in form_actions(page) and START in text_of(page)

    response = acme_client.post(url, contract())

    assert response.status_code == 303
    assert response["Location"] == reverse("my:lead-detail", args=[lead.reference])
    engagement = Engagement.objects.get(contact_request=lead)
    assert shown_messages(response) == [f"{lead.reference} is now the engagement “{engagement.title}”."]
    assert engagement.title == "Blue Sky Charity: WordPress site"
    assert engagement.customer.name == "Blue Sky Charity"
    led = engagement.engagement_partners.get()
    assert (led.partner, led.role, led.contract_end) == (
        acme,
        PartnerRole.CONSULTING_LEAD,
        today() + datetime.timedelta(days=180),
    )
    assert engagement.team_members.get(role=TeamRole.CUSTOMER_IT).name == "Ada Lovelace"
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.ACCEPTED

    page = acme_client.get(response["Location"])
    detail = reverse("engagements:engagement-detail", args=[engagement.pk])
    assert f'href="{detail}"' in page.content.decode()
    assert "This request became the engagement Blue Sky Charity: WordPress site" in text_of(page)
    assert url not in form_actions(page) and START not in text_of(page)
    assert acme_client.get(detail).status_code == 200


def test_sending_the_form_twice_makes_one_engagement(acme_client, acme):
    lead = ContactRequestFactory(partner=acme, status=ContactRequestStatus.ACCEPTED)
    url = reverse("my:lead-engagement", args=[lead.reference])

    first = acme_client.post(url, contract())
    acme_client.get(first["Location"])  # as a browser would: the first one's message is read there
    second = acme_client.post(url, contract(workload="Something else"))

    assert (first.status_code, second.status_code) == (303, 303)
    assert Engagement.objects.filter(contact_request=lead).count() == 1
    assert Customer.objects.count() == 1
    assert shown_messages(second) == [f"Contact request {lead.reference} is already an engagement."]


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"workload": ""}, "Say what the work is about."),
        ({"contract_end": "not a date"}, "Enter a valid date."),
        ({"contract_start": "9999-01-01"}, "Give a date no later than"),
        ({"contract_start": "0001-01-01"}, "Give a date no earlier than 01 Jan 2000."),
        ({"procurement_model": "barter"}, "Select a valid choice."),
        (
            {"contract_end": (today() - datetime.timedelta(days=1)).isoformat()},
            "A contract cannot end before it starts.",
        ),
    ],
)
def test_a_refused_form_is_shown_again_with_why_and_nothing_is_saved(acme_client, acme, changes, shown):
    lead = ContactRequestFactory(partner=acme)

    response = acme_client.post(reverse("my:lead-engagement", args=[lead.reference]), contract(**changes))

    assert response.status_code == 400
    assert shown in text_of(response)
    assert reverse("my:lead-engagement", args=[lead.reference]) in form_actions(response)
    assert not Engagement.objects.exists() and not Customer.objects.exists()
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.NEW


@pytest.mark.parametrize(
    ("action", "data", "shown"),
    [
        ("my:lead-decline", {"reason": "  "}, "Say why you decline this request."),
        ("my:lead-engagement", contract(workload=""), "Say what the work is about."),
    ],
    ids=["decline", "engagement"],
)
def test_a_refused_answer_is_announced_like_the_portals_other_refused_forms(
    acme_client, acme, action, data, shown
):
    """The page coming back must not sound like the one just left: a title starting "Error:" and an error
    summary (role=alert) linking to the field to correct."""
    lead = ContactRequestFactory(partner=acme)

    response = acme_client.post(reverse(action, args=[lead.reference]), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(r"<title>\s*Error: " + lead.reference, page)
    summary = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', page, flags=re.S)
    assert summary and shown in unescape(summary.group(1))
    target = re.search(r'<a href="#([\w-]+)">', summary.group(1)).group(1)
    assert re.search(rf'<(input|textarea|select)[^>]*aria-invalid="true"[^>]*id="{target}"', page)
    # The page as first shown says no error.
    assert "Error:" not in text_of(acme_client.get(reverse("my:lead-detail", args=[lead.reference])))


def test_a_declined_lead_offers_no_engagement_and_refuses_one_with_a_message(acme_client, acme):
    lead = ContactRequestFactory(partner=acme, status=ContactRequestStatus.DECLINED, decline_reason="No.")
    url = reverse("my:lead-engagement", args=[lead.reference])

    page = acme_client.get(reverse("my:lead-detail", args=[lead.reference]))
    response = acme_client.post(url, contract())

    assert url not in form_actions(page) and START not in text_of(page)
    assert response.status_code == 303
    refusal = f"Contact request {lead.reference} was declined; it cannot become work."
    assert shown_messages(response) == [refusal]
    assert not Engagement.objects.exists()


def test_a_technology_partner_is_not_offered_to_lead_an_engagement(client):
    partner = PartnerFactory(partner_type=PartnerType.TECHNOLOGY)
    client.force_login(PartnerUserFactory(partner=partner))
    lead = ContactRequestFactory(partner=partner)
    url = reverse("my:lead-engagement", args=[lead.reference])

    page = client.get(reverse("my:lead-detail", args=[lead.reference]))
    response = client.post(url, contract())

    assert url not in form_actions(page)
    assert response.status_code == 303
    assert "Only a Consulting partner can lead the work" in shown_messages(response)[0]
    assert not Engagement.objects.exists()


def test_another_partners_lead_cannot_be_turned_into_work(acme_client):
    lead = ContactRequestFactory(partner=PartnerFactory())

    response = acme_client.post(reverse("my:lead-engagement", args=[lead.reference]), contract())

    assert response.status_code == 404
    assert not Engagement.objects.exists()


def test_the_forms_address_opened_later_leads_back_to_the_lead(acme_client, acme):
    lead = ContactRequestFactory(partner=acme)

    response = acme_client.get(reverse("my:lead-engagement", args=[lead.reference]))

    assert response.status_code == 302
    assert response["Location"] == reverse("my:lead-detail", args=[lead.reference])


def test_the_contract_start_is_offered_as_today_in_the_form_a_date_picker_reads(acme_client, acme):
    # A date picker takes only an ISO date: today in the site's own format (28/11/2026) would show empty.
    lead = ContactRequestFactory(partner=acme)

    html = acme_client.get(reverse("my:lead-detail", args=[lead.reference])).content.decode()

    assert re.search(rf'<input type="date" name="contract_start" value="{today().isoformat()}"', html)


PRIVATE = "Our budget is 40k and we are unhappy with Other Partner Ltd; call Ada on +44 20 7946 0000."
DESCRIPTION_HINT = "Everyone on the engagement reads it: the customer and every partner on it"


def description_box(response) -> str | None:
    found = re.search(
        r'<textarea[^>]*name="description"[^>]*>(.*?)</textarea>', response.content.decode(), flags=re.S
    )
    return unescape(found.group(1)).strip() if found else None


def test_the_engagement_form_offers_the_leads_message_as_a_description_everyone_on_it_reads(
    acme_client, acme
):
    lead = ContactRequestFactory(partner=acme, message=PRIVATE)

    page = acme_client.get(reverse("my:lead-detail", args=[lead.reference]))

    assert description_box(page) == PRIVATE
    assert DESCRIPTION_HINT in text_of(page)


@pytest.mark.parametrize("description", ["Move the charity's WordPress site to the cloud.", ""])
def test_the_engagement_gets_the_description_the_partner_kept_and_a_partner_added_later_reads_only_that(
    acme_client, acme, client, description
):
    lead = ContactRequestFactory(partner=acme, message=PRIVATE)

    response = acme_client.post(
        reverse("my:lead-engagement", args=[lead.reference]), contract(description=description)
    )

    assert response.status_code == 303
    engagement = Engagement.objects.get(contact_request=lead)
    assert engagement.description == description
    vendor = PartnerFactory(name="Tech Vendor", partner_type=PartnerType.TECHNOLOGY)
    EngagementPartnerFactory(engagement=engagement, partner=vendor, role=PartnerRole.TECHNOLOGY)
    client.force_login(PartnerUserFactory(partner=vendor))
    page = text_of(client.get(reverse("engagements:engagement-detail", args=[engagement.pk])))
    assert "Tech Vendor" in page
    assert description in page
    assert "Other Partner Ltd" not in page and "40k" not in page


def test_a_refused_engagement_form_keeps_the_description_the_partner_edited(acme_client, acme):
    lead = ContactRequestFactory(partner=acme, message=PRIVATE)

    response = acme_client.post(
        reverse("my:lead-engagement", args=[lead.reference]),
        contract(workload="", description="Only the website move."),
    )

    assert response.status_code == 400
    assert description_box(response) == "Only the website move."
    assert not Engagement.objects.exists()
