"""Deleting a user in the admin (their page's Delete, the list's bulk delete) is refused as deactivating them
is while a partner or a customer still names them in a role, and for anybody whose name is on what they did
here (a tier change, an approval, a validation...), which deleting would leave saying nobody did it:
deactivating them keeps it. So it is for the owner of webhook endpoints, which would go with them, and for
a customer's access administrator, whom the customer would lose unrecorded. Somebody who did nothing (a
mistyped new account) is deleted as before."""

import uuid

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apn_portal.accounts.models import User
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from apn_portal.webhooks.services import webhook_endpoint_create
from engagements.models import Customer
from partners.choices import PartnerType
from partners.services import partner_tier_change
from tests.admin_forms import user_change_data
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    CustomerUserFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffUserFactory,
    SuperUserFactory,
    tier,
)


@pytest.fixture
def admin(db):
    client = Client()
    client.force_login(SuperUserFactory(username="root"))
    return client


def _delete_page(client, user):
    return client.post(reverse("admin:accounts_user_delete", args=[user.pk]), {"post": "yes"})


def _bulk_delete(client, *users):
    return client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [user.pk for user in users], "post": "yes"},
    )


def _said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_deleting_a_partners_pdm_is_refused_as_deactivating_them_is(admin):
    pdm = PdmFactory(username="pat-pdm")
    partner = PartnerFactory(pdm=pdm, name="Orphaned Ltd")

    for response in (_delete_page(admin, pdm), _bulk_delete(admin, pdm)):
        assert f"Not deleted: {pdm} is the PDM of Orphaned Ltd: name another PDM there first." in _said(
            response
        )
    partner.refresh_from_db()
    assert partner.pdm == pdm


@pytest.mark.django_db
def test_bulk_deleting_a_customers_account_manager_is_refused_naming_the_customer(admin):
    am = AccountManagerFactory(username="amy-am")
    customer = CustomerFactory(account_manager=am, name="Looked After Inc")
    bystander = StaffUserFactory(username="mistyped")

    response = _bulk_delete(admin, am, bystander)

    assert (
        f"Not deleted: {am} is the Account Manager of Looked After Inc: name another Account Manager "
        "there first." in _said(response)
    )
    customer.refresh_from_db()
    assert customer.account_manager == am
    # A selection with a refused user is refused whole.
    assert User.objects.filter(pk=bystander.pk).exists()


@pytest.mark.django_db
def test_deleting_somebody_who_changed_a_tier_is_refused_pointing_to_deactivation(admin):
    gone = PdmFactory(username="gone-pdm")
    partner = PartnerFactory(pdm=gone)
    change = partner_tier_change(
        partner=partner,
        to_tier=tier(PartnerType.CONSULTING, "select"),
        reason="Promoted on evidence",
        user=gone,
    )
    partner.pdm = PdmFactory()  # their partners handed over: only what they did keeps them
    partner.save()

    for response in (_delete_page(admin, gone), _bulk_delete(admin, gone)):
        # The page's message is still unread when the bulk delete says it again.
        [said] = {text for text in _said(response) if "is named on what they did" in text}
        assert said.startswith(f"Not deleted: {gone} is named on what they did here: ")
        assert "1 tier change (changed by)" in said
        assert "deactivate them instead (untick Active on their page)" in said
    change.refresh_from_db()
    assert change.changed_by == gone

    # Deactivating them, as advised, keeps who made the change.
    response = admin.post(
        reverse("admin:accounts_user_change", args=[gone.pk]), user_change_data(gone, is_active=False)
    )
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.changed_by == gone and not change.changed_by.is_active


@pytest.mark.django_db
def test_deleting_the_owner_of_webhook_endpoints_is_refused_saying_how_many(admin):
    owner = PartnerUserFactory(username="integrator")
    # Registered for them by a superuser: the endpoints' history names the superuser, not them.
    registrar = SuperUserFactory()
    for path in ("orders", "tiers"):
        webhook_endpoint_create(
            user=owner,
            url=f"http://localhost:9000/{path}",
            events=["partner.tier_changed"],
            acting_user=registrar,
        )
    endpoint = WebhookEndpoint.objects.first()
    WebhookDelivery.objects.create(
        endpoint=endpoint, event="partner.tier_changed", event_id=uuid.uuid4(), payload={}
    )

    for response in (_delete_page(admin, owner), _bulk_delete(admin, owner)):
        [said] = {text for text in _said(response) if "webhook endpoints" in text}
        assert said.startswith(
            f"Not deleted: {owner} owns 2 webhook endpoints (http://localhost:9000/orders, "
            "http://localhost:9000/tiers)"
        )
        assert "deactivate them instead (untick Active on their page)" in said
        assert "or delete the endpoints first" in said
    assert User.objects.filter(pk=owner.pk).exists()
    assert WebhookEndpoint.objects.filter(owner=owner).count() == 2
    assert WebhookDelivery.objects.filter(endpoint=endpoint).exists()

    # With the endpoints deleted first, as advised, they may go.
    WebhookEndpoint.objects.filter(owner=owner).delete()
    assert _delete_page(admin, owner).status_code == 302
    assert not User.objects.filter(pk=owner.pk).exists()


@pytest.mark.django_db
def test_deleting_a_customers_access_administrator_is_refused_naming_the_customers(admin):
    keeper = CustomerUserFactory(username="keeper", access_admin=True, customer__name="Guarded Ltd")
    colleague = CustomerUserFactory(username="colleague", customer=keeper.customer, access_admin=True)

    said = _said(_delete_page(admin, keeper))
    assert (
        f"Not deleted: {keeper} is an access administrator of Guarded Ltd, which would lose them with no "
        "trace in its history: take them off there first (the customer's page, Access administrators), or "
        "deactivate them instead (untick Active on their page)." in said
    )
    said = _said(_bulk_delete(admin, keeper, colleague))
    for person in (keeper, colleague):
        assert any(
            text.startswith(f"Not deleted: {person} is an access administrator of Guarded") for text in said
        )
    customer = Customer.objects.get(name="Guarded Ltd")
    assert set(customer.access_administrators.all()) == {keeper, colleague}

    # Taken off the customer's access administrators first, they may go.
    customer.access_administrators.remove(keeper)
    assert _delete_page(admin, keeper).status_code == 302
    assert not User.objects.filter(pk=keeper.pk).exists()


@pytest.mark.django_db
def test_somebody_who_did_nothing_here_is_deleted(admin):
    mistyped, another = StaffUserFactory(username="jhon"), StaffUserFactory(username="jnae")
    # A partner's or a customer's people with no endpoint and no access to administer go as well.
    partners, customers = PartnerUserFactory(username="p-new"), CustomerUserFactory(username="c-new")

    assert _delete_page(admin, mistyped).status_code == 302
    assert _bulk_delete(admin, another, partners, customers).status_code == 302

    assert not User.objects.filter(pk__in=[mistyped.pk, another.pk, partners.pk, customers.pk]).exists()
