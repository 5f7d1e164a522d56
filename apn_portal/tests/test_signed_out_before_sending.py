"""A signed-in form sent after its sender was signed out (in another tab, or the session ended): the
sign-in page says it was not sent and nothing was saved, and once the same person signs in again the form
comes back with what they typed and a notice, for them to check and send again. Never sent by itself, and
never shown to anyone else who signs in on that browser."""

import datetime
import re
import time
from html import unescape

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apn_portal import drafts
from apn_portal.admin_page_state import PAGE_STATE
from engagements.choices import stage_after
from engagements.services import customer_access_administrators_set
from partners.choices import ContactRequestStatus
from partners.models import ProfileChangeRequest
from partners.services import contact_request_accept, contact_request_decline
from partners.services_records import reference_delete
from support.choices import CaseStatus
from support.models import CaseReply, SupportCase
from support.services import support_case_open, support_case_status_change
from tests.factories import (
    PASSWORD,
    AccessGrantFactory,
    AwsAccountFactory,
    ContactRequestFactory,
    CustomerReferenceFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    IndustryFactory,
    PartnerFactory,
    PartnerUserFactory,
    SupportSubscriptionFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db

NOT_SENT = "You were signed out before you sent that form, so it was not sent and nothing was saved."
KEPT = "Sign in to get the form back with what you typed, then check it and send it again."
NOT_KEPT = "Sign in, then fill it in and send it again."
DRAFT_NOTICE = "Not sent yet: you were signed out. Check and send again."
NEW_CASE = "/my/support/cases/new/"


@pytest.fixture
def customer():
    user = CustomerUserFactory(username="it-lead")
    account = AwsAccountFactory(customer=user.customer, account_id="123456789012", name="prod")
    SupportSubscriptionFactory(customer=user.customer, plan=support_plan("business"))
    user.account = account
    return user


def sign_in(client, user, next_url=""):
    response = client.post(
        reverse("login"), {"username": user.username, "password": PASSWORD, "next": next_url}
    )
    assert response.status_code == 302, response.content.decode()
    return response


def sign_out(client):
    """As the Sign out button of another tab does: the session ends, the browser keeps its cookies."""
    assert client.post(reverse("logout")).status_code == 200


def sent_beside_the_form(page) -> dict:
    """What a page's browser sends beside its form's fields: the page's state, where it carries one (the
    profile proposal's, apn_portal.admin_page_state)."""
    state = re.search(r'name="_page_state" value="([^"]*)"', page.content.decode())
    return {PAGE_STATE: unescape(state.group(1))} if state else {}


def a_case(customer, **fields):
    return {
        "account": customer.account.pk,
        "case_type": "technical",
        "severity": "general_guidance",
        "subject": "VPN drops every night",
        "description": "At 02:00 sharp, for ten minutes.\r\nLogs attached.",
        "csrfmiddlewaretoken": "not-kept",
        **fields,
    }


def test_a_case_sent_after_signing_out_in_another_tab_is_not_lost(client, customer):
    sign_in(client, customer)
    assert client.get(NEW_CASE).status_code == 200
    sign_out(client)

    response = client.post(NEW_CASE, a_case(customer))

    assert response.status_code == 303
    assert response["Location"] == f"/accounts/login/?next={NEW_CASE}"
    assert not SupportCase.objects.exists()
    page = client.get(response["Location"]).content.decode()
    assert NOT_SENT in page and KEPT in page
    assert "Please sign in to see that page." not in page

    assert sign_in(client, customer, NEW_CASE)["Location"] == NEW_CASE
    page = client.get(NEW_CASE).content.decode()
    assert DRAFT_NOTICE in page
    assert 'value="VPN drops every night"' in page
    assert "At 02:00 sharp, for ten minutes.\r\nLogs attached.</textarea>" in page
    assert not SupportCase.objects.exists()  # never sent by itself

    # Once: the next visit is the usual empty form.
    page = client.get(NEW_CASE).content.decode()
    assert DRAFT_NOTICE not in page and "VPN drops" not in page


def test_the_kept_case_is_sent_with_one_click(client, customer):
    sign_in(client, customer)
    client.get(NEW_CASE)
    sign_out(client)
    client.post(NEW_CASE, a_case(customer))
    sign_in(client, customer, NEW_CASE)
    form = client.get(NEW_CASE).context["case_form"]

    # What the browser sends back from the prefilled form, unchanged.
    data = {name: form[name].value() for name in form.fields}
    response = client.post(NEW_CASE, data)

    assert response.status_code == 303
    case = SupportCase.objects.get()
    assert case.subject == "VPN drops every night"
    assert case.description == "At 02:00 sharp, for ten minutes.\nLogs attached."


def test_a_case_sent_after_the_session_ended_is_kept_too(client, customer):
    sign_in(client, customer)
    client.get(NEW_CASE)
    client.cookies[settings.SESSION_COOKIE_NAME] = "ended-long-ago"

    response = client.post(NEW_CASE, a_case(customer), follow=True)

    assert NOT_SENT in response.content.decode()
    sign_in(client, customer, NEW_CASE)
    page = client.get(NEW_CASE).content.decode()
    assert DRAFT_NOTICE in page and 'value="VPN drops every night"' in page


def test_someone_else_signing_in_on_that_browser_gets_no_draft(client, customer):
    colleague = CustomerUserFactory(customer=customer.customer, username="colleague")
    sign_in(client, customer)
    client.get(NEW_CASE)
    sign_out(client)
    client.post(NEW_CASE, a_case(customer))

    sign_in(client, colleague, NEW_CASE)
    page = client.get(NEW_CASE).content.decode()

    assert DRAFT_NOTICE not in page and "VPN drops" not in page and "02:00" not in page
    # Nor later, for whoever signs in next.
    sign_out(client)
    sign_in(client, customer, NEW_CASE)
    assert "VPN drops" not in client.get(NEW_CASE).content.decode()


@pytest.mark.parametrize("owner_cookie", [None, "forged:cookie"], ids=["no-cookie", "forged-cookie"])
def test_a_form_from_a_browser_nobody_signed_in_on_is_not_kept_for_anyone(client, customer, owner_cookie):
    if owner_cookie:
        client.cookies[drafts.OWNER_COOKIE] = owner_cookie

    response = client.post(NEW_CASE, a_case(customer), follow=True)

    page = response.content.decode()
    assert NOT_SENT in page and NOT_KEPT in page
    assert "VPN drops" not in str(client.session[drafts.SESSION_KEY])
    sign_in(client, customer, NEW_CASE)
    assert "VPN drops" not in client.get(NEW_CASE).content.decode()


def test_a_reply_comes_back_on_the_case_page_its_form_is_on(client, customer):
    case = support_case_open(
        user=customer,
        account=customer.account,
        subject="Backups fail",
        description="Since Monday.",
        severity="general_guidance",
    )
    page_url = reverse("support:case-detail", args=[case.pk])
    sign_in(client, customer)
    client.get(page_url)
    sign_out(client)

    response = client.post(reverse("support:case-reply", args=[case.pk]), {"body": "Still failing at 02:00."})

    assert response["Location"] == f"/accounts/login/?next={page_url}"
    assert NOT_SENT in client.get(response["Location"]).content.decode()
    sign_in(client, customer, page_url)
    page = client.get(page_url).content.decode()
    assert DRAFT_NOTICE in page and "Still failing at 02:00.</textarea>" in page
    assert not CaseReply.objects.exists()


def test_a_lead_decline_comes_back_on_the_lead_page(client):
    acme = PartnerFactory(name="Acme Cloud")
    ann = PartnerUserFactory(partner=acme, username="ann")
    lead = ContactRequestFactory(partner=acme)
    page_url = reverse("my:lead-detail", args=[lead.reference])
    sign_in(client, ann)
    client.get(page_url)
    sign_out(client)

    response = client.post(
        reverse("my:lead-decline", args=[lead.reference]), {"reason": "We do not work in that region."}
    )

    assert response["Location"] == f"/accounts/login/?next={page_url}"
    sign_in(client, ann, page_url)
    page = client.get(page_url).content.decode()
    assert DRAFT_NOTICE in page and "We do not work in that region.</textarea>" in page
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.NEW


def test_accepting_a_lead_signed_out_leads_back_to_the_lead_after_signing_in(client):
    acme = PartnerFactory(name="Acme Cloud")
    ann = PartnerUserFactory(partner=acme, username="ann")
    lead = ContactRequestFactory(partner=acme)
    page_url = reverse("my:lead-detail", args=[lead.reference])
    sign_in(client, ann)
    client.get(page_url)
    sign_out(client)

    response = client.post(reverse("my:lead-accept", args=[lead.reference]))

    assert response["Location"] == f"/accounts/login/?next={page_url}"
    assert NOT_SENT in client.get(response["Location"]).content.decode()
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.NEW


def test_passwords_and_the_csrf_token_are_never_kept(client, customer):
    sign_in(client, customer)
    client.get(NEW_CASE)
    sign_out(client)

    client.post(NEW_CASE, a_case(customer, password="hunter2", new_password1="hunter3"))

    kept = str(client.session[drafts.SESSION_KEY])
    assert "VPN drops" in kept
    assert "hunter" not in kept and "not-kept" not in kept and "csrfmiddlewaretoken" not in kept


def test_a_form_too_long_to_keep_is_said_to_be_lost(client, customer):
    sign_in(client, customer)
    client.get(NEW_CASE)
    sign_out(client)

    response = client.post(
        NEW_CASE, a_case(customer, description="x" * (drafts.KEPT_CHARACTERS + 1)), follow=True
    )

    page = response.content.decode()
    assert NOT_SENT in page and NOT_KEPT in page
    sign_in(client, customer, NEW_CASE)
    assert "VPN drops" not in client.get(NEW_CASE).content.decode()


def test_a_draft_is_kept_only_for_a_while(client, customer):
    sent_at = time.time()
    with time_machine.travel(sent_at, tick=False):
        sign_in(client, customer)
        client.get(NEW_CASE)
        sign_out(client)
        client.post(NEW_CASE, a_case(customer))

    with time_machine.travel(sent_at + drafts.KEPT_FOR.total_seconds() + 1, tick=False):
        assert NOT_SENT not in client.get(f"/accounts/login/?next={NEW_CASE}").content.decode()
        sign_in(client, customer, NEW_CASE)
        assert "VPN drops" not in client.get(NEW_CASE).content.decode()


def test_a_page_opened_signed_out_still_asks_to_sign_in_to_see_it(client, customer):
    response = client.get(NEW_CASE, follow=True)

    page = response.content.decode()
    assert "Please sign in to see that page." in page
    assert NOT_SENT not in page


# Every page's form ------------------------------------------------------------------------------------------


def _case_status(customer):
    case = support_case_open(
        user=customer,
        account=customer.account,
        subject="Backups",
        description="Fail.",
        severity="general_guidance",
    )
    page = reverse("support:case-detail", args=[case.pk])
    return (
        customer,
        page,
        reverse("support:case-status", args=[case.pk]),
        "status_form",
        {"status": "resolved"},
    )


def _access_grant(customer):
    admin = CustomerUserFactory(customer=customer.customer, access_admin=True)
    engaged = EngagementPartnerFactory(engagement=EngagementFactory(customer=customer.customer))
    page = reverse("engagements:access-grant")
    data = {
        "account": str(customer.account.pk),
        "engagement_partner": str(engaged.pk),
        "role_arn": "arn:aws:iam::123456789012:role/PartnerOps",
        "scope": "read_only",
        # "mfa_required" unticked: sent as nothing, and shown unticked again (it starts ticked)
        "expires_on": (timezone.localdate() + datetime.timedelta(days=10)).isoformat(),
    }
    return admin, page, page, "form", data


def _access_revoke(customer):
    admin = CustomerUserFactory(customer=customer.customer, access_admin=True)
    grant = AccessGrantFactory(
        engagement_partner=EngagementPartnerFactory(engagement=EngagementFactory(customer=customer.customer)),
        account=customer.account,
    )
    page = reverse("engagements:access-revoke", args=[grant.pk])
    return admin, page, page, "form", {"reason": "The project ended."}


def _engagement_advance(customer):
    engaged = EngagementPartnerFactory(engagement=EngagementFactory(customer=customer.customer))
    ann = PartnerUserFactory(partner=engaged.partner)
    engagement = engaged.engagement
    page = reverse("engagements:engagement-detail", args=[engagement.pk])
    data = {
        "to_stage": stage_after(engagement.stage).value,
        "reached_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "note": "Signed on Monday.",
    }
    return ann, page, reverse("engagements:engagement-advance", args=[engagement.pk]), "advance_form", data


def _lead_engagement(customer):
    ann = PartnerUserFactory()
    lead = ContactRequestFactory(partner=ann.partner)
    page = reverse("my:lead-detail", args=[lead.reference])
    data = {
        "workload": "Data centre exit",
        "title": "Exit by summer",
        "description": "Two racks.",
        "procurement_model": "marketplace",
        "contract_start": timezone.localdate().isoformat(),
        "contract_end": (timezone.localdate() + datetime.timedelta(days=90)).isoformat(),
    }
    return ann, page, reverse("my:lead-engagement", args=[lead.reference]), "engagement_form", data


def _reference_data():
    return {
        "customer_name": "Northwind",
        "summary": "A data lake.",
        "services_used": "S3, Glue",
        "launched_on": (timezone.localdate() - datetime.timedelta(days=30)).isoformat(),
        "is_public": "on",
    }


def _reference_new(customer):
    ann = PartnerUserFactory()
    page = reverse("my:reference-new")
    return ann, page, page, "form", _reference_data()


def _reference_edit(customer):
    ann = PartnerUserFactory()
    reference = CustomerReferenceFactory(partner=ann.partner, is_validated=False, validated_at=None)
    page = reverse("my:reference-edit", args=[reference.pk])
    return ann, page, page, "form", _reference_data()


def _profile_edit(customer):
    ann = PartnerUserFactory()
    retail, banking = IndustryFactory(), IndustryFactory()
    page = reverse("my:profile-edit")
    data = {
        "description": "We move retailers and banks.",
        "website": "https://www.example.com",
        "industries": [str(retail.pk), str(banking.pk)],
    }
    return ann, page, page, "form", data


def _shown(form, name):
    value = form[name].value()
    if isinstance(value, list | tuple):
        return sorted(str(each) for each in value)
    return True if value == "on" else value


@pytest.mark.parametrize(
    "page_form",
    [
        _case_status,
        _access_grant,
        _access_revoke,
        _engagement_advance,
        _lead_engagement,
        _reference_new,
        _reference_edit,
        _profile_edit,
    ],
)
def test_every_pages_form_comes_back_as_it_was_typed(client, customer, page_form):
    user, page, action, form_name, data = page_form(customer)
    sign_in(client, user)
    opened = client.get(page)
    assert opened.status_code == 200
    sign_out(client)

    response = client.post(action, data | sent_beside_the_form(opened))

    assert response.status_code == 303
    assert response["Location"] == f"/accounts/login/?next={page}"
    sign_in(client, user, page)
    response = client.get(page)
    assert response.status_code == 200
    assert response.content.decode().count(DRAFT_NOTICE) == 1
    form = response.context[form_name]
    assert form.unsent_draft and not form.is_bound
    shown = {name: _shown(form, name) for name in form.fields if name != "submission_token"}
    expected = {name: sorted(value) if isinstance(value, list) else value for name, value in data.items()}
    if "is_public" in form.fields:
        expected["is_public"] = True
    if "mfa_required" in form.fields:
        expected["mfa_required"] = False
    if "use_cases" in form.fields:
        expected["use_cases"] = []
    assert {name: str(value) for name, value in shown.items()} == {
        name: str(value) for name, value in expected.items()
    }


def test_a_profile_proposal_sent_signed_out_comes_back_and_proposes_only_what_its_page_changed(client):
    """Ann changes the About text and sends it after her session ended; meanwhile her PDM corrects the
    website. Signed in again, she gets the form back filled in, where she was told it could not be put back
    (her page's state was no field of the form) and shown that state to copy; and sending it proposes her
    text alone, where the website her page showed was proposed back over the correction."""
    ann = PartnerUserFactory()
    partner = ann.partner
    page = reverse("my:profile-edit")
    sign_in(client, ann)
    opened = client.get(page)
    form = opened.context["form"]
    data = {name: form[name].value() for name in form.fields} | sent_beside_the_form(opened)
    shown_website = data["website"]
    sign_out(client)
    data["description"] = "We move retailers."
    assert client.post(page, data).status_code == 303
    partner.website = "https://www.corrected.example"
    partner.save()

    sign_in(client, ann, page)
    again = client.get(page)

    text = again.content.decode()
    assert NOT_PUT_BACK not in text
    assert text.count(DRAFT_NOTICE) == 1
    restored = again.context["form"]
    assert restored.unsent_draft
    assert restored["description"].value() == "We move retailers."
    assert restored["website"].value() == shown_website
    resent = {name: restored[name].value() for name in restored.fields} | sent_beside_the_form(again)
    assert client.post(page, resent).status_code == 303
    proposal = ProfileChangeRequest.objects.get()
    assert proposal.fields_changed == ["description"]
    assert (proposal.description, proposal.website) == ("We move retailers.", "https://www.corrected.example")


def test_a_reply_kept_for_a_case_closed_meanwhile_is_shown_to_copy(client, customer):
    case = support_case_open(
        user=customer,
        account=customer.account,
        subject="Backups fail",
        description="Since Monday.",
        severity="general_guidance",
    )
    page_url = reverse("support:case-detail", args=[case.pk])
    sign_in(client, customer)
    client.get(page_url)
    sign_out(client)
    client.post(reverse("support:case-reply", args=[case.pk]), {"body": "Still failing at 02:00."})
    support_case_status_change(user=customer, case=case, status=CaseStatus.CLOSED)  # in another browser

    sign_in(client, customer, page_url)
    page = client.get(page_url).content.decode()

    assert "Your reply was not sent" in page
    assert "Still failing at 02:00.</textarea>" in page


NOT_PUT_BACK = "What you typed before you were signed out was not sent, and could not be put back"
REGION = "We do not work in that region."


def test_a_decline_kept_for_a_lead_accepted_meanwhile_is_said_not_sent_and_shown_to_copy(client):
    acme = PartnerFactory(name="Acme Cloud")
    ann = PartnerUserFactory(partner=acme, username="ann")
    bob = PartnerUserFactory(partner=acme, username="bob")
    lead = ContactRequestFactory(partner=acme)
    page_url = reverse("my:lead-detail", args=[lead.reference])
    sign_in(client, ann)
    client.get(page_url)
    sign_out(client)
    client.post(reverse("my:lead-decline", args=[lead.reference]), {"reason": REGION})
    contact_request_accept(contact_request=lead, user=bob)  # a colleague, meanwhile: no decline form now

    sign_in(client, ann, page_url)
    response = client.get(page_url, follow=True)

    assert response.status_code == 200
    assert response.request["PATH_INFO"] == page_url
    page = response.content.decode()
    assert NOT_PUT_BACK in page
    assert "We do not work in that region.</textarea>" in page
    assert DRAFT_NOTICE not in page
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.ACCEPTED
    # Said once.
    assert NOT_PUT_BACK not in client.get(page_url).content.decode()


def test_a_draft_kept_for_a_record_gone_meanwhile_is_said_not_sent_where_its_page_leads(client):
    ann = PartnerUserFactory()
    reference = CustomerReferenceFactory(partner=ann.partner, is_validated=False, validated_at=None)
    page_url = reverse("my:reference-edit", args=[reference.pk])
    sign_in(client, ann)
    client.get(page_url)
    sign_out(client)
    client.post(page_url, {**_reference_data(), "summary": "A data lake, & a warehouse."})
    reference_delete(reference=reference, user=ann)  # withdrawn in another browser

    sign_in(client, ann, page_url)
    response = client.get(page_url, follow=True)

    assert response.request["PATH_INFO"] == reverse("my:references")
    page = response.content.decode()
    assert NOT_PUT_BACK in page
    assert "What you built for them: A data lake, &amp; a warehouse." in page  # the form's label
    assert "submission_token" not in page.split(NOT_PUT_BACK)[1]


def test_a_draft_is_never_shown_to_someone_else_signing_in_even_when_its_page_is_gone(client):
    acme = PartnerFactory(name="Acme Cloud")
    ann = PartnerUserFactory(partner=acme, username="ann")
    bob = PartnerUserFactory(partner=acme, username="bob")
    lead = ContactRequestFactory(partner=acme)
    page_url = reverse("my:lead-detail", args=[lead.reference])
    sign_in(client, ann)
    client.get(page_url)
    sign_out(client)
    client.post(reverse("my:lead-decline", args=[lead.reference]), {"reason": REGION})
    contact_request_accept(contact_request=lead, user=bob)

    sign_in(client, bob, page_url)
    page = client.get(page_url, follow=True).content.decode()

    assert NOT_PUT_BACK not in page and "We do not work in that region." not in page


def test_a_draft_kept_for_a_page_no_longer_theirs_is_said_not_sent_on_its_403(client, customer):
    ada = CustomerUserFactory(customer=customer.customer, access_admin=True, username="ada")
    bea = CustomerUserFactory(customer=customer.customer, access_admin=True, username="bea")
    grant = AccessGrantFactory(
        engagement_partner=EngagementPartnerFactory(engagement=EngagementFactory(customer=customer.customer)),
        account=customer.account,
    )
    page_url = reverse("engagements:access-revoke", args=[grant.pk])
    sign_in(client, ada)
    client.get(page_url)
    sign_out(client)
    client.post(page_url, {"reason": "The project ended."})
    # Meanwhile Bea leaves Ada out of the access administrators: the page is no longer for her.
    customer_access_administrators_set(user=bea, customer=customer.customer, members=[bea])

    sign_in(client, ada, page_url)
    response = client.get(page_url, follow=True)

    assert response.status_code == 403
    page = response.content.decode()
    assert NOT_PUT_BACK in page and "The project ended.</textarea>" in page
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_a_draft_kept_for_a_page_that_is_now_a_404_for_them_is_said_not_sent_on_it(client):
    acme = PartnerFactory(name="Acme Cloud")
    ann = PartnerUserFactory(partner=acme, username="ann")
    lead = ContactRequestFactory(partner=acme)
    page_url = reverse("my:lead-detail", args=[lead.reference])
    sign_in(client, ann)
    client.get(page_url)
    sign_out(client)
    client.post(reverse("my:lead-decline", args=[lead.reference]), {"reason": REGION})
    # Meanwhile a superuser moves Ann to another partner, in the admin: Acme's leads are not hers to see.
    ann.partner = PartnerFactory(name="Globex")
    ann.save(update_fields=["partner"])

    sign_in(client, ann, page_url)
    response = client.get(page_url)

    assert response.status_code == 404
    page = response.content.decode()
    assert NOT_PUT_BACK in page and f"{REGION}</textarea>" in page


def test_a_password_change_sent_signed_out_is_said_not_sent_and_no_password_is_kept(client, customer):
    page_url = reverse("password_change")
    sign_in(client, customer)
    assert client.get(page_url).status_code == 200
    sign_out(client)

    response = client.post(
        page_url, {"old_password": PASSWORD, "new_password1": "hunter2-long", "new_password2": "hunter2-long"}
    )

    assert response.status_code == 303
    assert response["Location"] == f"/accounts/login/?next={page_url}"
    page = client.get(response["Location"]).content.decode()
    assert NOT_SENT in page and NOT_KEPT in page
    assert "hunter2" not in str(client.session.get(drafts.SESSION_KEY))
    assert PASSWORD not in str(client.session.get(drafts.SESSION_KEY))

    sign_in(client, customer, page_url)
    page = client.get(page_url).content.decode()
    assert DRAFT_NOTICE not in page and NOT_PUT_BACK not in page and "hunter2" not in page
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)


def _typed_lost(page: str) -> str:
    """The text of the lost draft's message, as the page shows it to copy."""
    return page.split(NOT_PUT_BACK)[1].split("</textarea>")[0].rsplit(">", 1)[-1]  # no > in it: &gt;


def test_a_lost_draft_names_its_fields_and_choices_as_its_form_showed_them(client):
    acme = PartnerFactory(name="Acme Cloud")
    ann = PartnerUserFactory(partner=acme, username="ann")
    bob = PartnerUserFactory(partner=acme, username="bob")
    lead = ContactRequestFactory(partner=acme)
    page_url = reverse("my:lead-detail", args=[lead.reference])
    sign_in(client, ann)
    client.get(page_url)
    sign_out(client)
    client.post(
        reverse("my:lead-engagement", args=[lead.reference]),
        {
            "workload": "Data centre exit",
            "title": "",
            "description": "Two racks.",
            "procurement_model": "reseller",
            "contract_start": "2026-12-01",
            "contract_end": "2027-03-01",
        },
    )
    contact_request_decline(contact_request=lead, user=bob, reason=REGION)  # a colleague, meanwhile

    sign_in(client, ann, page_url)
    typed = _typed_lost(client.get(page_url, follow=True).content.decode())

    # The form's own labels, and the choice as it read ("Through a reseller"), not its key.
    assert typed.split("\n\n") == [
        "Workload: Data centre exit",
        "Description: Two racks.",
        "How the customer buys: Through a reseller",
        "Contract starts: 2026-12-01",
        "Contract&#x27;s last day: 2027-03-01",
    ]


def _grant_typed(client, admin, engaged, account):
    page_url = reverse("engagements:access-grant")
    sign_in(client, admin)
    assert client.get(page_url).status_code == 200
    sign_out(client)
    client.post(
        page_url,
        {
            "account": str(account.pk),
            "engagement_partner": str(engaged.pk),
            "role_arn": "arn:aws:iam::123456789012:role/PartnerOps",
            "scope": "read_only",
            "mfa_required": "on",
        },
    )
    return page_url


def test_a_lost_access_grant_names_the_account_and_partner_picked_not_their_ids(client, customer):
    ada = CustomerUserFactory(customer=customer.customer, access_admin=True, username="ada")
    bea = CustomerUserFactory(customer=customer.customer, access_admin=True, username="bea")
    engaged = EngagementPartnerFactory(
        engagement=EngagementFactory(customer=customer.customer, title="Landing zone"),
        partner=PartnerFactory(name="Northwind Consulting"),
    )
    page_url = _grant_typed(client, ada, engaged, customer.account)
    # Meanwhile Bea leaves Ada out of the access administrators: the page is no longer for her.
    customer_access_administrators_set(user=bea, customer=customer.customer, members=[bea])

    sign_in(client, ada, page_url)
    response = client.get(page_url, follow=True)

    assert response.status_code == 403
    typed = _typed_lost(response.content.decode()).split("\n\n")
    assert typed[0] == "Account: 123456789012 · prod"
    assert typed[1].startswith("Partner: Northwind Consulting, ")
    assert "“Landing zone”" in typed[1]
    assert typed[2:] == [
        "Role ARN: arn:aws:iam::123456789012:role/PartnerOps",
        "Scope: Read-only",
        "Require our MFA token for security-relevant changes: Yes",
    ]


def test_a_lost_draft_never_names_a_record_its_typist_can_no_longer_see(client, customer):
    ada = CustomerUserFactory(customer=customer.customer, access_admin=True, username="ada")
    engaged = EngagementPartnerFactory(
        engagement=EngagementFactory(customer=customer.customer, title="Landing zone"),
        partner=PartnerFactory(name="Northwind Consulting"),
    )
    page_url = _grant_typed(client, ada, engaged, customer.account)
    # Meanwhile a superuser moves Ada to another customer, in the admin: Acme's records are not hers.
    ada.customer = CustomerUserFactory().customer
    ada.save(update_fields=["customer"])

    sign_in(client, ada, page_url)
    page = client.get(page_url, follow=True).content.decode()

    typed = _typed_lost(page).split("\n\n")
    assert typed[:2] == [f"Account: {customer.account.pk}", f"Partner: {engaged.pk}"]
    assert "· prod" not in page and "Northwind" not in page and "Landing zone" not in page


def test_a_lost_draft_with_ids_no_form_offers_shows_them_as_sent(client, customer):
    ada = CustomerUserFactory(customer=customer.customer, access_admin=True, username="ada")
    bea = CustomerUserFactory(customer=customer.customer, access_admin=True, username="bea")
    page_url = reverse("engagements:access-grant")
    sign_in(client, ada)
    client.get(page_url)
    sign_out(client)
    # Made up, as a script may send them: no record's, and one too large for any id.
    client.post(page_url, {"account": "99999999999999999999", "engagement_partner": "abc", "scope": "root"})
    customer_access_administrators_set(user=bea, customer=customer.customer, members=[bea])

    sign_in(client, ada, page_url)
    response = client.get(page_url, follow=True)

    assert response.status_code == 403
    assert _typed_lost(response.content.decode()).split("\n\n") == [
        "Account: 99999999999999999999",
        "Partner: abc",
        "Scope: root",
    ]
