"""Somebody who has left the provider (deactivated) is nobody's Account Manager or Solutions Architect
from then on: the services refuse to name them, saying they have left, the API answers 400 with that, and
the admin's pickers do not offer them, as a TAM who has left is not offered either."""

import pytest
from django.forms import modelform_factory
from django.urls import reverse
from rest_framework.test import APIClient

from apn_portal.exceptions import DomainError
from engagements.models import Customer
from engagements.services import customer_assign_staff, customer_create
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    SolutionsArchitectFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db

STAFF = {"account_manager": AccountManagerFactory, "solutions_architect": SolutionsArchitectFactory}


@pytest.mark.parametrize("field", STAFF)
def test_a_member_of_staff_who_has_left_is_not_named(field):
    gone = STAFF[field](is_active=False, first_name="Gus", last_name="Gone")
    customer = CustomerFactory()

    with pytest.raises(DomainError) as refusal:
        customer_assign_staff(user=SuperUserFactory(), customer=customer, field=field, member=gone)

    assert (refusal.value.field, refusal.value.message) == (
        field,
        "Gus Gone has left and can no longer sign in.",
    )
    customer.refresh_from_db()
    assert getattr(customer, field) is None


@pytest.mark.parametrize("field", STAFF)
def test_a_customer_is_not_registered_with_staff_who_have_left(field):
    gone = STAFF[field](is_active=False)

    with pytest.raises(DomainError, match="has left and can no longer sign in"):
        customer_create(user=SuperUserFactory(), name="Fresh Co", **{field: gone})

    assert not Customer.objects.filter(name="Fresh Co").exists()


@pytest.mark.parametrize("field", STAFF)
def test_the_api_refuses_staff_who_have_left_with_a_400_saying_so(field):
    gone = STAFF[field](is_active=False, first_name="Gus", last_name="Gone")
    client = APIClient()
    client.force_authenticate(AccountManagerFactory())
    body = {"name": "Fresh Co", "agreement": "customer", "time_zone": "Europe/Paris", field: gone.username}

    response = client.post("/api/v1/customers/", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()[field] == ["Gus Gone has left and can no longer sign in."]
    assert not Customer.objects.filter(name="Fresh Co").exists()


@pytest.mark.parametrize("field", STAFF)
def test_the_admins_pickers_leave_out_staff_who_have_left(client, field):
    gone = STAFF[field](is_active=False, username=f"gone-{field}")
    current = STAFF[field](username=f"current-{field}")

    form = modelform_factory(Customer, fields=[field])()  # as the admin's form builds the field
    offered = set(form.fields[field].queryset.values_list("pk", flat=True))
    client.force_login(SuperUserFactory())
    autocomplete = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "engagements", "model_name": "customer", "field_name": field, "term": ""},
    )

    assert current.pk in offered and gone.pk not in offered
    assert autocomplete.status_code == 200
    shown = {item["id"] for item in autocomplete.json()["results"]}
    assert str(current.pk) in shown and str(gone.pk) not in shown


def test_the_admin_does_not_save_a_customer_naming_an_account_manager_who_has_left(client):
    gone = AccountManagerFactory(is_active=False)
    customer = CustomerFactory(name="Acme", account_manager=AccountManagerFactory())
    client.force_login(SuperUserFactory())
    data = {
        "name": customer.name,
        "slug": customer.slug,
        "agreement": customer.agreement,
        "time_zone": customer.time_zone,
        "account_manager": gone.pk,
        "solutions_architect": "",
        "tam": "",
        "access_administrators": [],
        "accounts-TOTAL_FORMS": 0,
        "accounts-INITIAL_FORMS": 0,
    }

    response = client.post(reverse("admin:engagements_customer_change", args=[customer.pk]), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["account_manager"]
    customer.refresh_from_db()
    assert customer.account_manager != gone
