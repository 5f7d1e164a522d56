"""The whitepaper's closing story, end to end, as one test: a customer moves its WordPress site to the
cloud with a "standard"-tier consulting partner (the ladder's first rung above Registered: Select), the
provider's Solutions Architect reviews the design, the partner buys Professional Services to fill a gap,
the customer upgrades from Business to Enterprise Support (with its designated Technical Account Manager,
who joins the team) and hands day-to-day operation to a managed service provider whose
access needs the customer's MFA token. At each step: who sees what, and who may do what."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apn_portal.exceptions import DomainError, PermissionDeniedError
from engagements import selectors, services
from engagements.choices import AccessScope, EngagementStage, PartnerRole, ServicesBuyer, TeamRole
from partners.choices import PartnerType
from partners.models import ConsultingCategory
from partners.services import customer_reference_set_validated
from support import selectors as support_selectors
from support.choices import SubscriptionChange
from support.models import SupportPlan
from support.services import support_subscription_change
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    CustomerUserFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    SolutionsArchitectFactory,
    StaffCertificationFactory,
    StaffUserFactory,
    TamFactory,
    tier,
)

pytestmark = pytest.mark.django_db


def days(n):
    return datetime.timedelta(days=n)


def sees(user):
    """What `user` can see, by kind of record: the names a person would recognise."""
    return {
        "customers": {c.name for c in selectors.customers_visible_to(user)},
        "engagements": {e.title for e in selectors.engagements_visible_to(user)},
        "accounts": {a.account_id for a in selectors.accounts_visible_to(user)},
        "grants": {g.role_name for g in selectors.access_grants_visible_to(user) if g.is_live()},
    }


NOTHING = {"customers": set(), "engagements": set(), "accounts": set(), "grants": set()}


def test_the_wordpress_migration_story(client):
    today = timezone.localdate()
    # The cast.
    pdm = PdmFactory(username="pdm")
    jordan_am = AccountManagerFactory(username="jordan")
    ana_sa = SolutionsArchitectFactory(username="ana")
    kofi_tam = TamFactory(username="kofi")
    ingrid_ps = StaffUserFactory(username="ingrid")  # Professional Services
    guru = PartnerFactory(name="Web Services Guru", tier=tier(PartnerType.CONSULTING, "select"), pdm=pdm)
    guru_architect = PartnerUserFactory(partner=guru, username="guru.architect")
    press = PartnerFactory(name="PressWorks", partner_type=PartnerType.TECHNOLOGY)
    costlens = PartnerFactory(name="CostLens", partner_type=PartnerType.TECHNOLOGY)
    press_user = PartnerUserFactory(partner=press)
    steady = PartnerFactory(name="Steady Ops")
    steady.categories.add(ConsultingCategory.objects.get(slug="managed-service-provider"))
    steady_operator = PartnerUserFactory(partner=steady, username="steady.operator")
    outsider = PartnerUserFactory(partner=PartnerFactory(name="Other Cloud"))
    other_customer_admin = CustomerUserFactory(
        customer=CustomerFactory(name="Elsewhere Ltd"), access_admin=True
    )

    # The customer: its Account Manager registers it; Chris (IT) manages access, Fran is in finance.
    northwind = services.customer_create(
        user=jordan_am, name="Northwind Charity", time_zone="Europe/London", account_manager=jordan_am
    )
    chris_it = CustomerUserFactory(customer=northwind, username="chris")
    dana_it = CustomerUserFactory(customer=northwind, username="dana")
    fran_finance = CustomerUserFactory(customer=northwind, username="fran")
    services.customer_access_administrator_add(user=jordan_am, customer=northwind, member=chris_it)
    with pytest.raises(PermissionDeniedError):
        services.customer_access_administrator_add(user=fran_finance, customer=northwind, member=fran_finance)
    management = services.aws_account_create(
        user=chris_it, customer=northwind, account_id="012345678901", name="northwind-management"
    )

    # Step 1: the workload on premises; the customer engages Web Services Guru.
    wordpress = services.engagement_create(
        user=chris_it,
        customer=northwind,
        title="WordPress to the cloud",
        workload="WordPress site and database",
        reached_on=today - days(100),
    )
    guru_lead = services.engagement_partner_add(
        user=chris_it,
        engagement=wordpress,
        partner=guru,
        role=PartnerRole.CONSULTING_LEAD,
        contract_start=today - days(100),
        contract_end=today + days(200),
    )
    for member, role in ((chris_it, TeamRole.CUSTOMER_IT), (fran_finance, TeamRole.CUSTOMER_FINANCE)):
        services.team_member_add(user=chris_it, engagement=wordpress, role=role, member=member)
    services.team_member_add(
        user=guru_architect, engagement=wordpress, role=TeamRole.PARTNER_ARCHITECT, member=guru_architect
    )
    # The provider's SA peer-reviews the design in a well-architected review: on the team, so sees it.
    assert "WordPress to the cloud" not in sees(ana_sa)["engagements"]
    services.team_member_add(
        user=jordan_am,
        engagement=wordpress,
        role=TeamRole.SOLUTIONS_ARCHITECT,
        member=ana_sa,
        note="Well-architected review of the re-hosting design",
    )
    assert sees(ana_sa)["engagements"] == {"WordPress to the cloud"}
    # The partner sees the engagement and its customer, but no account yet: nothing was granted.
    assert sees(guru_architect) == {
        "customers": {"Northwind Charity"},
        "engagements": {"WordPress to the cloud"},
        "accounts": set(),
        "grants": set(),
    }
    for stranger in (outsider, press_user, steady_operator, other_customer_admin):
        assert (
            sees(stranger)["engagements"] == set() and "Northwind Charity" not in sees(stranger)["customers"]
        )
    # Only the customer grants access to its accounts, never the partner itself.
    migration_arn = "arn:aws:iam::{}:role/GuruMigration"
    with pytest.raises(PermissionDeniedError):
        services.access_grant_create(
            user=guru_architect,
            account=management,
            engagement_partner=guru_lead,
            role_arn=migration_arn.format(management.account_id),
            scope=AccessScope.ADMINISTRATION,
        )

    # Step 2: a copy moves to a region, into a development account the partner may administer (with the
    # customer's MFA), billing visible to finance only. No jumping ahead in the journey.
    dev = services.aws_account_create(
        user=chris_it,
        customer=northwind,
        account_id="012345678902",
        name="wordpress-dev",
        management_account=management,
        consolidated_billing=True,
    )
    with pytest.raises(DomainError, match="Operated cannot come before Copy moved to a region"):
        services.engagement_stage_advance(user=guru_architect, engagement=wordpress, to_stage="operated")
    services.engagement_stage_advance(user=guru_architect, engagement=wordpress, reached_on=today - days(80))
    with pytest.raises(DomainError, match="always requires the customer's MFA"):
        services.access_grant_create(
            user=chris_it,
            account=dev,
            engagement_partner=guru_lead,
            role_arn=migration_arn.format(dev.account_id),
            scope=AccessScope.ADMINISTRATION,
            mfa_required=False,
        )
    services.access_grant_create(
        user=chris_it,
        account=dev,
        engagement_partner=guru_lead,
        role_arn=migration_arn.format(dev.account_id),
        scope=AccessScope.ADMINISTRATION,
    )
    # Finance staff see the accounts and who holds access, but do not hand access out.
    assert sees(fran_finance)["grants"] == {"GuruMigration"}
    with pytest.raises(PermissionDeniedError):
        services.access_grant_create(
            user=fran_finance,
            account=management,
            engagement_partner=guru_lead,
            role_arn=f"arn:aws:iam::{management.account_id}:role/Billing",
            scope=AccessScope.BILLING,
        )
    assert sees(guru_architect)["accounts"] == {"012345678902"}
    assert sees(outsider)["accounts"] == set()

    # Step 3: re-hosted on EC2 and RDS. Still no "operated" before "re-architected".
    services.engagement_stage_advance(
        user=guru_architect, engagement=wordpress, reached_on=today - days(60), note="EC2 instance and RDS"
    )
    with pytest.raises(DomainError, match="Operated cannot come before Re-architected for production"):
        services.engagement_stage_advance(user=chris_it, engagement=wordpress, to_stage="operated")

    # Step 4: re-architected for production: multi-AZ behind a load balancer, in a production account.
    prod = services.aws_account_create(
        user=chris_it,
        customer=northwind,
        account_id="012345678903",
        name="wordpress-prod",
        management_account=management,
        consolidated_billing=True,
    )
    services.access_grant_create(
        user=chris_it,
        account=prod,
        engagement_partner=guru_lead,
        role_arn=f"arn:aws:iam::{prod.account_id}:role/GuruBuild",
        scope=AccessScope.OPERATIONS,
    )
    services.engagement_stage_advance(
        user=guru_architect,
        engagement=wordpress,
        reached_on=today - days(30),
        note="Two Availability Zones behind an Elastic Load Balancer; database replicated across them",
    )
    assert wordpress.stage == EngagementStage.REARCHITECTED

    # Step 5: two marketplace subscriptions from technology partners, signed up by the partner.
    with pytest.raises(DomainError, match="not a Technology partner"):
        services.marketplace_subscription_add(
            user=guru_architect, engagement=wordpress, product="x", vendor=steady, accounts=[prod]
        )
    with pytest.raises(PermissionDeniedError):
        services.marketplace_subscription_add(
            user=outsider, engagement=wordpress, product="x", vendor=press, accounts=[prod]
        )
    services.marketplace_subscription_add(
        user=guru_architect, engagement=wordpress, product="WordPress, latest", vendor=press, accounts=[prod]
    )
    services.marketplace_subscription_add(
        user=guru_architect,
        engagement=wordpress,
        product="Cost management",
        vendor=costlens,
        accounts=[prod, management],
    )
    assert sees(press_user) == NOTHING  # selling the software puts nobody on the team

    # The partner buys Professional Services to fill its gap: handing a workload to an MSP.
    with pytest.raises(PermissionDeniedError):
        services.professional_services_add(
            user=outsider,
            engagement=wordpress,
            bought_by=ServicesBuyer.PARTNER,
            buying_partner=guru,
            goal="x",
            capability_gap="y",
            starts_on=today,
        )
    assert sees(ingrid_ps)["engagements"] == set()
    services.professional_services_add(
        user=guru_architect,
        engagement=wordpress,
        bought_by=ServicesBuyer.PARTNER,
        buying_partner=guru,
        goal="IAM roles and policies for an MSP, with the customer's MFA for security-relevant changes",
        capability_gap="Turning a workload over to a managed service provider",
        consultant=ingrid_ps,
        starts_on=today - days(25),
        ends_on=today + days(10),
    )
    # Her seat on the team, open while the services last, is what shows her the engagement.
    assert sees(ingrid_ps)["engagements"] == {"WordPress to the cloud"}
    assert wordpress.team_members.filter(
        user=ingrid_ps, role=TeamRole.PROFESSIONAL_SERVICES, left_on=None
    ).exists()

    # The upgrade to Enterprise Support brings a Technical Account Manager. Northwind runs on Business, and
    # Enterprise needs a designated TAM who holds a Solutions Architect certification; only the Account
    # Manager names one.
    assert sees(kofi_tam) == NOTHING
    business, enterprise = (SupportPlan.objects.get(slug=slug) for slug in ("business", "enterprise"))
    support_subscription_change(user=chris_it, customer=northwind, plan=business)
    # On Business no TAM serves Northwind, so none joins its team either.
    with pytest.raises(DomainError, match="without a designated TAM"):
        services.team_member_add(user=jordan_am, engagement=wordpress, role=TeamRole.TAM, member=kofi_tam)
    with pytest.raises(PermissionDeniedError):
        support_subscription_change(user=chris_it, customer=northwind, plan=enterprise, tam=kofi_tam)
    with pytest.raises(DomainError, match="Solutions Architect"):
        support_subscription_change(user=jordan_am, customer=northwind, plan=enterprise, tam=kofi_tam)
    StaffCertificationFactory(user=kofi_tam)
    upgrade = support_subscription_change(user=jordan_am, customer=northwind, plan=enterprise, tam=kofi_tam)
    assert (upgrade.plan, upgrade.tam, upgrade.change) == (enterprise, kofi_tam, SubscriptionChange.UPGRADED)
    assert support_selectors.current_customer_subscription(northwind) == upgrade
    # The TAM the plan designates joins the team.
    services.team_member_add(
        user=jordan_am, engagement=wordpress, role=TeamRole.TAM, member=kofi_tam, note="Enterprise Support"
    )
    assert sees(kofi_tam)["customers"] == {"Northwind Charity"}
    assert list(selectors.customers_assigned_to(kofi_tam)) == [northwind]
    browser = Client()
    browser.force_login(chris_it)
    chris_page = browser.get(reverse("support:home")).content.decode()
    assert "Enterprise" in chris_page
    assert kofi_tam.get_full_name() in chris_page

    # The hand-over: the customer engages Steady Ops and grants it operations in production, with MFA.
    steady_contract = services.engagement_partner_add(
        user=chris_it,
        engagement=wordpress,
        partner=steady,
        role=PartnerRole.MANAGED_SERVICE,
        contract_start=today,
        contract_end=today + days(365),
    )
    services.team_member_add(
        user=chris_it, engagement=wordpress, role=TeamRole.MANAGED_SERVICE_OPERATOR, member=steady_operator
    )
    operator_grant = services.access_grant_create(
        user=chris_it,
        account=prod,
        engagement_partner=steady_contract,
        role_arn=f"arn:aws:iam::{prod.account_id}:role/SteadyOpsOperator",
        scope=AccessScope.OPERATIONS,
        mfa_required=True,
    )
    assert operator_grant.mfa_required
    # Two of the customer's IT staff hold the privileged role that manages finance's and the MSP's access.
    services.customer_access_administrator_add(user=chris_it, customer=northwind, member=dana_it)
    assert selectors.user_can_manage_access(dana_it, northwind)
    assert not selectors.user_can_manage_access(fran_finance, northwind)
    # The migration partner's build-time access ends; the MSP's stays.
    for grant in guru_lead.access_grants.filter(revoked_at__isnull=True):
        services.access_grant_revoke(
            user=dana_it, grant=grant, reason="Migration done; Steady Ops operates it"
        )
    assert sees(guru_architect)["accounts"] == set()
    assert sees(steady_operator) == {
        "customers": {"Northwind Charity"},
        "engagements": {"WordPress to the cloud"},
        "accounts": {"012345678903"},
        "grants": {"SteadyOpsOperator"},
    }
    # Each partner sees its own grants only; the customer sees all of them.
    assert {g.role_name for g in selectors.access_grants_visible_to(steady_operator)} == {"SteadyOpsOperator"}
    assert {g.role_name for g in selectors.access_grants_visible_to(chris_it)} == {
        "GuruMigration",
        "GuruBuild",
        "SteadyOpsOperator",
    }
    with pytest.raises(PermissionDeniedError):
        services.access_grant_revoke(user=guru_architect, grant=operator_grant, reason="not mine")

    # Operated, and the project complete: Web Services Guru gets a reference its PDM validates.
    services.engagement_stage_advance(user=chris_it, engagement=wordpress)
    assert wordpress.stage == EngagementStage.OPERATED
    services.engagement_complete(user=guru_architect, engagement=wordpress)
    reference = wordpress.customer_reference
    assert reference.partner == guru and not reference.is_validated
    assert "WordPress, latest" in reference.services_used
    with pytest.raises(PermissionDeniedError):
        customer_reference_set_validated(reference=reference, validated=True, user=PdmFactory())
    customer_reference_set_validated(reference=reference, validated=True, user=pdm)
    reference.refresh_from_db()
    assert reference.is_validated
    # After completion the MSP goes on operating under its own contract.
    operator_grant.refresh_from_db()
    assert operator_grant.is_live()

    # The customer's page tells the whole story; strangers still see nothing of it.
    client.force_login(chris_it)
    page = client.get(reverse("engagements:engagement-detail", args=[wordpress.pk])).content.decode()
    for line in (
        "Web Services Guru joins as Consulting lead",
        "Stage: Copy moved to a region",
        "Stage: Re-architected for production",
        "Marketplace subscription: Cost management from CostLens",
        "Professional Services start",
        "joins the team as Technical Account Manager (Enterprise Support)",
        "Steady Ops granted operations access to account 012345678903",
        "revoked: Migration done; Steady Ops operates it",
        "Engagement completed",
    ):
        assert line in page, line
    for stranger in (outsider, press_user, other_customer_admin):
        client.force_login(stranger)
        response = client.get(reverse("engagements:engagement-detail", args=[wordpress.pk]))
        assert response.status_code in (403, 404)
        assert sees(stranger)["engagements"] == set()
