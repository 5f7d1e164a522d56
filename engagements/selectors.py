"""Reads of customers, accounts and engagements, and who may see or do what with them.

Visibility is one queryset per kind of record (`*_visible_to(user)`): every page, the admin and the API
start from these, so nobody sees another organisation's customers, accounts, engagements or grants.
"""

import datetime
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, TextField, Value, When
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.selectors import role_names_loaded, user_is_signed_in
from apn_portal.deletion import kept_by
from apn_portal.text import and_list, full_stop, plural, short_list
from engagements.choices import (
    CLOSED_ENGAGEMENT_STATUSES,
    AccessGrantState,
    EngagementStage,
    EngagementStatus,
    PartnerRole,
    TeamRole,
    stage_after,
)
from engagements.models import (
    AccessGrant,
    AwsAccount,
    Customer,
    Engagement,
    EngagementPartner,
    EngagementStageEvent,
    ProfessionalServicesEngagement,
    TeamMember,
    todays_in_zones,
)
from partners.choices import PartnerType, ProgramKind
from partners.models import Partner
from partners.selectors import active_enrollments

# Partner checks ---------------------------------------------------------------------------------------


def partner_holds_program(partner: Partner, kind: str, on: datetime.date | None = None) -> bool:
    return active_enrollments(on).filter(partner=partner, program__kind=kind).exists()


def partner_is_solution_provider(partner: Partner) -> bool:
    return partner_holds_program(partner, ProgramKind.SOLUTION_PROVIDER)


def partner_role_problem(partner: Partner, role: str) -> str | None:
    """Why `partner` cannot take `role` in an engagement, or None when it can."""
    if role == PartnerRole.TECHNOLOGY:
        if partner.partner_type != PartnerType.TECHNOLOGY:
            return f"{partner} is a Consulting partner; a technology role needs a Technology partner."
        return None
    if partner.partner_type != PartnerType.CONSULTING:
        return f"{partner} is a Technology partner; only Consulting partners lead, resell or manage."
    if role == PartnerRole.RESELLER and not partner_is_solution_provider(partner):
        return f"{partner} is not an approved Solution Provider, so it cannot resell."
    if role == PartnerRole.MANAGED_SERVICE and not (
        partner_holds_program(partner, ProgramKind.MANAGED_SERVICE_PROVIDER)
        or partner.categories.filter(slug="managed-service-provider").exists()
    ):
        return (
            f"{partner} is neither in the Managed Service Provider program nor listed as a managed "
            "service provider, so it cannot operate the customer's accounts."
        )
    return None


# Who sees what ----------------------------------------------------------------------------------------


def _sees_everything(user) -> bool:
    return user.is_superuser


# The fields of a customer naming the provider's staff who look after it, and the role each needs.
CUSTOMER_STAFF_ROLES = {
    "account_manager": StaffRole.ACCOUNT_MANAGER,
    "solutions_architect": StaffRole.SOLUTIONS_ARCHITECT,
    "tam": StaffRole.TAM,
}


# The provider's team roles that are a staff role too: the team names the customer's Account Manager,
# Solutions Architect or TAM only with somebody who is one (services.team_member_add_check; Professional
# Services is any staff), and such a seat opens the customer's records only while they are one.
TEAM_ROLE_STAFF_ROLES = {
    TeamRole.ACCOUNT_MANAGER: StaffRole.ACCOUNT_MANAGER,
    TeamRole.SOLUTIONS_ARCHITECT: StaffRole.SOLUTIONS_ARCHITECT,
    TeamRole.TAM: StaffRole.TAM,
}


def _staff_fields_held_by(user) -> list[str]:
    """The customer fields (CUSTOMER_STAFF_ROLES) that give `user` the customers naming them there: those
    whose role they hold now (User.has_role: active provider staff in the role). Somebody whose role was
    taken, or who was deactivated, is no longer given a customer by a field still naming them. One query
    per user at most (has_role caches their roles)."""
    return [name for name, role in CUSTOMER_STAFF_ROLES.items() if user.has_role(role)]


def _team_roles_not_held_by(user) -> list[str]:
    """The team roles (TEAM_ROLE_STAFF_ROLES) whose staff role `user` does not hold now: a seat in one of
    them opens nothing to them (the user admin ends it: services.team_seats_follow_member; this covers any
    other path). From the same cached roles as _staff_fields_held_by."""
    return [seat for seat, role in TEAM_ROLE_STAFF_ROLES.items() if not user.has_role(role)]


def _assigned_customer_q(user, prefix: str = "") -> Q:
    """Customers a provider staff member looks after: as their AM, SA or TAM while they hold that role, or
    on one of their teams, in a seat for a staff role only while they hold it."""
    on_a_team = Exists(
        TeamMember.objects.filter(
            engagement__customer=OuterRef(f"{prefix}pk"), user=user, left_on=None
        ).exclude(role__in=_team_roles_not_held_by(user))
    )
    named = Q(on_a_team)
    for name in _staff_fields_held_by(user):
        named |= Q(**{f"{prefix}{name}": user})
    return named


def contracts_opening_engagements_to(partner_id: int) -> QuerySet[EngagementPartner]:
    """The partner's contracts that show it their engagements, and through them their customers: the one
    rule every page, the API and the admin read (engagements_visible_to, customers_visible_to).

    A contract does while it is not over: not replaced, not ended early (ended_reason), and its last day
    not past in its customer's time zone (that day lasts until midnight there, as access_deadline), one
    not started yet included, whose partner was told it is on the engagement. A former contractor then
    reads nothing more of the engagement, however its contract ended: ran out, replaced or ended early.
    Its history stays only where the contract ended with the engagement itself: in force on the day it
    completed, it delivered the project, whether it then ran out, was ended early or replaced (its dates
    still hold that day, where one ended before it or before its first day does not), or ended by its
    cancellation (`ended_by_cancellation`, which _contracts_end records; one already over by then, ended
    early or run out, was not). One query, for the days it is in the time zones of the partner's
    customers."""
    zones = (
        Customer.objects.filter(engagements__engagement_partners__partner_id=partner_id)
        .order_by()
        .values_list("time_zone", flat=True)
        .distinct()
    )
    zones_on: dict[datetime.date, list[str]] = {}
    for zone, today in todays_in_zones(zones).items():
        zones_on.setdefault(today, []).append(zone)
    not_past = Q(pk__in=[])
    for today, zones_today in zones_on.items():
        not_past |= Q(engagement__customer__time_zone__in=zones_today, contract_end__gte=today)
    # It delivered the project, however its contract ended since (ran out, ended early or replaced): one
    # ended later still has that day within its dates, one ended before it (or before its first day) not.
    completed_under_it = Q(
        engagement__status=EngagementStatus.COMPLETED,
        ended_before_start=False,
        contract_start__lte=F("engagement__completed_on"),
        contract_end__gte=F("engagement__completed_on"),
    )
    return EngagementPartner.objects.filter(
        # A replaced contract has an ended_reason (engagement_partner_replacement_has_reason).
        (Q(ended_reason="") & not_past)
        | completed_under_it
        | Q(
            ended_by_cancellation=True,
            engagement__status=EngagementStatus.CANCELLED,
            replaced_by__isnull=True,
        ),
        partner_id=partner_id,
    )


def _live_at(at: datetime.datetime) -> Q:
    return Q(revoked_at__isnull=True, granted_at__lte=at, expires_at__gt=at)


def live_grants(at: datetime.datetime | None = None) -> QuerySet[AccessGrant]:
    return AccessGrant.objects.filter(_live_at(at or timezone.now()))


def customers_visible_to(user) -> QuerySet[Customer]:
    if not user_is_signed_in(user):
        return Customer.objects.none()
    if _sees_everything(user):
        return Customer.objects.all()
    if user.customer_id:
        return Customer.objects.filter(pk=user.customer_id)
    if user.partner_id:
        engaged = contracts_opening_engagements_to(user.partner_id).filter(
            engagement__customer=OuterRef("pk")
        )
        return Customer.objects.filter(Exists(engaged))
    if user.is_provider_staff:
        return Customer.objects.filter(_assigned_customer_q(user))
    return Customer.objects.none()


def customers_assigned_to(user) -> QuerySet[Customer]:
    """The AM's, SA's or TAM's own customers (not all that a superuser sees)."""
    if not user_is_signed_in(user) or not user.is_provider_staff:
        return Customer.objects.none()
    return Customer.objects.filter(_assigned_customer_q(user))


def accounts_visible_to(user) -> QuerySet[AwsAccount]:
    if not user_is_signed_in(user):
        return AwsAccount.objects.none()
    if _sees_everything(user):
        return AwsAccount.objects.all()
    if user.customer_id:
        return AwsAccount.objects.filter(customer_id=user.customer_id)
    if user.partner_id:
        # Need to know: a partner sees the accounts it can act in now, nothing else of the customer's.
        held = live_grants().filter(account=OuterRef("pk"), engagement_partner__partner_id=user.partner_id)
        return AwsAccount.objects.filter(Exists(held))
    if user.is_provider_staff:
        return AwsAccount.objects.filter(_assigned_customer_q(user, "customer__"))
    return AwsAccount.objects.none()


def accounts_with_management_visibility(accounts: QuerySet[AwsAccount], user) -> QuerySet[AwsAccount]:
    """`accounts`, each annotated `management_account_visible`: whether `user` may see its management
    account. A partner acting in a member account is not told which account runs the customer's
    organisation (need to know) unless it may act in that one too; everyone else sees the whole tree."""
    return accounts.annotate(
        management_account_visible=Exists(
            accounts_visible_to(user).filter(pk=OuterRef("management_account_id"))
        )
    )


def _consulting_q(user) -> Q:
    """Engagements on which `user` is the consultant of Professional Services not over, and not taken off
    the team. The services are over once their last day (`ends_on`; none for open-ended ones) is past in
    the customer's time zone (it lasts until midnight there, as a contract's). The seat they opened for
    the consultant (services.professional_services_add) is their membership: it ends with them (the
    hourly access_grant_expiry check) or as they are taken off the team, and then opens nothing more,
    whatever the services say; services recorded without seating anybody count as seated. One query, for
    the days it is in the time zones of their customers."""
    zones = (
        Customer.objects.filter(engagements__professional_services__consultant=user)
        .order_by()
        .values_list("time_zone", flat=True)
        .distinct()
    )
    zones_on: dict[datetime.date, list[str]] = {}
    for zone, today in todays_in_zones(zones).items():
        zones_on.setdefault(today, []).append(zone)
    not_over = Q(ends_on=None)
    for today, zones_today in zones_on.items():
        not_over |= Q(engagement__customer__time_zone__in=zones_today, ends_on__gte=today)
    seats = TeamMember.objects.filter(
        engagement=OuterRef("pk"), user=user, role=TeamRole.PROFESSIONAL_SERVICES
    )
    services = ProfessionalServicesEngagement.objects.filter(
        not_over, engagement=OuterRef("pk"), consultant=user
    )
    return Q(Exists(services)) & (Q(Exists(seats.filter(left_on=None))) | ~Exists(seats))


def engagements_visible_to(user) -> QuerySet[Engagement]:
    if not user_is_signed_in(user):
        return Engagement.objects.none()
    if _sees_everything(user):
        return Engagement.objects.all()
    if user.customer_id:
        return Engagement.objects.filter(customer_id=user.customer_id)
    if user.partner_id:
        engaged = contracts_opening_engagements_to(user.partner_id).filter(engagement=OuterRef("pk"))
        return Engagement.objects.filter(Exists(engaged))
    if user.is_provider_staff:
        # Being on one of a customer's teams opens all its engagements; having left the team, none of them.
        return Engagement.objects.filter(_assigned_customer_q(user, "customer__") | _consulting_q(user))
    return Engagement.objects.none()


def engagement_partners_visible_to(user) -> QuerySet[EngagementPartner]:
    return EngagementPartner.objects.filter(engagement__in=engagements_visible_to(user).values("pk"))


def with_ended_reason_shown_to(
    user, engagement_partners: QuerySet[EngagementPartner]
) -> QuerySet[EngagementPartner]:
    """`ended_reason_shown`: why a contract ended, for the customer, the provider's staff and the partner
    whose contract it was; blank for the other partners on the engagement, who see only who replaced it."""
    if user.partner_id is None or _sees_everything(user):
        return engagement_partners.annotate(ended_reason_shown=F("ended_reason"))
    return engagement_partners.annotate(
        ended_reason_shown=Case(
            When(partner_id=user.partner_id, then=F("ended_reason")),
            default=Value(""),
            output_field=TextField(),
        )
    )


def access_grants_visible_to(user) -> QuerySet[AccessGrant]:
    if not user_is_signed_in(user):
        return AccessGrant.objects.none()
    if _sees_everything(user):
        return AccessGrant.objects.all()
    if user.customer_id:
        return AccessGrant.objects.filter(account__customer_id=user.customer_id)
    if user.partner_id:
        return AccessGrant.objects.filter(engagement_partner__partner_id=user.partner_id)
    if user.is_provider_staff:
        return AccessGrant.objects.filter(_assigned_customer_q(user, "account__customer__"))
    return AccessGrant.objects.none()


def access_grant_readers(grant_id: int, users) -> set[int]:
    """The pks of those of `users` who may see the grant now (access_grants_visible_to): whom a webhook
    delivery telling of it may still reach when it is sent (the "access-grant" readers, registered in
    EngagementsConfig.ready). One query for their roles and one asking the rule of all of them at once."""
    users = role_names_loaded([user for user in users if user_is_signed_in(user)])
    asked = {
        f"user_{user.pk}": Exists(access_grants_visible_to(user).filter(pk=OuterRef("pk"))) for user in users
    }
    if not asked:
        return set()
    reads = AccessGrant.objects.filter(pk=grant_id).annotate(**asked).values(*asked).first() or {}
    return {user.pk for user in users if reads.get(f"user_{user.pk}")}


def access_grants_in_state(grants: QuerySet[AccessGrant], state: str) -> QuerySet[AccessGrant]:
    """Grants live now; expired (past their end, before the hourly check records it and after); or revoked
    (cut short, by a person): as AccessGrant.state and the pages label them."""
    now = timezone.now()
    if state == AccessGrantState.LIVE:
        return grants.filter(_live_at(now))
    if state == AccessGrantState.EXPIRED:
        return grants.filter(Q(expired=True) | Q(revoked_at__isnull=True, expires_at__lte=now))
    if state == AccessGrantState.REVOKED:
        return grants.filter(revoked_at__isnull=False, expired=False)
    return grants


def foreign_accounts_problem(accounts, customer: Customer) -> str | None:
    """An engagement's software runs on its customer's own accounts: what is wrong with `accounts` if
    some are another customer's (someone who looks after two customers sees both customers' accounts)."""
    foreign = [account.account_id for account in accounts or () if account.customer_id != customer.pk]
    return f"Account(s) {', '.join(foreign)} are not {customer}'s." if foreign else None


# Who may do what --------------------------------------------------------------------------------------


def user_is_assigned_to_customer(user, customer: Customer) -> bool:
    """The customer's AM, SA or TAM, while they hold that role (_staff_fields_held_by)."""
    named = [name for name in CUSTOMER_STAFF_ROLES if getattr(customer, f"{name}_id") == user.pk]
    return (
        bool(named) and user_is_signed_in(user) and any(name in _staff_fields_held_by(user) for name in named)
    )


def user_registers_customers(user) -> bool:
    """Register a new customer organisation: an Account Manager (who looks after it), a superuser. Its
    Solutions Architect and TAM, named afterwards, start its engagements and add its accounts."""
    return user_is_signed_in(user) and (user.is_superuser or user.has_role(StaffRole.ACCOUNT_MANAGER))


def user_can_manage_customer(user, customer: Customer) -> bool:
    """Change the customer's record and its accounts, start its engagements: its own people, the provider's
    staff assigned to it (AM, SA, TAM; being on one of its teams is not enough), a superuser."""
    return user_is_signed_in(user) and (
        user.is_superuser
        or (customer.pk is not None and user.customer_id == customer.pk)
        or user_is_assigned_to_customer(user, customer)
    )


def user_names_access_administrators(user, customer: Customer) -> bool:
    """Name or remove the customer's access administrators: they themselves, the provider's staff assigned
    to the customer (who name the first of a new customer's), a superuser."""
    return user_is_signed_in(user) and (
        user.is_superuser
        or user_is_assigned_to_customer(user, customer)
        or user_can_manage_access(user, customer)
    )


def user_names_customer_staff(user, customer: Customer) -> bool:
    """Name the customer's Account Manager, Solutions Architect and TAM (and change its support plan): its
    Account Manager while they hold the role (_staff_fields_held_by), a superuser."""
    return user_is_signed_in(user) and (
        user.is_superuser
        or (user.pk == customer.account_manager_id and user.has_role(StaffRole.ACCOUNT_MANAGER))
    )


def customer_staff_leaving_problems(user, fields) -> list[str]:
    """Why `user` cannot stop holding the roles of `fields` (CUSTOMER_STAFF_ROLES: be deactivated, lose the
    role, stop being provider staff), one sentence per role, or none: some customers still name them in
    that field, and would be left looked after by nobody (the field no longer gives them the customer).
    Naming somebody else there comes first. One query. The TAM's own rule is support's
    (support.selectors.tam_leaving_problems): its plans name the customer's TAM."""
    fields = [name for name in CUSTOMER_STAFF_ROLES if name in fields]
    if not fields or user.pk is None:
        return []
    naming = Q(pk__in=[])
    for name in fields:
        naming |= Q(**{name: user.pk})
    customers = list(
        Customer.objects.filter(naming)
        .order_by("name", "pk")
        .values_list("name", *[f"{f}_id" for f in fields])
    )
    problems = []
    for index, name in enumerate(fields, start=1):
        names = [row[0] for row in customers if row[index] == user.pk]
        if not names:
            continue
        role = CUSTOMER_STAFF_ROLES[name].value
        problems.append(f"{user} is the {role} of {short_list(names, 5)}: name another {role} there first.")
    return problems


def access_administrator_deletion_problems(users) -> list[str]:
    """Why the people (`users`: pks) cannot be deleted for the customers whose access administrators they
    are, one sentence per person, or none: the links would go with them, unrecorded in the customers'
    history, and a customer could be left with nobody to grant or revoke partners' access. Every link
    counts, a former member's too (shown on the customer's page until taken off). One query."""
    by_user: dict[int, tuple[object, list[str]]] = {}
    for link in (
        Customer.access_administrators.through.objects.filter(user_id__in=users)
        .select_related("user", "customer")
        .order_by("user__username", "customer__name", "customer_id")
    ):
        by_user.setdefault(link.user_id, (link.user, []))[1].append(link.customer.name)
    return [
        f"{user} is an access administrator of {short_list(names, 5)}, which would lose them with no trace "
        f"in {'its' if len(names) == 1 else 'their'} history: take them off there first (the customer's "
        "page, Access administrators), or deactivate them instead (untick Active on their page)."
        for user, names in by_user.values()
    ]


# A refused deletion names at most this many customers, a sentence each: a big selection would bury the page.
_NAMED_KEPT = 10

# Records that keep a customer (PROTECT), as a refusal counts them: "2 AWS accounts".
_CUSTOMER_KEPT_BY = {
    "accounts": ("AWS account", "AWS accounts"),
    "engagements": ("engagement", "engagements"),
    "support_subscriptions": ("support subscription", "support subscriptions"),
    "support_cases": ("support case", "support cases"),
}
# Its support history, which the admin deletes none of: a customer that has any stays.
_CUSTOMER_SUPPORT_HISTORY = {"support_subscriptions", "support_cases"}


def customer_deletion_problems(customers) -> list[str]:
    """Why the customers (a query of them) cannot be deleted, a sentence for each thing that keeps one, or
    none: its people belong to it, deactivated or not, until moved out of it, and its accounts,
    engagements and support history refer to it (PROTECT), where Django would list them and say neither
    why nor what to do."""
    kept = kept_by(customers)
    named = list(Customer.objects.filter(pk__in=kept.keys()).order_by("name", "pk").values_list("pk", "name"))
    with_people = [pk for pk, _ in named[:_NAMED_KEPT] if "users" in kept[pk]]
    people_of: dict[int, list[str]] = {}
    for customer_id, username in (
        get_user_model()
        .objects.filter(customer__in=with_people)
        .order_by("customer_id", "username")
        .values_list("customer_id", "username")
    ):
        people_of.setdefault(customer_id, []).append(username)
    # The user admin keeps a customer's last access administrator while others of its people are active
    # (last_access_administrator_problems): they go after the others.
    administered = set(access_administrator_links(with_people).values_list("customer_id", flat=True))
    problems = []
    for pk, name in named[:_NAMED_KEPT]:
        if count := kept[pk].get("users"):
            last = ", its access administrators after the others" if pk in administered else ""
            problems.append(
                f"{name} still has {plural(count, 'person, who belongs', 'people, who belong')} to it "
                f"even deactivated ({short_list(people_of[pk], 5)}): move them to another organisation, or "
                f"none, in the user admin first{last}."
            )
        records = {relation: count for relation, count in kept[pk].items() if relation != "users"}
        if not records:
            continue
        listed, one = _kept_listed(records, _CUSTOMER_KEPT_BY)
        if records.keys() & _CUSTOMER_SUPPORT_HISTORY:
            advice = "its support subscriptions and cases are kept for good, so the customer stays."
        else:
            advice = f"delete {'it' if one else 'them'} first, on {'its' if one else 'their'} own page."
        problems.append(f"{name} has {listed}, which {'keeps' if one else 'keep'} it: {advice}")
    return problems + _more_kept(len(named) - _NAMED_KEPT, "customers")


def _kept_listed(kept: dict[str, int], nouns: dict[str, tuple[str, str]]) -> tuple[str, bool]:
    """What keeps a record, in words ("2 AWS accounts and 1 engagement"), and whether that is one record."""
    listed = and_list(
        plural(count, *nouns.get(relation, (relation.replace("_", " "),) * 2))
        for relation, count in kept.items()
    )
    return listed, sum(kept.values()) == 1


def _more_kept(count: int, plural: str) -> list[str]:
    return [f"{count} more of the selected {plural} are kept likewise: deselect them."] if count > 0 else []


def engagement_deletion_problems(engagements) -> list[str]:
    """Why the engagements (a query of them) cannot be deleted, one sentence each, or none: a partner's
    place on one is its contract, and the access granted under it (PROTECT), kept with the engagement.
    Cancelling it, with a reason, ends the contracts and the access instead."""
    kept = kept_by(engagements)
    named = list(
        Engagement.objects.filter(pk__in=kept.keys()).select_related("customer").order_by("title", "pk")
    )
    partners_of: dict[int, list[str]] = {}
    for engagement_id, name in (
        EngagementPartner.objects.filter(engagement__in=[engagement.pk for engagement in named[:_NAMED_KEPT]])
        .order_by("engagement_id", "partner__name", "pk")
        .values_list("engagement_id", "partner__name")
    ):
        partners_of.setdefault(engagement_id, []).append(name)
    problems = []
    for engagement in named[:_NAMED_KEPT]:
        count = kept[engagement.pk]["engagement_partners"]
        problems.append(
            f"{engagement} has {plural(count, 'partner', 'partners')} on it "
            f"({short_list(partners_of[engagement.pk], 5)}), whose contracts are kept with it: cancel the "
            "engagement instead (Start, hold, resume or cancel, with a reason)."
        )
    return problems + _more_kept(len(named) - _NAMED_KEPT, "engagements")


# Records that keep a partner's contract on an engagement (PROTECT), as a refusal counts them.
_ENGAGEMENT_PARTNER_KEPT_BY = {
    "access_grants": ("access grant", "access grants"),
    "replaces": ("contract it replaced", "contracts it replaced"),
}


def engagement_partner_deletion_problems(engaged) -> list[str]:
    """Why the partners' contracts on engagements (a query of them) cannot be deleted, a sentence for each
    thing that keeps one, or none. The access granted under a contract is kept for good (PROTECT; no grant
    is ever deleted), the record of who could reach the customer's accounts, so a contract with grants
    stays, whatever their state: revoking cuts the access short, and replacing the partner or cancelling
    the engagement ends the contract. A replacement is named by the contract it ended, which goes first."""
    kept = kept_by(engaged)
    named = list(
        EngagementPartner.objects.filter(pk__in=kept.keys())
        .select_related("partner", "engagement__customer")
        .order_by("partner__name", "pk")[:_NAMED_KEPT]
    )
    pks = [contract.pk for contract in named]
    live_of = dict(
        access_grants_in_state(AccessGrant.objects.filter(engagement_partner__in=pks), AccessGrantState.LIVE)
        .order_by()
        .values_list("engagement_partner_id")
        .annotate(count=Count("pk"))
    )
    replaced_of: dict[int, list[str]] = {}
    for successor_id, name in (
        EngagementPartner.objects.filter(replaced_by__in=pks)
        .order_by("replaced_by_id", "partner__name")
        .values_list("replaced_by_id", "partner__name")
    ):
        replaced_of.setdefault(successor_id, []).append(name)
    problems = []
    for contract in named:
        if count := kept[contract.pk].get("access_grants"):
            one = count == 1
            live = live_of.get(contract.pk, 0)
            if live:
                state = ", live" if one else f", {live} of them live"
            else:
                state = ", no longer live" if one else ", none of them live"
            steps = []
            if live:
                steps.append(
                    f"to cut the access short, revoke the live {'one' if live == 1 else 'ones'} with a "
                    "reason, on the access grants' list"
                )
            if not contract.is_replaced and contract.engagement.status != EngagementStatus.CANCELLED:
                steps.append(
                    "to end the contract, replace the partner (through the API) or cancel the engagement"
                )
            then = f" {'; '.join(steps)}." if steps else ""
            grants = plural(count, *_ENGAGEMENT_PARTNER_KEPT_BY["access_grants"])
            problems.append(
                f"{contract} has {grants}{state}, which {'keeps' if one else 'keep'} it: access granted is "
                "kept for good, so the contract stays."
                f"{then[:2].upper()}{then[2:]}"
            )
        if kept[contract.pk].get("replaces"):
            replaced = replaced_of.get(contract.pk, [])
            one = len(replaced) == 1
            problems.append(
                f"{contract} replaced {and_list(replaced)}, whose ended "
                f"{'contract names' if one else 'contracts name'} it and "
                f"{'keeps' if one else 'keep'} it: delete {'that contract' if one else 'them'} first, on "
                f"{'its' if one else 'their'} own page."
            )
        others = {
            relation: n
            for relation, n in kept[contract.pk].items()
            if relation not in ("access_grants", "replaces")
        }
        if others:
            listed, one = _kept_listed(others, _ENGAGEMENT_PARTNER_KEPT_BY)
            problems.append(
                f"{contract} has {listed}, which {'keeps' if one else 'keep'} it: delete "
                f"{'it' if one else 'them'} first, on {'its' if one else 'their'} own page."
            )
    return problems + _more_kept(len(kept) - _NAMED_KEPT, "contracts")


_ACCOUNT_KEPT_BY = {
    "member_accounts": ("member account", "member accounts"),
    "access_grants": ("access grant", "access grants"),
    "support_subscriptions": ("support subscription", "support subscriptions"),
    "support_cases": ("support case", "support cases"),
}


def account_deletion_problems(accounts) -> list[str]:
    """Why the AWS accounts (a query of them) cannot be deleted, one sentence each, or none: the access
    granted to it and its support history are kept for good (PROTECT), and its member accounts are grouped
    under it until moved."""
    kept = kept_by(accounts)
    named = list(AwsAccount.objects.filter(pk__in=kept.keys()).order_by("account_id", "pk"))
    problems = []
    for account in named[:_NAMED_KEPT]:
        listed, one = _kept_listed(kept[account.pk], _ACCOUNT_KEPT_BY)
        if kept[account.pk].keys() - {"member_accounts"}:
            advice = (
                "the access granted to it and its support history are kept for good, so the account stays."
            )
        else:
            advice = (
                f"group {'it' if one else 'them'} under another management account, or none, on "
                f"{'its' if one else 'their'} own page first."
            )
        problems.append(f"{account} has {listed}, which {'keeps' if one else 'keep'} it: {advice}")
    return problems + _more_kept(len(named) - _NAMED_KEPT, "accounts")


def access_administrator_links(customer_ids) -> QuerySet:
    """The links naming the customers' access administrators who hold the role: active, and still the
    customer's own people. Someone who moved to another organisation keeps the link until it is removed,
    but not the role: no longer its emails, its pages or its count of those left."""
    return Customer.access_administrators.through.objects.filter(
        customer_id__in=customer_ids, user__is_active=True, user__customer_id=F("customer_id")
    )


def last_access_administrator_problems(users) -> list[str]:
    """Why the people (`users`: pks) cannot stop being access administrators (be deactivated, or move to
    another organisation), one sentence per group of them, or none: they are all that a customer has left
    who hold the role (access_administrator_links), and its other active people would be left with nobody
    on its side to grant partners access to its accounts, nor name the next one. Another comes first, as
    the customer's own page refuses removing the last one (services.customer_access_administrators_set_check).
    The last of its active people may leave, though: nobody is left without one, and a customer is emptied
    so before it is deleted (customer_deletion_problems); one who joins it later is named on its page by
    the staff looking after it. One query."""
    users = set(users)
    theirs = Customer.access_administrators.through.objects.filter(user_id__in=users).values("customer_id")
    # Somebody else leaving the customer at this moment is seen staying until their change is committed,
    # so the refusal errs on keeping; one joining it is as if they joined just after, and is named on its
    # page. Its access administrators are read under its lock (the user admin's), so two of them leaving
    # at once are not both let go while others stay.
    others_stay = (
        get_user_model()
        .objects.filter(customer_id=OuterRef("customer_id"), is_active=True)
        .exclude(pk__in=users)
    )
    held = (
        access_administrator_links(theirs)
        .filter(user_id__in=users)
        .filter(Exists(others_stay))
        .values("customer_id")
    )
    # Everybody holding the role for the customers where they hold it.
    holding = access_administrator_links(held).select_related("user", "customer")
    holders: dict[int, tuple[Customer, list]] = {}
    for link in holding.order_by("customer__name", "customer_id", "user__username"):
        holders.setdefault(link.customer_id, (link.customer, []))[1].append(link.user)
    # {the people leaving, together: the customers they would leave with none}
    left: dict[tuple, tuple[list, list[str]]] = {}
    for customer, people in holders.values():
        if all(person.pk in users for person in people):
            left.setdefault(tuple(person.pk for person in people), (people, []))[1].append(customer.name)
    problems = []
    for people, names in left.values():
        who = f"{short_list(people, 5)} {'are' if len(people) > 1 else 'is'}"
        its, it = ("its", "it") if len(names) == 1 else ("their", "them")
        problems.append(
            f"{who} the last access administrator{'s' if len(people) > 1 else ''} of {short_list(names, 5)}, "
            f"and nobody else there could grant partners access to {its} accounts: give {it} another access "
            "administrator first (the customer's page, Access administrators)."
        )
    return problems


def customer_access_administrators(customer: Customer) -> QuerySet:
    """The customer's access administrators who hold the role (access_administrator_links' rule)."""
    return customer.access_administrators.filter(
        pk__in=access_administrator_links([customer.pk]).values("user_id")
    )


def user_can_manage_access(user, customer: Customer) -> bool:
    """Grant partners access to the customer's accounts: only the customer's own access administrators."""
    return (
        user_is_signed_in(user)
        and user.customer_id == customer.pk
        and customer_access_administrators(customer).filter(pk=user.pk).exists()
    )


def user_can_revoke_access(user, customer: Customer) -> bool:
    """Revoking is also open to the provider's staff looking after the customer, and to superusers."""
    return (
        user_can_manage_access(user, customer)
        or (user_is_signed_in(user) and user.is_superuser)
        or user_is_assigned_to_customer(user, customer)
    )


def user_can_end_contracts(user, customer: Customer) -> bool:
    """Replace a partner, or end its contract early, and with it the access it holds under it: the
    customer's own access administrators, who decide who may act in its accounts, and superusers."""
    return user_can_manage_access(user, customer) or (user_is_signed_in(user) and user.is_superuser)


def engaged_partner_end_problem(engaged: EngagementPartner, today: datetime.date) -> str | None:
    """Why the contract cannot be ended early on the customer's `today`, or None when it can: one replaced,
    ended already or under a cancelled engagement has nothing left to end."""
    engagement = engaged.engagement
    if engaged.is_replaced:
        return f"{engaged.partner} was already replaced on “{engagement.title}”."
    if engagement.status == EngagementStatus.CANCELLED:
        return f"“{engagement.title}” was cancelled."
    if engaged.is_ended_early:
        return (
            f"{engaged.partner}'s contract on “{engagement.title}” was already ended early: "
            f"{full_stop(engaged.ended_reason)}"
        )
    if engaged.contract_end < today:
        return (
            f"{engaged.partner}'s contract on “{engagement.title}” already ended on "
            f"{engaged.contract_end:%-d %b %Y}."
        )
    return None


def user_can_manage_engagement(user, engagement: Engagement) -> bool:
    """Plan the engagement: its partners, team and purchases. The customer's staff and its AM/SA/TAM."""
    if not user_is_signed_in(user):
        return False
    return (
        user.is_superuser
        or user.customer_id == engagement.customer_id
        or user_is_assigned_to_customer(user, engagement.customer)
    )


def engagement_lead_shown_to(user, engagement: Engagement):
    """The lead (contact request) the engagement came from, for the partner it was sent to, and for nobody
    else: a partner never sees another partner's leads, and one added later, or a replacement, is not
    shown this one."""
    lead = engagement.contact_request
    if lead is None or user.partner_id is None or lead.partner_id != user.partner_id:
        return None
    return lead


def engagement_next_stage_for(user, engagement: Engagement) -> EngagementStage | None:
    """The step this user may record next on the engagement (what engagement_stage_advance accepts), or
    None: not theirs to move, closed, on hold, or at the journey's end."""
    if engagement.status in CLOSED_ENGAGEMENT_STATUSES or engagement.status == EngagementStatus.ON_HOLD:
        return None
    next_step = stage_after(engagement.stage)
    if next_step is None or not user_can_work_on_engagement(user, engagement):
        return None
    return next_step


def user_can_work_on_engagement(user, engagement: Engagement) -> bool:
    """Move the engagement along (stages, completion): also the consulting partner that leads it, under a
    contract not over (contracts_opening_engagements_to): not one replaced, ended early or run out."""
    if user_can_manage_engagement(user, engagement):
        return True
    return bool(
        user_is_signed_in(user)
        and user.partner_id
        and contracts_opening_engagements_to(user.partner_id)
        .filter(engagement=engagement, role=PartnerRole.CONSULTING_LEAD)
        .exists()
    )


def engaged_partner_grant_problem(
    engaged: EngagementPartner, customer: Customer, today: datetime.date
) -> str | None:
    """Why the customer cannot grant `engaged` access to its accounts today, or None when it can: the
    partner must be engaged for this customer, not replaced, on an engagement not cancelled, under a
    contract in force. (A completed project may still be operated under contract.)"""
    engagement = engaged.engagement
    if engagement.customer_id != customer.pk:
        return f"{engaged.partner} is not engaged for {full_stop(customer)}"
    if engaged.is_replaced:
        return (
            f"{engaged.partner} was replaced on “{engagement.title}”; grant access to the partner that "
            "took over."
        )
    if engagement.status == EngagementStatus.CANCELLED:
        return f"“{engagement.title}” was cancelled."
    if not engaged.in_force_on(today):
        return (
            f"{engaged.partner}'s contract runs from {engaged.contract_start:%d %b %Y} to "
            f"{engaged.contract_end:%d %b %Y}; access is granted only while it is in force."
        )
    return None


def engagement_partners_open_to_grants(customer: Customer) -> QuerySet[EngagementPartner]:
    """The partners the customer may grant access to today, by engaged_partner_grant_problem's rule (what
    access_grant_create accepts), for the forms that offer them."""
    today = customer.local_today()
    # Narrowed in the database first (an ended or replaced contract never qualifies); the rule decides.
    candidates = EngagementPartner.objects.filter(
        engagement__customer=customer, replaced_by__isnull=True, contract_end__gte=today
    ).select_related("engagement", "partner")
    open_to_grants = [
        engaged.pk
        for engaged in candidates
        if engaged_partner_grant_problem(engaged, customer, today) is None
    ]
    return EngagementPartner.objects.filter(pk__in=open_to_grants)


# Pages ------------------------------------------------------------------------------------------------


@dataclass
class AccountNode:
    account: AwsAccount
    members: list[AwsAccount] = field(default_factory=list)


def account_tree(accounts) -> list[AccountNode]:
    """Accounts as the organisation's tree: each management account with its members beneath it.

    An account whose management account is not in `accounts` shows at the top, so nothing is hidden.
    """
    accounts = list(accounts)
    nodes = {account.pk: AccountNode(account) for account in accounts}
    roots = []
    for account in accounts:
        parent = nodes.get(account.management_account_id)
        if parent is not None and parent.account is not account:
            parent.members.append(account)
        else:
            roots.append(nodes[account.pk])
    return roots


def customer_accounts(customer: Customer) -> QuerySet[AwsAccount]:
    return customer.accounts.select_related("reseller").order_by("account_id")


def engagement_list(engagements: QuerySet[Engagement]) -> QuerySet[Engagement]:
    """What a list of engagements shows: customer and partners, in a fixed number of queries."""
    return engagements.select_related("customer").prefetch_related(
        Prefetch(
            "engagement_partners",
            queryset=EngagementPartner.objects.filter(replaced_by__isnull=True).select_related("partner"),
            to_attr="current_partners",
        )
    )


def engagement_detail(user, engagements: QuerySet[Engagement]):
    """One engagement with everything its page shows to `user`: only the grants and accounts they may see
    (a partner: only the accounts it may act in, even on the engagement's marketplace purchases), and why
    a contract ended only where they may know it."""
    grants = access_grants_visible_to(user)
    accounts = accounts_visible_to(user)
    engaged = with_ended_reason_shown_to(user, EngagementPartner.objects.all())
    return engagements.select_related(
        "customer", "contact_request", "customer_reference", "created_by"
    ).prefetch_related(
        Prefetch(
            "stage_events",
            queryset=EngagementStageEvent.objects.select_related("recorded_by").order_by("reached_on", "id"),
        ),
        Prefetch(
            "engagement_partners",
            queryset=engaged.select_related("partner", "replaced_by__partner"),
        ),
        Prefetch("team_members", queryset=TeamMember.objects.select_related("user", "user__partner")),
        "professional_services__buying_partner",
        "professional_services__consultant",
        Prefetch("marketplace_subscriptions__accounts", queryset=accounts.order_by("account_id")),
        "marketplace_subscriptions__vendor",
        Prefetch(
            "engagement_partners__access_grants",
            queryset=grants.select_related("account__customer", "granted_by", "revoked_by"),
            to_attr="visible_grants",
        ),
    )


def customer_access_grants(customer: Customer) -> QuerySet[AccessGrant]:
    return AccessGrant.objects.filter(account__customer=customer)


def access_grant_list(grants: QuerySet[AccessGrant]) -> QuerySet[AccessGrant]:
    return grants.select_related(
        "account__customer",
        "engagement_partner__partner",
        "engagement_partner__engagement",
        "granted_by",
        "revoked_by",
    )


@dataclass(frozen=True)
class TimelineEntry:
    on: datetime.date
    text: str


def engagement_timeline(engagement: Engagement) -> list[TimelineEntry]:
    """The engagement's story by date, from what `engagement_detail` prefetched (no further queries)."""
    zone = engagement.customer.zone
    entries = [
        TimelineEntry(event.reached_on, f"Stage: {event.get_stage_display()}")
        for event in engagement.stage_events.all()
    ]
    for engaged in engagement.engagement_partners.all():
        reason = f": {engaged.ended_reason_shown}" if engaged.ended_reason_shown else ""
        if engaged.ended_before_start:
            # It never joined: the day it was to start is all its story, its last day (that same day,
            # the earliest a contract can end) no end of work.
            # Cancelled only with its engagement: one the customer ended early was ended, nothing cancelled.
            if engaged.replaced_by_id:
                ended = f"was handed to {engaged.replaced_by.partner}"
            else:
                ended = "was cancelled" if engaged.ended_by_cancellation else "was ended"
            entries.append(
                TimelineEntry(
                    engaged.contract_start, f"{engaged.partner}'s contract {ended} before it started{reason}"
                )
            )
        else:
            entries.append(
                TimelineEntry(
                    engaged.contract_start, f"{engaged.partner} joins as {engaged.get_role_display()}"
                )
            )
            if engaged.replaced_by_id:
                entries.append(
                    TimelineEntry(
                        engaged.contract_end,
                        f"{engaged.partner} replaced by {engaged.replaced_by.partner}{reason}",
                    )
                )
            elif engaged.is_ended_early:  # with the engagement's cancellation
                entries.append(
                    TimelineEntry(engaged.contract_end, f"{engaged.partner}'s contract ended{reason}")
                )
        for grant in engaged.visible_grants:
            entries.append(
                TimelineEntry(
                    timezone.localdate(grant.granted_at, zone),
                    f"{engaged.partner} granted {grant.get_scope_display().lower()} access to "
                    f"account {grant.account.account_id} ({grant.role_name})",
                )
            )
            state = grant.state
            if state == AccessGrantState.REVOKED:
                entries.append(
                    TimelineEntry(
                        timezone.localdate(grant.revoked_at, zone),
                        f"{engaged.partner}'s access to account {grant.account.account_id} revoked: "
                        f"{grant.revocation_reason}",
                    )
                )
            elif state == AccessGrantState.EXPIRED:
                # Its end, whether or not the hourly check has recorded it yet.
                entries.append(
                    TimelineEntry(
                        timezone.localdate(grant.expires_at, zone),
                        f"{engaged.partner}'s access to account {grant.account.account_id} expired",
                    )
                )
    for member in engagement.team_members.all():
        note = f" ({member.note})" if member.note else ""
        entries.append(
            TimelineEntry(
                member.joined_on, f"{member.display_name} joins the team as {member.get_role_display()}{note}"
            )
        )
    for services in engagement.professional_services.all():
        entries.append(TimelineEntry(services.starts_on, f"Professional Services start: {services.goal}"))
    for subscription in engagement.marketplace_subscriptions.all():
        entries.append(
            TimelineEntry(
                subscription.subscribed_on,
                f"Marketplace subscription: {subscription.product} from {subscription.vendor}",
            )
        )
    if engagement.completed_on:
        entries.append(TimelineEntry(engagement.completed_on, "Engagement completed"))
    return sorted(entries, key=lambda entry: entry.on)
