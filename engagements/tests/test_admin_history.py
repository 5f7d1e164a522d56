"""The admin's history of an engagement's team members, Professional Services and marketplace subscriptions
shows who changed what, whether the change was made on the record's own admin page, on the engagement's
page or by a service outside a request; and a history page costs the same statements however many
versions it shows."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from engagements import services
from engagements.choices import ServicesBuyer, TeamRole
from engagements.models import MarketplaceSubscription, ProfessionalServicesEngagement, TeamMember
from tests.admin_history import changes_shown, edit_in_admin, history_page
from tests.factories import AwsAccountFactory, PartnerFactory, SolutionsArchitectFactory, SuperUserFactory

from .test_admin_services_rules import _change_form, _inline, _subscribed, _with_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def am(client, alpha):
    user = alpha.account_manager
    user.first_name, user.last_name = "Amira", "Manager"
    user.save()
    client.force_login(user)
    return user


@pytest.fixture
def vendor(db):
    return PartnerFactory(name="Vendor Inc", partner_type="technology")


def _form_as_shown(client, url) -> dict:
    return _change_form(client.get(url))


def _member(alpha, user, **fields):
    return services.team_member_add(
        user=alpha.account_manager,
        engagement=alpha.engagement,
        role=TeamRole.SOLUTIONS_ARCHITECT,
        member=user,
        joined_on=datetime.date(2024, 1, 1),
        **fields,
    )


def _bought(alpha):
    return services.professional_services_add(
        user=alpha.account_manager,
        engagement=alpha.engagement,
        bought_by=ServicesBuyer.PARTNER,
        buying_partner=alpha.partner,
        goal="Hand over to an MSP",
        capability_gap="Managed services",
        starts_on=datetime.date(2026, 1, 5),
    )


def test_a_team_members_departure_entered_in_the_admin_shows_in_its_history_with_who(client, alpha, am):
    member = _member(alpha, SolutionsArchitectFactory())

    edit_in_admin(client, member, _form_as_shown, left_on="2024-06-01")

    response = history_page(client, member)
    assert (am, "Left on", "None", "2024-06-01") in changes_shown(response)
    page = response.content.decode()
    assert "Left on" in page and "Amira Manager" in page
    # Who added them is recorded too, by the service that did (outside a request here).
    assert [(v.history_type, v.history_user) for v in member.history.order_by("history_id")] == [
        ("+", am),
        ("~", am),
    ]


def test_professional_services_dates_changed_in_the_admin_show_in_their_history_with_who(client, alpha, am):
    bought = _bought(alpha)

    edit_in_admin(client, bought, _form_as_shown, ends_on="2026-03-31", goal="Hand over to the MSP by March")

    shown = changes_shown(history_page(client, bought))
    assert (am, "Ends on", "None", "2026-03-31") in shown
    assert (am, "Goal", "Hand over to an MSP", "Hand over to the MSP by March") in shown
    assert bought.history.earliest("history_date").history_user == am


def test_a_subscriptions_accounts_changed_in_the_admin_show_in_its_history_with_who(
    client, alpha, am, vendor
):
    subscription = _subscribed(alpha, vendor)

    edit_in_admin(
        client,
        subscription,
        _form_as_shown,
        product="SIEM Pro",
        accounts=[alpha.member.pk, alpha.management.pk],
    )

    response = history_page(client, subscription)
    shown = changes_shown(response)
    assert (am, "Product", "SIEM", "SIEM Pro") in shown
    who, _, old, new = next(change for change in shown if change[1] == "Accounts")
    assert who == am
    assert alpha.member.account_id in old and alpha.management.account_id not in old
    assert alpha.member.account_id in new and alpha.management.account_id in new
    assert "Amira Manager" in response.content.decode()


def test_rows_added_and_changed_on_the_engagements_page_show_in_their_history_with_who(
    client, alpha, am, vendor
):
    subscription = _subscribed(alpha, vendor)
    url = reverse("admin:engagements_engagement_change", args=[alpha.engagement.pk])
    prefix = "marketplace_subscriptions"
    page = client.get(url)
    new = {
        "product": "Backup",
        "vendor": vendor.pk,
        "accounts": [alpha.member.pk],
        "subscribed_on": "2024-01-01",
    }
    response = client.post(url, _with_rows(page, prefix, changed={"product": "SIEM Pro"}, new=[new]))
    assert response.status_code == 302, _inline(response, prefix).errors

    assert (am, "Product", "SIEM", "SIEM Pro") in changes_shown(history_page(client, subscription))
    backup = MarketplaceSubscription.objects.get(product="Backup")
    # Added, then given its accounts: both by the account manager.
    assert {v.history_user for v in backup.history.all()} == {am}
    assert backup.history.earliest("history_date").history_type == "+"


def test_a_team_member_deleted_in_the_admin_is_recorded_with_who(client, alpha):
    member = _member(alpha, SolutionsArchitectFactory())
    superuser = SuperUserFactory()
    client.force_login(superuser)
    url = reverse("admin:engagements_teammember_delete", args=[member.pk])

    assert client.post(url, {"post": "yes"}).status_code == 302

    assert not TeamMember.objects.filter(pk=member.pk).exists()
    latest = TeamMember.history.filter(id=member.pk).latest("history_date")
    assert (latest.history_type, latest.history_user) == ("-", superuser)


def test_team_members_the_services_add_on_their_own_are_recorded_with_who(alpha):
    consultant = SolutionsArchitectFactory()
    services.professional_services_add(
        user=alpha.account_manager,
        engagement=alpha.engagement,
        bought_by=ServicesBuyer.CUSTOMER,
        goal="Run it",
        capability_gap="Operations",
        consultant=consultant,
        starts_on=datetime.date(2026, 1, 5),
    )

    joined = TeamMember.objects.get(engagement=alpha.engagement, user=consultant)
    assert [(v.history_type, v.history_user) for v in joined.history.all()] == [("+", alpha.account_manager)]


def _versions(alpha, vendor, n: int):
    """A team member, Professional Services and a subscription with `n` more versions each (the
    subscription alternately renamed and given or losing an account)."""
    member = _member(alpha, SolutionsArchitectFactory())
    bought = _bought(alpha)
    subscription = _subscribed(alpha, vendor, product=f"Product {n}")
    extra = AwsAccountFactory(customer=alpha.customer)
    for i in range(n):
        member.note = f"note {i}"
        member.save()
        bought.capability_gap = f"gap {i}"
        bought.save()
        if i % 2:
            subscription.product = f"Product {n} v{i}"
            subscription.save()
        elif i % 4:
            subscription.accounts.remove(extra)
        else:
            subscription.accounts.add(extra)
    return member, bought, subscription


@pytest.mark.parametrize("model", [TeamMember, ProfessionalServicesEngagement, MarketplaceSubscription])
def test_history_pages_cost_the_same_however_many_versions_they_show(client, alpha, vendor, model):
    client.force_login(SuperUserFactory())
    few = next(r for r in _versions(alpha, vendor, 3) if isinstance(r, model))
    many = next(r for r in _versions(alpha, vendor, 30) if isinstance(r, model))

    def history(record):
        url = reverse(f"admin:engagements_{model._meta.model_name}_history", args=[record.pk])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries), response

    history(few)  # the session's first request reads more
    few_queries, _ = history(few)
    many_queries, response = history(many)

    assert many_queries == few_queries
    assert len(response.context["page_obj"]) >= 31  # (a subscription is added, then given its accounts)
    # Each version is named as the record is (its person, vendor or engagement).
    assert escape(str(many)) in response.content.decode()
