"""Contact requests from a partner's profile: validation, spam defences, storage and the notification."""

import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apn_portal.exceptions import DomainError
from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.outbox.services import outbox_flush
from partners.models import ContactRequest
from partners.services import contact_request_create
from tests.factories import PartnerFactory, PartnerUserFactory, PdmFactory
from tests.textarea import as_the_browser_sends, typed_in_paragraphs

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner():
    partner = PartnerFactory(
        name="Acme Cloud", slug="acme-cloud", pdm=PdmFactory(email="pdm@provider.example")
    )
    PartnerUserFactory(partner=partner, email="sales@acme.example")
    PartnerUserFactory(partner=partner, email="ceo@acme.example")
    return partner


def valid_data(**overrides):
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
    return {**data, **overrides}


def contact_url(partner):
    return reverse("partners:contact", args=[partner.slug])


def post(client, partner, ip="203.0.113.7", **overrides):
    return client.post(contact_url(partner), valid_data(**overrides), REMOTE_ADDR=ip)


# A request that is accepted ------------------------------------------------------------------------------


def test_a_valid_request_is_stored_and_the_customer_sees_its_reference(client, partner):
    response = post(client, partner)

    stored = ContactRequest.objects.get()
    assert response.status_code == 303
    assert response["Location"] == reverse("partners:contact-sent", args=[stored.reference])
    assert (stored.partner, stored.name, stored.email, stored.company) == (
        partner,
        "Jane Doe",
        "jane@bigcorp.example",
        "BigCorp",
    )
    assert (stored.country.code, stored.project_size, stored.timeline) == ("DE", "medium", "quarter")
    assert stored.submitted_from_ip == "203.0.113.7"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert stored.reference in page.content.decode()
    assert "Acme Cloud" in page.content.decode()


@pytest.mark.parametrize(
    ("name", "sentence"), [("Acme S.A.", "Acme S.A.</strong> Their"), ("Acme", "Acme</strong>. Their")]
)
def test_the_confirmation_ends_its_sentence_once_after_a_name_with_its_own_full_stop(
    client, partner, name, sentence
):
    partner.name = name
    partner.save(update_fields=["name"])

    page = client.get(post(client, partner)["Location"]).content.decode()

    assert " ".join(page.split()).count(sentence) == 1
    assert ".." not in page


def test_the_confirmation_is_shown_only_to_the_browser_that_sent_the_request(client, partner):
    location = post(client, partner)["Location"]

    assert Client().get(location).status_code == 404
    assert client.get(reverse("partners:contact-sent", args=["CR-NOTMINE1"])).status_code == 404


def test_the_partners_users_are_notified_through_the_outbox_in_the_same_transaction(client, partner):
    post(client, partner)

    contact_request = ContactRequest.objects.get()
    message = OutboxMessage.objects.get()
    assert message.dedupe_key == f"contact-request:{contact_request.reference}:partner"
    assert message.to == ["ceo@acme.example", "sales@acme.example"]
    assert message.status == OutboxStatus.PENDING
    assert contact_request.reference in message.subject


def test_when_the_transaction_around_it_fails_neither_request_nor_email_is_kept(partner):
    with pytest.raises(RuntimeError), transaction.atomic():
        contact_request_create(partner=partner, data=valid_data(), ip="203.0.113.7")
        raise RuntimeError("the caller's transaction fails after the service ran")

    assert not ContactRequest.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_delivery_is_queued_only_once_the_request_is_committed(partner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        contact_request_create(partner=partner, data=valid_data(), ip=None)
        assert mail.outbox == []

    assert len(callbacks) == 1


def test_the_email_goes_out_when_the_outbox_is_flushed(client, partner):
    post(client, partner, message="Please help: <b>urgent</b> & important migration.")
    contact_request = ContactRequest.objects.get()
    assert mail.outbox == []

    assert outbox_flush() == 1

    [email] = mail.outbox
    assert sorted(email.to) == ["ceo@acme.example", "sales@acme.example"]
    assert contact_request.reference in email.subject
    assert "Please help: <b>urgent</b> & important migration." in email.body  # plain text, as typed
    assert reverse("my:lead-detail", args=[contact_request.reference]) in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "&lt;b&gt;urgent&lt;/b&gt; &amp; important" in html
    assert "<b>urgent</b>" not in html
    assert OutboxMessage.objects.get().status == OutboxStatus.SENT


def test_with_no_user_the_partners_pdm_is_notified_with_a_link_they_can_open(client):
    pdm = PdmFactory(email="pdm@provider.example")
    lonely = PartnerFactory(pdm=pdm)

    post(client, lonely)
    outbox_flush()

    [email] = mail.outbox
    assert email.to == ["pdm@provider.example"]
    # Not the partner's inbox (/my/leads/...), which a PDM cannot open: the lead's page in the admin.
    lead = ContactRequest.objects.get()
    admin_path = reverse("admin:partners_contactrequest_change", args=[lead.pk])
    assert f"{settings.PORTAL_URL}{admin_path}" in email.body
    assert reverse("my:lead-detail", args=[lead.reference]) not in email.body + email.alternatives[0][0]
    client.force_login(pdm)
    assert client.get(admin_path).status_code == 200


def test_when_the_mail_server_refuses_the_request_is_kept_and_the_email_retried(client, partner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2

    response = post(client, partner)
    assert response.status_code == 303
    assert outbox_flush() == 0

    assert ContactRequest.objects.count() == 1
    message = OutboxMessage.objects.get()
    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert "refused" in message.last_error.lower()
    assert message.next_attempt_at > timezone.now()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox_flush() == 0  # not due yet: the retry waits its back-off
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        assert outbox_flush() == 1
    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.SENT, 2, "")


# Validation -----------------------------------------------------------------------------------------------


def test_errors_are_shown_beside_the_fields_and_what_was_typed_is_kept(client, partner):
    response = post(client, partner, email="not-an-email", company="", message="Hi")

    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="contact-email_error"' in page
    assert "Enter an email address such as jane@company.com." in page
    assert 'id="contact-company_error"' in page
    assert "Say which company you work for." in page
    assert "at least 10 characters" in page
    assert 'aria-invalid="true"' in page
    assert 'aria-describedby="contact-email_helptext contact-email_error"' in page
    assert 'value="Jane Doe"' in page
    assert 'value="not-an-email"' in page
    assert '<option value="DE" selected>' in page
    assert '<option value="medium" selected>' in page
    assert not ContactRequest.objects.exists()


def test_the_contact_page_shown_after_a_refused_request_is_headed_by_its_title(client, partner):
    """Without JavaScript a refused request comes back on a page of its own: its first heading names it (a
    screen reader's outline starts there), with the error summary one level below."""
    page = post(client, partner, company="").content.decode()

    headings = re.findall(r"<h([1-6])[^>]*>(.*?)</h\1>", page, flags=re.S)
    assert [(level, " ".join(text.split())) for level, text in headings] == [
        ("1", "Contact Acme Cloud"),
        ("2", "Please correct this field:"),
    ]
    # On the profile the same form sits under the partner's name.
    profile = client.get(reverse("partners:profile", args=[partner.slug])).content.decode()
    assert '<h2 id="contact-heading">Contact Acme Cloud</h2>' in profile


def test_a_refused_request_says_so_in_the_page_title_and_its_error_summary_takes_focus(client, partner):
    """The page that comes back must not sound like the one just left: its title starts "Error:", as on
    the portal's other refused forms, and the error summary is focused as the page loads."""
    page = post(client, partner, company="").content.decode()

    assert re.search(r"<title>\s*Error: Contact Acme Cloud", page)
    summary = re.search(r'<div[^>]*id="contact-errors"[^>]*>', page).group(0)
    assert 'role="alert"' in summary and 'tabindex="-1"' in summary and "autofocus" in summary
    # A request not yet sent has neither.
    profile = client.get(reverse("partners:profile", args=[partner.slug])).content.decode()
    assert "Error:" not in re.search(r"<title>(.*?)</title>", profile, flags=re.S).group(1)
    assert "autofocus" not in profile


def test_markup_typed_by_the_customer_is_never_echoed_unescaped(client, partner):
    script = "<script>alert('x')</script>"
    response = post(client, partner, name=script, email=f"{script}@x", message=script)

    page = response.content.decode()
    assert response.status_code == 400
    assert script not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_a_line_break_in_the_company_is_refused_so_it_cannot_reach_an_email_header(client, partner):
    response = post(client, partner, company="BigCorp\r\nBcc: everyone@example.com")

    assert response.status_code == 400
    assert "Use a single line" in response.content.decode()
    assert not ContactRequest.objects.exists()


def test_a_message_over_5000_characters_is_refused(client, partner):
    response = post(client, partner, message="x" * 5001)

    assert response.status_code == 400
    assert "Keep the message to 5,000 characters (it has 5,001)." in response.content.decode()


def test_a_message_typed_in_paragraphs_up_to_the_pages_limit_is_taken_as_typed(client, partner):
    # The page's maxlength counts each line break as one character; the browser sends it as two.
    typed = typed_in_paragraphs(5000)
    assert 'maxlength="5000"' in client.get(reverse("partners:profile", args=[partner.slug])).content.decode()

    response = post(client, partner, message=as_the_browser_sends(typed))

    assert response.status_code == 303
    assert ContactRequest.objects.get().message == typed


def test_a_message_in_paragraphs_over_the_limit_is_told_its_length_as_the_page_counts_it(client, partner):
    response = post(client, partner, message=as_the_browser_sends(typed_in_paragraphs(5001)))

    assert response.status_code == 400
    assert "Keep the message to 5,000 characters (it has 5,001)." in response.content.decode()


def test_the_api_takes_and_stores_a_message_in_paragraphs_as_the_page_does(partner):
    typed = typed_in_paragraphs(5000)
    body = {**valid_data(message=as_the_browser_sends(typed)), "partner": partner.slug}
    del body["website"]

    response = APIClient().post("/api/v1/contact-requests/", body, format="json")

    assert response.status_code == 201, response.json()
    assert ContactRequest.objects.get().message == typed


def test_project_size_and_timeline_are_optional(client, partner):
    response = post(client, partner, project_size="", timeline="")

    assert response.status_code == 303
    assert ContactRequest.objects.get().project_size == ""


def test_the_form_is_protected_against_cross_site_posts(partner):
    client = Client(enforce_csrf_checks=True)

    assert post(client, partner).status_code == 403
    assert not ContactRequest.objects.exists()


@pytest.mark.parametrize("published", [False, None])
def test_an_unpublished_or_unknown_partner_takes_no_requests(client, published):
    partner = (
        PartnerFactory(is_published=False) if published is False else PartnerFactory.build(slug="nobody")
    )

    assert post(client, partner).status_code == 404
    assert not ContactRequest.objects.exists()


def test_the_service_refuses_an_unpublished_partner(partner):
    partner.is_published = False

    with pytest.raises(DomainError, match="does not take contact requests"):
        contact_request_create(partner=partner, data=valid_data(), ip=None)


def test_the_contact_url_stores_only_posts(client, partner):
    # Opened with a GET (from the history after a refused form), it goes to the form on the profile.
    response = client.get(contact_url(partner))

    assert response.status_code == 302
    assert response["Location"] == reverse("partners:profile", args=[partner.slug]) + "#contact"
    assert not ContactRequest.objects.exists()
    assert client.put(contact_url(partner), valid_data()).status_code == 405


# Spam defences --------------------------------------------------------------------------------------------


def test_a_filled_honeypot_looks_like_success_but_nothing_is_stored_or_sent(client, partner):
    response = post(client, partner, website="http://spam.example")

    assert response.status_code == 303
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Your request is on its way" in page.content.decode()
    assert not ContactRequest.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_the_honeypot_is_hidden_from_people_and_screen_readers(client, partner):
    response = post(client, partner, email="")

    page = response.content.decode()
    trap_start = page.index('class="contact-form__trap"')
    trap = page[page.rindex("<div", 0, trap_start) : page.index("</div>", trap_start)]
    assert 'aria-hidden="true"' in trap
    assert 'tabindex="-1"' in trap
    assert 'name="website"' in trap


def test_an_address_sending_too_many_requests_is_told_to_wait_and_keeps_its_text(client, partner):
    for _ in range(5):
        assert post(client, partner).status_code == 303

    response = post(client, partner, message="A sixth request, typed with care.")

    assert response.status_code == 429
    page = response.content.decode()
    assert "Please wait ten minutes" in page
    assert "A sixth request, typed with care." in page
    assert ContactRequest.objects.count() == 5
    assert post(client, partner, ip="198.51.100.1").status_code == 303  # another address is not affected


def test_one_ipv6_host_changing_its_address_within_its_64_is_told_to_wait_all_the_same(client, partner):
    # Every IPv6 client holds a whole /64: it is counted as one, as an IPv4 client behind one address is.
    for n in range(1, 6):
        assert post(client, partner, ip=f"2001:db8:1:2::{n:x}").status_code == 303

    response = post(client, partner, ip="2001:db8:1:2:ffff:ffff:ffff:ffff")

    assert response.status_code == 429 and ContactRequest.objects.count() == 5
    # Each lead keeps the address it came from.
    assert ContactRequest.objects.filter(submitted_from_ip="2001:db8:1:2::5").exists()
    assert post(client, partner, ip="2001:db8:1:3::1").status_code == 303  # another /64 is not affected


def test_an_ipv4_client_seen_as_an_ipv4_mapped_address_is_counted_as_itself(client, partner):
    for _ in range(5):
        assert post(client, partner, ip="203.0.113.7").status_code == 303

    assert post(client, partner, ip="::ffff:203.0.113.7").status_code == 429


def test_a_throttled_request_with_nothing_wrong_asks_to_correct_no_field(client, partner):
    for _ in range(5):
        post(client, partner)

    page = " ".join(post(client, partner).content.decode().split())

    assert "Your request was not sent:" in page
    assert "Please correct" not in page


def test_a_throttled_request_with_a_wrong_field_counts_only_that_field(client, partner):
    for _ in range(5):
        post(client, partner)

    page = " ".join(post(client, partner, email="not-an-email").content.decode().split())

    assert "Please correct this field:" in page
    assert "Please correct these" not in page


def test_the_throttle_window_ends(client, partner):
    for _ in range(5):
        post(client, partner)
    cache.clear()  # what ten minutes do to the cache entry

    assert post(client, partner).status_code == 303


BROKER_DOWN_SCRIPT = """
import django
django.setup()
from partners.models import Partner
from partners.services import contact_request_create
partner = Partner.objects.get(slug="acme-cloud")
data = dict(name="Jane Doe", email="jane@bigcorp.example", company="BigCorp", country="DE",
            message="We want to move our data centre to the cloud.")
print(contact_request_create(partner=partner, data=data, ip=None).reference)
"""


@pytest.mark.django_db(transaction=True)
def test_when_the_broker_is_down_the_request_is_kept_and_the_sweep_sends_the_email(partner):
    # A separate process whose Celery broker refuses connections, writing to this test's database.
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        "DJANGO_SETTINGS_MODULE": "apn_portal.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", BROKER_DOWN_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert result.returncode == 0, result.stderr
    reference = result.stdout.strip().splitlines()[-1]
    assert "Could not queue outbox message" in result.stderr  # the broker really was unreachable
    assert ContactRequest.objects.get().reference == reference
    message = OutboxMessage.objects.get()
    assert message.status == OutboxStatus.PENDING
    assert outbox_flush() == 1  # what the periodic sweep does
    assert [email.subject for email in mail.outbox] == [message.subject]


def test_every_control_of_the_contact_form_has_a_label(client, partner):
    from partners.tests.test_partner_area import unlabelled_controls

    response = post(client, partner, email="")

    assert unlabelled_controls(response) == []
