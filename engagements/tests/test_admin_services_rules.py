"""Purchases in the admin hold the services' rules: Professional Services and marketplace subscriptions are
added through professional_services_add and marketplace_subscription_add (their refusals shown on the
forms, the consultant joining the team, the subscriber recorded), and what identifies a purchase is not
edited into another. Who left a team stays gone, and an action on grants one cannot see says so."""

import datetime

import pytest
from django.urls import reverse

from engagements import services
from engagements.choices import PartnerRole, ServicesBuyer
from engagements.models import (
    AccessGrant,
    Engagement,
    MarketplaceSubscription,
    ProfessionalServicesEngagement,
    TeamMember,
)
from engagements.selectors import customers_visible_to
from tests.factories import EngagementPartnerFactory, PartnerFactory, SolutionsArchitectFactory, TamFactory

from .test_admin_isolation import _change_form as _page_form

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)

BUYING_REFUSAL = (
    "Who bought these services, for which engagement, and their consultant stay as recorded: record "
    "other services as new ones."
)


def _url(model, action, *args):
    return reverse(f"admin:engagements_{model}_{action}", args=args)


def _errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


def _inline(response, prefix):
    assert response.status_code == 200, response.status_code
    return next(i.formset for i in response.context["inline_admin_formsets"] if i.formset.prefix == prefix)


def _value(value):
    if isinstance(value, list | tuple):
        return [getattr(item, "pk", item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return "" if value is None else getattr(value, "pk", value)


def _change_form(page, **changes) -> dict:
    """What the change page would post back as it is (many-to-many choices too), with `changes`."""
    return {name: _value(value) for name, value in _page_form(page).items()} | changes


def _with_rows(page, prefix, changed=None, new=()) -> dict:
    """The engagement page's post with the inline `prefix`'s rows as they are (the first changed by
    `changed`) and `new` rows after them."""
    data = _change_form(page)
    rows = _inline(page, prefix).initial_forms
    for index, form in enumerate(rows):
        values = {name: _value(form.initial.get(name, field.initial)) for name, field in form.fields.items()}
        values |= (changed or {}) if index == 0 else {}
        data |= {f"{prefix}-{index}-{name}": value for name, value in values.items()}
    for index, values in enumerate(new, start=len(rows)):
        data |= {f"{prefix}-{index}-{name}": value for name, value in values.items()}
    return data | {f"{prefix}-TOTAL_FORMS": len(rows) + len(new), f"{prefix}-INITIAL_FORMS": len(rows)}


def _cancel(engagement):
    Engagement.objects.filter(pk=engagement.pk).update(status="cancelled")


# Professional Services ---------------------------------------------------------------------------------


def _services_form(engagement, **fields):
    return {"engagement": engagement.pk, "bought_by": "customer", "buying_partner": "", "consultant": ""} | {
        "goal": "Run it",
        "capability_gap": "Operations",
        "starts_on": "2026-01-05",
        "ends_on": "",
        **fields,
    }


def _bought(alpha, **fields):
    return services.professional_services_add(
        user=alpha.account_manager,
        engagement=alpha.engagement,
        bought_by=ServicesBuyer.PARTNER,
        buying_partner=alpha.partner,
        goal="Hand over to an MSP",
        capability_gap="Managed services",
        starts_on=datetime.date(2026, 1, 5),
        **fields,
    )


def test_professional_services_added_in_the_admin_are_held_to_the_services_rules(client, alpha, bravo):
    client.force_login(alpha.account_manager)
    add = _url("professionalservicesengagement", "add")
    response = client.post(
        add, _services_form(alpha.engagement, bought_by="partner", buying_partner=bravo.partner.pk)
    )
    assert _errors(response)["buying_partner"] == [f"{bravo.partner} is not on “{alpha.engagement.title}”."]

    _cancel(alpha.engagement)
    response = client.post(add, _services_form(alpha.engagement))
    assert _errors(response)["__all__"] == [f"“{alpha.engagement.title}” is cancelled."]
    assert not ProfessionalServicesEngagement.objects.exists()


def test_a_partner_whose_contract_was_ended_early_no_longer_buys_services_for_it(client, alpha):
    services.engagement_partner_end(
        user=alpha.admin, engagement_partner=alpha.engaged, reason="We take the work in house"
    )
    client.force_login(alpha.account_manager)
    response = client.post(
        _url("professionalservicesengagement", "add"),
        _services_form(alpha.engagement, bought_by="partner", buying_partner=alpha.partner.pk),
    )
    assert _errors(response)["buying_partner"] == [
        f"{alpha.partner}'s contract on “{alpha.engagement.title}” ended on "
        f"{alpha.customer.local_today():%-d %b %Y}."
    ]
    assert not ProfessionalServicesEngagement.objects.exists()


def test_a_partner_refused_for_a_contract_over_is_told_when_it_ended_not_that_it_was_never_on_it(
    client, alpha
):
    today = alpha.customer.local_today()
    ran_out = EngagementPartnerFactory(
        engagement=alpha.engagement,
        partner=PartnerFactory(name="Blue Harbor Cloud"),
        role=PartnerRole.RESELLER,
        contract_start=today - 120 * DAY,
        contract_end=today - 3 * DAY,
    )
    never_ran = EngagementPartnerFactory(
        engagement=alpha.engagement,
        partner=PartnerFactory(name="Later Tech"),
        role=PartnerRole.TECHNOLOGY,
        contract_start=today + 10 * DAY,
        contract_end=today + 100 * DAY,
    )
    services.engagement_partner_end(user=alpha.admin, engagement_partner=never_ran, reason="Not needed")
    client.force_login(alpha.account_manager)
    refusals = {
        ran_out.partner: "Blue Harbor Cloud's contract on “Alpha Migration” ended on "
        f"{today - 3 * DAY:%-d %b %Y}.",
        never_ran.partner: "Later Tech's contract on “Alpha Migration” ended before it started "
        f"({today + 10 * DAY:%-d %b %Y}).",
    }
    for partner, refusal in refusals.items():
        response = client.post(
            _url("professionalservicesengagement", "add"),
            _services_form(alpha.engagement, bought_by="partner", buying_partner=partner.pk),
        )
        assert _errors(response)["buying_partner"] == [refusal]
    assert not ProfessionalServicesEngagement.objects.exists()


def test_the_consultant_of_services_added_in_the_admin_joins_the_team(client, alpha):
    consultant = SolutionsArchitectFactory()
    client.force_login(alpha.account_manager)
    response = client.post(
        _url("professionalservicesengagement", "add"),
        _services_form(
            alpha.engagement, bought_by="partner", buying_partner=alpha.partner.pk, consultant=consultant.pk
        ),
    )
    assert response.status_code == 302
    assert ProfessionalServicesEngagement.objects.get().consultant == consultant
    assert TeamMember.objects.filter(
        engagement=alpha.engagement, user=consultant, role="professional_services", left_on=None
    ).exists()
    assert list(customers_visible_to(consultant)) == [alpha.customer]


def test_who_bought_services_and_for_which_engagement_stay_as_recorded(client, alpha, bravo):
    """Neither the customer's TAM (another buyer) nor its AM (another customer's engagement) edits a
    purchase past the rules it was recorded under."""
    bought = _bought(alpha)
    tam = TamFactory()
    alpha.customer.tam = tam
    alpha.customer.save()
    bravo.customer.account_manager = alpha.account_manager
    bravo.customer.save()
    intruder = PartnerFactory(name="Intruder Ltd")
    url = _url("professionalservicesengagement", "change", bought.pk)
    for user, changes in (
        (tam, {"buying_partner": intruder.pk, "bought_by": "customer", "goal": "By the TAM"}),
        (alpha.account_manager, {"engagement": bravo.engagement.pk, "goal": "By the AM"}),
    ):
        client.force_login(user)
        page = client.get(url)
        assert {"engagement", "bought_by", "buying_partner", "consultant"}.isdisjoint(
            page.context["adminform"].form.fields
        )
        assert client.post(url, _change_form(page) | changes).status_code == 302
        bought.refresh_from_db()
        assert (bought.engagement, bought.bought_by, bought.buying_partner, bought.goal) == (
            alpha.engagement,
            "partner",
            alpha.partner,
            changes["goal"],
        )


def test_the_engagements_professional_services_inline_holds_the_same_rules(client, alpha, bravo):
    bought = _bought(alpha)
    consultant = SolutionsArchitectFactory()
    client.force_login(alpha.account_manager)
    url = _url("engagement", "change", alpha.engagement.pk)
    page = client.get(url)
    prefix = "professional_services"
    new = {
        "bought_by": "partner",
        "buying_partner": bravo.partner.pk,
        "goal": "More",
        "capability_gap": "Ops",
    }
    new |= {"starts_on": "2026-02-01", "consultant": consultant.pk}
    response = client.post(url, _with_rows(page, prefix, new=[new]))
    assert _inline(response, prefix).forms[1].errors["buying_partner"] == [
        f"{bravo.partner} is not on “{alpha.engagement.title}”."
    ]
    response = client.post(url, _with_rows(page, prefix, changed={"buying_partner": bravo.partner.pk}))
    assert _inline(response, prefix).forms[0].errors["buying_partner"] == [BUYING_REFUSAL]
    assert ProfessionalServicesEngagement.objects.get().buying_partner == alpha.partner

    # What the rules allow still goes, through the service: the consultant joins the team.
    response = client.post(url, _with_rows(page, prefix, new=[new | {"buying_partner": alpha.partner.pk}]))
    assert response.status_code == 302
    assert ProfessionalServicesEngagement.objects.exclude(pk=bought.pk).get().consultant == consultant
    assert list(customers_visible_to(consultant)) == [alpha.customer]


# Marketplace subscriptions -----------------------------------------------------------------------------


@pytest.fixture
def vendor(db):
    return PartnerFactory(name="Vendor Inc", partner_type="technology")


def _subscription_form(engagement, vendor, accounts, **fields):
    return {"engagement": engagement.pk, "product": "SIEM", "vendor": vendor.pk} | {
        "accounts": [account.pk for account in accounts],
        "subscribed_on": "2024-01-01",
        **fields,
    }


def _subscribed(alpha, vendor, product="SIEM"):
    return services.marketplace_subscription_add(
        user=alpha.account_manager,
        engagement=alpha.engagement,
        product=product,
        vendor=vendor,
        accounts=[alpha.member],
        subscribed_on=datetime.date(2024, 1, 1),
    )


def test_no_software_is_subscribed_or_changed_on_a_cancelled_engagement_in_the_admin(client, alpha, vendor):
    subscription = _subscribed(alpha, vendor)
    _cancel(alpha.engagement)
    refusal = [f"“{alpha.engagement.title}” is cancelled."]
    client.force_login(alpha.account_manager)
    response = client.post(
        _url("marketplacesubscription", "add"),
        _subscription_form(alpha.engagement, vendor, [alpha.member], product="Backup"),
    )
    assert _errors(response)["__all__"] == refusal
    url = _url("marketplacesubscription", "change", subscription.pk)
    response = client.post(url, _change_form(client.get(url), product="Renamed"))
    assert _errors(response)["__all__"] == refusal

    url = _url("engagement", "change", alpha.engagement.pk)
    page = client.get(url)
    prefix = "marketplace_subscriptions"
    new = {
        "product": "Backup",
        "vendor": vendor.pk,
        "accounts": [alpha.member.pk],
        "subscribed_on": "2024-01-01",
    }
    response = client.post(url, _with_rows(page, prefix, new=[new]))
    assert _inline(response, prefix).forms[1].non_field_errors() == refusal
    response = client.post(url, _with_rows(page, prefix, changed={"product": "Renamed"}))
    assert _inline(response, prefix).forms[0].non_field_errors() == refusal
    assert list(MarketplaceSubscription.objects.values_list("product", flat=True)) == ["SIEM"]


def test_the_admin_records_who_subscribed_and_offers_nobody_to_choose(client, alpha, bravo, vendor):
    client.force_login(alpha.account_manager)
    add = _url("marketplacesubscription", "add")
    page = client.get(add)
    assert "subscribed_by" not in page.context["adminform"].form.fields
    assert bravo.staff.username not in page.content.decode()
    forged = _subscription_form(alpha.engagement, vendor, [alpha.member], subscribed_by=bravo.staff.pk)
    assert client.post(add, forged).status_code == 302
    subscription = MarketplaceSubscription.objects.get()
    assert subscription.subscribed_by == alpha.account_manager

    url = _url("marketplacesubscription", "change", subscription.pk)
    assert client.post(url, _change_form(client.get(url), subscribed_by=bravo.staff.pk)).status_code == 302
    assert client.post(url, _change_form(client.get(url))).status_code == 302
    assert MarketplaceSubscription.objects.get().subscribed_by == alpha.account_manager

    url = _url("engagement", "change", alpha.engagement.pk)
    page = client.get(url)
    prefix = "marketplace_subscriptions"
    assert "subscribed_by" not in _inline(page, prefix).empty_form.fields
    new = {
        "product": "Backup",
        "vendor": vendor.pk,
        "accounts": [alpha.member.pk],
        "subscribed_on": "2024-01-01",
    }
    response = client.post(url, _with_rows(page, prefix, new=[new | {"subscribed_by": bravo.staff.pk}]))
    assert response.status_code == 302
    assert MarketplaceSubscription.objects.get(product="Backup").subscribed_by == alpha.account_manager


def test_a_subscription_starts_on_a_day_that_has_come_and_once_per_product(client, alpha, vendor):
    _subscribed(alpha, vendor, product="SIEM")
    client.force_login(alpha.account_manager)
    add = _url("marketplacesubscription", "add")
    tomorrow = alpha.customer.local_today() + datetime.timedelta(days=1)
    for day, message in (
        ("2999-01-01", "Give a date no later than 31 Dec 2199."),
        (
            tomorrow.isoformat(),
            f"A subscription starts when it is taken out: {tomorrow:%d %b %Y} has not come yet for "
            f"{alpha.customer} (today there is {alpha.customer.local_today():%d %b %Y}).",
        ),
    ):
        form = _subscription_form(
            alpha.engagement, vendor, [alpha.member], product="Backup", subscribed_on=day
        )
        assert _errors(client.post(add, form))["subscribed_on"] == [message]
    response = client.post(
        add, _subscription_form(alpha.engagement, vendor, [alpha.member], product=" siem ")
    )
    assert _errors(response)["product"] == [f"“{alpha.engagement.title}” already subscribes to SIEM."]
    assert list(MarketplaceSubscription.objects.values_list("product", flat=True)) == ["SIEM"]


# The team ----------------------------------------------------------------------------------------------


def test_a_member_who_left_comes_back_only_as_a_new_member(client, alpha):
    architect = SolutionsArchitectFactory()
    row = TeamMember.objects.create(
        engagement=alpha.engagement,
        user=architect,
        role="solutions_architect",
        joined_on=datetime.date(2024, 1, 1),
        left_on=datetime.date(2024, 6, 1),
    )
    refusal = ["This member left the team on 01 Jun 2024: add them again as a new member to bring them back."]
    client.force_login(alpha.account_manager)
    url = _url("teammember", "change", row.pk)
    response = client.post(url, _change_form(client.get(url), left_on=""))
    assert _errors(response)["left_on"] == refusal

    engagement_url = _url("engagement", "change", alpha.engagement.pk)
    page = client.get(engagement_url)
    response = client.post(engagement_url, _with_rows(page, "team_members", changed={"left_on": ""}))
    assert _inline(response, "team_members").forms[0].errors["left_on"] == refusal
    assert TeamMember.objects.get(pk=row.pk).left_on == datetime.date(2024, 6, 1)
    assert not customers_visible_to(architect).exists()

    # The day they left may still be corrected.
    assert client.post(url, _change_form(client.get(url), left_on="2024-06-02")).status_code == 302
    assert TeamMember.objects.get(pk=row.pk).left_on == datetime.date(2024, 6, 2)


# Access grants -----------------------------------------------------------------------------------------


def test_revoking_grants_one_cannot_act_on_says_so(client, alpha, bravo):
    client.force_login(alpha.account_manager)
    response = client.post(
        reverse("admin:engagements_accessgrant_changelist"),
        {"action": "revoke", "_selected_action": [bravo.grant.pk]},
        follow=True,
    )
    told = [str(message) for message in response.context["messages"]]
    assert told == ["None of the selected access grants is one you can revoke."]
    assert AccessGrant.objects.get(pk=bravo.grant.pk).revoked_at is None


def test_a_new_engagements_purchases_are_added_through_the_services(client, alpha, vendor):
    from .test_admin import _engagement_add_form

    consultant = SolutionsArchitectFactory()
    client.force_login(alpha.account_manager)
    data = _engagement_add_form(client, customer=alpha.customer.pk)
    data |= {"professional_services-TOTAL_FORMS": 1, "professional_services-0-bought_by": "partner"}
    data |= {
        "professional_services-0-buying_partner": alpha.partner.pk,
        "professional_services-0-goal": "Run",
    }
    data |= {
        "professional_services-0-capability_gap": "Ops",
        "professional_services-0-starts_on": "2026-01-05",
    }
    data |= {"marketplace_subscriptions-TOTAL_FORMS": 1, "marketplace_subscriptions-0-product": "SIEM"}
    data |= {"marketplace_subscriptions-0-vendor": vendor.pk}
    data |= {"marketplace_subscriptions-0-accounts": [alpha.member.pk]}
    data |= {"marketplace_subscriptions-0-subscribed_on": "2024-01-01"}
    add = reverse("admin:engagements_engagement_add")
    # No partner is on an engagement not started yet, so none buys for it.
    response = client.post(add, data)
    assert _inline(response, "professional_services").forms[0].errors["buying_partner"] == [
        f"{alpha.partner} is not on “Move”."
    ]
    assert not Engagement.objects.filter(title="Move").exists()

    data |= {"professional_services-0-bought_by": "customer", "professional_services-0-buying_partner": ""}
    data |= {"professional_services-0-consultant": consultant.pk}
    assert client.post(add, data).status_code == 302
    engagement = Engagement.objects.get(title="Move")
    assert engagement.marketplace_subscriptions.get().subscribed_by == alpha.account_manager
    assert list(engagement.marketplace_subscriptions.get().accounts.all()) == [alpha.member]
    assert engagement.team_members.filter(user=consultant, role="professional_services").exists()
