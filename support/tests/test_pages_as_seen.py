"""The support pages as a person walks them: every case time names its zone, and one zone serves a whole
page; a refused new case comes back on its own form; a form's address reopened from the history leads to
its page; the support tabs mark the current one."""

import datetime
import re
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from support import services
from support.models import SupportCase
from tests.factories import SupportSubscriptionFactory

pytestmark = pytest.mark.django_db

# 16:36 in London (GMT) is 11:36 in New York (EST).
OPENED = datetime.datetime(2026, 11, 27, 16, 36, tzinfo=datetime.UTC)


def open_case(user, account, subject):
    return services.support_case_open(
        user=user, account=account, subject=subject, description="503 everywhere.", severity="production_down"
    )


@pytest.fixture
def both_on_business(alpha, bravo):
    for organisation in (alpha, bravo):
        SupportSubscriptionFactory(customer=organisation.customer, plan="business")


@pytest.fixture
def cases_opened_together(alpha, bravo, both_on_business):
    with time_machine.travel(OPENED, tick=False):
        return open_case(alpha.staff, alpha.account, "London down"), open_case(
            bravo.staff, bravo.account, "NY down"
        )


def shown_times(page: str, label: str) -> list[str]:
    return re.findall(rf"{label} <time datetime=\"[^\"]+\">([^<]+)</time>", page)


# Case times name their zone ---------------------------------------------------------------------------


def test_a_list_mixing_customers_shows_every_case_in_one_named_zone(client, engineer, cases_opened_together):
    client.force_login(engineer)

    page = client.get(reverse("support:case-list")).content.decode()

    assert shown_times(page, "Opened") == ["27 Nov 2026, 16:36 UTC"] * 2
    assert shown_times(page, "Due") == ["Fri 27 Nov, 17:36 UTC"] * 2


def test_a_customer_sees_its_cases_in_its_own_named_zone(client, bravo, cases_opened_together):
    client.force_login(bravo.staff)

    home = client.get(reverse("support:home")).content.decode()

    assert shown_times(home, "Opened") == ["27 Nov 2026, 11:36 EST"]
    assert shown_times(home, "Due") == ["Fri 27 Nov, 12:36 EST"]


def test_the_case_page_and_its_replies_name_the_zone_of_every_time(
    client, bravo, engineer, cases_opened_together
):
    case = cases_opened_together[1]
    with time_machine.travel(OPENED + datetime.timedelta(minutes=20), tick=False):
        services.support_case_reply(user=engineer, case=case, body="Looking.")
    url = reverse("support:case-detail", args=[case.pk])

    client.force_login(bravo.staff)
    customers = client.get(url).content.decode()
    client.force_login(engineer)
    engineers = client.get(url).content.decode()

    assert "Fri 27 Nov 2026, 11:36 EST</time> by" in customers  # opened
    assert "Fri 27 Nov 2026, 11:56 EST</time>" in customers  # answered
    assert "27 Nov 2026, 11:56 EST</time></p>" in customers  # the reply
    assert "Fri 27 Nov 2026, 16:36 UTC</time> by" in engineers
    assert "27 Nov 2026, 16:56 UTC</time></p>" in engineers
    for page in (customers, engineers):
        times = re.findall(r"<time datetime=\"[^\"]+\">([^<]+)</time>", page)
        assert times and all(re.search(r" (EST|UTC)$", shown) for shown in times)


def test_the_message_after_opening_a_case_names_the_zone(client, bravo, both_on_business):
    client.force_login(bravo.staff)
    data = {
        "account": bravo.account.pk,
        "case_type": "technical",
        "severity": "production_down",
        "subject": "Checkout fails",
        "description": "Payments time out.",
    }

    with time_machine.travel(OPENED, tick=False):
        detail = client.post(reverse("support:case-new"), data, follow=True).content.decode()

    assert "A first response is due by Fri 27 Nov 2026, 12:36 EST." in detail


# A refused new case -----------------------------------------------------------------------------------


def test_a_customers_refused_new_case_comes_back_on_its_form_with_what_was_typed(
    client, alpha, both_on_business
):
    client.force_login(alpha.staff)

    response = client.post(
        reverse("support:case-new"), {"subject": "Bucket policy", "severity": "system_impaired"}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert response.templates[0].name == "support/case_form.html"
    assert re.search(r"<title>\s*Error: Open a support case", page)
    assert "Your support plan" not in page  # not the support page, with the errors far below
    assert 'value="Bucket policy"' in page
    assert re.search(r'<option value="system_impaired" selected>', page)
    assert 'id="id_description_error"' in page and 'id="id_account_error"' in page
    assert "Technical cases on your Business plan" in page  # the plan's severities still explained
    assert not SupportCase.objects.exists()


def test_the_new_case_form_title_says_nothing_wrong_before_a_submit(client, alpha):
    client.force_login(alpha.staff)

    page = client.get(reverse("support:case-new")).content.decode()

    assert re.search(r"<title>\s*Open a support case", page)


# A form's address reopened from the history -----------------------------------------------------------


@pytest.mark.parametrize("name", ["case-reply", "case-status", "case-escalate"])
def test_a_case_forms_address_reopened_leads_to_the_case(client, alpha, reseller, name):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account, "Resold account down")
    url = reverse(f"support:{name}", args=[case.pk])

    for user in (alpha.staff, reseller.user):
        client.force_login(user)
        if name == "case-reply":
            assert client.post(url, {"body": " "}).status_code == 400  # a refusal shown at this address
        reopened = client.get(url, follow=True)

        assert reopened.status_code == 200
        assert reopened.redirect_chain == [(reverse("support:case-detail", args=[case.pk]), 302)]
        assert "Resold account down" in reopened.content.decode()
    case.refresh_from_db()
    assert (case.status, case.replies.count(), case.escalated_at) == ("open", 0, None)


@pytest.mark.parametrize("name", ["case-reply", "case-status", "case-escalate"])
def test_a_case_forms_address_of_another_organisations_case_stays_a_404(client, alpha, bravo, name):
    SupportSubscriptionFactory(customer=bravo.customer, plan="business")
    theirs = open_case(bravo.staff, bravo.account, "Bravo secret")
    client.force_login(alpha.partner_user)

    response = client.get(reverse(f"support:{name}", args=[theirs.pk]), follow=True)

    assert response.status_code == 404
    assert "Bravo secret" not in response.content.decode()


def test_a_case_forms_address_reopened_signed_out_asks_to_sign_in(client, alpha, both_on_business):
    case = open_case(alpha.staff, alpha.account, "Anything")

    response = client.get(reverse("support:case-reply", args=[case.pk]), follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("login"))


# The support tabs -------------------------------------------------------------------------------------


def support_tabs(page: str) -> tuple[str, list[tuple[str, bool]]]:
    """The support navigation's (first) class, and its tabs: (label, whether marked as the current page)."""
    nav = re.search(r'<nav class="([\w-]+)[^"]*" aria-label="Support">(.*?)</nav>', page, re.S)
    assert nav, "no support tabs"
    links = re.findall(r'<a href="[^"]+"( aria-current="page")?>([^<]+)</a>', nav.group(2))
    return nav.group(1), [(label, bool(current)) for current, label in links]


@pytest.mark.parametrize(
    ("who", "name", "tabs"),
    [
        ("staff", "home", [("Support plan and cases", True), ("Open a case", False)]),
        ("staff", "case-new", [("Support plan and cases", False), ("Open a case", True)]),
        ("partner_user", "case-list", [("Support cases", True), ("Open a case", False)]),
        ("partner_user", "case-new", [("Support cases", False), ("Open a case", True)]),
    ],
)
def test_the_support_tabs_are_styled_like_the_areas_other_tabs_and_mark_the_current_one(
    client, alpha, who, name, tabs
):
    client.force_login(getattr(alpha, who))

    page = client.get(reverse(f"support:{name}")).content.decode()

    css_class, shown = support_tabs(page)
    assert shown == tabs
    stylesheet = Path(settings.BASE_DIR, "apn_portal/static/css/partner-area.css").read_text()
    assert "partner-area.css" in page
    assert re.search(rf"\.{css_class} ul\b", stylesheet) and re.search(rf"\.{css_class} a\b", stylesheet)


def test_the_providers_staff_with_one_support_page_get_no_tabs_to_choose_from(client, engineer):
    client.force_login(engineer)

    page = client.get(reverse("support:case-list")).content.decode()

    assert 'aria-label="Support"' not in page
    assert "inline-list" not in page
