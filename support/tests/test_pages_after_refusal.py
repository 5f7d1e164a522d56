"""What the support pages show after something was refused or filtered: a case closed while a reply or a
status change was being written, the statuses offered after a refusal, the case list's filter kept across
its pages, the plan's severities explained after a refused new case, and the support page's dates in the
customer's time zone."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from engagements.models import Customer
from support import services
from support.choices import CaseStatus
from support.models import CaseReply, SupportCase
from tests.factories import SupportSubscriptionFactory

pytestmark = pytest.mark.django_db


def open_case(user, account, subject="Invoice question"):
    return services.support_case_open(
        user=user,
        account=account,
        subject=subject,
        description="Why two invoices?",
        severity="general_guidance",
        case_type="account_and_billing",
    )


def status_choices(page: str) -> list[str]:
    """The values the case page's status form offers (none without the form)."""
    form = re.search(r'action="[^"]*/status/"[^>]*>(.*?)</form>', page, re.S)
    return re.findall(r'<option value="([^"]*)"', form.group(1)) if form else []


# A case closed while the page was open ------------------------------------------------------------------


def test_a_reply_to_a_case_closed_meanwhile_says_why_and_gives_the_reply_back(client, alpha):
    case = open_case(alpha.staff, alpha.account)
    client.force_login(alpha.staff)
    client.post(reverse("support:case-status", args=[case.pk]), {"status": "closed"})  # another tab

    response = client.post(
        reverse("support:case-reply", args=[case.pk]), {"body": "It happened again this morning."}
    )

    page = response.content.decode()
    assert "This case is closed; open a new case if the problem is back." in page
    assert "Your reply was not sent" in page
    assert "It happened again this morning." in page  # to copy, not lost
    assert response.status_code == 409
    assert "Send the reply" not in page
    assert not CaseReply.objects.exists()


def test_a_status_change_on_a_case_closed_meanwhile_says_why(client, alpha):
    case = open_case(alpha.staff, alpha.account)
    client.force_login(alpha.staff)
    services.support_case_status_change(user=alpha.admin, case=case, status="closed")  # a colleague

    for status in ("resolved", "closed"):
        response = client.post(reverse("support:case-status", args=[case.pk]), {"status": status})

        assert "This case is closed." in response.content.decode()
        assert response.status_code == 409
        assert status_choices(response.content.decode()) == []


# The statuses offered ---------------------------------------------------------------------------------


def test_after_a_refused_status_change_the_form_offers_only_the_users_statuses(client, alpha):
    case = open_case(alpha.staff, alpha.account)
    client.force_login(alpha.staff)
    offered = status_choices(client.get(reverse("support:case-detail", args=[case.pk])).content.decode())
    assert offered == ["resolved", "closed"]  # the requester resolves or closes

    bogus = client.post(reverse("support:case-status", args=[case.pk]), {"status": "bogus"})
    assert status_choices(bogus.content.decode()) == offered
    assert "Choose one of the statuses offered." in bogus.content.decode()
    assert bogus.status_code == 400

    not_theirs = client.post(reverse("support:case-status", args=[case.pk]), {"status": "in_progress"})
    assert not_theirs.status_code == 403
    assert "You can set this case to resolved or closed." in not_theirs.content.decode()
    assert status_choices(not_theirs.content.decode()) == offered
    assert SupportCase.objects.get(pk=case.pk).status == CaseStatus.OPEN


# The case list's filter across pages ------------------------------------------------------------------


def test_the_case_lists_pages_keep_the_status_filter(client, alpha, engineer):
    cases = [open_case(alpha.staff, alpha.account, subject=f"Case {i}") for i in range(32)]
    SupportCase.objects.filter(pk__in=[c.pk for c in cases[:5]]).update(
        status=CaseStatus.RESOLVED, resolved_at=timezone.now()
    )
    client.force_login(alpha.staff)

    page = client.get(reverse("support:home"), {"status": "open"}).content.decode()

    assert "27 cases, page 1 of 2" in page
    assert 'href="?status=open&amp;page=2" rel="next"' in page
    page_two = client.get(reverse("support:home"), {"status": "open", "page": "2"}).content.decode()
    assert "27 cases, page 2 of 2" in page_two
    assert 'href="?status=open&amp;page=1" rel="prev"' in page_two

    client.force_login(engineer)
    listing = client.get(reverse("support:case-list"), {"status": "open", "note": "a&b c"}).content.decode()
    assert 'href="?status=open&amp;note=a%26b+c&amp;page=2" rel="next"' in listing


# The new-case form after a refusal --------------------------------------------------------------------


def test_a_refused_new_case_still_explains_the_plans_severities(client, alpha):
    client.force_login(alpha.staff)  # on Basic: no technical support

    response = client.post(
        reverse("support:case-new"),
        {
            "account": alpha.account.pk,
            "case_type": "technical",
            "severity": "production_down",
            "subject": "Site down",
            "description": "503 everywhere.",
        },
    )

    assert response.status_code == 400
    assert re.search(
        r'id="id_severity_helptext">The Basic plan includes no technical support', response.content.decode()
    )
    assert not SupportCase.objects.exists()


# Dates in the customer's time zone --------------------------------------------------------------------


def test_the_support_page_shows_every_date_in_the_customers_time_zone(client, alpha):
    Customer.objects.filter(pk=alpha.customer.pk).update(time_zone="Asia/Tokyo")
    SupportSubscriptionFactory(
        customer=alpha.customer,
        plan="business",
        started_at=datetime.datetime(2026, 2, 28, 23, 0, tzinfo=datetime.UTC),  # 1 Mar, 08:00 in Tokyo
    )
    client.force_login(alpha.staff)

    page = client.get(reverse("support:home")).content.decode()

    assert "Since 1 Mar 2026" in page
    assert "<tr><td>1 Mar 2026</td>" in page  # the plan history agrees
    assert "28 Feb 2026" not in page
