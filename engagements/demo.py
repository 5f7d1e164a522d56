"""Demo customers, accounts, engagements and access grants, linked to the demo partner network.

`seed_engagements(rng)` runs after the partners are seeded. It goes through the services, as people would,
so the demo data obeys every rule. Idempotent: when the demo customers exist it changes nothing.
"""

import datetime
import random

from django.db import transaction
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.demo import DemoLogin, demo_user_ensure
from apn_portal.accounts.models import User
from engagements import services
from engagements.choices import (
    AccessScope,
    AgreementType,
    EngagementStage,
    PartnerRole,
    ProcurementModel,
    ServicesBuyer,
    TeamRole,
)
from engagements.models import AccessGrant, Customer
from engagements.selectors import partner_role_problem
from partners.choices import PartnerType
from partners.models import Partner

CUSTOMER_USER = DemoLogin(
    "customer", "apn-demo-customer-2026", "Chris", "Okafor", "a customer's IT lead (Northwind Charity)"
)
ACCOUNT_MANAGER = DemoLogin(
    "am", "apn-demo-am-2026", "Jordan", "Lee", "Account Manager of the demo customers"
)
DEMO_LOGINS = (CUSTOMER_USER, ACCOUNT_MANAGER)
FIRST_CUSTOMER_SLUG = "northwind-charity"
FIRST_ENGAGEMENT_TITLE = "Move the WordPress site to the cloud"
TAM_USERNAME = "tam.kofi"


def _days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def _user(login: DemoLogin, **kwargs) -> User:
    return demo_user_ensure(login, **kwargs)[0]


def _pick(rng: random.Random, partners: list[Partner], role: str, exclude=()) -> Partner | None:
    """A partner that may take `role`, drawn at random (checking candidates one by one, in random order)."""
    candidates = [p for p in partners if p.pk not in exclude]
    rng.shuffle(candidates)
    return next((p for p in candidates if partner_role_problem(p, role) is None), None)


def _advance_to(engagement, user, stage: EngagementStage, dates: list[int]) -> None:
    """Walk the journey step by step to `stage`, each step on its own (past) day."""
    for days_ago in dates:
        if engagement.stage == stage:
            return
        services.engagement_stage_advance(user=user, engagement=engagement, reached_on=_days_ago(days_ago))


def _arn(account, name: str) -> str:
    return f"arn:aws:iam::{account.account_id}:role/{name}"


def seed_engagements(rng: random.Random | None = None) -> dict[str, int]:
    """Three demo customers with accounts, engagements, partners, team and grants. Returns counts."""
    rng = rng or random.Random(2026)
    if Customer.objects.filter(slug=FIRST_CUSTOMER_SLUG).exists():
        return {}
    consulting = list(Partner.objects.filter(partner_type=PartnerType.CONSULTING).order_by("pk")[:400])
    technology = list(Partner.objects.filter(partner_type=PartnerType.TECHNOLOGY).order_by("pk")[:200])
    if not consulting or len(technology) < 2:
        return {}  # no demo partner network to link to
    with transaction.atomic():
        return _seed(rng, consulting, technology)


def _seed(rng, consulting, technology) -> dict[str, int]:
    today = timezone.localdate()
    am = _user(ACCOUNT_MANAGER, role=StaffRole.ACCOUNT_MANAGER)
    sa = _user(DemoLogin("sa.ana", "", "Ana", "Silva", "SA"), role=StaffRole.SOLUTIONS_ARCHITECT)
    # The TAM whom support.demo designates on Northwind's Enterprise plan, and puts on its team with it.
    _user(DemoLogin(TAM_USERNAME, "", "Kofi", "Mensah", "TAM"), role=StaffRole.TAM)
    consultant = _user(DemoLogin("ps.ingrid", "", "Ingrid", "Berg", "PS"), role=StaffRole.SOLUTIONS_ARCHITECT)

    # The demo partner user's own company leads the first engagement, so its pages have something to show.
    partner_login = (
        User.objects.filter(username="partner", partner__isnull=False).select_related("partner").first()
    )
    lead = partner_login.partner if partner_login else consulting[0]
    msp = _pick(rng, consulting, PartnerRole.MANAGED_SERVICE, exclude={lead.pk})
    vendor_a, vendor_b = rng.sample(technology, 2)

    # 1. Northwind Charity: the whitepaper's WordPress story, with the demo customer user.
    northwind = services.customer_create(
        user=am,
        name="Northwind Charity",
        slug=FIRST_CUSTOMER_SLUG,
        agreement=AgreementType.CUSTOMER,
        time_zone="Europe/London",
        account_manager=am,
        solutions_architect=sa,
    )
    chris = _user(CUSTOMER_USER, customer=northwind)
    finance = _user(DemoLogin("northwind.finance", "", "Fran", "Adeyemi", "finance"), customer=northwind)
    services.customer_access_administrator_add(user=am, customer=northwind, member=chris)
    management = services.aws_account_create(
        user=chris, customer=northwind, account_id="012345678901", name="northwind-management"
    )
    web_dev = services.aws_account_create(
        user=chris,
        customer=northwind,
        account_id="012345678902",
        name="wordpress-dev",
        management_account=management,
        consolidated_billing=True,
    )
    web_prod = services.aws_account_create(
        user=chris,
        customer=northwind,
        account_id="012345678903",
        name="wordpress-prod",
        management_account=management,
        consolidated_billing=True,
    )
    wordpress = services.engagement_create(
        user=chris,
        customer=northwind,
        title=FIRST_ENGAGEMENT_TITLE,
        workload="WordPress site and its MySQL database",
        procurement_model=ProcurementModel.COMBINATION if msp else ProcurementModel.DIRECT,
        reached_on=_days_ago(150),
    )
    lead_engaged = services.engagement_partner_add(
        user=chris,
        engagement=wordpress,
        partner=lead,
        role=PartnerRole.CONSULTING_LEAD,
        contract_start=_days_ago(150),
        contract_end=today + datetime.timedelta(days=215),
    )
    services.team_member_add(
        user=chris, engagement=wordpress, role=TeamRole.CUSTOMER_IT, member=chris, joined_on=_days_ago(150)
    )
    services.team_member_add(
        user=chris,
        engagement=wordpress,
        role=TeamRole.CUSTOMER_FINANCE,
        member=finance,
        joined_on=_days_ago(150),
    )
    services.team_member_add(
        user=am, engagement=wordpress, role=TeamRole.ACCOUNT_MANAGER, member=am, joined_on=_days_ago(150)
    )
    services.team_member_add(
        user=am,
        engagement=wordpress,
        role=TeamRole.SOLUTIONS_ARCHITECT,
        member=sa,
        joined_on=_days_ago(140),
        note="Well-architected review",
    )
    _advance_to(wordpress, chris, EngagementStage.REARCHITECTED, [120, 90, 45])
    for account, role_name, scope in (
        (web_dev, "WebServicesGuruMigration", AccessScope.ADMINISTRATION),
        (web_prod, "WebServicesGuruOps", AccessScope.OPERATIONS),
        (management, "FinanceBilling", AccessScope.BILLING),
    ):
        services.access_grant_create(
            user=chris,
            account=account,
            engagement_partner=lead_engaged,
            role_arn=_arn(account, role_name),
            scope=scope,
        )
    for vendor, product in ((vendor_a, "WordPress (latest), hardened"), (vendor_b, "Cloud cost management")):
        services.marketplace_subscription_add(
            user=chris, engagement=wordpress, product=product, vendor=vendor, accounts=[web_prod, management]
        )
    services.professional_services_add(
        user=am,
        engagement=wordpress,
        bought_by=ServicesBuyer.PARTNER,
        buying_partner=lead,
        goal="IAM roles and policies that let a managed service provider run the approved services",
        capability_gap="Handing a workload over to a managed service provider",
        consultant=consultant,
        starts_on=_days_ago(40),
        ends_on=today + datetime.timedelta(days=20),
    )
    # Its TAM joins the team with the Enterprise Support upgrade, which support.demo seeds.
    if msp is not None:
        msp_engaged = services.engagement_partner_add(
            user=chris,
            engagement=wordpress,
            partner=msp,
            role=PartnerRole.MANAGED_SERVICE,
            contract_start=_days_ago(5),
            contract_end=today + datetime.timedelta(days=360),
        )
        services.access_grant_create(
            user=chris,
            account=web_prod,
            engagement_partner=msp_engaged,
            role_arn=_arn(web_prod, "ManagedServicesOperator"),
            scope=AccessScope.OPERATIONS,
            mfa_required=True,
        )

    # 2. Contoso Ministry of Transport: an agency replacing the partner that operates its workload.
    contoso = services.customer_create(
        user=am,
        name="Contoso Ministry of Transport",
        agreement=AgreementType.ENTERPRISE,
        time_zone="Africa/Nairobi",
        account_manager=am,
    )
    registrar = _user(DemoLogin("contoso.it", "", "Wanjiru", "Kamau", "IT"), customer=contoso)
    # Contract days are the customer's: from 21:00 UTC Nairobi is already on the next day.
    contoso_today = contoso.local_today()
    services.customer_access_administrator_add(user=am, customer=contoso, member=registrar)
    root = services.aws_account_create(
        user=registrar, customer=contoso, account_id="210987654321", name="ministry-root"
    )
    licensing = services.aws_account_create(
        user=registrar,
        customer=contoso,
        account_id="210987654322",
        name="vehicle-licensing",
        management_account=root,
        consolidated_billing=True,
    )
    operations = services.engagement_create(
        user=registrar,
        customer=contoso,
        title="Operate the vehicle licensing service",
        workload="Vehicle licensing web service",
        procurement_model=ProcurementModel.MANAGED_SERVICE,
        stage=EngagementStage.OPERATED,
        reached_on=_days_ago(400),
    )
    first_operator = msp or _pick(rng, consulting, PartnerRole.CONSULTING_LEAD, exclude={lead.pk}) or lead
    role = PartnerRole.MANAGED_SERVICE if msp else PartnerRole.CONSULTING_LEAD
    old = services.engagement_partner_add(
        user=registrar,
        engagement=operations,
        partner=first_operator,
        role=role,
        contract_start=_days_ago(400),
        # It runs to today, when the 2026 procurement's winner takes over: the grant under it ends with it.
        contract_end=contoso_today,
    )
    old_grant = services.access_grant_create(
        user=registrar,
        account=licensing,
        engagement_partner=old,
        role_arn=_arn(licensing, "OperatorAccess"),
        scope=AccessScope.OPERATIONS,
    )
    # The service records a grant as made now; this operator has held it since its contract began.
    began = datetime.datetime.combine(old.contract_start, datetime.time(9), tzinfo=contoso.zone)
    AccessGrant.objects.filter(pk=old_grant.pk).update(granted_at=began)
    old_grant.history.update(granted_at=began, history_date=began)
    winner = _pick(rng, consulting, role, exclude={first_operator.pk})
    if winner is not None:
        new = services.engagement_partner_replace(
            user=registrar,
            engagement_partner=old,
            new_partner=winner,
            reason="Another company won the 2026 procurement",
            contract_end=contoso_today + datetime.timedelta(days=3 * 365),
        )
        services.access_grant_create(
            user=registrar,
            account=licensing,
            engagement_partner=new,
            role_arn=_arn(licensing, "NewOperatorAccess"),
            scope=AccessScope.OPERATIONS,
        )

    # 3. Fabrikam Relief: a global non-profit combining partners by continent.
    fabrikam = services.customer_create(
        user=am,
        name="Fabrikam Relief",
        agreement=AgreementType.ENTERPRISE,
        time_zone="Europe/Paris",
        account_manager=am,
    )
    fabrikam_root = services.aws_account_create(
        user=am, customer=fabrikam, account_id="300000000001", name="fabrikam-management"
    )
    reseller = _pick(rng, consulting, PartnerRole.RESELLER)
    programmes = services.engagement_create(
        user=am,
        customer=fabrikam,
        title="Regional programme platforms",
        workload="Donor and programme systems",
        procurement_model=ProcurementModel.COMBINATION,
    )
    used = {lead.pk, first_operator.pk}
    if reseller is not None:
        # The reseller bills the franchises' accounts; consulting partners differ by continent.
        used.add(reseller.pk)
        services.aws_account_create(
            user=am,
            customer=fabrikam,
            account_id="300000000002",
            name="franchise-kenya",
            management_account=fabrikam_root,
            reseller=reseller,
        )
        services.engagement_partner_add(
            user=am,
            engagement=programmes,
            partner=reseller,
            role=PartnerRole.RESELLER,
            contract_start=_days_ago(60),
            contract_end=today + datetime.timedelta(days=700),
            business_function="Accounts and billing",
        )
    for territory in ("Europe", "Africa"):
        partner = _pick(rng, consulting, PartnerRole.CONSULTING_LEAD, exclude=used)
        if partner is None:
            break
        used.add(partner.pk)
        services.engagement_partner_add(
            user=am,
            engagement=programmes,
            partner=partner,
            role=PartnerRole.CONSULTING_LEAD,
            contract_start=_days_ago(30),
            contract_end=today + datetime.timedelta(days=335),
            territory=territory,
        )
    return {"customers": 3, "engagements": 3}
