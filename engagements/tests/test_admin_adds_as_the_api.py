"""The Solutions Architect and TAM looking after a customer start its engagements and add its AWS accounts
(user_can_manage_customer): the admin lets them do there what the API lets them do, for that customer
only, and neither lets them register a new customer, which is an Account Manager's (customer_create)."""

import pytest
from django.urls import reverse

from engagements.models import AwsAccount, Customer, Engagement
from support import services as support_services
from tests.api.conftest import api_client
from tests.factories import QualifiedTamFactory, SolutionsArchitectFactory, support_plan

pytestmark = pytest.mark.django_db


def _looking_after(alpha, who):
    customer = alpha.customer
    if who == "sa":
        customer.solutions_architect = SolutionsArchitectFactory(username="alpha-sa")
        customer.save(update_fields=["solutions_architect"])
        return customer.solutions_architect
    tam = QualifiedTamFactory(username="alpha-tam")
    support_services.support_subscription_change(
        user=alpha.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tam
    )
    return tam


@pytest.mark.parametrize("who", ["sa", "tam"])
def test_they_add_the_customers_engagements_and_accounts_in_the_admin_as_through_the_api(client, alpha, who):
    user = _looking_after(alpha, who)
    api = api_client(user)
    engagement = {"customer": alpha.customer.slug, "title": "By API", "workload": "Billing"}
    assert api.post("/api/v1/engagements/", engagement, format="json").status_code == 201
    account = {"customer": alpha.customer.slug, "account_id": "111000000701", "name": "By API"}
    assert api.post("/api/v1/aws-accounts/", account, format="json").status_code == 201

    client.force_login(user)
    changelist = client.get(reverse("admin:engagements_engagement_changelist")).content.decode()
    assert reverse("admin:engagements_engagement_add") in changelist
    assert client.get(reverse("admin:engagements_engagement_add")).status_code == 200
    response = client.post(
        reverse("admin:engagements_awsaccount_add"),
        {
            "account_id": "111000000702",
            "name": "By admin",
            "customer": alpha.customer.pk,
            "paid_by": "customer",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert AwsAccount.objects.get(account_id="111000000702").customer == alpha.customer
    assert Engagement.objects.filter(customer=alpha.customer, title="By API").exists()


@pytest.mark.parametrize("who", ["sa", "tam"])
def test_not_for_a_customer_they_do_not_look_after(client, alpha, bravo, who):
    user = _looking_after(alpha, who)
    account = {"customer": bravo.customer.slug, "account_id": "222000000701", "name": "Planted"}
    assert api_client(user).post("/api/v1/aws-accounts/", account, format="json").status_code == 400

    client.force_login(user)
    response = client.post(
        reverse("admin:engagements_awsaccount_add"),
        {
            "account_id": "222000000702",
            "name": "Planted",
            "customer": bravo.customer.pk,
            "paid_by": "customer",
        },
    )
    assert "Select a valid choice" in response.content.decode()
    assert not AwsAccount.objects.filter(customer=bravo.customer, name="Planted").exists()


@pytest.mark.parametrize("who", ["sa", "tam"])
def test_only_an_account_manager_registers_a_customer_in_the_admin_as_through_the_api(client, alpha, who):
    user = _looking_after(alpha, who)
    refused = api_client(user).post("/api/v1/customers/", {"name": "Gamma plc"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only an Account Manager or a superuser registers customers."

    client.force_login(user)
    assert client.get(reverse("admin:engagements_customer_add")).status_code == 403
    changelist = client.get(reverse("admin:engagements_customer_changelist")).content.decode()
    assert reverse("admin:engagements_customer_add") not in changelist
    assert not Customer.objects.filter(name="Gamma plc").exists()

    client.force_login(alpha.account_manager)
    assert client.get(reverse("admin:engagements_customer_add")).status_code == 200
