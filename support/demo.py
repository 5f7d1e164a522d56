"""Demo support data for the demo customers of engagements.demo: subscriptions with a history of upgrades,
a designated TAM, a retiring plan, partner-led support, and a few cases (one overdue, for the support_sla
check to find).

`seed_support(rng)` runs after `engagements.demo.seed_engagements`. It goes through the services, as
people would; afterwards it moves timestamps back so the history reads like months of use. Idempotent:
once the demo customers have a subscription it changes nothing.
"""

import datetime
import random

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.demo import DemoLogin, demo_user_ensure
from apn_portal.accounts.models import User
from engagements import services as engagement_services
from engagements.choices import TeamRole
from engagements.demo import FIRST_CUSTOMER_SLUG, FIRST_ENGAGEMENT_TITLE, TAM_USERNAME
from engagements.models import Customer
from engagements.selectors import partner_is_solution_provider
from support import services
from support.choices import CaseStatus, CaseType, CertificationTrack
from support.models import StaffCertification, SupportCase, SupportPlan, SupportSubscription
from support.selectors import accounts_open_for_cases

SUPPORT_ENGINEER = DemoLogin(
    "support", "apn-demo-support-2026", "Sam", "Okoro", "a Cloud Support Engineer who answers cases"
)
DEMO_LOGINS = (SUPPORT_ENGINEER,)

TECHNICAL_SUBJECTS = [
    "WordPress returns 502 after the last deployment",
    "Database connections time out at peak hours",
    "Cannot attach a second volume to the web server",
    "Load balancer health checks fail intermittently",
    "Question about sizing the cache cluster",
]


def _engineer() -> User:
    return demo_user_ensure(SUPPORT_ENGINEER, role=StaffRole.SUPPORT_ENGINEER)[0]


def _plan(slug: str) -> SupportPlan:
    """The plan, or its successor once it has retired (the demo may be seeded after 1 January 2027)."""
    plan = SupportPlan.objects.select_related("successor").get(slug=slug)
    if not plan.is_offered_on(timezone.localdate()) and plan.successor_id:
        return plan.successor
    return plan


def _backdate_subscription(subscription: SupportSubscription, days: int) -> None:
    """Started `days` ago; the row it replaced ended then too."""
    moment = timezone.now() - datetime.timedelta(days=days)
    SupportSubscription.objects.filter(pk=subscription.pk).update(started_at=moment)
    if subscription.replaces_id:
        SupportSubscription.objects.filter(pk=subscription.replaces_id).update(ended_at=moment)


def _backdate_case(case: SupportCase, hours: float) -> None:
    """Opened `hours` earlier, its deadline moved with it (exact for plans that answer around the clock)."""
    shift = datetime.timedelta(hours=hours)
    SupportCase.objects.filter(pk=case.pk).update(
        opened_at=F("opened_at") - shift, first_response_due_at=F("first_response_due_at") - shift
    )


def seed_support(rng: random.Random | None = None) -> dict[str, int]:
    """Subscriptions and cases for the demo customers. Returns counts (empty when already seeded)."""
    rng = rng or random.Random(2026)
    northwind = (
        Customer.objects.filter(slug=FIRST_CUSTOMER_SLUG).select_related("account_manager", "tam").first()
    )
    if northwind is None or SupportSubscription.objects.filter(customer=northwind).exists():
        return {}
    with transaction.atomic():
        return _seed(rng, northwind)


def _seed(rng: random.Random, northwind: Customer) -> dict[str, int]:
    am = northwind.account_manager
    engineer = _engineer()
    subscriptions = cases = 0
    subjects = list(TECHNICAL_SUBJECTS)
    rng.shuffle(subjects)

    # The TAM the engagements demo named: every TAM holds an associate Solutions Architect certification.
    tam = northwind.tam or User.objects.filter(username=TAM_USERNAME).first()
    if tam is not None and not StaffCertification.objects.filter(user=tam).exists():
        StaffCertification.objects.create(
            user=tam,
            track=CertificationTrack.SOLUTIONS_ARCHITECT,
            level="associate",
            name="Solutions Architect - Associate",
            credential_id="DEMO-SAA-0001",
            earned_on=timezone.localdate() - datetime.timedelta(days=400),
        )

    # 1. Northwind: Developer, then Business, then Enterprise with its TAM (the "Enterprise Support upgrade").
    chris = northwind.access_administrators.order_by("pk").first()
    history = [("developer", chris, None, 200), ("business", chris, None, 90)]
    if tam is not None:
        history.append(("enterprise", am, tam, 20))
    previous = None
    for slug, user, named_tam, days_ago in history:
        if _plan(slug) == previous:
            continue  # both retired plans became the same successor
        previous = _plan(slug)
        subscription = services.support_subscription_change(
            user=user, customer=northwind, plan=_plan(slug), tam=named_tam
        )
        _backdate_subscription(subscription, days_ago)
        subscriptions += 1
    # The TAM the upgrade brought joins the WordPress engagement's team: a customer's team has the TAM its
    # plan designates, and none before.
    wordpress = northwind.engagements.filter(title=FIRST_ENGAGEMENT_TITLE).first()
    if tam is not None and wordpress is not None:
        engagement_services.team_member_add(
            user=am,
            engagement=wordpress,
            role=TeamRole.TAM,
            member=tam,
            joined_on=timezone.localdate() - datetime.timedelta(days=20),
            note="Came with the Enterprise Support upgrade",
        )
    prod = northwind.accounts.filter(name="wordpress-prod").first() or northwind.accounts.first()
    dev = northwind.accounts.filter(name="wordpress-dev").first()
    critical = services.support_case_open(
        user=chris,
        account=prod,
        subject="Checkout down: the shop answers 503 for every visitor",
        description="Since 14:05 every page returns 503. The database looks healthy.",
        severity="business_critical_down",
    )
    services.support_case_reply(
        user=tam or engineer,
        case=critical,
        body="I am on a call with the service team; a failed deployment left the target group empty.",
    )
    cases += 1
    question = services.support_case_open(
        user=chris,
        account=prod,
        subject=subjects[0],
        description="We would like advice before the autumn fundraising campaign.",
        severity="general_guidance",
    )
    services.support_case_reply(user=engineer, case=question, body="Here is what we recommend ...")
    services.support_case_status_change(user=chris, case=question, status=CaseStatus.RESOLVED)
    cases += 1
    overdue = services.support_case_open(
        user=chris,
        account=prod,
        subject=subjects[1],
        description="Connections pile up between 19:00 and 21:00 and requests time out.",
        severity="production_impaired",
    )
    _backdate_case(overdue, hours=6)  # unanswered past its 4-hour target: support_sla will flag it
    cases += 1
    partner_user = User.objects.filter(username="partner", partner__isnull=False).first()
    if (
        partner_user is not None
        and dev is not None
        and accounts_open_for_cases(partner_user, case_type=CaseType.TECHNICAL).filter(pk=dev.pk).exists()
    ):
        services.support_case_open(
            user=partner_user,
            account=dev,
            subject=subjects[2],
            description="Opened for Northwind by its consulting partner during the migration.",
            severity="production_impaired",
        )
        cases += 1

    # 2. Contoso: Business, which retires on 1 January 2027 in favour of Business Support+.
    contoso = Customer.objects.filter(name="Contoso Ministry of Transport").first()
    if contoso is not None:
        services.support_subscription_change(user=am, customer=contoso, plan=_plan("business"))
        subscriptions += 1
        registrar = contoso.access_administrators.order_by("pk").first()
        if registrar is not None:
            services.support_case_open(
                user=registrar,
                account=contoso.accounts.order_by("account_id").first(),
                subject="Invoice shows charges for a region we do not use",
                description="The November invoice lists data transfer in a region we never enabled.",
                severity="general_guidance",
                case_type=CaseType.ACCOUNT_AND_BILLING,
            )
            cases += 1

    # 3. Fabrikam: Developer for the organisation; partner-led Business on the account its reseller bills.
    fabrikam = Customer.objects.filter(name="Fabrikam Relief").first()
    if fabrikam is not None:
        services.support_subscription_change(user=am, customer=fabrikam, plan=_plan("developer"))
        subscriptions += 1
        resold = fabrikam.accounts.filter(reseller__isnull=False).select_related("reseller").first()
        if resold is not None and partner_is_solution_provider(resold.reseller):
            services.support_subscription_change(
                user=am,
                customer=fabrikam,
                account=resold,
                plan=_plan("business"),
                support_partner=resold.reseller,
                note="Partner-led support under the reseller's contract",
            )
            subscriptions += 1
            ops = User.objects.filter(username="fabrikam.ops").first()
            if ops is None:
                ops = User(
                    username="fabrikam.ops",
                    first_name="Amara",
                    last_name="Diallo",
                    email="fabrikam.ops@apn-portal.example",
                    customer=fabrikam,
                )
                ops.set_unusable_password()
                ops.save()
            services.support_case_open(
                user=ops,
                account=resold,
                subject=subjects[3],
                description="The Kenya franchise's donation form fails every few minutes.",
                severity="production_down",
            )
            cases += 1
    return {"subscriptions": subscriptions, "cases": cases}
