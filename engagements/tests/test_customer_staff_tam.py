"""The TAM on a customer's record is the one its support plan serves it with: the Account Manager names a
TAM only when the customer's plan comes with a designated one (and naming another changes that plan's
TAM); the customer's organisation page and its support page name the same person."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apn_portal.exceptions import DomainError
from engagements import services
from engagements.models import Customer
from support import selectors as support_selectors
from support.choices import SubscriptionChange
from support.models import SupportPlan
from support.services import support_subscription_change
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    CustomerUserFactory,
    QualifiedTamFactory,
    TamFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return CustomerFactory(name="Acme", account_manager=AccountManagerFactory())


@pytest.fixture
def tara():
    return QualifiedTamFactory(username="tam-tara", first_name="Tara", last_name="Quinn")


def name_tam(customer, member):
    return services.customer_assign_staff(
        user=customer.account_manager, customer=customer, field="tam", member=member
    )


@pytest.mark.parametrize("plan", [None, "business", "enterprise-on-ramp"])
def test_no_tam_can_be_named_on_a_plan_without_a_designated_one(client, customer, tara, plan):
    if plan:
        support_subscription_change(user=customer.account_manager, customer=customer, plan=support_plan(plan))

    with pytest.raises(DomainError, match="which comes without a designated TAM") as refused:
        name_tam(customer, tara)

    assert refused.value.field == "tam" and "Enterprise" in refused.value.message
    customer.refresh_from_db()
    assert customer.tam is None
    client.force_login(CustomerUserFactory(customer=customer))
    assert "Tara Quinn" not in client.get(reverse("engagements:organisation")).content.decode()


def test_on_enterprise_naming_another_tam_changes_the_plans_designated_tam(client, customer, tara):
    support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tara
    )
    tom = QualifiedTamFactory(username="tam-tom", first_name="Tom", last_name="Reyes")

    named = name_tam(customer, tom)

    current = support_selectors.current_customer_subscription(customer)
    assert (current.plan.slug, current.tam, current.change) == ("enterprise", tom, SubscriptionChange.CHANGED)
    assert named.tam == customer.tam == tom
    client.force_login(CustomerUserFactory(customer=customer))
    organisation = client.get(reverse("engagements:organisation")).content.decode()
    support = client.get(reverse("support:home")).content.decode()
    assert "Tom Reyes" in organisation and "Tom Reyes is your designated TAM." in support
    assert "Tara Quinn" not in organisation + support


def test_on_enterprise_the_tam_cannot_be_cleared_nor_be_an_uncertified_tam(customer, tara):
    support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tara
    )

    with pytest.raises(DomainError, match="comes with a designated TAM: name another TAM"):
        name_tam(customer, None)
    with pytest.raises(DomainError, match="Solutions Architect certification"):
        name_tam(customer, TamFactory())

    customer.refresh_from_db()
    assert customer.tam == tara
    assert support_selectors.current_customer_subscription(customer).tam == tara


def test_a_tam_named_before_the_rule_can_be_cleared(customer, tara):
    type(customer).objects.filter(pk=customer.pk).update(tam=tara)

    assert name_tam(customer, None).tam is None


def _admin_form(customer, **changes):
    data = {
        "name": customer.name,
        "slug": customer.slug,
        "agreement": customer.agreement,
        "time_zone": customer.time_zone,
        "account_manager": customer.account_manager_id,
        "solutions_architect": "",
        "tam": customer.tam_id or "",
        "access_administrators": [],
        "accounts-TOTAL_FORMS": 0,
        "accounts-INITIAL_FORMS": 0,
    }
    return {**data, **changes}


def test_the_admin_refuses_a_tam_no_plan_brings_beside_the_field(client, customer, tara):
    client.force_login(customer.account_manager)
    url = reverse("admin:engagements_customer_change", args=[customer.pk])

    response = client.post(url, _admin_form(customer, tam=tara.pk))

    assert response.status_code == 200
    assert "which comes without a designated TAM" in str(response.context["adminform"].form.errors["tam"])
    customer.refresh_from_db()
    assert customer.tam is None


def test_naming_another_tam_in_the_admin_changes_the_plans_tam_with_the_zone(client, customer, tara):
    support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tara
    )
    customer.refresh_from_db()
    tom = QualifiedTamFactory(username="tam-tom", first_name="Tom", last_name="Reyes")
    client.force_login(customer.account_manager)
    url = reverse("admin:engagements_customer_change", args=[customer.pk])

    response = client.post(url, _admin_form(customer, tam=tom.pk, time_zone="Asia/Tokyo"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.tam, customer.time_zone) == (tom, "Asia/Tokyo")
    current = support_selectors.current_customer_subscription(customer)
    assert (current.plan.slug, current.tam) == ("enterprise", tom)


def test_a_customer_registered_through_the_api_has_no_tam_to_name(customer, tara):
    client = APIClient()
    client.force_authenticate(customer.account_manager)
    body = {"name": "New Co", "agreement": "enterprise", "time_zone": "Europe/Paris", "tam": tara.username}

    response = client.post("/api/v1/customers/", body, format="json")

    assert response.status_code == 400
    assert "A new customer is on Basic" in response.json()["tam"][0]
    assert not Customer.objects.filter(name="New Co").exists()


def test_on_a_plan_retiring_today_the_tam_is_still_renamed_in_the_admin(client, customer, tara):
    support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tara
    )
    # The daily support_plan_retirement check moves the customer later: it is still on Enterprise now.
    SupportPlan.objects.filter(slug="enterprise").update(retires_on=customer.local_today())
    customer.refresh_from_db()
    tom = QualifiedTamFactory(username="tam-tom")
    client.force_login(customer.account_manager)
    url = reverse("admin:engagements_customer_change", args=[customer.pk])

    response = client.post(url, _admin_form(customer, tam=tom.pk))

    assert response.status_code == 302
    current = support_selectors.current_customer_subscription(customer)
    assert (current.plan.slug, current.tam) == ("enterprise", tom)
    customer.refresh_from_db()
    assert customer.tam == tom
    newcomer = CustomerFactory(account_manager=customer.account_manager)
    with pytest.raises(DomainError, match=r"retired on .* can no longer be subscribed to"):
        support_subscription_change(
            user=customer.account_manager, customer=newcomer, plan=support_plan("enterprise"), tam=tom
        )
