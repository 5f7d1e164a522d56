"""Reads of support plans, subscriptions and cases, and who may see or do what with them.

Visibility is one queryset per kind of record (`*_visible_to(user)`); every page, the admin and the API
start from these, so nobody sees another organisation's subscriptions or cases.
"""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import role_holders_condition
from apn_portal.accounts.selectors import role_names_loaded, user_is_signed_in
from apn_portal.text import full_stop, short_list
from engagements.choices import AccessScope
from engagements.models import AwsAccount, Customer, todays_in_zones
from engagements.selectors import (
    accounts_visible_to,
    customers_assigned_to,
    live_grants,
    partner_is_solution_provider,
)
from partners.choices import CertificationLevel, ProgramKind
from partners.selectors import active_enrollments
from support.choices import (
    ACTIVE_CASE_STATUSES,
    SEVERITY_ORDER,
    CaseStatus,
    CaseType,
    CertificationTrack,
    ReplySide,
    TamCoverage,
    TechnicalSupportHours,
)
from support.models import (
    CaseReply,
    PlanResponseTarget,
    StaffCertification,
    SupportCase,
    SupportPlan,
    SupportSubscription,
    format_minutes,
)

BASIC_PLAN_SLUG = "basic"
TAM_CERTIFICATION_LEVELS = (CertificationLevel.ASSOCIATE, CertificationLevel.PROFESSIONAL)


# Plans ------------------------------------------------------------------------------------------------


def plans_offered(on: datetime.date | None = None) -> QuerySet[SupportPlan]:
    """Plans that can be newly subscribed to on `on`: available, and not retired."""
    return SupportPlan.objects.filter(_offered_on(on or timezone.localdate()))


def _offered_on(day: datetime.date) -> Q:
    return Q(available_from__lte=day) & (Q(retires_on__isnull=True) | Q(retires_on__gt=day))


def customers_todays(customers: QuerySet[Customer]) -> set[datetime.date]:
    """The days it is now in the customers' time zones (today's, when there are none): at most three."""
    now = timezone.now()
    zones = customers.order_by().values_list("time_zone", flat=True).distinct()
    return set(todays_in_zones(zones, now).values()) or {timezone.localdate(now)}


def _on_any(days, offered_on) -> Q:
    condition = Q(pk__in=[])
    for day in days:
        condition |= offered_on(day)
    return condition


def plans_offered_on_any(days) -> QuerySet[SupportPlan]:
    """Plans offered (plans_offered) on at least one of `days`: those some of the customers whose todays
    they are (customers_todays) can subscribe to, for a form that does not know which customer yet."""
    return SupportPlan.objects.filter(_on_any(days, _offered_on))


def plans_with_targets(plans: QuerySet[SupportPlan]) -> QuerySet[SupportPlan]:
    return plans.select_related("successor").prefetch_related(
        Prefetch("response_targets", queryset=PlanResponseTarget.objects.order_by("-minutes", "id"))
    )


def plans_for_comparison(subscribed_plan_ids, on: datetime.date | None = None) -> QuerySet[SupportPlan]:
    """The plan comparison table: every plan offered on `on` (the customer's today), plus the ones the
    customer is still on."""
    return plans_with_targets(
        SupportPlan.objects.filter(Q(pk__in=plans_offered(on).values("pk")) | Q(pk__in=subscribed_plan_ids))
    ).order_by("rank", "name")


def basic_plan() -> SupportPlan:
    """The plan every customer has without subscribing to another."""
    return SupportPlan.objects.get(slug=BASIC_PLAN_SLUG)


def plan_targets(plan: SupportPlan) -> dict[str, int]:
    """Severity -> minutes, from what `plans_with_targets` prefetched (or one query)."""
    return {target.severity: target.minutes for target in plan.response_targets.all()}


def plan_severities(plan: SupportPlan) -> list[str]:
    """The severities a technical case can have on `plan`, least urgent first."""
    targets = plan_targets(plan)
    return [severity.value for severity in SEVERITY_ORDER if severity.value in targets]


def plan_targets_problem(plan: SupportPlan, severities) -> str | None:
    """Why `plan` cannot keep first-response targets for exactly `severities` (an edit of its targets),
    or None when it can. A severity without a target is one its customers cannot open a technical case
    at: a plan with technical support keeps at least one, and one that customers are on now keeps every
    severity they signed up for (as its TAM coverage, SupportPlan.clean), and so its technical support
    hours; a plan without technical support promises no response at all."""
    severities = set(severities)
    name = plan.name or "The plan"
    if plan.technical_support_hours == TechnicalSupportHours.NONE:
        # Without technical support the plan would promise no response at all: one customers are on
        # keeps every severity it promised them, and so its technical support too.
        dropped = _promised_now(plan)
        if dropped:
            return _promised_problem(plan, dropped, "keep its technical support hours and those targets")
        if severities:
            return (
                f"{name} includes no technical support, so it promises no first response: remove its "
                "targets, or give it technical support hours."
            )
        return None
    if not severities:
        return (
            f"{name} includes technical support: keep a first-response target for at least one "
            "severity, or its customers cannot open a technical case."
        )
    dropped = _promised_now(plan) - severities
    if dropped:
        return _promised_problem(plan, dropped, "keep those targets")
    return None


def _promised_now(plan: SupportPlan) -> set[str]:
    """The severities `plan` (as stored) promises a first response to customers on it now: none when
    nobody is."""
    if plan.pk is None or not plan.subscriptions.filter(ended_at__isnull=True).exists():
        return set()
    return set(plan.response_targets.values_list("severity", flat=True))


def _promised_problem(plan: SupportPlan, dropped: set[str], keep: str) -> str:
    labels = ", ".join(s.label.lower() for s in SEVERITY_ORDER if s.value in dropped)
    return (
        f"Customers are on {plan.name} now, and it promises them a first response to {labels} cases: "
        f"{keep} (their minutes can change), or retire the plan in favour of a new one."
    )


def plan_deletion_problems(plans: QuerySet[SupportPlan]) -> list[str]:
    """Why the plans cannot be deleted, one sentence per plan, or none. Basic is the plan of every
    customer without a subscription (basic_plan), and a plan that subscriptions, cases or another plan's
    retirement name is history: it retires instead."""
    problems = []
    rows = plans.annotate(
        subscribed=Exists(SupportSubscription.objects.filter(plan=OuterRef("pk"))),
        with_cases=Exists(SupportCase.objects.filter(plan=OuterRef("pk"))),
    ).prefetch_related(Prefetch("predecessors", queryset=SupportPlan.objects.order_by("rank", "name")))
    for plan in rows.order_by("rank", "name"):
        if plan.slug == BASIC_PLAN_SLUG:
            problems.append(
                f"{plan.name} is the plan every customer without a subscription is on: it cannot be deleted."
            )
        elif plan.subscribed or plan.with_cases:
            problems.append(
                f"{plan.name} has subscriptions or cases on record, which name it: retire it instead, "
                "with a retirement day and a successor."
            )
        elif predecessors := [p.name for p in plan.predecessors.all()]:
            problems.append(
                f"{plan.name} is the successor of {', '.join(predecessors)}: name another successor for "
                "them first."
            )
    return problems


def technical_support_text(plan: SupportPlan) -> str:
    """Table 1's wording: 'Local business hours access to Cloud Support Associates via email'."""
    if plan.technical_support_hours == TechnicalSupportHours.NONE:
        return "None"
    when = (
        "Local business hours"
        if plan.technical_support_hours == TechnicalSupportHours.BUSINESS_HOURS
        else "24x7"
    )
    who = f" to {plan.technical_support_staff}" if plan.technical_support_staff else ""
    channels = plan.channels
    how = ""
    if channels:
        how = " via " + (
            channels[0] if len(channels) == 1 else ", ".join(channels[:-1]) + " & " + channels[-1]
        )
    return f"{when} access{who}{how}"


@dataclass(frozen=True)
class ComparisonRow:
    label: str
    cells: list[str]
    is_heading: bool = False


def plan_comparison(plans: list[SupportPlan]) -> list[ComparisonRow]:
    """The comparison table, one row per feature and per severity, from `plans_with_targets` (no queries)."""

    def yes(value: bool) -> str:
        return "Yes" if value else "No"

    rows = [
        ComparisonRow("Customer service, 24x7x365", [yes(p.customer_service_24x7) for p in plans]),
        ComparisonRow("Trusted Advisor", [p.get_trusted_advisor_display() for p in plans]),
        ComparisonRow(
            "Health status and notifications",
            [
                "Personal Health Dashboard & Health API"
                if p.health_dashboard and p.health_api
                else ("Personal Health Dashboard" if p.health_dashboard else "No")
                for p in plans
            ],
        ),
        ComparisonRow("Support forums", [yes(p.support_forums) for p in plans]),
        ComparisonRow(
            "Documentation, whitepapers, best practice guides", [yes(p.documentation) for p in plans]
        ),
        ComparisonRow("Technical support", [technical_support_text(p) for p in plans]),
        ComparisonRow("Technical Account Manager", [p.get_tam_coverage_display() for p in plans]),
        ComparisonRow("First response to a technical case", [""] * len(plans), is_heading=True),
    ]
    targets = [plan_targets(p) for p in plans]
    for severity in SEVERITY_ORDER:
        cells = [format_minutes(t.get(severity.value)) or "Not available" for t in targets]
        for i, plan in enumerate(plans):
            if severity.value in targets[i] and plan.answers_in_business_hours_only:
                cells[i] += " (business hours)"
        rows.append(ComparisonRow(severity.label, cells))
    rows.append(
        ComparisonRow(
            "Availability",
            [
                f"Until {p.retires_on - datetime.timedelta(days=1):%d %b %Y}"
                + (f", then {p.successor.name}" if p.successor_id else "")
                if p.retires_on
                else f"Since {p.available_from:%d %b %Y}"
                for p in plans
            ],
        )
    )
    return rows


@dataclass(frozen=True)
class PlanMove:
    """Where a subscription goes when its plan retires."""

    successor: SupportPlan | None
    on: datetime.date


def plan_move(plan: SupportPlan) -> PlanMove | None:
    if plan.retires_on is None:
        return None
    return PlanMove(successor=plan.successor, on=plan.retires_on)


# Subscriptions ----------------------------------------------------------------------------------------


def subscriptions_not_ended(at: datetime.datetime | None = None) -> QuerySet[SupportSubscription]:
    """Subscriptions in force at `at` or yet to start."""
    return SupportSubscription.objects.filter(_not_ended(at or timezone.now()))


def _not_ended(at: datetime.datetime) -> Q:
    return Q(ended_at__isnull=True) | Q(ended_at__gt=at)


def subscriptions_in_force(at: datetime.datetime | None = None) -> QuerySet[SupportSubscription]:
    at = at or timezone.now()
    return subscriptions_not_ended(at).filter(started_at__lte=at)


def subscription_for_account(
    account: AwsAccount, at: datetime.datetime | None = None
) -> SupportSubscription | None:
    """The subscription that applies to `account` at `at`: its own, else its customer's; None on Basic."""
    return subscriptions_applying([account], at)[account.pk]


def subscriptions_applying(
    accounts, at: datetime.datetime | None = None
) -> dict[int, SupportSubscription | None]:
    """subscription_for_account for many accounts at once, by account pk, in one query."""
    accounts = list(accounts)
    in_force = list(
        subscriptions_in_force(at)
        .filter(customer_id__in={account.customer_id for account in accounts})
        .filter(Q(account__in=[account.pk for account in accounts]) | Q(account__isnull=True))
        .select_related("plan", "tam", "support_partner")
        # The latest last, so it is the one kept when two overlap at `at`.
        .order_by("started_at", "pk")
    )
    own = {subscription.account_id: subscription for subscription in in_force if subscription.account_id}
    customers = {s.customer_id: s for s in in_force if s.account_id is None}
    return {account.pk: own.get(account.pk, customers.get(account.customer_id)) for account in accounts}


def subscriptions_partner_led(at: datetime.datetime | None = None) -> Q:
    """Subscriptions (as SupportSubscription rows) whose support partner gives partner-led support at `at`:
    an approved Solution Provider that resells the account (for the whole customer: one of its accounts),
    as support_subscription_change checked when it was named (_check_support_partner). The partner stays
    stored as the customer chose it, but once its enrollment ends or the customer takes the accounts
    back, it no longer answers their new cases (handling_partner_for), nor the open ones
    (cases_partner_led), nor reads the subscription, nor is named as giving support."""
    at = at or timezone.now()
    resold = AwsAccount.objects.filter(customer=OuterRef("customer"), reseller=OuterRef("support_partner"))
    return (
        Q(support_partner__isnull=False)
        & Q(_solution_provider(OuterRef("support_partner"), at))
        & ((Q(account__isnull=True) & Q(Exists(resold))) | Q(account__reseller=F("support_partner")))
    )


def _solution_provider(partner, at: datetime.datetime) -> Exists:
    """Whether `partner` (an OuterRef to one) is an approved Solution Provider at `at`."""
    return Exists(
        active_enrollments(timezone.localdate(at)).filter(
            partner=partner, program__kind=ProgramKind.SOLUTION_PROVIDER
        )
    )


def _with_partner_led(subscriptions: QuerySet[SupportSubscription]) -> QuerySet[SupportSubscription]:
    """`partner_led` on each: whether its support partner gives partner-led support now
    (subscriptions_partner_led), in the same query."""
    return subscriptions.annotate(
        partner_led=ExpressionWrapper(subscriptions_partner_led(), output_field=BooleanField())
    )


def current_customer_subscription(customer: Customer) -> SupportSubscription | None:
    return _with_partner_led(
        SupportSubscription.objects.filter(
            customer=customer, account__isnull=True, ended_at__isnull=True
        ).select_related("plan__successor", "tam", "support_partner")
    ).first()


def customer_plan(customer: Customer | None) -> tuple[SupportSubscription | None, SupportPlan]:
    """The customer's organisation-wide subscription (None on Basic) and the plan it gives: Basic without
    one. A customer not yet registered (None) is on Basic."""
    subscription = current_customer_subscription(customer) if customer is not None else None
    return subscription, (subscription.plan if subscription is not None else basic_plan())


def current_account_subscriptions(customer: Customer) -> QuerySet[SupportSubscription]:
    return _with_partner_led(
        SupportSubscription.objects.filter(customer=customer, account__isnull=False, ended_at__isnull=True)
        .select_related("plan__successor", "tam", "support_partner", "account")
        .order_by("account__account_id")
    )


def designated_now(customer) -> QuerySet[SupportSubscription]:
    """The current subscriptions of `customer` (a pk, or an OuterRef to one) that designate a TAM, the one
    that makes the customer's TAM first: the customer's own, else its accounts' latest."""
    return SupportSubscription.objects.filter(
        customer=customer, ended_at__isnull=True, tam__isnull=False
    ).order_by(F("account").asc(nulls_first=True), "-started_at", "-pk")


def subscription_history(customer: Customer) -> QuerySet[SupportSubscription]:
    return (
        SupportSubscription.objects.filter(customer=customer)
        .select_related("plan", "account", "tam", "support_partner", "changed_by")
        .order_by("-started_at", "-id")
    )


def subscriptions_visible_to(user) -> QuerySet[SupportSubscription]:
    if not user_is_signed_in(user):
        return SupportSubscription.objects.none()
    if user_sees_all_support(user):
        return SupportSubscription.objects.all()
    if user.customer_id:
        return SupportSubscription.objects.filter(customer_id=user.customer_id)
    # A partner or TAM a subscription names reads it while it is not over and, for a partner, while it
    # still gives partner-led support (subscriptions_partner_led): once the customer takes its support or
    # its accounts back, the partner's enrollment ends, or the customer moves to another TAM, its
    # subscriptions (their notes, who changed them) are none of theirs, as its cases are not
    # (cases_visible_to). The staff who look after the customer read them all.
    if user.partner_id:
        return (
            subscriptions_not_ended()
            .filter(support_partner_id=user.partner_id)
            .filter(subscriptions_partner_led())
        )
    if user.is_provider_staff:
        assigned = Q(customer__in=customers_assigned_to(user).values("pk"))
        return SupportSubscription.objects.filter(assigned | (Q(tam=user) & _not_ended(timezone.now())))
    return SupportSubscription.objects.none()


# The provider's support staff and TAMs ----------------------------------------------------------------


def user_sees_all_support(user) -> bool:
    """Superusers and Cloud Support Engineers work on every customer's cases."""
    return user_is_signed_in(user) and (user.is_superuser or user.has_role(StaffRole.SUPPORT_ENGINEER))


def _tam_grade_certifications(on: datetime.date) -> QuerySet[StaffCertification]:
    """Solutions Architect certifications at a TAM's level (associate or above) earned by `on`, expired
    or not."""
    return StaffCertification.objects.filter(
        track=CertificationTrack.SOLUTIONS_ARCHITECT, level__in=TAM_CERTIFICATION_LEVELS, earned_on__lte=on
    )


def tam_certifications(on: datetime.date | None = None) -> QuerySet[StaffCertification]:
    """Certifications that qualify a TAM on `on`: Solutions Architect, associate level or above, unexpired."""
    on = on or timezone.localdate()
    return _tam_grade_certifications(on).filter(expires_on__gte=on)


def tam_certification_change_problems(certification: StaffCertification, *, user, track, level) -> list[str]:
    """Why `certification`, as stored, cannot be made `user`'s, or of `track` and `level`, or none. It
    stays a qualifying one (tam_certifications) while its holder keeps it and it stays a Solutions
    Architect one at a TAM's level; another holder or another kind takes it from a TAM as a deletion
    would (tam_certification_removal_problems). Its dates run as they do (an expiry changes no
    subscription either)."""
    if certification.pk is None:
        return []
    still_qualifies = (
        getattr(user, "pk", None) == certification.user_id
        and track == CertificationTrack.SOLUTIONS_ARCHITECT
        and level in TAM_CERTIFICATION_LEVELS
    )
    if still_qualifies:
        return []
    return tam_certification_removal_problems(StaffCertification.objects.filter(pk=certification.pk))


def tam_problem(user, on: datetime.date | None = None) -> str | None:
    """Why `user` cannot be a customer's designated TAM, or None when they can."""
    if user is None:
        return "An Enterprise subscription needs a designated TAM: name one."
    if not (user.is_active and user.has_role(StaffRole.TAM)):
        return f"{user} is not one of the provider's Technical Account Managers."
    if not tam_certifications(on).filter(user=user).exists():
        return (
            f"{user} holds no current Solutions Architect certification at associate level or above, "
            "which every TAM needs."
        )
    return None


def tam_certification_removal_problems(certifications: QuerySet[StaffCertification]) -> list[str]:
    """Why the certifications cannot be taken from their holders (deleted, or made another person's or
    another kind), one sentence per TAM, or none: they are the only ones that qualify a TAM whom a
    current subscription designates (tam_problem). Only the customer's Account Manager can name another
    TAM, so that comes first. Their dates are left to run: an expiry, like the one the designation was
    made under, changes no subscription, and neither does this check about it."""
    today = timezone.localdate()
    removed = dict(certifications.values_list("pk", "user_id"))
    qualifying = list(
        tam_certifications(today).filter(user__in=set(removed.values())).values_list("user_id", "pk")
    )
    keeping = {user_id for user_id, pk in qualifying if pk not in removed}
    losing = {user_id for user_id, pk in qualifying if pk in removed} - keeping
    if not losing:
        return []
    designating = (
        SupportSubscription.objects.filter(ended_at__isnull=True, tam__in=losing)
        .select_related("customer", "account", "plan", "tam")
        .order_by("tam_id", "customer__name", "account__account_id", "pk")
    )
    by_tam: dict[int, list[SupportSubscription]] = {}
    for subscription in designating:
        by_tam.setdefault(subscription.tam_id, []).append(subscription)
    lost: dict[int, list[str]] = {}
    for user_id, name in (
        StaffCertification.objects.filter(pk__in=[pk for user_id, pk in qualifying if user_id in by_tam])
        .order_by("pk")
        .values_list("user_id", "name")
    ):
        lost.setdefault(user_id, []).append(name)
    problems = []
    for subscriptions in by_tam.values():
        tam = subscriptions[0].tam
        held = " and ".join(lost[tam.pk])
        shown = short_list(subscriptions, 5)
        problems.append(
            f"{tam} is the designated TAM of {shown}, and {held} is what qualifies them as one (a "
            "current Solutions Architect certification): ask the customer's Account Manager to name "
            "another TAM first."
        )
    return problems


def _designation_text(subscription: SupportSubscription) -> str:
    if subscription.account_id:
        return (
            f"the {subscription.plan} plan of {subscription.customer}'s account "
            f"{subscription.account.account_id}"
        )
    return f"{subscription.customer}'s {subscription.plan} plan"


def tam_leaving_problems(users) -> list[str]:
    """Why the people (`users`: pks, or a query of them) cannot stop being TAMs (be deactivated, lose the
    TAM role, stop being provider staff), one sentence per TAM, or none: a subscription in force or yet to
    start designates them (tam_problem), and its customer's cases and breach emails would go to somebody
    who no longer answers them. Naming another TAM there comes first."""
    designating = (
        subscriptions_not_ended()
        .filter(tam__in=users)
        .select_related("customer", "account", "plan", "tam")
        .order_by("tam_id", "customer__name", F("account__account_id").asc(nulls_first=True), "pk")
    )
    by_tam: dict[int, list[SupportSubscription]] = {}
    for subscription in designating:
        by_tam.setdefault(subscription.tam_id, []).append(subscription)
    problems = []
    for subscriptions in by_tam.values():
        shown = short_list([_designation_text(s) for s in subscriptions], 5)
        tam = subscriptions[0].tam
        problems.append(f"{tam} is the designated TAM of {shown}: name another TAM there first.")
    return problems


def tam_qualified_until(tam, on: datetime.date) -> Subquery:
    """The last day `tam` (an OuterRef to a user) qualifies as a TAM by what they hold on `on`: the latest
    expiry of their Solutions Architect certifications at a TAM's level earned by then (tam_certifications),
    before `on` if they no longer qualify, None if they never held one."""
    return Subquery(
        _tam_grade_certifications(on)
        .filter(user=tam)
        .values("user")
        .annotate(until=Max("expires_on"))
        .values("until")
    )


@dataclass
class TamQualificationNotice:
    """One designated TAM whose qualification ends within the warning window (or has ended), and the
    plans of one customer that designate them: what the tam_qualification check tells the TAM and the
    customer's Account Manager."""

    tam_id: int
    tam_name: str
    tam_email: str
    customer_id: int
    customer_name: str
    account_manager_email: str
    qualified_until: datetime.date | None  # the last day they qualify; None: they never did
    plans: list[str]


def tam_qualification_notices(today: datetime.date, within_days: int) -> list[TamQualificationNotice]:
    """The designated TAMs of subscriptions in force or yet to start (as tam_leaving_problems) whose last
    qualifying day (tam_qualified_until) is less than `within_days` days after `today`, or already past,
    one per TAM and customer: their plans all lose a qualified TAM on the same day. One query, however many
    TAMs and subscriptions. An address is empty for an inactive user, the Account Manager's also for one
    who no longer holds that role."""
    rows = (
        subscriptions_not_ended()
        .filter(tam__isnull=False)
        .annotate(qualified_until=tam_qualified_until(OuterRef("tam"), today))
        .filter(
            Q(qualified_until__isnull=True)
            | Q(qualified_until__lte=today + datetime.timedelta(days=within_days))
        )
        .annotate(
            # Only while they are still an Account Manager: somebody whose role was taken, or who left, is
            # no longer told of the customer (engagements.selectors._staff_fields_held_by).
            account_manager_holds_role=Exists(
                get_user_model().objects.filter(
                    role_holders_condition(StaffRole.ACCOUNT_MANAGER),
                    pk=OuterRef("customer__account_manager_id"),
                )
            )
        )
        .select_related("customer__account_manager", "account", "plan", "tam")
        .order_by(
            "tam_id", "customer__name", "customer_id", F("account__account_id").asc(nulls_first=True), "pk"
        )
    )
    notices: dict[tuple[int, int], TamQualificationNotice] = {}
    for subscription in rows:
        key = (subscription.tam_id, subscription.customer_id)
        if key not in notices:
            tam, customer = subscription.tam, subscription.customer
            manager = customer.account_manager
            notices[key] = TamQualificationNotice(
                tam_id=tam.pk,
                tam_name=str(tam),
                tam_email=tam.email if tam.is_active else "",
                customer_id=customer.pk,
                customer_name=customer.name,
                account_manager_email=manager.email if subscription.account_manager_holds_role else "",
                qualified_until=subscription.qualified_until,
                plans=[],
            )
        notices[key].plans.append(_designation_text(subscription))
    return list(notices.values())


def customer_tam_problem(customer: Customer | None, tam) -> str | None:
    """Why `tam` (a user, or None for nobody) cannot be named as the customer's TAM (Customer.tam), or
    None when it can. The customer's TAM is the one its support serves it with: on a customer-wide plan
    with a designated TAM, any qualified TAM (naming one changes the plan's TAM; nobody is refused);
    otherwise only the TAM an account's own plan designates, if any, and else nobody. A customer not yet
    registered (None) is on Basic."""
    current, plan = customer_plan(customer)
    name = str(customer) if customer is not None else "A new customer"
    if current is not None and current.tam_coverage == TamCoverage.DESIGNATED:
        if tam is None:
            return (
                f"{name} is on {plan.name}, which comes with a designated TAM: name another TAM, or change "
                "its support plan to one without."
            )
        return None if tam.pk == current.tam_id else tam_problem(tam, customer.local_today())
    serving = (
        designated_now(customer.pk).select_related("account", "plan", "tam").first()
        if customer is not None
        else None
    )
    if getattr(tam, "pk", None) == getattr(serving, "tam_id", None):
        return None
    if serving is not None:
        return (
            f"{serving.tam} is {name}'s TAM, designated by account {serving.account.account_id}'s "
            f"{serving.plan.name} plan: a customer's TAM is the one its support plans serve it with, and "
            "changes with them."
        )
    today = customer.local_today() if customer is not None else timezone.localdate()
    with_tam = ", ".join(
        plans_offered(today).filter(tam_coverage=TamCoverage.DESIGNATED).values_list("name", flat=True)
    )
    return (
        f"{name} is on {plan.name}, which comes without a designated TAM, so no TAM serves it. A TAM comes "
        f"with a support plan that has one ({with_tam or 'none is offered now'}): change the customer's "
        "support plan and name the TAM with it."
    )


def tams():
    """The provider's active Technical Account Managers."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(role_holders_condition(StaffRole.TAM))


def qualified_tams(*days: datetime.date):
    """TAMs qualified (tam_certifications) on at least one of `days`, today when none are given: on several
    (customers_todays), those some of the customers whose days they are may have, as plans_offered_on_any."""
    qualifying = StaffCertification.objects.filter(
        _on_any(days or (None,), lambda day: Q(pk__in=tam_certifications(day).values("pk")))
    )
    return (
        tams()
        .filter(Exists(qualifying.filter(user=OuterRef("pk"))))
        .order_by("first_name", "last_name", "username")
    )


def support_engineers():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(
        is_active=True, is_staff=True, groups__name=StaffRole.SUPPORT_ENGINEER.value
    )


# Cases: who sees, opens and answers them ---------------------------------------------------------------


def cases_visible_to(user) -> QuerySet[SupportCase]:
    if not user_is_signed_in(user):
        return SupportCase.objects.none()
    if user_sees_all_support(user):
        return SupportCase.objects.all()
    if user.customer_id:
        return SupportCase.objects.filter(customer_id=user.customer_id)
    if user.partner_id:
        # A case the partner opened for a customer is its own only while the customer still lets it open
        # one on that account (the rule it opened it under), and one it handles only while it still gives
        # the account partner-led support: the customer always keeps control.
        at = timezone.now()
        opened = Q(opened_by_partner_id=user.partner_id) & Q(
            account__in=accounts_open_for_cases(user, at).values("pk")
        )
        handled = Q(handling_partner_id=user.partner_id) & cases_partner_led(at)
        return SupportCase.objects.filter(opened | handled)
    if user.is_provider_staff:
        # A TAM the customer moved on from no longer reads the cases of the plan that designated them.
        return SupportCase.objects.filter(
            Q(customer__in=customers_assigned_to(user).values("pk")) | _designating(user, timezone.now())
        )
    return SupportCase.objects.none()


def user_sees_case(case_id: int, user) -> bool:
    """Whether `user` may read the case now (cases_visible_to): whom its emails may still reach when
    queued (and, as case_readers answers, when sent), so a partner the customer no longer lets see the
    case hears nothing more of it."""
    return cases_visible_to(user).filter(pk=case_id).exists()


def case_readers(case_id: int, users) -> set[int]:
    """The pks of those of `users` who may read the case now (cases_visible_to): whom an email about it
    may still reach when it is sent (the outbox's "support-case" readers, registered in
    SupportConfig.ready). One query asks it of all of them at once, so sending to a partner's twenty staff
    costs what sending to one does: the rule is asked once per organisation (a customer's or a partner's
    people all read what their organisation reads), and once per member of the provider's staff who does
    not work on every case (whose cases are their own customers' and designations')."""
    users = role_names_loaded([user for user in users if user_is_signed_in(user)])
    everyone, asked, reading_as = set(), {}, {}
    for user in users:
        if user_sees_all_support(user):
            everyone.add(user.pk)
            continue
        if user.customer_id:
            name = f"customer_{user.customer_id}"
        elif user.partner_id:
            name = f"partner_{user.partner_id}"
        elif user.is_provider_staff:
            name = f"staff_{user.pk}"
        else:
            continue
        reading_as[user.pk] = name
        if name not in asked:
            asked[name] = Exists(cases_visible_to(user).filter(pk=OuterRef("pk")))
    if not asked:
        return everyone
    reads = SupportCase.objects.filter(pk=case_id).annotate(**asked).values(*asked).first() or {}
    return everyone | {pk for pk, name in reading_as.items() if reads.get(name)}


def customer_tam_readers(customer_id: int, users) -> set[int]:
    """The pks of those of `users` who are the customer's TAM (Customer.tam) now: whom the email telling
    them they became it may still reach when it is sent (the outbox's "customer-tam" readers, registered
    in SupportConfig.ready), one query however many they are. Named and moved on from before it went out,
    they are not told of a customer they no longer look after."""
    tam_id = Customer.objects.filter(pk=customer_id).values_list("tam_id", flat=True).first()
    return {user.pk for user in users if tam_id is not None and user.pk == tam_id}


def _applying_subscription_is(at: datetime.datetime, account=None, **conditions) -> Q:
    """Accounts (as AwsAccount rows) whose applying subscription at `at` (subscription_for_account: their
    own, else their customer's) meets `conditions`. `account`: an OuterRef to the account, for rows of
    another model that name one (and their customer); the row's own pk otherwise."""
    in_force = subscriptions_in_force(at)
    own = in_force.filter(account=account if account is not None else OuterRef("pk"))
    return Q(Exists(own.filter(**conditions))) | (
        ~Q(Exists(own))
        & Q(Exists(in_force.filter(customer=OuterRef("customer"), account__isnull=True, **conditions)))
    )


def _partner_led_by(partner_id, at: datetime.datetime, account=None) -> Q:
    """Accounts whose applying subscription is partner-led by `partner_id` (a pk, or an OuterRef to one)."""
    return _applying_subscription_is(at, account, support_partner_id=partner_id)


def _designating(user, at: datetime.datetime) -> Q:
    """Cases (as SupportCase rows) on accounts whose applying subscription designates `user` as TAM: the
    cases they answer (responder_side), including those opened before they were named."""
    return _applying_subscription_is(at, OuterRef("account"), tam=user, tam_coverage=TamCoverage.DESIGNATED)


def cases_partner_led(at: datetime.datetime | None = None) -> Q:
    """Cases (as SupportCase rows) whose handling partner still gives their account partner-led support
    at `at`, as handling_partner_for judged when they were opened: an approved Solution Provider that
    resells the account and that the applying subscription names. Only then does the partner see and
    answer them; once the customer takes the account's support back (another plan, or no reseller), they
    are the provider's (support.services moves them, saying why, where the change is its own)."""
    at = at or timezone.now()
    return (
        Q(handling_partner__isnull=False, account__reseller=F("handling_partner"))
        & Q(_solution_provider(OuterRef("handling_partner"), at))
        & _partner_led_by(OuterRef("handling_partner"), at, account=OuterRef("account"))
    )


# What a partner's live access grant on an account lets it open there: read-only access lets it look, not
# ask; billing access, questions about the account and its bills; operations or administration, anything.
CASE_TYPES_BY_GRANT_SCOPE = {
    AccessScope.READ_ONLY: (),
    AccessScope.BILLING: (CaseType.ACCOUNT_AND_BILLING,),
    AccessScope.OPERATIONS: (CaseType.TECHNICAL, CaseType.ACCOUNT_AND_BILLING),
    AccessScope.ADMINISTRATION: (CaseType.TECHNICAL, CaseType.ACCOUNT_AND_BILLING),
}


def _scopes_opening(case_type: str | None) -> list[str]:
    """The grant scopes that let a partner open a `case_type` case (None: a case of some type)."""
    return [
        scope.value
        for scope, case_types in CASE_TYPES_BY_GRANT_SCOPE.items()
        if (case_type in case_types if case_type is not None else case_types)
    ]


def _accounts_for_cases(user, at: datetime.datetime, scopes) -> QuerySet[AwsAccount]:
    if not user_is_signed_in(user):
        return AwsAccount.objects.none()
    if user.customer_id:
        return AwsAccount.objects.filter(customer_id=user.customer_id)
    if user.partner_id:
        granted = Q(
            Exists(
                live_grants(at).filter(
                    account=OuterRef("pk"), engagement_partner__partner_id=user.partner_id, scope__in=scopes
                )
            )
        )
        if partner_is_solution_provider(user.partner):
            resold = Q(reseller_id=user.partner_id) & _partner_led_by(user.partner_id, at)
            return AwsAccount.objects.filter(granted | resold)
        return AwsAccount.objects.filter(granted)
    return AwsAccount.objects.none()


def accounts_open_for_cases(
    user, at: datetime.datetime | None = None, case_type: str | None = None
) -> QuerySet[AwsAccount]:
    """The accounts `user` may open a support case on (of `case_type`; None: of some type, what the
    new-case form offers): their own customer's, or, for a partner, those the customer let it act in (a
    live access grant whose scope allows the case, CASE_TYPES_BY_GRANT_SCOPE) and those it resells with
    partner-led support."""
    return _accounts_for_cases(user, at or timezone.now(), _scopes_opening(case_type))


def accounts_named_in_new_cases(user) -> QuerySet[AwsAccount]:
    """The accounts a new case may name (the API's account field): those open for cases, and the others
    `user` sees anyway (engagements' accounts_visible_to): a partner's under a narrower live grant, told
    why it cannot open a case there (grant_scope_refusal), and the accounts of the customers a member of
    the provider's staff looks after, refused as not theirs to open cases on (a 403). Any other account
    reads as not existing."""
    return AwsAccount.objects.filter(
        Q(pk__in=_accounts_for_cases(user, timezone.now(), AccessScope.values).values("pk"))
        | Q(pk__in=accounts_visible_to(user).values("pk"))
    )


def grant_scope_refusal(
    user, account: AwsAccount, case_type: str | None = None, at: datetime.datetime | None = None
) -> str | None:
    """Why the live access grants `user`'s partner holds on `account` do not let it open a `case_type`
    case there (None: any case), or None when they do, or when it holds none (it has no standing on the
    account at all)."""
    if not user_is_signed_in(user) or not user.partner_id:
        return None
    scopes = set(
        live_grants(at or timezone.now())
        .filter(account=account, engagement_partner__partner_id=user.partner_id)
        .values_list("scope", flat=True)
    )
    if not scopes:
        return None
    allowed = {case_type for scope in scopes for case_type in CASE_TYPES_BY_GRANT_SCOPE[scope]}
    customer = account.customer.name
    if not allowed:
        return (
            f"Your access to account {account.account_id} is read-only: it lets you look, not open support "
            f"cases. Ask {customer} for an operations or administration access grant (a billing one opens "
            "account and billing cases only)."
        )
    if case_type is not None and case_type not in allowed:
        return (
            f"Your access to account {account.account_id} is for billing, so you can open account and "
            f"billing cases on it: a {CaseType(case_type).label.lower()} case needs an operations or "
            f"administration access grant from {full_stop(customer)}"
        )
    return None


def handling_partner_for(subscription: SupportSubscription | None, account: AwsAccount, opener):
    """The reselling partner that answers a new case on `account` first, or None for the provider.

    Partner-led support: the subscription names a Solution Provider that resells this very account. A
    case the partner opens itself is its own question to the provider, so it goes to the provider.
    """
    if subscription is None or subscription.support_partner_id is None:
        return None
    partner = subscription.support_partner
    if account.reseller_id != partner.pk or opener.partner_id == partner.pk:
        return None
    if not partner_is_solution_provider(partner):
        return None
    return partner


def user_is_case_requester(user, case: SupportCase) -> bool:
    """The side that asked: the customer's staff, or the partner that opened it for the customer while
    the customer still lets it open one on the case's account (as cases_visible_to)."""
    return user_is_signed_in(user) and (
        (user.customer_id is not None and user.customer_id == case.customer_id)
        or (
            user.partner_id is not None
            and user.partner_id == case.opened_by_partner_id
            and accounts_open_for_cases(user).filter(pk=case.account_id).exists()
        )
    )


def user_handles_case(user, case: SupportCase) -> bool:
    """Whether `user` is of the reselling partner that answers `case` first, now: the one handling it, while
    it still gives the account partner-led support (cases_partner_led, as cases_visible_to)."""
    return (
        user_is_signed_in(user)
        and user.partner_id is not None
        and user.partner_id == case.handling_partner_id
        and SupportCase.objects.filter(pk=case.pk).filter(cases_partner_led()).exists()
    )


def responder_side(user, case: SupportCase) -> str | None:
    """Whether `user` answers `case`, and as whom: the reselling partner's support (partner-led; after it
    escalated, its replies no longer count as the first response, see support_case_reply) or the
    provider's (a Cloud Support Engineer, the designated TAM of the case's plan, a superuser). None for
    anyone else."""
    if not user_is_signed_in(user):
        return None
    if user.partner_id is not None:
        return ReplySide.PARTNER_SUPPORT if user_handles_case(user, case) else None
    if user_sees_all_support(user):
        return ReplySide.PROVIDER_SUPPORT
    if user.has_role(StaffRole.TAM) and user.pk in _tam_ids(subscription_for_account(case.account)):
        return ReplySide.PROVIDER_SUPPORT
    return None


# Who may move a case to which status: support works on it; the requester can only resolve or close it.
RESPONDER_STATUSES = (CaseStatus.IN_PROGRESS, CaseStatus.WAITING_ON_CUSTOMER, CaseStatus.RESOLVED)
REQUESTER_STATUSES = (CaseStatus.RESOLVED, CaseStatus.CLOSED)


def case_statuses_for(user, case: SupportCase) -> tuple[str, ...]:
    """The statuses `user` may set on `case` by their side of it, whatever its status: support's
    (responder_side) first, then the requester's; none for anyone else."""
    if responder_side(user, case):
        return RESPONDER_STATUSES
    if user_is_case_requester(user, case):
        return REQUESTER_STATUSES
    return ()


def case_settable_statuses(user, case: SupportCase) -> list[str]:
    """The statuses `user` may move `case` to now: those of their side (case_statuses_for) but the one it
    has, and none once it is closed. The status form offers exactly these, on the page and after a
    refused change alike; support_case_status_change refuses the rest."""
    if case.status == CaseStatus.CLOSED:
        return []
    return [value for value in case_statuses_for(user, case) if value != case.status]


def _tam_ids(subscription: SupportSubscription | None) -> set[int]:
    """The TAMs who answer a case on an account to which `subscription` applies now (not the one that
    applied at opening: the TAM named since takes the open cases over). A TAM answers only on a plan that
    comes with one: the customer's TAM on Business answers nothing, nor does the TAM of another of the
    customer's accounts."""
    if subscription is None or subscription.tam_coverage != TamCoverage.DESIGNATED:
        return set()
    return {subscription.tam_id}


def case_list(cases: QuerySet[SupportCase]) -> QuerySet[SupportCase]:
    """What a list of cases shows, in a fixed number of queries, in the order to answer them: the cases
    still waiting for their first answer first, the most overdue at the top (by the deadline their plan
    set), then all the others, newest first."""
    waiting = Q(
        first_responded_at__isnull=True,
        first_response_due_at__isnull=False,
        status__in=ACTIVE_CASE_STATUSES,
    )
    return cases.select_related(
        "customer", "account", "plan", "handling_partner", "opened_by_partner"
    ).order_by(
        Case(When(waiting, then=Value(0)), default=Value(1)),
        Case(When(waiting, then=F("first_response_due_at"))).asc(nulls_last=True),
        "-opened_at",
        "-id",
    )


def case_detail(cases: QuerySet[SupportCase]) -> QuerySet[SupportCase]:
    return cases.select_related(
        "customer",
        "account",
        "plan",
        "subscription__tam",
        "handling_partner",
        "opened_by_partner",
        "opened_by",
        "first_responder",
    ).prefetch_related(
        Prefetch(
            "replies",
            queryset=CaseReply.objects.select_related("author__partner").order_by("created_at", "id"),
        )
    )


def case_replies(case: SupportCase) -> QuerySet[CaseReply]:
    """A case's conversation as the API reads it, oldest first (`created_at`, then the unique `id`), with
    what each reply shows, so a page of it costs the same queries however long it is."""
    return CaseReply.objects.filter(case=case).select_related("author").order_by("created_at", "id")


def breached_cases(now: datetime.datetime) -> QuerySet[SupportCase]:
    """Cases still waiting for their first response after its deadline, not yet marked breached: what
    support_sla marks (support.services.support_cases_mark_breached). An answer at the deadline itself
    is in time (support.services._late_first_response), so a case is past it only after that instant."""
    return SupportCase.objects.filter(
        first_responded_at__isnull=True,
        breached_at__isnull=True,
        first_response_due_at__lt=now,
        status__in=ACTIVE_CASE_STATUSES,
    )


def breach_notice(cases: QuerySet[SupportCase]) -> QuerySet[SupportCase]:
    """What the email and webhook event about a breached case need (support_cases_tell_breached)."""
    return cases.select_related(
        "customer",
        "account",
        "plan",
        "handling_partner",
        "opened_by",
        "opened_by_partner",
        "first_responder",
    ).order_by("pk")


def tam_of(customer: Customer, subscription: SupportSubscription | None):
    """The designated TAM of `subscription` (a case's, or the customer's current one): only a plan with a
    designated TAM has one, whoever Customer.tam names."""
    if subscription is not None and subscription.tam_coverage == TamCoverage.DESIGNATED:
        return subscription.tam
    return None


def tam_coverage_text(subscription: SupportSubscription | None, plan: SupportPlan) -> str:
    if plan.tam_coverage == TamCoverage.POOL:
        return "A pool of Technical Account Managers answers for your account."
    if plan.tam_coverage == TamCoverage.DESIGNATED and subscription is not None and subscription.tam_id:
        return f"{subscription.tam.get_full_name() or subscription.tam.username} is your designated TAM."
    return "Your plan comes without a Technical Account Manager."
