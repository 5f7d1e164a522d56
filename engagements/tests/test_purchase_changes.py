"""Purchases already recorded change through their services, in the admin as anywhere: Professional
Services through professional_services_update, held to professional_services_add's rules (an open
engagement, days a calendar shows, who may buy them), and subscriptions through
marketplace_subscription_update, held to marketplace_subscription_add's. A refusal is shown beside the
field it names with what was typed kept, and nothing changes."""

import datetime

import pytest
from django.contrib.admin.models import CHANGE, LogEntry

from apn_portal.exceptions import ConflictError, PermissionDeniedError
from engagements import services
from engagements.admin import MarketplaceSubscriptionAdminForm, ProfessionalServicesChangeForm
from engagements.models import (
    Engagement,
    MarketplaceSubscription,
    ProfessionalServicesEngagement,
    TeamMember,
)
from tests.factories import CustomerUserFactory, PartnerFactory, SolutionsArchitectFactory

from .test_admin_services_rules import _bought, _change_form, _errors, _inline, _subscribed, _url, _with_rows

pytestmark = pytest.mark.django_db


def _cancel(engagement):
    Engagement.objects.filter(pk=engagement.pk).update(status="cancelled")


def _as_recorded(bought) -> tuple:
    bought = ProfessionalServicesEngagement.objects.get(pk=bought.pk)
    return bought.goal, bought.capability_gap, bought.starts_on, bought.ends_on


# Professional Services ---------------------------------------------------------------------------------


def test_an_invalid_change_of_professional_services_is_said_beside_the_field_and_changes_nothing(
    client, alpha
):
    bought = _bought(alpha)
    recorded = _as_recorded(bought)
    client.force_login(alpha.account_manager)
    url = _url("professionalservicesengagement", "change", bought.pk)

    response = client.post(
        url, _change_form(client.get(url), goal="Run it ourselves", starts_on="2999-01-05")
    )

    assert _errors(response)["starts_on"] == ["Give a date no later than 31 Dec 2199."]
    page = response.content.decode()
    assert 'value="2999-01-05"' in page and "Run it ourselves" in page
    assert _as_recorded(bought) == recorded


def test_professional_services_of_a_closed_engagement_are_not_changed_in_the_admin(client, alpha):
    bought = _bought(alpha)
    recorded = _as_recorded(bought)
    _cancel(alpha.engagement)
    refusal = [f"“{alpha.engagement.title}” is cancelled."]
    client.force_login(alpha.account_manager)
    url = _url("professionalservicesengagement", "change", bought.pk)
    response = client.post(url, _change_form(client.get(url), goal="Too late"))
    assert _errors(response)["__all__"] == refusal

    engagement_url = _url("engagement", "change", alpha.engagement.pk)
    page = client.get(engagement_url)
    prefix = "professional_services"
    response = client.post(engagement_url, _with_rows(page, prefix, changed={"goal": "Too late"}))
    assert _inline(response, prefix).forms[0].non_field_errors() == refusal
    assert _as_recorded(bought) == recorded


def test_a_valid_change_of_professional_services_is_saved_through_the_service_and_logged(client, alpha):
    bought = _bought(alpha)
    client.force_login(alpha.account_manager)
    url = _url("professionalservicesengagement", "change", bought.pk)
    changes = {"goal": "Run it ourselves", "starts_on": "2026-01-12", "ends_on": "2026-03-31"}

    assert client.post(url, _change_form(client.get(url), **changes)).status_code == 302

    assert _as_recorded(bought) == (
        "Run it ourselves",
        "Managed services",
        datetime.date(2026, 1, 12),
        datetime.date(2026, 3, 31),
    )
    logged = LogEntry.objects.get(object_id=str(bought.pk), action_flag=CHANGE)
    assert logged.user == alpha.account_manager
    assert "Goal" in logged.get_change_message() and "Starts on" in logged.get_change_message()

    # The engagement's inline changes them the same way.
    engagement_url = _url("engagement", "change", alpha.engagement.pk)
    page = client.get(engagement_url)
    response = client.post(
        engagement_url, _with_rows(page, "professional_services", changed={"goal": "Again"})
    )
    assert response.status_code == 302
    assert _as_recorded(bought)[0] == "Again"


def test_an_inline_change_to_a_day_no_calendar_shows_is_said_beside_the_field(client, alpha):
    bought = _bought(alpha)
    recorded = _as_recorded(bought)
    client.force_login(alpha.account_manager)
    url = _url("engagement", "change", alpha.engagement.pk)
    prefix = "professional_services"
    response = client.post(url, _with_rows(client.get(url), prefix, changed={"ends_on": "2999-01-01"}))
    assert _inline(response, prefix).forms[0].errors["ends_on"] == ["Give a date no later than 31 Dec 2199."]
    assert _as_recorded(bought) == recorded


def test_professional_services_are_changed_only_by_who_may_buy_them(client, alpha, bravo):
    bought = _bought(alpha)  # bought by alpha's partner
    recorded = _as_recorded(bought)
    change = {
        "services": bought,
        "goal": "Taken over",
        "capability_gap": "None",
        "starts_on": datetime.date(2026, 1, 5),
    }
    for outsider in (bravo.account_manager, bravo.partner_user, CustomerUserFactory(customer=bravo.customer)):
        with pytest.raises(PermissionDeniedError, match="You cannot change the Professional Services of"):
            services.professional_services_update(user=outsider, **change)
    assert _as_recorded(bought) == recorded

    # The partner that bought them may, like the customer's side.
    services.professional_services_update(user=alpha.partner_user, **change)
    assert _as_recorded(bought)[0] == "Taken over"

    # In the admin, who sees the purchase but may not change it (on the team only) is refused.
    consultant = SolutionsArchitectFactory()
    TeamMember.objects.create(engagement=alpha.engagement, user=consultant, role="professional_services")
    client.force_login(alpha.account_manager)
    url = _url("professionalservicesengagement", "change", bought.pk)
    data = _change_form(client.get(url), goal="By a team member")
    client.force_login(consultant)
    assert client.get(url).status_code == 200
    assert client.post(url, data).status_code == 403
    assert _as_recorded(bought)[0] == "Taken over"
    with pytest.raises(PermissionDeniedError):
        services.professional_services_update(user=consultant, **change)


def test_services_whose_engagement_closed_while_the_form_was_checked_are_not_changed(
    client, alpha, monkeypatch
):
    bought = _bought(alpha)
    recorded = _as_recorded(bought)
    checked = ProfessionalServicesChangeForm.clean

    def checked_then_cancelled_by_somebody_else(form):
        cleaned = checked(form)
        _cancel(alpha.engagement)
        return cleaned

    client.force_login(alpha.account_manager)
    url = _url("professionalservicesengagement", "change", bought.pk)
    page = client.get(url)
    monkeypatch.setattr(ProfessionalServicesChangeForm, "clean", checked_then_cancelled_by_somebody_else)

    response = client.post(url, _change_form(page, goal="Too late"), follow=True)

    assert f"“{alpha.engagement.title}” is cancelled." in response.content.decode()
    assert _as_recorded(bought) == recorded


# Marketplace subscriptions -----------------------------------------------------------------------------


@pytest.fixture
def vendor(db):
    return PartnerFactory(name="Vendor Inc", partner_type="technology")


def test_a_subscription_changed_while_its_engagement_closed_is_not_changed(
    client, alpha, vendor, monkeypatch
):
    subscription = _subscribed(alpha, vendor)
    checked = MarketplaceSubscriptionAdminForm.clean

    def checked_then_cancelled_by_somebody_else(form):
        cleaned = checked(form)
        _cancel(alpha.engagement)
        return cleaned

    client.force_login(alpha.account_manager)
    url = _url("marketplacesubscription", "change", subscription.pk)
    page = client.get(url)
    monkeypatch.setattr(MarketplaceSubscriptionAdminForm, "clean", checked_then_cancelled_by_somebody_else)

    response = client.post(url, _change_form(page, product="Renamed"), follow=True)

    assert f"“{alpha.engagement.title}” is cancelled." in response.content.decode()
    assert MarketplaceSubscription.objects.get(pk=subscription.pk).product == "SIEM"


def test_a_subscription_is_changed_through_the_service_by_its_rules(alpha, bravo, vendor):
    subscription = _subscribed(alpha, vendor)
    _subscribed(alpha, vendor, product="Backup")
    change = {"subscription": subscription, "vendor": vendor, "subscribed_on": datetime.date(2024, 2, 1)}
    with pytest.raises(ConflictError, match="already subscribes to Backup"):
        services.marketplace_subscription_update(
            user=alpha.account_manager, product="backup", accounts=[alpha.member], **change
        )
    with pytest.raises(PermissionDeniedError):
        services.marketplace_subscription_update(
            user=bravo.account_manager, product="SIEM Pro", accounts=[alpha.member], **change
        )
    services.marketplace_subscription_update(
        user=alpha.account_manager, product=" SIEM Pro ", accounts=[alpha.management], **change
    )
    subscription = MarketplaceSubscription.objects.get(pk=subscription.pk)
    assert (subscription.product, subscription.subscribed_on) == ("SIEM Pro", datetime.date(2024, 2, 1))
    assert list(subscription.accounts.all()) == [alpha.management]
    assert subscription.subscribed_by == alpha.account_manager
