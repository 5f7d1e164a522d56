"""The partner's signed-in area (/my/): who may enter, the scorecard, the leads inbox, the profile."""

import datetime
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import pytest
from django.contrib import messages as django_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.checks.services import check_run
from apn_portal.exceptions import ConflictError, DomainError, PermissionDeniedError
from partners.choices import CertificationLevel, ContactRequestStatus, PartnerType
from partners.models import ContactRequest, TierRequirement
from partners.services import contact_request_accept, contact_request_decline
from tests.factories import (
    ApprovedEnrollmentFactory,
    CertificationFactory,
    ContactRequestFactory,
    CustomerReferenceFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffMemberFactory,
    StaffUserFactory,
    UserFactory,
    give_certified_people,
    give_select_evidence,
    program,
    tier,
)
from tests.textarea import as_the_browser_sends, typed_in_paragraphs

pytestmark = pytest.mark.django_db

MY_PAGES = [
    "my:scorecard",
    "my:programs",
    "my:leads",
    "my:references",
    "my:reference-new",
    "my:profile",
    "my:profile-edit",
]


def today():
    return timezone.localdate()


def text_of(response) -> str:
    """The page's visible text on one line, so assertions read like what a person sees."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


@pytest.fixture
def acme():
    return PartnerFactory(name="Acme Cloud", slug="acme-cloud")


@pytest.fixture
def globex():
    return PartnerFactory(name="Globex Systems", slug="globex")


@pytest.fixture
def acme_user(acme):
    return PartnerUserFactory(partner=acme, username="ann", email="ann@acme.example")


@pytest.fixture
def acme_client(client, acme_user):
    client.force_login(acme_user)
    return client


# Who may enter ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", MY_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, page):
    url = reverse(page)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("page", MY_PAGES)
@pytest.mark.parametrize(
    "make_user",
    [
        pytest.param(lambda: StaffUserFactory(roles=[StaffRole.PDM]), id="pdm"),
        pytest.param(lambda: UserFactory(), id="no-organisation"),
    ],
)
def test_people_who_are_not_a_partners_staff_are_refused_with_an_explanation(client, page, make_user):
    user = make_user()
    client.force_login(user)

    response = client.get(reverse(page))

    assert response.status_code == 403
    assert "This page is for a partner's staff" in text_of(response)


def test_provider_staff_are_pointed_to_the_admin(client):
    client.force_login(StaffUserFactory(roles=[StaffRole.PDM]))

    response = client.get(reverse("my:scorecard"))

    assert reverse("admin:index") in response.content.decode()


# Scorecard ----------------------------------------------------------------------------------------------


@pytest.fixture
def select_partner_at_risk(acme):
    """Select today, with one of its two technical people's certification expiring in 30 days."""
    acme.tier = tier(PartnerType.CONSULTING, "select")
    acme.save()
    give_certified_people(acme, CertificationLevel.FOUNDATIONAL, 2)
    give_certified_people(acme, CertificationLevel.ASSOCIATE, 1)
    expiring = StaffMemberFactory(partner=acme, full_name="Bob Expiring")
    CertificationFactory(
        staff_member=expiring,
        name="Solutions Architect - Associate",
        level=CertificationLevel.ASSOCIATE,
        expires_on=today() + datetime.timedelta(days=30),
    )
    CustomerReferenceFactory.create_batch(3, partner=acme)
    ApprovedEnrollmentFactory(
        partner=acme, program=program("migration"), expires_on=today() + datetime.timedelta(days=60)
    )
    return acme


def test_the_scorecard_shows_the_tier_the_next_tier_and_what_expires(acme_client, select_partner_at_risk):
    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert "Current tier Select" in page
    assert "Qualifies for Select" in page
    assert "You meet everything Select asks." in page
    assert "Next tier Advanced" in page
    assert "needs 2 more people with a foundational certification" in page
    assert "needs 17 more launched customer projects" in page
    assert "Bob Expiring Solutions Architect - Associate Associate" in page
    assert "Migration Competency" in page


def test_the_scorecard_warns_when_what_expires_would_drop_the_tier(acme_client, select_partner_at_risk):
    page = text_of(acme_client.get(reverse("my:scorecard")))

    # One deadline, the day Bob's certification stops counting, not the end of the outlook as a second one.
    assert f"Your tier is at risk from {today() + datetime.timedelta(days=31):%-d %B %Y}." in page
    assert "would qualify only for Registered" in page
    assert "renewed by" not in page and "At risk from" not in page  # the separate notice
    assert "needs 1 more person with a technical certification to stay Select" in page


def test_the_scorecard_is_calm_when_nothing_expires(acme_client, acme):
    acme.tier = tier(PartnerType.CONSULTING, "select")
    acme.save()
    give_select_evidence(acme)

    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert "Your tier is at risk" not in page
    assert "Nothing expires before" in page


def test_the_scorecard_shows_the_day_the_tier_is_at_risk_from_worked_out_now(
    acme_client, select_partner_at_risk
):
    # Bob's certification counts until today + 30: without it, Select lacks a technical person the day after.
    select_partner_at_risk.at_risk_from = today() + datetime.timedelta(days=5)  # a stale night's date
    select_partner_at_risk.save()

    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert f"at risk from {today() + datetime.timedelta(days=31):%-d %B %Y}" in page
    assert f"{today() + datetime.timedelta(days=5):%-d %B %Y}" not in page
    assert "Grace period" not in page


def test_the_scorecard_shows_the_grace_period_of_a_partner_short_of_its_tier(acme_client, acme):
    acme.tier = tier(PartnerType.CONSULTING, "select")
    acme.grace_started_on = today() - datetime.timedelta(days=10)
    acme.grace_ends_on = today() + datetime.timedelta(days=80)
    acme.save()

    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert f"Grace period until {acme.grace_ends_on:%-d %B %Y}." in page
    assert "at risk from" not in page.lower()


def test_a_renewal_since_the_nightly_check_shows_at_once(acme_client, acme):
    """The night's tier_health stored an at-risk date (a foundational person lapsing in 30 days); the
    partner renews the same day: the page must not still warn of that date beside its own outlook."""
    far = today() + datetime.timedelta(days=800)
    acme.tier = tier(PartnerType.CONSULTING, "select")
    acme.save()
    give_certified_people(acme, CertificationLevel.FOUNDATIONAL, 1)
    lapsing = StaffMemberFactory(partner=acme)
    CertificationFactory(
        staff_member=lapsing,
        level=CertificationLevel.FOUNDATIONAL,
        expires_on=today() + datetime.timedelta(days=30),
    )
    give_certified_people(acme, CertificationLevel.ASSOCIATE, 2)
    CustomerReferenceFactory.create_batch(3, partner=acme)
    check_run("tier_health")
    acme.refresh_from_db()
    assert acme.at_risk_from == today() + datetime.timedelta(days=31)

    renewed = StaffMemberFactory(partner=acme)
    CertificationFactory(staff_member=renewed, level=CertificationLevel.FOUNDATIONAL, expires_on=far)
    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert "at risk from" not in page.lower()
    assert "would still hold Select" in page


def test_a_partner_in_grace_that_meets_its_tier_again_today_is_not_shown_the_grace_period(acme_client, acme):
    acme.tier = tier(PartnerType.CONSULTING, "select")
    acme.grace_started_on = today() - datetime.timedelta(days=10)
    acme.grace_ends_on = today() + datetime.timedelta(days=80)
    acme.save()
    give_select_evidence(acme)  # the evidence arrived today: tonight's check closes the grace period

    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert "You meet everything Select asks." in page
    assert "Grace period" not in page


def test_a_requirement_stored_on_the_entry_tier_is_not_shown_as_lacking(acme_client, acme):
    TierRequirement.objects.create(
        tier=tier(PartnerType.CONSULTING, "registered"), metric="foundational_people", minimum=1
    )

    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert "You meet everything Registered asks." in page
    assert "Registered has no requirements." in page
    assert "at risk from" not in page.lower()


def test_the_scorecard_says_when_the_partner_qualifies_for_more(acme_client, acme):
    give_select_evidence(acme)  # still Registered: a PDM has not promoted it yet

    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert "Current tier Registered" in page
    assert "Qualifies for Select" in page
    assert (
        "The partner network's team (you have no Partner Development Manager at the moment) reviews "
        "promotions." in page
    )

    acme.pdm = PdmFactory()
    acme.save()
    page = text_of(acme_client.get(reverse("my:scorecard")))
    assert "Your Partner Development Manager reviews promotions." in page


@pytest.mark.parametrize("leaving", ["deactivated", "role-removed"])
def test_a_partner_whose_pdm_left_is_not_told_its_pdm_reviews_promotions(acme_client, acme, leaving):
    """Worded as the references and profile pages word who reviews (profile_change_reviewer): a PDM
    still recorded on the partner but deactivated, or no longer a PDM, reviews nothing."""
    acme.pdm = PdmFactory()
    acme.save()
    give_select_evidence(acme)
    if leaving == "deactivated":
        type(acme.pdm).objects.filter(pk=acme.pdm.pk).update(is_active=False)
    else:
        acme.pdm.groups.clear()

    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert "Qualifies for Select" in page
    assert "Your Partner Development Manager" not in page
    assert (
        "The partner network's team (you have no Partner Development Manager at the moment) reviews "
        "promotions." in page
    )


def test_a_partner_whose_evidence_lapsed_sees_what_keeping_its_tier_and_the_next_one_take(acme_client, acme):
    acme.tier = tier(PartnerType.CONSULTING, "advanced")
    acme.save()
    give_select_evidence(acme)

    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert "Current tier Advanced" in page
    assert "Qualifies for Select" in page
    assert "To keep Advanced, Acme Cloud needs 2 more people with a foundational certification" in page
    assert "Next tier Premier" in page
    assert "Next tier Advanced" not in page


def test_a_premier_partner_whose_evidence_lapsed_is_told_premier_is_the_top(acme_client, acme):
    acme.tier = tier(PartnerType.CONSULTING, "premier")
    acme.save()

    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert "Qualifies for Registered" in page
    assert "Next tier None Premier is the top of the ladder." in page
    assert "Registered is the top of the ladder" not in page


def test_the_scorecard_reads_in_a_constant_number_of_queries(acme_client, select_partner_at_risk):
    with CaptureQueriesContext(connection) as few:
        acme_client.get(reverse("my:scorecard"))
    give_certified_people(select_partner_at_risk, CertificationLevel.PROFESSIONAL, 20)
    for person in give_certified_people(select_partner_at_risk, CertificationLevel.ASSOCIATE, 20):
        person.certifications.update(expires_on=today() + datetime.timedelta(days=10))

    with CaptureQueriesContext(connection) as many:
        acme_client.get(reverse("my:scorecard"))

    assert len(many) == len(few)


def test_the_scorecard_shows_only_the_own_partners_people(acme_client, select_partner_at_risk, globex):
    other = StaffMemberFactory(partner=globex, full_name="Gina Globex")
    CertificationFactory(staff_member=other, expires_on=today() + datetime.timedelta(days=5))

    page = text_of(acme_client.get(reverse("my:scorecard")))

    assert "Gina Globex" not in page
    assert "Globex" not in page


# Leads inbox --------------------------------------------------------------------------------------------


def test_every_page_of_the_area_counts_the_new_leads_in_its_navigation(acme_client, acme):
    """The navigation is the same on the partner's own pages and on the engagement, access and support
    pages it links to: the count must not vanish from the Contact requests link there."""
    leads = ContactRequestFactory.create_batch(2, partner=acme)
    ContactRequestFactory(partner=acme, status=ContactRequestStatus.ACCEPTED)
    ContactRequestFactory.create_batch(3)  # other partners' leads are not counted
    urls = [reverse(name) for name in MY_PAGES] + [reverse("my:lead-detail", args=[leads[0].reference])]
    urls += [
        reverse(name) for name in ("engagements:engagement-list", "engagements:grants", "support:case-list")
    ]

    for url in urls:
        assert 'aria-label="2 new"' in acme_client.get(url).content.decode(), url


@pytest.mark.parametrize(
    "name", ["my:leads", "my:scorecard", "engagements:engagement-list", "support:case-list"]
)
def test_the_navigation_counts_the_leads_in_one_query(acme_client, acme, name):
    ContactRequestFactory.create_batch(2, partner=acme)
    with CaptureQueriesContext(connection) as queries:
        assert acme_client.get(reverse(name)).status_code == 200
    by_status = [
        q["sql"] for q in queries if "partners_contactrequest" in q["sql"] and "GROUP BY" in q["sql"]
    ]
    assert len(by_status) == 1, by_status  # the leads page's own count serves its navigation too


def test_the_inbox_lists_the_partners_own_requests_with_their_status(acme_client, acme, globex):
    ContactRequestFactory(partner=acme, company="Initech", reference="CR-AAAA0001")
    ContactRequestFactory(
        partner=acme,
        company="Umbrella",
        reference="CR-AAAA0002",
        status=ContactRequestStatus.DECLINED,
        decline_reason="Out of our region.",
    )
    ContactRequestFactory(partner=globex, company="Hooli", reference="CR-GGGG0001")

    page = text_of(acme_client.get(reverse("my:leads")))

    assert "CR-AAAA0001" in page and "Initech" in page
    assert "CR-AAAA0002" in page and "Declined" in page
    assert "Hooli" not in page and "CR-GGGG0001" not in page
    assert "2 requests" in page


def test_the_inbox_filters_by_status(acme_client, acme):
    ContactRequestFactory(partner=acme, company="Initech")
    ContactRequestFactory(partner=acme, company="Umbrella", status=ContactRequestStatus.ACCEPTED)

    page = text_of(acme_client.get(reverse("my:leads"), {"status": "accepted"}))

    assert "Umbrella" in page
    assert "Initech" not in page


@pytest.mark.parametrize("query", [{"page": "abc"}, {"page": "999"}, {"status": "<b>bogus</b>"}])
def test_odd_inbox_parameters_still_give_a_page(acme_client, acme, query):
    ContactRequestFactory(partner=acme, company="Initech")

    response = acme_client.get(reverse("my:leads"), query)

    assert response.status_code == 200
    assert "<b>bogus</b>" not in response.content.decode()


def test_the_inbox_is_paginated(acme_client, acme):
    ContactRequestFactory.create_batch(25, partner=acme)

    first = text_of(acme_client.get(reverse("my:leads")))
    second = text_of(acme_client.get(reverse("my:leads"), {"page": 2}))

    assert "page 1 of 2" in first
    assert "page 2 of 2" in second


def test_the_inbox_reads_in_a_constant_number_of_queries(acme_client, acme):
    ContactRequestFactory.create_batch(3, partner=acme)
    with CaptureQueriesContext(connection) as three:
        assert acme_client.get(reverse("my:leads")).status_code == 200

    ContactRequestFactory.create_batch(27, partner=acme, status=ContactRequestStatus.ACCEPTED)
    with CaptureQueriesContext(connection) as thirty:
        assert acme_client.get(reverse("my:leads")).status_code == 200

    assert len(thirty) == len(three)


def test_a_lead_shows_everything_the_customer_sent(acme_client, acme):
    lead = ContactRequestFactory(
        partner=acme,
        name="Jane <Doe>",
        company="BigCorp",
        message="Line one\nLine <two>",
        project_size="large",
    )

    response = acme_client.get(reverse("my:lead-detail", args=[lead.reference]))

    page = response.content.decode()
    assert "Jane &lt;Doe&gt;" in page and "<Doe>" not in page
    assert "Line one<br>Line &lt;two&gt;" in page
    assert "$250k to $1M" in page


def test_a_leads_reply_link_writes_to_the_address_the_page_shows(acme_client, acme):
    # The contact form takes it (an email address may hold % and ? before its @); as a mailto: URL
    # spelled as it is, a mail client would write to spy@evil.example.
    lead = ContactRequestFactory(partner=acme, email="spy%40evil.example?x=@bigcorp.example")

    page = acme_client.get(reverse("my:lead-detail", args=[lead.reference])).content.decode()

    href = unescape(re.search(r'href="(mailto:[^"]*)"', page).group(1))
    # What a mail client addresses: the URL's path, percent-decoded (RFC 6068); a query would be headers.
    assert unquote(urlsplit(href).path) == lead.email
    assert not urlsplit(href).query


def test_a_leads_time_says_its_time_zone(acme_client, acme):
    # Partners work anywhere: a time without its zone would read as their own.
    lead = ContactRequestFactory(partner=acme)
    received = timezone.localtime(lead.created_at).strftime("%H:%M")

    for name, args in (("my:leads", []), ("my:lead-detail", [lead.reference])):
        page = text_of(acme_client.get(reverse(name, args=args)))

        assert f"{received} UTC" in page


def test_accepting_a_lead_records_who_and_when(acme_client, acme, acme_user):
    lead = ContactRequestFactory(partner=acme)

    response = acme_client.post(reverse("my:lead-accept", args=[lead.reference]))

    assert response.status_code == 303
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.ACCEPTED
    assert lead.responded_by == acme_user
    assert lead.responded_at is not None
    page = text_of(acme_client.get(response["Location"]))
    assert f"You accepted {lead.reference}" in page


def test_declining_needs_a_reason_and_keeps_it(acme_client, acme):
    lead = ContactRequestFactory(partner=acme)
    decline_url = reverse("my:lead-decline", args=[lead.reference])

    refused = acme_client.post(decline_url, {"reason": "  "})
    assert refused.status_code == 400
    assert "Say why you decline this request." in text_of(refused)
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.NEW

    response = acme_client.post(decline_url, {"reason": "We do not work in Germany."})

    assert response.status_code == 303
    lead.refresh_from_db()
    assert (lead.status, lead.decline_reason) == (ContactRequestStatus.DECLINED, "We do not work in Germany.")


def test_a_decline_reason_typed_in_paragraphs_up_to_the_pages_limit_is_taken_as_typed(acme_client, acme):
    # The page's maxlength counts each line break as one character; the browser sends it as two.
    lead = ContactRequestFactory(partner=acme)
    decline_url = reverse("my:lead-decline", args=[lead.reference])
    typed = typed_in_paragraphs(2000)

    response = acme_client.post(decline_url, {"reason": as_the_browser_sends(typed)})

    assert response.status_code == 303
    lead.refresh_from_db()
    assert (lead.status, lead.decline_reason) == (ContactRequestStatus.DECLINED, typed)


def test_a_decline_reason_over_the_limit_is_told_its_length_as_the_page_counts_it(acme_client, acme):
    lead = ContactRequestFactory(partner=acme)

    response = acme_client.post(
        reverse("my:lead-decline", args=[lead.reference]),
        {"reason": as_the_browser_sends(typed_in_paragraphs(2001))},
    )

    assert response.status_code == 400
    assert "(it has 2,001)" in text_of(response) and "2,000 characters" in text_of(response)


def test_a_lead_already_answered_cannot_be_answered_again(acme_client, acme):
    lead = ContactRequestFactory(partner=acme, status=ContactRequestStatus.ACCEPTED)

    response = acme_client.post(reverse("my:lead-decline", args=[lead.reference]), {"reason": "Changed mind"})

    assert response.status_code == 303
    shown = [str(m) for m in django_messages.get_messages(response.wsgi_request)]
    assert shown == [f"Contact request {lead.reference} was already accepted."]
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.ACCEPTED


def _answered_by_a_colleague(lead, answer):
    colleague = PartnerUserFactory(partner=lead.partner, username="bob")
    if answer == "accept":
        contact_request_accept(contact_request=lead, user=colleague)
    else:
        contact_request_decline(contact_request=lead, user=colleague, reason="Not our region.")
    lead.refresh_from_db()
    return colleague


@pytest.mark.parametrize("answer, shown", [("accept", "accepted"), ("decline", "declined")])
@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001, "We are fully booked."])
def test_declining_a_lead_a_colleague_answered_meanwhile_says_so(acme_client, acme, answer, shown, reason):
    # The page still showed the decline form; whatever its reason, the answer is the colleague's.
    lead = ContactRequestFactory(partner=acme)
    colleague = _answered_by_a_colleague(lead, answer)

    response = acme_client.post(reverse("my:lead-decline", args=[lead.reference]), {"reason": reason})

    assert response.status_code == 303
    page = text_of(acme_client.get(response["Location"]))
    assert f"Contact request {lead.reference} was already {shown}." in page
    assert "Say why you decline" not in page
    stored = ContactRequest.objects.get(pk=lead.pk)
    assert (stored.status, stored.decline_reason, stored.responded_by, stored.responded_at) == (
        lead.status,
        lead.decline_reason,
        colleague,
        lead.responded_at,
    )


@pytest.mark.parametrize("answer, shown", [("accept", "accepted"), ("decline", "declined")])
def test_accepting_a_lead_a_colleague_answered_meanwhile_says_so(acme_client, acme, answer, shown):
    lead = ContactRequestFactory(partner=acme)
    colleague = _answered_by_a_colleague(lead, answer)

    response = acme_client.post(reverse("my:lead-accept", args=[lead.reference]))

    assert response.status_code == 303
    page = text_of(acme_client.get(response["Location"]))
    assert f"Contact request {lead.reference} was already {shown}." in page
    assert "You accepted" not in page
    stored = ContactRequest.objects.get(pk=lead.pk)
    assert (stored.status, stored.responded_by, stored.responded_at) == (
        lead.status,
        colleague,
        lead.responded_at,
    )


@pytest.mark.parametrize(
    "name, method, data",
    [
        ("my:lead-detail", "get", None),
        ("my:lead-accept", "post", None),
        ("my:lead-decline", "post", {"reason": "Not ours."}),
    ],
)
def test_another_partners_lead_is_not_found(acme_client, globex, name, method, data):
    theirs = ContactRequestFactory(partner=globex)

    response = getattr(acme_client, method)(reverse(name, args=[theirs.reference]), data)

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == ContactRequestStatus.NEW


def test_answering_is_a_post(acme_client, acme):
    lead = ContactRequestFactory(partner=acme)

    # Opened (a bookmark, or after signing in to send it): the lead's page, with its Accept button.
    response = acme_client.get(reverse("my:lead-accept", args=[lead.reference]))
    assert response.status_code == 302
    assert response["Location"] == reverse("my:lead-detail", args=[lead.reference])
    assert acme_client.put(reverse("my:lead-accept", args=[lead.reference])).status_code == 405
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.NEW


def test_the_services_refuse_another_partners_staff(globex, acme_user):
    theirs = ContactRequestFactory(partner=globex)

    with pytest.raises(PermissionDeniedError):
        contact_request_accept(contact_request=theirs, user=acme_user)
    with pytest.raises(PermissionDeniedError):
        contact_request_decline(contact_request=theirs, user=acme_user, reason="No.")
    with pytest.raises(PermissionDeniedError):
        contact_request_accept(contact_request=theirs, user=StaffUserFactory(roles=[StaffRole.PDM]))


def test_the_decline_service_needs_a_reason_and_refuses_a_second_answer(acme, acme_user):
    lead = ContactRequestFactory(partner=acme)

    with pytest.raises(DomainError, match="Say why"):
        contact_request_decline(contact_request=lead, user=acme_user, reason=" ")
    contact_request_accept(contact_request=lead, user=acme_user)
    with pytest.raises(ConflictError):
        contact_request_accept(contact_request=lead, user=acme_user)


# Accessibility ------------------------------------------------------------------------------------------


class _Controls(HTMLParser):
    """Collects the form controls a person fills in and the ids that labels point at."""

    def __init__(self):
        super().__init__()
        self.controls, self.labelled = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label" and attrs.get("for"):
            self.labelled.add(attrs["for"])
        elif tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.controls.append(attrs)


def unlabelled_controls(response) -> list[dict]:
    parser = _Controls()
    parser.feed(response.content.decode())
    return [c for c in parser.controls if c.get("id") not in parser.labelled and not c.get("aria-label")]


@pytest.mark.parametrize("page", [*MY_PAGES, "lead"])
def test_every_control_on_the_partner_pages_has_a_label(acme_client, acme, page):
    lead = ContactRequestFactory(partner=acme)
    url = reverse("my:lead-detail", args=[lead.reference]) if page == "lead" else reverse(page)

    response = acme_client.get(url)

    assert response.status_code == 200
    assert unlabelled_controls(response) == []


def test_a_lead_reference_that_cannot_be_one_is_a_404(client):
    from tests.factories import PartnerUserFactory

    client.force_login(PartnerUserFactory())
    for path in ("/my/leads/%00/", "/my/leads/CR%0A1/accept/", "/partners/contact/%00/sent/"):
        assert client.get(path).status_code == 404
