"""Two customers, each with staff, accounts and an Account Manager; a qualified TAM; a Solution Provider
that resells one of Alpha's accounts; a partner holding a live access grant on another; and a partner with
nothing to do with either. Enough to show who may open, answer and see which case."""

import datetime
from dataclasses import dataclass

import pytest
from django.utils import timezone

from engagements.models import AwsAccount, Customer
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    ApprovedEnrollmentFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
    QualifiedTamFactory,
    SupportEngineerFactory,
    program,
)


@dataclass
class Organisation:
    customer: Customer
    admin: object  # an access administrator: may change the support plan
    staff: object  # other customer staff: may open cases
    account: AwsAccount
    granted_account: AwsAccount  # a partner holds a live access grant on it
    account_manager: object
    partner: object  # the partner holding the grant
    partner_user: object


def _organisation(prefix: str, account_base: int, time_zone: str) -> Organisation:
    am = AccountManagerFactory(username=f"{prefix.lower()}-am", email=f"{prefix.lower()}-am@provider.example")
    customer = CustomerFactory(
        name=f"{prefix} Customer", slug=f"{prefix.lower()}-customer", account_manager=am, time_zone=time_zone
    )
    admin = CustomerUserFactory(customer=customer, access_admin=True, username=f"{prefix.lower()}-admin")
    staff = CustomerUserFactory(customer=customer, username=f"{prefix.lower()}-staff")
    account = AwsAccountFactory(customer=customer, account_id=f"{account_base:012d}", name=f"{prefix}-prod")
    granted = AwsAccountFactory(
        customer=customer, account_id=f"{account_base + 1:012d}", name=f"{prefix}-web"
    )
    partner = PartnerFactory(name=f"{prefix} Consulting Ltd", slug=f"{prefix.lower()}-consulting")
    engaged = EngagementPartnerFactory(
        engagement=EngagementFactory(customer=customer, title=f"{prefix} migration"), partner=partner
    )
    AccessGrantFactory(
        engagement_partner=engaged,
        account=granted,
        granted_by=admin,
        role_name=f"{prefix}Ops",
        granted_at=timezone.now() - datetime.timedelta(days=10),
    )
    return Organisation(
        customer=customer,
        admin=admin,
        staff=staff,
        account=account,
        granted_account=granted,
        account_manager=am,
        partner=partner,
        partner_user=PartnerUserFactory(
            partner=partner, username=f"{prefix.lower()}-partner", email=f"ops@{prefix.lower()}.example"
        ),
    )


@dataclass
class Reseller:
    partner: object
    account: AwsAccount  # resold by the partner
    user: object  # the partner's staff


@pytest.fixture
def alpha(db):
    return _organisation("Alpha", 111_000_000_000, "Europe/London")


@pytest.fixture
def bravo(db):
    return _organisation("Bravo", 222_000_000_000, "America/New_York")


@pytest.fixture
def tam(db):
    return QualifiedTamFactory(username="tam-tara", email="tara@provider.example")


@pytest.fixture
def engineer(db):
    return SupportEngineerFactory(username="engineer-eli", email="eli@provider.example")


@pytest.fixture
def reseller(alpha):
    """A Solution Provider reselling a third account of Alpha's."""
    partner = PartnerFactory(name="Resell Co", slug="resell-co")
    ApprovedEnrollmentFactory(partner=partner, program=program("solution-provider"))
    account = AwsAccountFactory(
        customer=alpha.customer,
        account_id="111000000009",
        name="Alpha-resold",
        paid_by="reseller",
        reseller=partner,
    )
    user = PartnerUserFactory(partner=partner, username="resell-user", email="desk@resell.example")
    return Reseller(partner=partner, account=account, user=user)


@pytest.fixture
def stranger(db):
    """A partner with no grant on, and no resale of, anybody's accounts."""
    return PartnerUserFactory(partner=PartnerFactory(name="Stranger Ltd"), username="stranger")
