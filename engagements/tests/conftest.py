"""Two customers and two partners, each partner engaged for one customer and holding access to one of its
accounts: enough to show that nobody sees another organisation's records."""

from dataclasses import dataclass

import pytest

from engagements.models import Customer
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
)


@dataclass
class Organisation:
    customer: Customer
    admin: object  # an access administrator of the customer
    staff: object  # customer staff without the access role
    management: object
    member: object
    engagement: object
    partner: object
    partner_user: object
    engaged: object
    grant: object
    account_manager: object


def _organisation(prefix: str, account_base: int) -> Organisation:
    am = AccountManagerFactory(username=f"{prefix.lower()}-am")
    customer = CustomerFactory(
        name=f"{prefix} Customer", slug=f"{prefix.lower()}-customer", account_manager=am
    )
    admin = CustomerUserFactory(customer=customer, access_admin=True, username=f"{prefix.lower()}-admin")
    staff = CustomerUserFactory(customer=customer, username=f"{prefix.lower()}-staff")
    management = AwsAccountFactory(
        customer=customer, account_id=f"{account_base:012d}", name=f"{prefix}-management"
    )
    member = AwsAccountFactory(
        customer=customer,
        account_id=f"{account_base + 1:012d}",
        name=f"{prefix}-web",
        management_account=management,
        consolidated_billing=True,
    )
    engagement = EngagementFactory(customer=customer, title=f"{prefix} Migration")
    partner = PartnerFactory(name=f"{prefix} Partners Ltd")
    engaged = EngagementPartnerFactory(engagement=engagement, partner=partner)
    grant = AccessGrantFactory(
        engagement_partner=engaged, account=member, granted_by=admin, role_name=f"{prefix}Ops"
    )
    return Organisation(
        customer=customer,
        admin=admin,
        staff=staff,
        management=management,
        member=member,
        engagement=engagement,
        partner=partner,
        partner_user=PartnerUserFactory(partner=partner, username=f"{prefix.lower()}-partner"),
        engaged=engaged,
        grant=grant,
        account_manager=am,
    )


@pytest.fixture
def alpha(db):
    return _organisation("Alpha", 111_000_000_000)


@pytest.fixture
def bravo(db):
    return _organisation("Bravo", 222_000_000_000)


@pytest.fixture
def rival_saves_the_customer_first(monkeypatch) -> list:
    """Somebody else saves a customer of the same name and slug between the service's check of a new
    customer and its save (once). Returns the customers they saved."""
    from engagements import services

    real = services.validate_or_refuse
    raced = []

    def rival_saves_first(instance, **kwargs):
        real(instance, **kwargs)
        if isinstance(instance, Customer) and not raced:
            raced.append(CustomerFactory(name=instance.name, slug=instance.slug))

    monkeypatch.setattr(services, "validate_or_refuse", rival_saves_first)
    return raced
