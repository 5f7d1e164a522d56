"""An Account Manager or Solutions Architect looks after the customers naming them only while they hold the
role: the user admin refuses to take the role (or deactivate them, or make them anything but provider
staff) while a customer still names them there, and somebody whose role went anyway (by a path that skips
the admin) reads, revokes and names nothing of the customer's any more."""

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User
from apn_portal.exceptions import PermissionDeniedError
from engagements import selectors, services
from engagements.models import AccessGrant
from partners.tests.test_admin import change_form_data
from tests.admin_forms import user_change_data
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    CustomerFactory,
    SolutionsArchitectFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db


def _take_role(user, role: StaffRole) -> User:
    """The role taken by a path that skips the admin's guard (the shell, a group edit): as stored again."""
    user.groups.remove(Group.objects.get(name=role.value))
    return User.objects.get(pk=user.pk)


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def am():
    return AccountManagerFactory(first_name="Ann", last_name="Manager")


@pytest.fixture
def customer(am):
    return CustomerFactory(name="Acme", account_manager=am)


def test_a_former_account_manager_no_longer_reads_or_revokes_the_customers_records(am, customer):
    grant = AccessGrantFactory(engagement_partner__engagement__customer=customer)
    former = _take_role(am, StaffRole.ACCOUNT_MANAGER)
    client = _api(former)

    seen = {
        name: len(client.get(f"/api/v1/{name}/").json()["results"])
        for name in ("customers", "aws-accounts", "access-grants")
    }
    revoke = client.post(f"/api/v1/access-grants/{grant.pk}/revoke/", {"reason": "bye"}, format="json")

    assert (seen, revoke.status_code) == ({"customers": 0, "aws-accounts": 0, "access-grants": 0}, 404)
    assert AccessGrant.objects.get(pk=grant.pk).revoked_at is None


def test_a_former_account_manager_names_nobody_and_manages_nothing(am, customer):
    former = _take_role(am, StaffRole.ACCOUNT_MANAGER)

    assert not selectors.user_is_assigned_to_customer(former, customer)
    assert not selectors.user_names_customer_staff(former, customer)
    assert not selectors.user_can_manage_customer(former, customer)
    with pytest.raises(PermissionDeniedError):
        services.customer_assign_staff(
            user=former, customer=customer, field="solutions_architect", member=SolutionsArchitectFactory()
        )
    page = Client()
    page.force_login(former)
    assert "Acme" not in page.get(reverse("engagements:customers")).content.decode()


def test_a_former_solutions_architect_no_longer_sees_the_customer():
    sa = SolutionsArchitectFactory()
    customer = CustomerFactory(solutions_architect=sa)
    assert selectors.customers_visible_to(sa).filter(pk=customer.pk).exists()

    former = _take_role(sa, StaffRole.SOLUTIONS_ARCHITECT)

    assert not selectors.customers_visible_to(former).exists()
    assert not selectors.user_is_assigned_to_customer(former, customer)


def test_the_roles_are_checked_in_a_bounded_number_of_queries(am, customer, django_assert_max_num_queries):
    CustomerFactory.create_batch(3, account_manager=am)
    am = User.objects.get(pk=am.pk)
    with django_assert_max_num_queries(2):  # their roles, once; the customers
        customers = list(selectors.customers_visible_to(am))
        assert len(customers) == 4
        assert all(selectors.user_is_assigned_to_customer(am, c) for c in customers)


# The user admin ------------------------------------------------------------------------------------------


def _admin() -> Client:
    client = Client()
    client.force_login(SuperUserFactory())
    return client


def _change(client, user, **changes):
    return client.post(
        reverse("admin:accounts_user_change", args=[user.pk]), user_change_data(user, **changes)
    )


def _form_errors(response) -> str:
    assert response.status_code == 200, response.status_code
    return " ".join(response.context["adminform"].form.non_field_errors())


def _groups_without(user, role: StaffRole) -> list[int]:
    return [group.pk for group in user.groups.exclude(name=role.value)]


def test_taking_the_role_of_a_customers_account_manager_is_refused_naming_the_customers(am, customer):
    CustomerFactory(name="Bolt", account_manager=am)

    response = _change(_admin(), am, groups=_groups_without(am, StaffRole.ACCOUNT_MANAGER))

    assert _form_errors(response) == (
        "Ann Manager is the Account Manager of Acme, Bolt: name another Account Manager there first."
    )
    assert User.objects.get(pk=am.pk).has_role(StaffRole.ACCOUNT_MANAGER)


@pytest.mark.parametrize(
    "change", [{"is_active": False}, {"is_staff": False}], ids=["deactivated", "no longer staff"]
)
def test_a_customers_solutions_architect_stays_active_provider_staff(change):
    sa = SolutionsArchitectFactory(first_name="Sol", last_name="Arch")
    CustomerFactory(name="Acme", solutions_architect=sa)

    response = _change(_admin(), sa, **change)

    assert _form_errors(response) == (
        "Sol Arch is the Solutions Architect of Acme: name another Solutions Architect there first."
    )
    sa.refresh_from_db()
    assert sa.is_active and sa.is_staff


def test_once_another_account_manager_is_named_the_role_may_be_taken(am, customer):
    services.customer_assign_staff(
        user=SuperUserFactory(), customer=customer, field="account_manager", member=AccountManagerFactory()
    )

    response = _change(_admin(), am, is_active=False, groups=_groups_without(am, StaffRole.ACCOUNT_MANAGER))

    assert response.status_code == 302
    am.refresh_from_db()
    assert not am.is_active


def test_an_account_manager_keeps_being_edited_otherwise(am, customer):
    response = _change(_admin(), am, email="ann.new@provider.example")

    assert response.status_code == 302
    am.refresh_from_db()
    assert am.email == "ann.new@provider.example"


def _selected_option(page: str, name: str) -> str | None:
    """The value the change page's select `name` shows chosen: what the browser posts back untouched."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    chosen = re.search(r'<option value="([^"]*)" selected>', select.group(1))
    return chosen.group(1) if chosen else None


@pytest.mark.parametrize("leaves", ["deactivated", "role-taken"])
def test_the_customer_admin_keeps_a_former_account_manager_when_other_fields_are_edited(
    client, am, customer, leaves
):
    if leaves == "deactivated":  # by a path that skips the user admin's guard (the shell, an older release)
        User.objects.filter(pk=am.pk).update(is_active=False)
    else:
        _take_role(am, StaffRole.ACCOUNT_MANAGER)
    client.force_login(SuperUserFactory())
    url = reverse("admin:engagements_customer_change", args=[customer.pk])

    page = client.get(url).content.decode()
    shown = _selected_option(page, "account_manager")
    data = change_form_data(client, url) | {"account_manager": shown or "", "name": "Acme Ltd"}
    response = client.post(url, data)

    assert shown == str(am.pk)
    assert "Ann Manager is no longer a current Account Manager" in page
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "Acme Ltd"
    assert customer.account_manager_id == am.pk


def test_the_customer_admin_still_refuses_another_former_account_manager(client, am, customer):
    _take_role(am, StaffRole.ACCOUNT_MANAGER)
    other = _take_role(AccountManagerFactory(), StaffRole.ACCOUNT_MANAGER)
    client.force_login(SuperUserFactory())
    url = reverse("admin:engagements_customer_change", args=[customer.pk])

    response = client.post(url, change_form_data(client, url) | {"account_manager": str(other.pk)})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    customer.refresh_from_db()
    assert customer.account_manager_id == am.pk
