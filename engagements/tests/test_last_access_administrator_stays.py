"""A customer keeps an access administrator while it has other active people: the user admin refuses to
deactivate the last one (untick Active) or move them to another organisation, naming the customer and
saying to give it another first, as the customer's own page refuses removing the last one. Without one,
nobody on the customer's side could grant partners access to its accounts. The last of its active people
may leave, though: nobody is left without one, and a customer is emptied so before it is deleted."""

import pytest
from django.test import Client
from django.urls import reverse

from apn_portal.accounts.models import User
from apn_portal.exceptions import DomainError
from engagements import selectors, services
from engagements.models import Customer
from tests.admin_forms import user_change_data
from tests.factories import CustomerFactory, CustomerUserFactory, PartnerFactory, SuperUserFactory

pytestmark = pytest.mark.django_db

LAST = (
    "Alice Admin is the last access administrator of Alpha Customer, and nobody else there could grant "
    "partners access to its accounts: give it another access administrator first (the customer's page, "
    "Access administrators)."
)


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(SuperUserFactory())
    return client


@pytest.fixture
def alice(alpha):
    alpha.admin.first_name, alpha.admin.last_name = "Alice", "Admin"
    alpha.admin.save()
    return alpha.admin


def _change(client, user, **changes):
    return client.post(
        reverse("admin:accounts_user_change", args=[user.pk]), user_change_data(user, **changes)
    )


def _form_errors(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return list(response.context["adminform"].form.non_field_errors())


LEAVING = {
    "deactivated": lambda alpha: {"is_active": False},
    "moved to another customer": lambda alpha: {"customer": CustomerFactory().pk},
    "moved to a partner": lambda alpha: {"customer": None, "partner": PartnerFactory().pk},
}


@pytest.mark.parametrize("leaving", LEAVING)
def test_the_last_access_administrator_is_not_deactivated_nor_moved_away(admin_client, alpha, alice, leaving):
    response = _change(admin_client, alice, **LEAVING[leaving](alpha))

    assert _form_errors(response) == [LAST]
    alice.refresh_from_db()
    assert alice.is_active and alice.customer_id == alpha.customer.pk
    assert selectors.user_can_manage_access(alice, alpha.customer)


def test_an_access_administrator_who_already_left_does_not_count(admin_client, alpha, alice):
    gone = CustomerUserFactory(customer=alpha.customer, access_admin=True)
    User.objects.filter(pk=gone.pk).update(is_active=False)

    assert _form_errors(_change(admin_client, alice, is_active=False)) == [LAST]


def test_once_the_customer_has_another_the_access_administrator_may_be_deactivated(
    admin_client, alpha, alice
):
    alpha.customer.access_administrators.add(alpha.staff)

    response = _change(admin_client, alice, is_active=False)

    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active
    assert list(selectors.customer_access_administrators(alpha.customer)) == [alpha.staff]
    # The last one left is kept in turn, while somebody else is still there.
    CustomerUserFactory(customer=alpha.customer)
    assert _form_errors(_change(admin_client, alpha.staff, is_active=False)) == [
        f"{alpha.staff} is the last access administrator of Alpha Customer, and nobody else there could "
        "grant partners access to its accounts: give it another access administrator first (the "
        "customer's page, Access administrators)."
    ]


def test_the_last_access_administrator_is_otherwise_edited_as_before(admin_client, alice):
    response = _change(admin_client, alice, email="alice.new@alpha.example")

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.email == "alice.new@alpha.example"


def test_a_customers_other_staff_are_deactivated_as_before(admin_client, alpha, alice):
    response = _change(admin_client, alpha.staff, is_active=False)

    assert response.status_code == 302
    alpha.staff.refresh_from_db()
    assert not alpha.staff.is_active


@pytest.mark.parametrize("leaving", ["deactivated", "moved to another customer"])
def test_the_customers_page_keeping_only_one_the_user_admin_took_away_meanwhile_is_refused(
    admin_client, alpha, alice, leaving
):
    alpha.customer.access_administrators.add(alpha.staff)
    members = [User.objects.get(pk=alice.pk)]  # read by the customer's page while Alice was still one
    assert _change(admin_client, alice, **LEAVING[leaving](alpha)).status_code == 302

    with pytest.raises(DomainError, match="would be left without an access administrator"):
        services.customer_access_administrators_set(
            user=alpha.account_manager, customer=alpha.customer, members=members
        )
    assert list(selectors.customer_access_administrators(alpha.customer)) == [alpha.staff]


@pytest.mark.parametrize("leaving", LEAVING)
def test_the_last_access_administrator_is_kept_while_one_other_active_person_remains(
    admin_client, alpha, alice, leaving
):
    User.objects.filter(pk=alpha.staff.pk).update(is_active=False)
    remaining = CustomerUserFactory(customer=alpha.customer)

    assert _form_errors(_change(admin_client, alice, **LEAVING[leaving](alpha))) == [LAST]
    # Once the other one is gone too, nobody is left without an access administrator.
    assert _change(admin_client, remaining, customer=None).status_code == 302
    assert _change(admin_client, alice, **LEAVING[leaving](alpha)).status_code == 302


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.mark.parametrize("last_leaves", ["moved out", "deactivated, then moved out"])
def test_a_customer_emptied_as_its_deletion_refusal_says_is_deleted(admin_client, last_leaves):
    customer = CustomerFactory(name="Leaving plc")
    alice = CustomerUserFactory(
        customer=customer, access_admin=True, username="alice", first_name="Alice", last_name="Admin"
    )
    bob = CustomerUserFactory(customer=customer, username="bob")
    dan = CustomerUserFactory(customer=customer, username="dan", is_active=False)
    delete = reverse("admin:engagements_customer_delete", args=[customer.pk])

    refused = admin_client.post(delete, {"post": "yes"}, follow=True)
    assert _messages(refused) == [
        "Not deleted: Leaving plc still has 3 people, who belong to it even deactivated (alice, bob, dan): "
        "move them to another organisation, or none, in the user admin first, its access administrators "
        "after the others."
    ]
    # As it says: the others first, then the last access administrator, whom nobody is left needing.
    for person in (bob, dan):
        assert _change(admin_client, person, customer=None).status_code == 302
    if last_leaves == "deactivated, then moved out":
        assert _change(admin_client, alice, is_active=False).status_code == 302
        alice.refresh_from_db()
    response = _change(admin_client, alice, customer=None)
    assert response.status_code == 302, _form_errors(response)

    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not Customer.objects.filter(pk=customer.pk).exists()
    alice.refresh_from_db()
    assert alice.customer_id is None


def _customer_page_data(customer, **changes) -> dict:
    return {
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
        **changes,
    }


def test_after_the_last_person_left_the_next_is_made_access_administrator_on_the_customers_page(
    admin_client,
):
    customer = CustomerFactory(name="Quiet plc")
    only = CustomerUserFactory(customer=customer, access_admin=True, username="only")
    assert _change(admin_client, only, is_active=False).status_code == 302
    change = reverse("admin:engagements_customer_change", args=[customer.pk])

    # The page saves with nobody holding the role, as it has nobody to hold it.
    response = admin_client.post(change, _customer_page_data(customer, name="Quiet Renamed plc"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.name == "Quiet Renamed plc"
    newcomer = CustomerUserFactory(customer=customer, username="newcomer")
    response = admin_client.post(change, _customer_page_data(customer, access_administrators=[newcomer.pk]))
    assert response.status_code == 302, response.context["adminform"].form.errors

    assert list(selectors.customer_access_administrators(customer)) == [newcomer]
    assert selectors.user_can_manage_access(newcomer, customer)
