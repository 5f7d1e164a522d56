"""An Account Manager's admin holds only the customers they look after: its forms cannot point at another
customer's records, its history pages do not open them, and no webhook carries them."""

import pytest
from django.urls import reverse

from engagements.models import AwsAccount, EngagementPartner, MarketplaceSubscription, TeamMember
from engagements.services import access_grant_revoke
from tests.api.conftest import api_client
from tests.factories import AwsAccountFactory, PartnerFactory, SuperUserFactory, SupportSubscriptionFactory

pytestmark = pytest.mark.django_db


def _refused(response) -> bool:
    """The admin answers a form naming a record outside the user's scope as an invalid choice."""
    return response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_an_account_manager_cannot_join_another_customers_engagement(client, alpha, bravo):
    client.force_login(alpha.account_manager)
    response = client.post(
        reverse("admin:engagements_teammember_add"),
        {"engagement": bravo.engagement.pk, "user": alpha.account_manager.pk, "role": "account_manager"}
        | {"joined_on": "2024-01-01", "name": "", "email": "", "left_on": "", "note": ""},
    )
    assert _refused(response)
    assert not TeamMember.objects.filter(engagement=bravo.engagement).exists()
    assert client.get(f"/my/customers/{bravo.customer.slug}/").status_code == 404


def test_an_account_manager_cannot_put_a_partner_on_another_customers_engagement(client, alpha, bravo):
    client.force_login(alpha.account_manager)
    response = client.post(
        reverse("admin:engagements_engagementpartner_add"),
        {"engagement": bravo.engagement.pk, "partner": alpha.partner.pk, "role": "consulting_lead"}
        | {"contract_start": "2024-01-01", "contract_end": "2030-01-01"}
        | {"territory": "", "business_function": ""},
    )
    assert _refused(response)
    assert not EngagementPartner.objects.filter(engagement=bravo.engagement, partner=alpha.partner).exists()


def test_an_account_manager_cannot_add_an_account_to_another_customer(client, alpha, bravo):
    client.force_login(alpha.account_manager)
    response = client.post(
        reverse("admin:engagements_awsaccount_add"),
        {"account_id": "999999999999", "name": "Planted", "customer": bravo.customer.pk}
        | {"paid_by": "customer"},
    )
    assert _refused(response)
    assert not AwsAccount.objects.filter(account_id="999999999999").exists()


def test_an_account_manager_still_adds_to_their_own_customers(client, alpha):
    client.force_login(alpha.account_manager)
    response = client.post(
        reverse("admin:engagements_awsaccount_add"),
        {"account_id": "111000000777", "name": "New", "customer": alpha.customer.pk, "paid_by": "customer"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert AwsAccount.objects.filter(account_id="111000000777", customer=alpha.customer).exists()


@pytest.mark.parametrize("record", ["customer", "engagement", "member", "grant"])
def test_history_pages_open_only_what_the_change_page_opens(client, alpha, bravo, record):
    obj = getattr(bravo, record)
    name = obj._meta.model_name
    version = obj.history.latest().history_id
    history = reverse(f"admin:engagements_{name}_history", args=[obj.pk])
    one_version = reverse(f"admin:engagements_{name}_simple_history", args=[obj.pk, version])
    client.force_login(alpha.account_manager)
    assert client.get(history).status_code == 302
    assert client.get(one_version).status_code == 302
    client.force_login(bravo.account_manager)
    assert client.get(history).status_code == 200
    assert client.get(one_version).status_code == 200


def test_a_support_subscriptions_history_stays_with_its_customers_staff(client, alpha, bravo):
    subscription = SupportSubscriptionFactory(customer=bravo.customer, note="Pays late: confidential")
    version = subscription.history.latest().history_id
    client.force_login(alpha.account_manager)
    url = reverse("admin:support_supportsubscription_simple_history", args=[subscription.pk, version])
    response = client.get(url)
    assert response.status_code == 302
    client.force_login(SuperUserFactory())
    assert "Pays late" in client.get(url).content.decode()


def test_an_account_managers_webhook_gets_only_their_customers_grants(alpha, bravo):
    endpoints = {}
    for name, organisation in (("alpha", alpha), ("bravo", bravo)):
        api = api_client(organisation.account_manager)
        created = api.post(
            "/api/v1/webhook-endpoints/",
            {"url": "http://127.0.0.1:8151/hook", "events": ["access_grant.revoked"]},
            format="json",
        )
        assert created.status_code == 201, created.content
        endpoints[name] = api
    access_grant_revoke(user=bravo.admin, grant=bravo.grant, reason="The contract ended.")

    def customers_in_deliveries(api):
        rows = api.get("/api/v1/webhook-deliveries/").json()["results"]
        return [row["payload"]["data"]["customer"] for row in rows]

    assert customers_in_deliveries(endpoints["alpha"]) == []
    assert customers_in_deliveries(endpoints["bravo"]) == [bravo.customer.slug]


def test_a_partner_sees_on_an_engagement_only_the_accounts_it_may_act_in(client, alpha):
    hidden = AwsAccountFactory(customer=alpha.customer, account_id="111000000099", name="Payroll")
    subscription = MarketplaceSubscription.objects.create(
        engagement=alpha.engagement,
        product="SIEM",
        vendor=PartnerFactory(partner_type="technology"),
        subscribed_by=alpha.admin,
    )
    subscription.accounts.set([hidden, alpha.member])
    client.force_login(alpha.partner_user)
    page = client.get(f"/my/engagements/{alpha.engagement.pk}/").content.decode()
    assert "SIEM" in page and alpha.member.account_id in page
    assert hidden.account_id not in page
    client.force_login(alpha.admin)
    assert hidden.account_id in client.get(f"/my/engagements/{alpha.engagement.pk}/").content.decode()


def test_an_account_manager_sees_in_the_user_admin_only_their_own_customers_people(client, alpha, bravo):
    changelist = reverse("admin:accounts_user_changelist")
    client.force_login(alpha.account_manager)
    shown = client.get(changelist, {"organisation": "customer"}).content.decode()
    assert alpha.admin.username in shown
    assert bravo.admin.username not in shown
    assert client.get(reverse("admin:accounts_user_change", args=[bravo.admin.pk])).status_code == 302
    client.force_login(SuperUserFactory())
    assert bravo.admin.username in client.get(changelist, {"organisation": "customer"}).content.decode()


def _customer_form(customer, **changes):
    data = {
        "name": customer.name,
        "slug": customer.slug,
        "agreement": customer.agreement,
        "time_zone": customer.time_zone,
        "account_manager": customer.account_manager_id or "",
        "solutions_architect": customer.solutions_architect_id or "",
        "tam": customer.tam_id or "",
        "access_administrators": list(customer.access_administrators.values_list("pk", flat=True)),
        "accounts-TOTAL_FORMS": 0,
        "accounts-INITIAL_FORMS": 0,
    }
    return data | changes


def test_who_looks_after_a_customer_is_named_by_its_account_manager_not_its_sa(client, alpha):
    from tests.factories import AccountManagerFactory, SolutionsArchitectFactory

    architect = SolutionsArchitectFactory()
    alpha.customer.solutions_architect = architect
    alpha.customer.save()
    change = reverse("admin:engagements_customer_change", args=[alpha.customer.pk])
    other_manager = AccountManagerFactory()

    client.force_login(architect)
    client.post(change, _customer_form(alpha.customer, account_manager=other_manager.pk))
    alpha.customer.refresh_from_db()
    assert alpha.customer.account_manager == alpha.account_manager

    client.force_login(alpha.account_manager)
    response = client.post(change, _customer_form(alpha.customer, tam=architect.pk))
    assert response.context["adminform"].form.errors.keys() == {"tam"}  # an SA is not a TAM
    outsider = [alpha.partner_user.pk]
    response = client.post(change, _customer_form(alpha.customer, access_administrators=outsider))
    errors = response.context["adminform"].form.errors
    assert errors["access_administrators"] == [
        f"Only the customer's own people can administer access: {alpha.partner_user}."
    ]
    assert not alpha.customer.access_administrators.filter(pk=alpha.partner_user.pk).exists()


def _change_form(page, **changes) -> dict:
    """What the admin change page would post back as it is, with `changes` typed over it."""
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        data[name] = "" if value is None else getattr(value, "pk", value)
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in ("INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[f"{management.prefix}-{name}"] = management[name].value()
        data[f"{management.prefix}-TOTAL_FORMS"] = 0
    return data | changes | {"_save": "Save"}


def test_an_engaged_partners_contract_is_not_handed_to_another_partner_in_the_admin(client, alpha):
    """The grants hang on the contract: naming another partner, role or end date on it would give the
    customer's accounts to a partner the customer never chose, or cut the contract under live access."""
    from engagements.selectors import accounts_visible_to
    from tests.factories import PartnerUserFactory

    intruder = PartnerFactory(name="Intruder Ltd")
    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_engagementpartner_change", args=[alpha.engaged.pk])
    page = client.get(url)
    assert "Intruder" not in page.content.decode()
    cut_short = alpha.engaged.contract_start.isoformat()
    response = client.post(
        url,
        _change_form(
            page,
            partner=intruder.pk,
            role="reseller",
            contract_end=cut_short,
            engagement=alpha.engagement.pk,
            territory="Europe",
        ),
    )
    assert response.status_code == 302
    engaged = EngagementPartner.objects.get(pk=alpha.engaged.pk)
    assert (engaged.partner, engaged.role, engaged.contract_end) == (
        alpha.partner,
        alpha.engaged.role,
        alpha.engaged.contract_end,
    )
    assert engaged.territory == "Europe"  # what does not touch the access still changes here
    assert not accounts_visible_to(PartnerUserFactory(partner=intruder)).exists()
    assert alpha.grant.is_live()


def test_an_account_stays_with_its_customer_in_the_admin(client, alpha, bravo):
    """Moving an account to another customer would leave the first customer's partner holding access
    to the second customer's account."""
    bravo.customer.account_manager = alpha.account_manager
    bravo.customer.save()
    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_awsaccount_change", args=[alpha.member.pk])
    page = client.get(url)
    response = client.post(
        url, _change_form(page, customer=bravo.customer.pk, account_id="111000000555", name="Renamed")
    )
    assert response.status_code == 302
    account = AwsAccount.objects.get(pk=alpha.member.pk)
    assert (account.customer, account.account_id, account.name) == (
        alpha.customer,
        alpha.member.account_id,
        "Renamed",
    )


def test_a_management_account_with_members_is_not_made_a_member_in_the_admin(client, alpha):
    other = AwsAccountFactory(customer=alpha.customer, account_id="111000000088", name="Other")
    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_awsaccount_change", args=[alpha.management.pk])
    page = client.get(url)
    response = client.post(url, _change_form(page, management_account=other.pk))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["management_account"] == [
        f"{alpha.management} is the management account of other accounts; it cannot be a member itself."
    ]
    response = client.post(url, _change_form(page, management_account=alpha.management.pk))
    assert response.context["adminform"].form.errors["management_account"] == [
        "An account cannot be its own management account."
    ]
    assert AwsAccount.objects.get(pk=alpha.management.pk).management_account is None


def test_an_engagements_software_is_not_put_on_another_customers_account_in_the_admin(client, alpha, bravo):
    """An Account Manager who looks after both customers sees both customers' accounts among the choices;
    a subscription of one customer's engagement still takes only that customer's accounts."""
    bravo.customer.account_manager = alpha.account_manager
    bravo.customer.save()
    vendor = PartnerFactory(partner_type="technology")
    refusal = f"Account(s) {bravo.member.account_id} are not {alpha.customer}'s."
    client.force_login(alpha.account_manager)
    response = client.post(
        reverse("admin:engagements_marketplacesubscription_add"),
        {"engagement": alpha.engagement.pk, "product": "SIEM", "vendor": vendor.pk}
        | {"accounts": [bravo.member.pk], "subscribed_on": "2024-01-01"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["accounts"] == [refusal]

    url = reverse("admin:engagements_engagement_change", args=[alpha.engagement.pk])
    data = _change_form(client.get(url))
    prefix = "marketplace_subscriptions"
    data |= {f"{prefix}-TOTAL_FORMS": 1, f"{prefix}-0-product": "SIEM", f"{prefix}-0-vendor": vendor.pk}
    data |= {f"{prefix}-0-accounts": [bravo.member.pk], f"{prefix}-0-subscribed_on": "2024-01-01"}
    response = client.post(url, data)
    assert response.status_code == 200
    inline = next(
        formset.formset
        for formset in response.context["inline_admin_formsets"]
        if formset.formset.prefix == prefix
    )
    assert inline.forms[0].errors["accounts"] == [refusal]
    assert not MarketplaceSubscription.objects.filter(product="SIEM").exists()
