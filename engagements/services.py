"""Writes of customers, accounts and engagements. Each use case takes the acting user, opens its own
transaction, checks who may do it, and raises a DomainError (or PermissionDeniedError / ConflictError)
whose message is written for that user. Views, the admin and the API all call these."""

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import role_holders_condition
from apn_portal.dates import validate_plausible_date
from apn_portal.exceptions import (
    ConflictError,
    DomainError,
    PermissionDeniedError,
    lock_or_refuse,
    validate_or_refuse,
)
from apn_portal.forms import submission_key_of, submitted_before
from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import OutboxEmail, outbox_email_enqueue_many
from apn_portal.text import full_stop, plural
from engagements import events
from engagements.choices import (
    CLOSED_ENGAGEMENT_STATUSES,
    CUSTOMER_TEAM_ROLES,
    PARTNER_TEAM_ROLES,
    PROVIDER_TEAM_ROLES,
    STAGE_ORDER,
    AccessScope,
    AgreementType,
    EngagementStage,
    EngagementStatus,
    PartnerRole,
    Payer,
    ProcurementModel,
    ServicesBuyer,
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
    MarketplaceSubscription,
    ProfessionalServicesEngagement,
    TeamMember,
    access_deadline,
    access_end_in_words,
    role_arn_problem,
    todays_in_zones,
    validate_role_name,
    validate_time_zone,
)
from engagements.selectors import (
    CUSTOMER_STAFF_ROLES,
    TEAM_ROLE_STAFF_ROLES,
    access_administrator_links,
    contracts_opening_engagements_to,
    customer_access_administrators,
    engaged_partner_end_problem,
    engaged_partner_grant_problem,
    foreign_accounts_problem,
    live_grants,
    partner_role_problem,
    user_can_end_contracts,
    user_can_manage_access,
    user_can_manage_customer,
    user_can_manage_engagement,
    user_can_revoke_access,
    user_can_work_on_engagement,
    user_names_access_administrators,
    user_names_customer_staff,
    user_registers_customers,
)
from partners.checks.contacts import partner_contacts
from partners.choices import ContactRequestStatus, PartnerType
from partners.models import ContactRequest, CustomerReference, Partner
from partners.services import contact_request_accept
from partners.services_records import reference_tell_pdm

logger = logging.getLogger(__name__)

# Helpers ----------------------------------------------------------------------------------------------


def customers_lock_naming_users(
    user_ids, *, team_tam_seats: bool = False, access_administered: bool = False
) -> None:
    """The customers whose account manager, solutions architect or TAM is one of `user_ids`, locked in pk
    order: whatever renames or deactivates those people takes them before the people's own rows, the
    order a change of a customer's support plan takes (the customer, then the TAM it names), so the two
    wait on each other rather than deadlock. `team_tam_seats`: and those on whose teams they hold a TAM
    seat, which their leaving may end (team_tams_follow_member). `access_administered`: and those whose
    access administrators they are, which their leaving may leave with none
    (selectors.last_access_administrator_problems), as customer_access_administrators_set locks one."""
    naming = (
        Q(account_manager_id__in=user_ids) | Q(solutions_architect_id__in=user_ids) | Q(tam_id__in=user_ids)
    )
    if team_tam_seats:
        naming |= Q(pk__in=_team_tam_seats_of(user_ids).values("engagement__customer_id"))
    if access_administered:
        links = Customer.access_administrators.through.objects.filter(user_id__in=user_ids)
        naming |= Q(pk__in=links.values("customer_id"))
    list(Customer.objects.select_for_update().filter(naming).order_by("pk").values_list("pk"))


def _team_tam_seats_of(user_ids) -> QuerySet[TeamMember]:
    return TeamMember.objects.filter(user_id__in=user_ids, role=TeamRole.TAM, left_on__isnull=True)


def _require_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(f"Say why {what}.", field="reason")
    return reason


def _customer_save_under_a_free_slug(customer: Customer) -> Customer:
    """Save a new customer under the first slug from its name that no other has. Two customers of one name
    saved at the same moment (two Account Managers, two leads from one company) pick the same; the one
    that loses the race takes the next."""
    for _attempt in range(3):
        customer.slug = _unique_customer_slug(customer.name)
        validate_or_refuse(customer)
        try:
            with transaction.atomic():
                customer.save()
        except IntegrityError:
            continue
        return customer
    raise ConflictError(
        f"Another customer named {customer.name} was being saved at the same time; try again."
    )


def _unique_customer_slug(name: str) -> str:
    base = slugify(name)[:180] or "customer"
    slug, n = base, 1
    while Customer.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _unsaved(instance, model, refusal: str):
    """The unsaved object a caller built and passes on (`instance`: the admin's, which it goes on with) to
    be given the service's values, else a new `model`. One already saved would be overwritten: a bug."""
    obj = instance if instance is not None else model()
    if obj.pk is not None:
        raise ValueError(refusal)
    return obj


def _ensure_open(engagement: Engagement) -> None:
    if engagement.status in CLOSED_ENGAGEMENT_STATUSES:
        raise ConflictError(f"“{engagement.title}” is {engagement.get_status_display().lower()}.")


def _check_staff_role(member, role: StaffRole, field: str) -> None:
    """Refuse `member` for `field` unless they hold `role` now (User.has_role, role_holders_condition):
    somebody deactivated has left, whatever roles they held."""
    if member is None:
        return
    if not member.is_active:
        raise DomainError(f"{member} has left and can no longer sign in.", field=field)
    if not member.has_role(role):
        raise DomainError(f"{member} is not one of the provider's {role.value}s.", field=field)


def _check_staff_still_hold_roles(people: dict) -> None:
    """In the caller's transaction: lock the rows of the people `people` names as a customer's Account
    Manager or Solutions Architect (field -> user or None), in pk order, and check again on them as stored
    that each holds the role. The user admin takes the same rows to take those roles or deactivate them,
    after the customers naming them (customers_lock_naming_users), and refuses while a customer names them
    (selectors.customer_staff_leaving_problems): so either it is seen here, or it waits and sees the
    customer naming them. The TAM is support's (support_customer_tam_name), which locks its own."""
    named = {field: member for field, member in people.items() if member is not None and field != "tam"}
    if not named:
        return
    stored = {
        person.pk: person
        for person in get_user_model()
        .objects.select_for_update()
        .filter(pk__in={member.pk for member in named.values()})
        .order_by("pk")
    }
    for field, member in named.items():
        if member.pk not in stored:
            raise DomainError(f"{member} is no longer one of the provider's people.", field=field)
        _check_staff_role(stored[member.pk], CUSTOMER_STAFF_ROLES[field], field)


def customer_people_problems(customer: Customer | None, data: dict) -> dict[str, str]:
    """Field -> what is wrong with the people `data` names for the customer (its staff roles and its
    access administrators), by the services' rules: for customer_create, and for forms that set them
    directly (the admin)."""
    problems = {}
    for field, role in CUSTOMER_STAFF_ROLES.items():
        try:
            _check_staff_role(data.get(field), role, field)
        except DomainError as error:
            problems[field] = error.message
    # A customer not registered yet is on Basic, which names no TAM: nobody as its TAM is no problem.
    if "tam" not in problems and (customer is not None or data.get("tam") is not None):
        tam_problem = _customer_tam_problem(customer, data.get("tam"))
        if tam_problem:
            problems["tam"] = tam_problem
    if outsiders := _access_administrator_outsiders(customer, data.get("access_administrators") or ()):
        problems["access_administrators"] = outsiders
    return problems


def _access_administrator_outsiders(customer: Customer | None, members: Iterable) -> str | None:
    """What is wrong with making `members` the customer's access administrators if some are not its own
    people (none are, of a customer not registered yet): access to its accounts is the customer's to give."""
    outsiders = [member for member in members if customer is None or member.customer_id != customer.pk]
    if not outsiders:
        return None
    names = ", ".join(str(member) for member in outsiders)
    return f"Only the customer's own people can administer access: {names}."


def _check_names_access_administrators(user, customer: Customer) -> None:
    if not user_names_access_administrators(user, customer):
        raise PermissionDeniedError(
            f"Only {customer}'s access administrators or the provider's staff looking after it can name "
            "or remove them."
        )


def _customer_tam_problem(customer: Customer | None, tam) -> str | None:
    # The customer's TAM is the one its support plan serves it with, which support decides. Imported when
    # called: support builds on engagements, not the other way round.
    from support.selectors import customer_tam_problem

    return customer_tam_problem(customer, tam)


# Customers and accounts -------------------------------------------------------------------------------


def customer_create(
    *,
    user,
    name: str,
    agreement: str = AgreementType.CUSTOMER,
    time_zone: str = "UTC",
    slug: str = "",
    account_manager=None,
    solutions_architect=None,
    tam=None,
) -> Customer:
    """The provider's staff register a customer organisation and who looks after it."""
    if not user_registers_customers(user):
        raise PermissionDeniedError("Only an Account Manager or a superuser registers customers.")
    people = {"account_manager": account_manager, "solutions_architect": solutions_architect, "tam": tam}
    if problems := customer_people_problems(None, people):
        field, problem = next(iter(problems.items()))
        raise DomainError(problem, field=field)
    customer = Customer(
        name=(name or "").strip(),
        slug=slug,
        agreement=agreement,
        time_zone=time_zone,
        account_manager=account_manager,
        solutions_architect=solutions_architect,
        tam=tam,
    )
    with transaction.atomic():
        _check_staff_still_hold_roles(people)
        if not slug:
            return _customer_save_under_a_free_slug(customer)
        validate_or_refuse(customer)  # a slug given and taken is refused, naming it
        customer.save()
    return customer


def customer_time_zone_change_check(*, user, customer: Customer, time_zone: str) -> str:
    """Refuse, as customer_time_zone_change would, a user who may not move `customer` or a zone that does
    not exist; returns the zone as the service reads it. For forms that say so before saving (the admin)."""
    if not user_can_manage_customer(user, customer):
        raise PermissionDeniedError(f"You cannot change {customer}'s time zone.")
    time_zone = (time_zone or "").strip() if isinstance(time_zone, str) else ""
    try:
        validate_time_zone(time_zone)
    except ValidationError as error:
        raise DomainError(error.messages[0], field="time_zone") from None
    return time_zone


@dataclass
class TimeZoneChange:
    customer: Customer
    moved: list[AccessGrant]  # live grants that now end at another moment
    ended: list[AccessGrant]  # live grants whose last day was already over in the new zone


def _end_in_zone(grant: AccessGrant, new_zone: str) -> tuple[datetime.datetime, datetime.date | None]:
    """When a live grant ends once its customer works in `new_zone`, and its last day of access. Access
    granted to the end of a day (recorded as its `last_day` when it was granted) ends with that same day
    there; a grant given an exact moment keeps it, however it reads on a clock. Never after the
    contract's last day there: that can only shorten an exact moment, never lengthen it."""
    contract_end = grant.engagement_partner.contract_end
    if grant.last_day is not None:
        last_day = min(grant.last_day, contract_end)
        return access_deadline(last_day, new_zone), last_day
    return min(grant.expires_at, access_deadline(contract_end, new_zone)), None


# The smallest step of a stored moment: PostgreSQL keeps microseconds.
_INSTANT = datetime.timedelta(microseconds=1)


def _ended_by_zone_reason(
    grant: AccessGrant, last_day: datetime.date | None, customer: Customer, old_zone: str
) -> str:
    """Why a grant whose last day was already over in the customer's new zone expired with the change."""
    engaged = grant.engagement_partner
    day = last_day or engaged.contract_end
    local_end = customer.local_time(access_deadline(day, customer.time_zone))
    noticed = (
        f"noticed when {customer.name}'s time zone changed from {old_zone} to {customer.time_zone}, where "
        f"that day had ended at {local_end:%d %b %Y %H:%M} {local_end.tzname()}"
    )
    if day == engaged.contract_end:
        return (
            f"{engaged.partner.name}'s contract on {engaged.engagement.title} ended on {day:%d %b %Y}, and "
            f"the access with it ({noticed})."
        )
    return f"Its last day of access, {day:%d %b %Y}, is over ({noticed})."


def customer_time_zone_change(
    *, user, customer: Customer, time_zone: str, fields: Iterable[str] = ()
) -> TimeZoneChange:
    """Move the customer to another time zone. Its contracts' days are its local days, so in the same
    transaction every live access grant to the end of a day is moved to end when that day ends in the new
    zone, and none outlives its contract's last day there (the pages show its end in that zone); a grant
    whose last day is already over there is recorded as expired, as the hourly check would have had the
    customer always worked there (dated when that day ended, by nobody's hand), with the reason, and both
    sides are told. Support cases still waiting for a first response in local business hours are due by
    the new zone's hours (support.services.support_cases_follow_time_zone).

    `fields` names other fields of `customer` changed with its zone (by a form that has checked them, the
    admin's): they are saved in the same save, so that one edit is one change in the customer's history."""
    time_zone = customer_time_zone_change_check(user=user, customer=customer, time_zone=time_zone)
    fields = [field for field in fields if field != "time_zone"]
    with transaction.atomic():
        locked = lock_or_refuse(Customer.objects.select_for_update(), customer.pk, "customer")
        old_name = locked.time_zone
        for field in fields:
            setattr(locked, field, getattr(customer, field))
        if time_zone == old_name:
            if fields:
                locked.save(update_fields=[*fields, "updated_at"])
                customer.updated_at = locked.updated_at
            return TimeZoneChange(locked, [], [])
        grants = AccessGrant.objects.filter(account__customer=locked)
        # Grants already past their end are over: record them as the check would, before the new zone
        # could move their end into the future again.
        access_grants_end_expired(
            grants,
            noticed_by="recorded when the customer's time zone changed",
            change_reason="Expired; recorded when the customer's time zone changed",
        )
        locked.time_zone = time_zone
        locked.save(update_fields=["time_zone", *fields, "updated_at"])
        now = timezone.now()
        moved: list[AccessGrant] = []
        ran_out: list[_RanOut] = []
        for grant in (
            grants.filter(revoked_at__isnull=True)
            .select_for_update(of=("self",))
            .select_related(*events.GRANT_EVENT_RELATED, "engagement_partner__engagement")
            .order_by("pk")
        ):
            end, last_day = _end_in_zone(grant, time_zone)
            if end == grant.expires_at:
                continue
            if end > now:
                grant.expires_at, grant.last_day, grant.updated_at = end, last_day, now
                moved.append(grant)
                continue
            # Its last day was already over in the new zone: it ran out there, nobody cut it short. Record
            # it as the hourly check would have, had the customer always worked there: expired, dated when
            # that day ended. A grant made after that moment ends the instant it began (a grant ends after
            # it starts, by a constraint), and no longer has a day it ran to.
            ended_at = max(end, grant.granted_at + _INSTANT)
            ran_out.append(
                _RanOut(
                    grant,
                    ended_at,
                    last_day if ended_at == end else None,
                    _ended_by_zone_reason(grant, last_day, locked, old_name),
                )
            )
        # Both change reasons fit the history's 100 characters whatever the zones' names (up to 32 each);
        # the grant's own reason, which both sides read, names the zone it left.
        if moved:
            AccessGrant.objects.bulk_update(moved, ["expires_at", "last_day", "updated_at"])
            AccessGrant.history.bulk_history_create(
                moved,
                update=True,
                default_change_reason=f"Time zone changed from {old_name} to {time_zone}",
                default_user=user,
                default_date=now,
            )
        _access_grants_record_ran_out(
            ran_out,
            change_reason=f"Expired; recorded when the customer's time zone changed to {time_zone}",
            user=user,
            now=now,
        )
        ended = [item.grant for item in ran_out]
        # Support builds on engagements (its cases point at the customer), so it is imported here, when
        # called, never at module level: open cases answered in local business hours are due by the new
        # zone's hours, in this same transaction.
        from support.services import support_cases_follow_time_zone

        support_cases_follow_time_zone(locked, now=now)
    customer.time_zone, customer.updated_at = locked.time_zone, locked.updated_at
    return TimeZoneChange(locked, moved, ended)


def customer_access_administrators_set_check(*, user, customer: Customer, members: Iterable) -> None:
    """Refuse, as customer_access_administrators_set would, making `members` the customer's access
    administrators: for forms that say so before saving (the admin)."""
    _check_names_access_administrators(user, customer)
    members = list(members)
    if problem := _access_administrator_outsiders(customer, members):
        raise DomainError(problem, field="members")
    # Only an access administrator grants or revokes the customer's own side of access, and names the
    # next one: without one left, nobody on the customer's side could. The members as stored, under the
    # customer's lock: one the user admin deactivated or moved away meanwhile (it locks the customer too)
    # holds the role no more.
    keeps_one = (
        get_user_model()
        .objects.filter(pk__in=[member.pk for member in members], is_active=True, customer_id=customer.pk)
        .exists()
    )
    if not keeps_one and customer_access_administrators(customer).exists():
        raise DomainError(
            f"{customer} would be left without an access administrator, and nobody could grant partners "
            "access to its accounts: name another before removing the last.",
            field="members",
        )


def customer_access_administrators_set(*, user, customer: Customer, members: Iterable) -> None:
    """Make `members` (the customer's own staff) its access administrators: those not named lose the
    role. A customer that has one always keeps at least one."""
    members = list(members)
    with transaction.atomic():
        locked = lock_or_refuse(Customer.objects.select_for_update(), customer.pk, "customer")
        customer_access_administrators_set_check(user=user, customer=locked, members=members)
        locked.access_administrators.set(members)


def customer_access_administrator_add(*, user, customer: Customer, member) -> None:
    """Give one of the customer's own staff the privileged role of managing partners' access. (Taking it
    away is customer_access_administrators_set, which keeps the last one.)"""
    _check_names_access_administrators(user, customer)
    if problem := _access_administrator_outsiders(customer, [member]):
        raise DomainError(problem, field="member")
    with transaction.atomic():
        customer.access_administrators.add(member)


def customer_access_administrators_drop_leaver(*, user, member) -> list[Customer]:
    """Take `member` off the access administrators of the customers they no longer work for, now that
    their organisation changed: the role stays with the customer, and someone who comes back would
    otherwise hold it again unasked. For the user admin's save, in its transaction. Returns the customers
    they were taken off."""
    with transaction.atomic():
        # Locked as customer_access_administrators_set locks them, in the same order.
        customers = list(
            Customer.objects.select_for_update()
            .filter(access_administrators=member)
            .exclude(pk=member.customer_id)
            .order_by("pk")
        )
        for customer in customers:
            customer._history_user = user
            customer.access_administrators.remove(member)
    return customers


def customer_assign_staff(*, user, customer: Customer, field: str, member) -> Customer:
    """Name the customer's Account Manager, Solutions Architect or TAM, or clear it with None. For the
    customer's Account Manager or a superuser. The TAM is the one the customer's support plan serves it
    with: only a plan with a designated TAM has one, and naming another changes that plan's TAM."""
    if field not in CUSTOMER_STAFF_ROLES:
        raise DomainError(f"'{field}' is not one of {', '.join(CUSTOMER_STAFF_ROLES)}.", field="field")
    if not user_names_customer_staff(user, customer):
        raise PermissionDeniedError(f"Only {customer}'s Account Manager or a superuser assigns its staff.")
    _check_staff_role(member, CUSTOMER_STAFF_ROLES[field], field)
    if field == "tam":
        # Support keeps Customer.tam to the designated TAM of the customer's plans. Imported when called:
        # support builds on engagements, not the other way round.
        from support.services import support_customer_tam_name

        support_customer_tam_name(user=user, customer=customer, tam=member)
        customer.refresh_from_db(fields=["tam", "updated_at"])
        return customer
    with transaction.atomic():
        locked = lock_or_refuse(Customer.objects.select_for_update(), customer.pk, "customer")
        _check_staff_still_hold_roles({field: member})
        setattr(locked, field, member)
        locked.save(update_fields=[field, "updated_at"])
    setattr(customer, field, member)
    return locked


def aws_account_create(
    *,
    user,
    customer: Customer,
    account_id,
    name: str,
    management_account: AwsAccount | None = None,
    consolidated_billing: bool = False,
    reseller: Partner | None = None,
) -> AwsAccount:
    """Register one of the customer's AWS accounts, under its management account if it has one."""
    if not user_can_manage_customer(user, customer):
        raise PermissionDeniedError(f"You cannot add accounts to {full_stop(customer)}")
    if not isinstance(account_id, str):
        raise DomainError(
            "Give the account id as text: as a number it would lose its leading zeros.", field="account_id"
        )
    # The console shows ids as 0123-4567-8901; people paste them that way.
    account_id = account_id.strip().replace("-", "").replace(" ", "")
    account = AwsAccount(
        customer=customer,
        account_id=account_id,
        name=(name or "").strip(),
        management_account=management_account,
        consolidated_billing=consolidated_billing,
        paid_by=Payer.RESELLER if reseller else Payer.CUSTOMER,
        reseller=reseller,
    )
    validate_or_refuse(account)
    with transaction.atomic():
        account.save()
    return account


# What a registered account may change: its id and its customer stay (the partners' grants on it point at
# that very account of that customer).
AWS_ACCOUNT_CHANGE_FIELDS = ("name", "management_account", "consolidated_billing", "paid_by", "reseller")


def aws_account_change(*, user, account: AwsAccount, fields: Iterable[str]) -> AwsAccount:
    """Save what a form changed on a registered account (`fields`, set on `account`): whom aws_account_create
    lets add one changes it.

    Partner-led support is the reseller's: when the reseller changes or goes, the customer's open cases
    that partner handled go to the provider's support in the same transaction, with a line on each saying
    who changed what (support.services.support_cases_follow_partner_led_support)."""
    fields = list(dict.fromkeys(fields))
    if unchangeable := [field for field in fields if field not in AWS_ACCOUNT_CHANGE_FIELDS]:
        raise DomainError(
            f"An account's {', '.join(unchangeable)} cannot change: register the other account instead.",
            field=unchangeable[0],
        )
    customer = Customer.objects.get(pk=account.customer_id)
    if not user_can_manage_customer(user, customer):
        raise PermissionDeniedError(f"You cannot change {customer}'s accounts.")
    if not fields:
        return account
    with transaction.atomic():
        # The customer before the account, as support's plan changes lock it: partner-led support is
        # judged on both, and a plan and a reseller changed at once are then judged one after the other.
        list(Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk", flat=True))
        # No join: a reseller changed meanwhile is read as it now is, after the lock.
        locked = lock_or_refuse(AwsAccount.objects.select_for_update(), account.pk, "AWS account")
        old_reseller = locked.reseller
        for field in fields:
            setattr(locked, field, getattr(account, field))
        validate_or_refuse(locked)
        locked._history_user = user
        locked.save(update_fields=[*fields, "updated_at"])
        if old_reseller is not None and locked.reseller_id != old_reseller.pk:
            # Support builds on engagements: imported when called, never at module level.
            from support.services import support_cases_follow_partner_led_support

            if locked.reseller is None:
                why = f"{user} removed {old_reseller} as account {locked.account_id}'s reseller"
            else:
                why = (
                    f"{user} made {locked.reseller} account {locked.account_id}'s reseller in place of "
                    f"{old_reseller}"
                )
            support_cases_follow_partner_led_support(user=user, customer=customer, why=why)
    account.updated_at = locked.updated_at
    return locked


# Engagements ------------------------------------------------------------------------------------------


def _engagement_start(
    *,
    user,
    customer,
    title,
    workload,
    procurement_model,
    description,
    stage,
    reached_on,
    contact_request,
    instance: Engagement | None = None,
) -> Engagement:
    engagement = _unsaved(instance, Engagement, "Only an engagement not saved yet can be started.")
    engagement.customer = customer
    engagement.title = (title or "").strip()
    engagement.workload = (workload or "").strip()
    engagement.description = description
    engagement.procurement_model = procurement_model
    engagement.stage = stage
    if stage != STAGE_ORDER[0] and engagement.status == EngagementStatus.PROPOSED:
        # Recorded already under way: as reaching a step would have made it (engagement_stage_advance).
        engagement.status = EngagementStatus.ACTIVE
    engagement.contact_request = contact_request
    engagement.created_by = user
    validate_or_refuse(engagement)
    engagement.save()
    EngagementStageEvent.objects.create(
        engagement=engagement,
        stage=stage,
        reached_on=reached_on or customer.local_today(),
        recorded_by=user,
        note=_start_note(stage),
    )
    return engagement


def _start_note(stage: str) -> str:
    """What the first recorded step says of itself: an engagement recorded further along its journey did
    not start there, it had come that far before anyone recorded it."""
    if stage == STAGE_ORDER[0]:
        return "Where the engagement starts."
    return (
        "Where the engagement stood when it was recorded here: the steps before "
        f"{EngagementStage(stage).label} were not recorded."
    )


def engagement_create_check(*, user, customer: Customer) -> None:
    """Refuse, as engagement_create would, a user who may not start engagements for `customer`: for forms
    that say so before anything is saved (the admin's)."""
    if not user_can_manage_customer(user, customer):
        raise PermissionDeniedError(f"You cannot start engagements for {full_stop(customer)}")


def engagement_create(
    *,
    user,
    customer: Customer,
    title: str,
    workload: str,
    procurement_model: str = ProcurementModel.DIRECT,
    description: str = "",
    stage: str = EngagementStage.ON_PREMISES,
    reached_on: datetime.date | None = None,
    instance: Engagement | None = None,
) -> Engagement:
    """Start an engagement from scratch: the customer's staff, or the provider's staff who look after it.

    `instance`: an unsaved Engagement to start, given these values, instead of a new one. The admin's
    add form passes the object it built, so that what it goes on with (the inlines, its log, the
    redirect) is the engagement started here."""
    engagement_create_check(user=user, customer=customer)
    with transaction.atomic():
        return _engagement_start(
            user=user,
            customer=customer,
            title=title,
            workload=workload,
            procurement_model=procurement_model,
            description=description,
            stage=stage,
            reached_on=reached_on,
            contact_request=None,
            instance=instance,
        )


def _check_lead_can_become_work(lead: ContactRequest) -> None:
    if Engagement.objects.filter(contact_request=lead).exists():
        raise ConflictError(f"Contact request {lead.reference} is already an engagement.")
    if lead.status == ContactRequestStatus.DECLINED:
        raise ConflictError(f"Contact request {lead.reference} was declined; it cannot become work.")
    # Checked before anything is saved, so the refusal names the partner's type, not a rolled-back role.
    problem = partner_role_problem(lead.partner, PartnerRole.CONSULTING_LEAD)
    if problem:
        raise DomainError(f"Only a Consulting partner can lead the work: {problem}")


def engagement_create_from_contact_request_check(*, user, contact_request: ContactRequest) -> None:
    """Refuse, as engagement_create_from_contact_request would, a user or a lead that cannot start an
    engagement: for pages that offer the action only when it would be taken."""
    if not (
        user.is_authenticated
        and user.partner_id is not None
        and user.partner_id == contact_request.partner_id
    ):
        raise PermissionDeniedError("Only the partner's own staff can turn its contact request into work.")
    _check_lead_can_become_work(contact_request)


def _customer_for_lead(lead: ContactRequest) -> Customer:
    """A new customer named after the lead's company."""
    return _customer_save_under_a_free_slug(Customer(name=lead.company))


LEAD_WRITER_NOTE = "Wrote the contact request"


def engagement_create_from_contact_request(
    *,
    user,
    contact_request: ContactRequest,
    workload: str,
    contract_start: datetime.date,
    contract_end: datetime.date,
    title: str = "",
    description: str = "",
    procurement_model: str = ProcurementModel.DIRECT,
    customer: Customer | None = None,
) -> Engagement:
    """The lead becomes an engagement, led by the partner it was sent to. A new lead is accepted with it.

    The description is the one the partner gives, never the lead's message copied: everyone on the
    engagement reads its description (the customer and every partner added later), while the message was
    the customer's to the one partner it was sent to.

    The customer is the one given (provider staff only: a partner cannot attach itself to an existing
    customer's records) or a new one named after the lead's company. The person who wrote joins the team.
    A lead becomes one engagement at most: sent twice (a double click, two colleagues), the second is a
    ConflictError.
    """
    engagement_create_from_contact_request_check(user=user, contact_request=contact_request)
    if customer is not None:
        raise PermissionDeniedError(
            "A partner cannot attach a lead to an existing customer; the provider's staff link them."
        )
    with transaction.atomic():
        # The lead's row lock makes a second conversion wait, then see the first one's engagement.
        lead = (
            ContactRequest.objects.select_for_update(of=("self",))
            .select_related("partner")
            .get(pk=contact_request.pk)
        )
        _check_lead_can_become_work(lead)
        if lead.status == ContactRequestStatus.NEW:
            lead = contact_request_accept(contact_request=lead, user=user)
        customer = _customer_for_lead(lead)
        if not title:
            # Cut to fit: a title the person did not type must not be what refuses the engagement.
            title = f"{lead.company}: {(workload or '').strip()}"[
                : Engagement._meta.get_field("title").max_length
            ]
        engagement = _engagement_start(
            user=user,
            customer=customer,
            title=title,
            workload=workload,
            procurement_model=procurement_model,
            description=(description or "").strip(),
            stage=EngagementStage.ON_PREMISES,
            reached_on=None,
            contact_request=lead,
        )
        _partner_join(
            user=user,
            engagement=engagement,
            partner=lead.partner,
            role=PartnerRole.CONSULTING_LEAD,
            contract_start=contract_start,
            contract_end=contract_end,
        )
        # Everyone on the engagement reads the team: the lead's reference is not written here but shown
        # through engagement_lead_shown_to, to the partner the lead was sent to only.
        writer = TeamMember(
            engagement=engagement,
            name=lead.name,
            email=lead.email,
            role=TeamRole.CUSTOMER_IT,
            note=LEAD_WRITER_NOTE,
        )
        writer._history_user = user  # its history names who added them (outside a request too)
        writer.save()
    contact_request.status = lead.status
    contact_request.responded_at = lead.responded_at
    contact_request.responded_by = lead.responded_by
    return engagement


def _lock_engagement(engagement: Engagement) -> Engagement:
    """The engagement, locked after its customer: customer, engagement, contract is the order every write
    of them takes (access_grant_create's; a partner joining touches the customer's row), so two of them
    never wait on each other."""
    Customer.objects.select_for_update(of=("self",)).filter(pk=engagement.customer_id).values_list(
        "pk"
    ).first()
    return lock_or_refuse(
        Engagement.objects.select_for_update(of=("self",)).select_related("customer"),
        engagement.pk,
        "engagement",
    )


def engagement_stage_advance(
    *,
    user,
    engagement: Engagement,
    to_stage: str | None = None,
    reached_on: datetime.date | None = None,
    note: str = "",
) -> EngagementStageEvent:
    """Record that the engagement reached the next step of the journey, on a date. Steps are not skipped."""
    with transaction.atomic():
        locked = _lock_engagement(engagement)
        if not user_can_work_on_engagement(user, locked):
            raise PermissionDeniedError(f"You cannot move “{locked.title}” along.")
        _ensure_open(locked)
        position = STAGE_ORDER.index(EngagementStage(locked.stage))
        wanted = None
        if to_stage is not None:
            if to_stage not in EngagementStage.values:
                raise DomainError(f"'{to_stage}' is not a step of the journey.", field="to_stage")
            wanted = EngagementStage(to_stage)
            # Before the other refusals: a step sent twice (the last one too, or while someone put the
            # engagement on hold) is a stale form, which the pages answer with the journey as it is now.
            if STAGE_ORDER.index(wanted) <= position:
                raise ConflictError(f"“{locked.title}” is already past {wanted.label}.", field="to_stage")
        if locked.status == EngagementStatus.ON_HOLD:
            raise ConflictError(f"“{locked.title}” is on hold; resume it before advancing.")
        next_stage = stage_after(locked.stage)
        if next_stage is None:
            raise ConflictError(f"“{locked.title}” has reached the last step: {locked.get_stage_display()}.")
        if wanted is not None and wanted != next_stage:
            raise DomainError(
                f"{wanted.label} cannot come before {next_stage.label}: “{locked.title}” is at "
                f"{locked.get_stage_display()}, so {next_stage.label} comes next.",
                field="to_stage",
            )
        _plausible(reached_on, "reached_on")
        today = locked.customer.local_today()
        reached_on = reached_on or today
        if reached_on > today:
            raise DomainError(
                f"A step is recorded once it is reached, not in advance: it is {_customer_day(locked)}.",
                field="reached_on",
            )
        previous = locked.stage_events.order_by("-reached_on").first()
        if previous and reached_on < previous.reached_on:
            raise DomainError(
                f"{next_stage.label} cannot be reached before {previous.get_stage_display()} "
                f"({previous.reached_on:%d %b %Y}).",
                field="reached_on",
            )
        event = EngagementStageEvent.objects.create(
            engagement=locked, stage=next_stage, reached_on=reached_on, recorded_by=user, note=note.strip()
        )
        locked.stage = next_stage
        if locked.status == EngagementStatus.PROPOSED:
            locked.status = EngagementStatus.ACTIVE
        locked.save(update_fields=["stage", "status", "updated_at"])
    engagement.stage, engagement.status = locked.stage, locked.status
    return event


def engagement_complete(
    *, user, engagement: Engagement, completed_on: datetime.date | None = None, summary: str = ""
) -> Engagement:
    """Close a finished engagement. The consulting partner that led it to the end (its contract in force on
    the day it completed) gets an unvalidated customer reference, which its PDM can validate toward its
    tier."""
    with transaction.atomic():
        locked = _lock_engagement(engagement)
        if not user_can_work_on_engagement(user, locked):
            raise PermissionDeniedError(f"You cannot complete “{locked.title}”.")
        _ensure_open(locked)
        # The partner's reference says when the work launched: a date yet to come, or before the journey's
        # last recorded step, would put it on record wrongly, as it would a step (engagement_stage_advance).
        _plausible(completed_on, "completed_on")
        today = locked.customer.local_today()
        completed_on = completed_on or today
        if completed_on > today:
            raise DomainError(
                f"An engagement is completed once the work is done, not in advance: it is "
                f"{_customer_day(locked)}.",
                field="completed_on",
            )
        last_step = locked.stage_events.order_by("-reached_on", "-id").first()
        if last_step and completed_on < last_step.reached_on:
            raise DomainError(
                f"“{locked.title}” cannot be completed before it reached {last_step.get_stage_display()} "
                f"({last_step.reached_on:%d %b %Y}).",
                field="completed_on",
            )
        # The lead that delivered the work: in force on the day it completed, as the partner that keeps the
        # engagement in its history (contracts_opening_engagements_to), not one replaced or ended early.
        lead = next(
            (
                engaged
                for engaged in locked.engagement_partners.filter(role=PartnerRole.CONSULTING_LEAD)
                .select_related("partner")
                .order_by("-contract_start", "-id")
                if engaged.in_force_on(completed_on)
            ),
            None,
        )
        if lead is not None:
            products = locked.marketplace_subscriptions.values_list("product", flat=True)
            locked.customer_reference = CustomerReference.objects.create(
                partner=lead.partner,
                customer_name=locked.customer.name,
                summary=(summary or "").strip() or f"{locked.title}: {locked.workload}.",
                services_used=", ".join(products)[:300],
                launched_on=completed_on,
                is_validated=False,
                is_public=False,
            )
            reference_tell_pdm(locked.customer_reference, user)
        locked.status = EngagementStatus.COMPLETED
        locked.completed_on = completed_on
        locked.save(update_fields=["status", "completed_on", "customer_reference", "updated_at"])
    engagement.status, engagement.completed_on = locked.status, locked.completed_on
    engagement.customer_reference = locked.customer_reference
    return locked


# Which status an open engagement may move to by hand; completion has its own service.
STATUS_CHANGES = {
    EngagementStatus.PROPOSED: (
        EngagementStatus.ACTIVE,
        EngagementStatus.ON_HOLD,
        EngagementStatus.CANCELLED,
    ),
    EngagementStatus.ACTIVE: (EngagementStatus.ON_HOLD, EngagementStatus.CANCELLED),
    EngagementStatus.ON_HOLD: (EngagementStatus.ACTIVE, EngagementStatus.CANCELLED),
}


def engagement_status_change(*, user, engagement: Engagement, status: str, reason: str = "") -> Engagement:
    """Start, hold, resume or cancel an engagement. Cancelling ends every partner's access under it, and
    every contract still running ends that day, as a replaced partner's does (_contracts_end)."""
    with transaction.atomic():
        locked = _lock_engagement(engagement)
        if not user_can_manage_engagement(user, locked):
            raise PermissionDeniedError(f"You cannot change the status of “{locked.title}”.")
        if status == EngagementStatus.COMPLETED:
            raise DomainError(
                "Complete an engagement with its own action: it creates the partner's reference."
            )
        _ensure_open(locked)
        if status not in STATUS_CHANGES[EngagementStatus(locked.status)]:
            label = EngagementStatus(status).label.lower() if status in EngagementStatus.values else status
            raise ConflictError(
                f"“{locked.title}” is {locked.get_status_display().lower()}; it cannot become {label}."
            )
        if status == EngagementStatus.CANCELLED:
            now = timezone.now()
            today = locked.customer.local_today()
            # Locked before their grants, in the order every write takes (_lock_engagement). Those
            # replaced were told then, and a contract already over loses nothing: the others end now,
            # their partners told of the cancellation, grant or none.
            running = list(
                locked.engagement_partners.select_for_update(of=("self",))
                # One ended early is over, even one whose last day (its first, not started) is still to come.
                .filter(replaced_by__isnull=True, ended_reason="", contract_end__gte=today)
                .select_related("partner")
                .order_by("pk")
            )
            # Ending them all is ending each: whoever may not end one contract may not cancel it away.
            if running and not user_can_end_contracts(user, locked.customer):
                partners = ", ".join(str(engaged.partner) for engaged in running)
                raise PermissionDeniedError(
                    f"Cancelling “{locked.title}” would end the contracts still running ({partners}): only "
                    f"{locked.customer}'s access administrators can end them."
                )
            reason = _require_reason(reason, "the engagement is cancelled")
            live = _grants_to_revoke().filter(engagement_partner__engagement=locked, revoked_at__isnull=True)
            _revoke(live, user=user, reason=f"Engagement cancelled: {reason}", at=now, contract_ended=True)
            _contracts_end(running, today=today, reason=reason, event="cancelled", user=user)
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
    engagement.status = locked.status
    return locked


# Partners and the team --------------------------------------------------------------------------------


def _contract_over_in_words(held: EngagementPartner) -> str:
    """When a contract that is over ended, for a refusal: one that never ran has no day it ended."""
    if held.ended_before_start:
        return f"ended before it started ({held.contract_start:%-d %b %Y})"
    return f"ended on {held.contract_end:%-d %b %Y}"


def _check_partner_not_there(engagement, partner, role) -> None:
    held = engagement.engagement_partners.filter(partner=partner, role=role, replaced_by__isnull=True).first()
    if held is None:
        return
    label = PartnerRole(role).label.lower() if role in PartnerRole.values else role
    if held.is_ended_early or held.contract_end < engagement.customer.local_today():
        # Its row keeps the role (engagement_partner_once_per_role): over, not "already" there.
        ended = _contract_over_in_words(held)
        raise ConflictError(
            f"{partner}'s earlier contract as {label} on “{engagement.title}” {ended}, and for now a partner "
            f"cannot take the same role twice on one engagement: put the new work on a new engagement for "
            f"{engagement.customer}.",
            field="partner",
        )
    raise ConflictError(f"{partner} is already {label} on “{engagement.title}”.", field="partner")


def _partner_join(
    *,
    user,
    engagement,
    partner,
    role,
    contract_start,
    contract_end,
    territory="",
    business_function="",
    instance: EngagementPartner | None = None,
) -> EngagementPartner:
    """Save the partner's contract on the engagement. The caller has checked, under its lock, that the
    partner is not there in that role already (_check_partner_not_there), unless the engagement is new."""
    engaged = _unsaved(instance, EngagementPartner, "Only an engagement partner not saved yet can join.")
    engaged.engagement = engagement
    engaged.partner = partner
    engaged.role = role
    engaged.contract_start = contract_start
    engaged.contract_end = contract_end
    engaged.territory = (territory or "").strip()
    engaged.business_function = (business_function or "").strip()
    engaged.added_by = user
    # clean() says why this partner cannot take this role, if it cannot.
    validate_or_refuse(engaged, exclude=["replaced_by"])
    engaged.save()
    _partner_joined_touch(engaged)
    _tell_partner_joined(engaged)
    return engaged


def _tell_partner_joined(engaged: EngagementPartner) -> None:
    """Its staff learn of the contract by email, in the transaction that saves it, rather than by chance
    on /my/engagements/."""
    contacts = partner_contacts([engaged.partner_id])[engaged.partner_id]
    engagement = engaged.engagement
    outbox_email_enqueue_many(
        [
            OutboxEmail(
                dedupe_key=f"engagement-partner-joined:{engaged.pk}",
                to=contacts.staff_or_pdm,
                for_partner=engaged.partner_id,
                subject=f"{contacts.name} is on {engagement.title} for {engagement.customer.name}",
                template="emails/engagement_partner_joined",
                context={
                    "engaged": engaged,
                    "engagement": engagement,
                    "customer": engagement.customer,
                    "partner": contacts,
                    "engagement_path": reverse("engagements:engagement-detail", args=[engagement.pk]),
                    "pdm_path": contacts.pdm_path_instead_of_staff,
                },
            )
        ]
    )


def _contracts_end(
    contracts: list[EngagementPartner],
    *,
    today: datetime.date,
    reason: str,
    event: str,
    user,
    replaced_by: EngagementPartner | None = None,
) -> None:
    """End these locked contracts early, their grants already revoked (a contract is never cut short
    under live access), and tell each partner (`event`: "replaced", by `replaced_by`, "cancelled", or
    "ended" by the customer alone).
    The last day becomes `today` (the customer's), so every reader of the dates sees it over;
    one not started yet ends on its first day, the earliest a contract can end, and is marked
    `ended_before_start`, so that nobody reads that day as a day it ran (ended early, it is never in
    force: EngagementPartner.in_force_on). One ended already (a replaced partner's, whose last day
    passed) keeps its last day, and its partner, who loses nothing now, is not told, as a cancellation
    does not tell it either. Its people's seats on the team end with it (_partner_seats_end)."""
    running = [contract for contract in contracts if contract.contract_end >= today]
    for contract in contracts:
        contract.ended_before_start = today < contract.contract_start
        contract.contract_end = min(contract.contract_end, max(today, contract.contract_start))
        contract.ended_reason = reason
        # What keeps the cancelled engagement in the partner's history (contracts_opening_engagements_to).
        contract.ended_by_cancellation = event == "cancelled"
        fields = ["contract_end", "ended_reason", "ended_before_start", "ended_by_cancellation", "updated_at"]
        if replaced_by is not None:
            contract.replaced_by = replaced_by
            fields.append("replaced_by")
        contract.save(update_fields=fields)
    _partner_seats_end(contracts, today=today, event=event, user=user)
    _tell_contracts_ended(running, event=event, reason=reason)


def _partner_seats_end(contracts: list[EngagementPartner], *, today: datetime.date, event: str, user) -> int:
    """The seats of the partners' people on the team (PARTNER_TEAM_ROLES) end with the partners' contracts
    just ended, on the day each contract ended (today, or its last day when it was over already), the row
    kept and its history saying why: the customer and the other partners read a current team, and the
    partner no longer sees the engagement (selectors.contracts_opening_engagements_to). A partner still
    under another contract there that is not over keeps its people's seats."""
    ended = {(contract.engagement_id, contract.partner_id): contract for contract in contracts}
    still_on = set(
        EngagementPartner.objects.filter(
            engagement_id__in={contract.engagement_id for contract in contracts},
            partner_id__in={contract.partner_id for contract in contracts},
            replaced_by__isnull=True,
            ended_reason="",
            contract_end__gte=today,
        ).values_list("engagement_id", "partner_id")
    )
    seats = [
        seat
        for seat in TeamMember.objects.filter(
            engagement_id__in={contract.engagement_id for contract in contracts},
            user__partner_id__in={contract.partner_id for contract in contracts},
            role__in=PARTNER_TEAM_ROLES,
            left_on__isnull=True,
        )
        .select_for_update(of=("self",))
        .select_related("engagement__customer", "user")
        .order_by("pk")
        if (seat.engagement_id, seat.user.partner_id) in ended.keys() - still_on
    ]
    how = {
        "replaced": "was replaced",
        "cancelled": "ended with the engagement's cancellation",
        "ran_out": "ran out",
    }

    def contract_of(seat: TeamMember) -> EngagementPartner:
        return ended[seat.engagement_id, seat.user.partner_id]

    _team_seats_end(
        seats,
        lambda seat: f"{contract_of(seat).partner}'s contract {how.get(event, 'ended early')}",
        user=user,
        now=timezone.now(),
        ended_on=lambda seat: contract_of(seat).contract_end,
    )
    return len(seats)


def team_seats_end_of_contracts_run_out(*, now: datetime.datetime | None = None) -> tuple[int, int]:
    """The seats of a partner's people on the team end with its contracts that ran out, as with those ended
    early (_partner_seats_end): a contract whose last day passed in its customer's time zone (it lasts
    until midnight there, as access_deadline) writes nothing as it runs out, so the hourly check
    (access_grant_expiry) calls this. Each seat ends on its contract's last day, by nobody's hand; a
    partner still under another contract there that is not over keeps its people's seats. A consultant's
    seat ends the same way with their Professional Services (_consultant_seats_end). An ended seat is not
    looked at again, so running it twice, or after missed hours, ends each seat once. Returns how many
    seats ended: partners' people's, consultants'."""
    open_seat = TeamMember.objects.filter(
        engagement_id=OuterRef("engagement_id"),
        user__partner_id=OuterRef("partner_id"),
        role__in=PARTNER_TEAM_ROLES,
        left_on__isnull=True,
    )
    zones = (
        Customer.objects.filter(engagements__team_members__left_on__isnull=True)
        .order_by()
        .values_list("time_zone", flat=True)
        .distinct()
    )
    zones_on: dict[datetime.date, list[str]] = {}
    for zone, today in todays_in_zones(zones, now).items():
        zones_on.setdefault(today, []).append(zone)
    ended = consultants = 0
    with transaction.atomic():
        for today, zones_today in zones_on.items():
            consultants += _consultant_seats_end(today=today, zones=zones_today, now=now or timezone.now())
            ran_out = list(
                EngagementPartner.objects.filter(
                    Exists(open_seat),
                    engagement__customer__time_zone__in=zones_today,
                    replaced_by__isnull=True,
                    ended_reason="",
                    contract_end__lt=today,
                )
                .select_related("partner")
                # The latest last day last: a partner's seats end with the last of its contracts there.
                .order_by("contract_end", "pk")
            )
            if ran_out:
                ended += _partner_seats_end(ran_out, today=today, event="ran_out", user=None)
    return ended, consultants


def _consultant_seats_end(*, today: datetime.date, zones: list[str], now: datetime.datetime) -> int:
    """The Professional Services seats (professional_services_add opens them) in the customers of `zones`,
    whose `today` it is there, of consultants whose Professional Services on the engagement all ran out: on
    the last day of the latest, as any seat opens all the customer's records (selectors._assigned_customer_q).
    Services with no end, or not over, keep the seat; a consultant seated there with no services
    (team_member_add) keeps it. One query, locking the seats."""
    services = ProfessionalServicesEngagement.objects.filter(
        engagement_id=OuterRef("engagement_id"), consultant_id=OuterRef("user_id")
    ).order_by()
    seats = list(
        TeamMember.objects.filter(
            Exists(services.filter(ends_on__lt=today)),
            ~Exists(services.filter(Q(ends_on=None) | Q(ends_on__gte=today))),
            engagement__customer__time_zone__in=zones,
            role=TeamRole.PROFESSIONAL_SERVICES,
            left_on=None,
        )
        .annotate(services_ended_on=Subquery(services.order_by("-ends_on").values("ends_on")[:1]))
        .select_for_update(of=("self",))
        .select_related("engagement__customer", "user")
        .order_by("pk")
    )
    _team_seats_end(
        seats,
        lambda seat: f"{seat.user}'s Professional Services ended on {seat.services_ended_on:%d %b %Y}",
        user=None,
        now=now,
        ended_on=lambda seat: seat.services_ended_on,
    )
    return len(seats)


def _tell_contracts_ended(contracts: list[EngagementPartner], *, event: str, reason: str) -> None:
    """Each partner whose contract ends (`event`: "replaced", "cancelled" with the engagement, or "ended"
    by the customer without a successor) is told once, whether or not it held a grant whose end would have
    told it too."""
    if not contracts:
        return
    partners = partner_contacts({contract.partner_id for contract in contracts})
    emails = []
    for contract in contracts:
        contacts = partners[contract.partner_id]
        engagement = contract.engagement
        emails.append(
            OutboxEmail(
                dedupe_key=f"engagement-partner-ended:{contract.pk}:{event}",
                to=contacts.staff_or_pdm,
                for_partner=contract.partner_id,
                subject=(
                    f"{engagement.title} was cancelled"
                    if event == "cancelled"
                    else f"Your contract on {engagement.title} ended"
                ),
                template="emails/engagement_partner_ended",
                context={
                    "engaged": contract,
                    "engagement": engagement,
                    "customer": engagement.customer,
                    "partner": contacts,
                    "cancelled": event == "cancelled",
                    "replaced": event == "replaced",
                    "reason": reason,
                    "engagements_path": reverse("engagements:engagement-list"),
                    "pdm_path": contacts.pdm_path_instead_of_staff,
                },
            )
        )
    outbox_email_enqueue_many(emails)


def _partner_joined_touch(engaged: EngagementPartner) -> None:
    """Move `updated_at` (what `updated_since` and the ETag go by) of what a partner joining changes:
    the engagement, which lists its partners, and what the partner's people see from now on, the
    engagement's other partners and its customer. Its accounts come into the partner's sight one by one,
    as it is granted access to them (access_grant_create). Set-based, no signals: nothing but the
    timestamps changed, so no history row either."""
    now = engaged.updated_at
    engagement = engaged.engagement
    Engagement.objects.filter(pk=engagement.pk).update(updated_at=now)
    engagement.updated_at = now
    EngagementPartner.objects.filter(engagement=engagement).exclude(pk=engaged.pk).update(updated_at=now)
    Customer.objects.filter(pk=engagement.customer_id).update(updated_at=now)


def engagement_partner_add_check(*, user, engagement: Engagement, partner: Partner, role: str) -> None:
    """Refuse, as engagement_partner_add would, a user who may not put `partner` on `engagement` in
    `role`, or an engagement closed to it: for forms that say so before saving (the admin). Whether the
    partner can take the role at all is the model's own validation (EngagementPartner.clean)."""
    if not user_can_manage_engagement(user, engagement):
        raise PermissionDeniedError(f"You cannot add partners to “{engagement.title}”.")
    _ensure_open(engagement)
    _check_partner_not_there(engagement, partner, role)


def engagement_partner_add(
    *,
    user,
    engagement: Engagement,
    partner: Partner,
    role: str,
    contract_start: datetime.date,
    contract_end: datetime.date,
    territory: str = "",
    business_function: str = "",
    instance: EngagementPartner | None = None,
) -> EngagementPartner:
    """Put a partner on the engagement under a contract: whoever plans it (user_can_manage_engagement).

    `instance`: an unsaved EngagementPartner to save with these values, instead of a new one (the admin's
    add form passes the object it built and goes on with)."""
    with transaction.atomic():
        locked = _lock_engagement(engagement)
        engagement_partner_add_check(user=user, engagement=locked, partner=partner, role=role)
        engaged = _partner_join(
            user=user,
            engagement=locked,
            partner=partner,
            role=role,
            contract_start=contract_start,
            contract_end=contract_end,
            territory=territory,
            business_function=business_function,
            instance=instance,
        )
    engagement.updated_at = locked.updated_at
    return engaged


def _grants_ended_touch(grants: Iterable[AccessGrant], now: datetime.datetime) -> None:
    """Move `updated_at` (what `updated_since` goes by) of what these grants ending changes: a member
    account that a grant's partner still acts in no longer shows it the management account the grant was
    on (access_grant_create moves them the other way). One UPDATE however many grants ended; call it
    after they are saved as ended."""
    grants = list(grants)
    if not grants:
        return
    ended_on_its_management = AccessGrant.objects.filter(
        pk__in=[grant.pk for grant in grants],
        account=OuterRef(OuterRef("management_account")),
        engagement_partner__partner_id=OuterRef("engagement_partner__partner_id"),
    )
    still_acts_in_it = live_grants(now).filter(account=OuterRef("pk")).filter(Exists(ended_on_its_management))
    AwsAccount.objects.filter(
        Exists(still_acts_in_it), management_account__in={grant.account_id for grant in grants}
    ).update(updated_at=now)


def _grants_to_revoke():
    """Grants locked for revoking, with what their `access_grant.revoked` event shows."""
    return AccessGrant.objects.select_for_update(of=("self",)).select_related(*events.GRANT_EVENT_RELATED)


def _revoke(
    grants, *, user, reason: str, at: datetime.datetime, contract_ended: bool = False
) -> list[AccessGrant]:
    """Revoke these locked grants: each saved (so its history says who and why), announced together.
    Those already past their end were not cut short by `user`: they are recorded as expired, as the
    hourly check would record them. `contract_ended`: they end with the partner's contract, so the
    partner is not told to ask for a new grant."""
    grants = list(grants)
    ran_out = [grant.pk for grant in grants if grant.revoked_at is None and grant.expires_at <= at]
    expired: list[AccessGrant] = []
    if ran_out:
        expired, _ = access_grants_end_expired(
            AccessGrant.objects.filter(pk__in=ran_out),
            noticed_by="recorded when access was revoked",
            change_reason="Expired; recorded when access was revoked",
        )
    revoked = [grant for grant in grants if grant.pk not in ran_out]
    for grant in revoked:
        grant.revoked_at = max(at, grant.granted_at)
        grant.revoked_by = user
        grant.revocation_reason = reason
        grant.save(update_fields=["revoked_at", "revoked_by", "revocation_reason", "updated_at"])
    if revoked:
        _grants_ended_touch(revoked, max(grant.updated_at for grant in revoked))
        events.access_grants_revoked(revoked)
        # As when access runs out: the partner stops using the role, the customer removes it from IAM.
        _tell_access_ended(revoked, contract_ended=contract_ended)
    return [*revoked, *expired]


def _contract_locked_to_end(user, engagement_partner: EngagementPartner, doing: str) -> EngagementPartner:
    """The contract, locked with its engagement, for its customer's access administrator to replace or end
    (`doing` says which, in the refusal). The engagement (after its customer) first, as
    engagement_partner_add locks it: an add, a replacement and an end touching the same contract or
    bringing in the same partner wait for each other, so the second sees the first's work."""
    engagement = _lock_engagement(engagement_partner.engagement)
    contract = (
        EngagementPartner.objects.select_for_update(of=("self",))
        .select_related("partner")
        .get(pk=engagement_partner.pk)
    )
    contract.engagement = engagement
    customer = engagement.customer
    if not user_can_end_contracts(user, customer):
        raise PermissionDeniedError(f"Only {customer}'s access administrators can {doing}.")
    return contract


def engagement_partner_replace(
    *,
    user,
    engagement_partner: EngagementPartner,
    new_partner: Partner,
    reason: str,
    contract_end: datetime.date,
    contract_start: datetime.date | None = None,
) -> EngagementPartner:
    """Another company won the work: in one transaction the old contract ends today, every grant the old
    partner holds under it is revoked with the reason, and the new partner takes the same role (and may
    then be granted access)."""
    reason = _require_reason(reason, "the partner is replaced")
    with transaction.atomic():
        old = _contract_locked_to_end(user, engagement_partner, "replace a partner and its access")
        engagement, customer = old.engagement, old.engagement.customer
        if old.is_replaced:
            raise ConflictError(f"{old.partner} was already replaced on “{engagement.title}”.")
        if old.is_ended_early and engagement.status != EngagementStatus.CANCELLED:
            # Its access is gone and its partner was told why; a successor joins the engagement instead.
            raise ConflictError(
                f"{old.partner}'s contract on “{engagement.title}” was already ended early: add the partner "
                "that takes over the work to the engagement."
            )
        # A completed project may still be operated under contract, so only cancellation stops this.
        if engagement.status == EngagementStatus.CANCELLED:
            raise ConflictError(f"“{engagement.title}” was cancelled.")
        if new_partner.pk == old.partner_id:
            raise DomainError(f"{new_partner} cannot replace itself.", field="new_partner")
        _check_partner_not_there(engagement, new_partner, old.role)
        today = customer.local_today()
        contract_start = contract_start or today
        # Said of what the request names: its new contract, and the partner that cannot take the role.
        if contract_end < contract_start:
            raise DomainError(
                f"The new contract cannot end before it starts ({contract_start:%-d %b %Y}).",
                field="contract_end",
            )
        now = timezone.now()
        held = _grants_to_revoke().filter(engagement_partner=old, revoked_at__isnull=True)
        _revoke(held, user=user, reason=f"Contract ended: {reason}", at=now, contract_ended=True)
        try:
            new = _partner_join(
                user=user,
                engagement=engagement,
                partner=new_partner,
                role=old.role,
                contract_start=contract_start,
                contract_end=contract_end,
                territory=old.territory,
                business_function=old.business_function,
            )
        except DomainError as error:
            if type(error) is DomainError and error.field == "role":  # the role is the old partner's
                raise DomainError(error.message, field="new_partner") from None
            raise
        _contracts_end([old], today=today, reason=reason, event="replaced", user=user, replaced_by=new)
    return new


def engagement_partner_end(*, user, engagement_partner: EngagementPartner, reason: str) -> EngagementPartner:
    """The customer ends a partner's contract early without naming a successor (it takes the work in
    house, or the partner already on the role elsewhere takes it over, as when work split by region goes to
    the other region's partner): in one transaction the contract ends today, as a replaced partner's does,
    every grant the partner holds under it is revoked with the reason, and the partner is told. Its role on
    the engagement stays its own (one row per partner and role), over."""
    reason = _require_reason(reason, "the contract ends early")
    with transaction.atomic():
        engaged = _contract_locked_to_end(user, engagement_partner, "end a partner's contract and its access")
        customer = engaged.engagement.customer
        today = customer.local_today()
        problem = engaged_partner_end_problem(engaged, today)
        if problem:
            raise ConflictError(problem)
        now = timezone.now()
        held = _grants_to_revoke().filter(engagement_partner=engaged, revoked_at__isnull=True)
        _revoke(held, user=user, reason=f"Contract ended: {reason}", at=now, contract_ended=True)
        _contracts_end([engaged], today=today, reason=reason, event="ended", user=user)
        # The engagement lists its partners' contracts (`partners` in the API), so it changed too.
        Engagement.objects.filter(pk=engaged.engagement_id).update(updated_at=engaged.updated_at)
    return engaged


def _team_tam_problem(customer: Customer, member) -> str | None:
    """Why `member` (one of the provider's TAMs) cannot be the Technical Account Manager on one of the
    customer's teams, or None. The customer reads its team, so its TAM there is the one its support serves
    it with, as on its own record (customer_tam_problem): a TAM one of its current plans designates (a
    customer on a plan without one has no TAM), who is qualified today."""
    # Imported when called: support builds on engagements, not the other way round.
    from support.selectors import customer_tam_problem, designated_now, tam_problem

    designated = designated_now(customer.pk).select_related("tam")
    if designated.filter(tam=member).exists():
        return tam_problem(member, customer.local_today())
    serving = designated.first()
    if serving is not None:
        return (
            f"{serving.tam} is {customer}'s TAM: the team's Technical Account Manager is a TAM its support "
            f"plans designate, and {member} is not one."
        )
    return customer_tam_problem(customer, member) or f"No TAM serves {full_stop(customer)}"


def team_tams_follow(customer_ids, *, user=None, now: datetime.datetime | None = None) -> tuple[int, int]:
    """The Technical Account Manager seats on the customers' teams follow who serves them: a seat whose
    holder no current plan of the customer designates any more (the plan changed to one without a TAM,
    ended, retired or names another TAM), or who is no longer one of the provider's TAMs, ends that day in
    the customer's calendar (left_on; the row stays, and its history says why), on every one of the
    customer's engagements, closed ones too, since any seat opens the customer's records
    (selectors.customers_visible_to). The customer's TAM (Customer.tam, which support keeps to its
    designated TAM) takes the seat over on the open engagements, if still qualified (team_member_add_check)
    and not there already: the team's TAM is the customer's TAM (whitepaper: Enterprise Support customers
    "are assigned a named AWS Technical Account Manager"). Teams that had no TAM are left as staffed.

    For every change of who serves a customer as TAM (support.services._customer_tams_follow, the user
    admin taking a TAM's role), in its transaction, after that change, under the customers' locks.
    Set-based, a fixed number of statements however many customers and teams; run again, it changes
    nothing. Returns (seats ended, seats handed over)."""
    # Imported when called: support builds on engagements, not the other way round.
    from support.selectors import designated_now, qualified_tams, tams

    customer_ids = list(customer_ids)
    if not customer_ids:
        return 0, 0
    now = now or timezone.now()
    with transaction.atomic():
        designated = Exists(
            designated_now(OuterRef("engagement__customer_id")).filter(tam=OuterRef("user_id"))
        )
        still_tam = Exists(tams().filter(pk=OuterRef("user_id")))
        leaving = list(
            TeamMember.objects.filter(
                engagement__customer_id__in=customer_ids,
                role=TeamRole.TAM,
                user__isnull=False,
                left_on__isnull=True,
            )
            .annotate(still_tam=still_tam)
            .filter(~designated | ~still_tam)
            .select_for_update(of=("self",))
            .select_related("engagement__customer", "user")
            .order_by("pk")
        )
        if not leaving:
            return 0, 0

        def why(seat):
            if not seat.still_tam:
                return f"{seat.user} is no longer one of the provider's TAMs"
            return f"{seat.user} is no longer {seat.engagement.customer}'s designated TAM"

        today = _team_seats_end(leaving, why, user=user, now=now)
        handed = _team_tam_seats_hand_over(leaving, today, qualified_tams, now=now, user=user)
    return len(leaving), len(handed)


def team_tams_follow_member(*, user, member) -> tuple[int, int]:
    """team_tams_follow for the customers on whose teams `member` holds a TAM seat: for the user admin's
    save, which may have taken their TAM role or deactivated them, in its transaction, after
    support.services.users_lock_leaving_tams locked those customers. A TAM whom a plan designates is kept
    a TAM (support.selectors.tam_leaving_problems); any other seat of theirs ends."""
    customer_ids = set(_team_tam_seats_of([member.pk]).values_list("engagement__customer_id", flat=True))
    return team_tams_follow(customer_ids, user=user)


def team_seats_follow_member(*, user, member, now: datetime.datetime | None = None) -> tuple[int, int]:
    """The seats `member` holds on customers' teams in a role for the provider's staff holding it
    (TEAM_ROLE_STAFF_ROLES) follow their roles: for the user admin's save, which may have taken a role,
    deactivated them or made them anything but provider staff, in its transaction, after
    support.services.users_lock_leaving_tams locked the customers. An Account Manager or Solutions
    Architect seat whose role they no longer hold (role_holders_condition) ends that day in the customer's
    calendar (left_on; the row stays, and its history says why), on every engagement, closed ones too,
    since any seat opens the customer's records (selectors._assigned_customer_q, which already ignores such
    a seat); nobody takes it over. Their TAM seats follow the customer's designated TAM
    (team_tams_follow_member). Set-based. Returns (seats ended, TAM seats handed over)."""
    now = now or timezone.now()
    with transaction.atomic():
        not_held = Q(pk__in=[])
        for seat_role, staff_role in TEAM_ROLE_STAFF_ROLES.items():
            if seat_role != TeamRole.TAM:
                holds = get_user_model().objects.filter(
                    role_holders_condition(staff_role), pk=OuterRef("user_id")
                )
                not_held |= Q(role=seat_role) & ~Exists(holds)
        leaving = list(
            TeamMember.objects.filter(not_held, user_id=member.pk, left_on__isnull=True)
            .select_for_update(of=("self",))
            .select_related("engagement__customer", "user")
            .order_by("pk")
        )
        _team_seats_end(
            leaving,
            lambda seat: (
                f"{seat.user} is no longer one of the provider's {TEAM_ROLE_STAFF_ROLES[seat.role].value}s"
            ),
            user=user,
            now=now,
        )
        tam_ended, handed = team_tams_follow_member(user=user, member=member)
    return len(leaving) + tam_ended, handed


def _team_seats_end(
    seats: list[TeamMember], why, *, user, now: datetime.datetime, ended_on=None
) -> dict[int, datetime.date]:
    """End `seats` (locked, with their engagement's customer and user) on their customer's today, or on
    `ended_on(seat)` when that day came before, the row kept and its history saying `why(seat)`; returns
    that today by customer id."""
    if not seats:
        return {}
    today_in = todays_in_zones({seat.engagement.customer.time_zone for seat in seats}, now)
    today = {seat.engagement.customer_id: today_in[seat.engagement.customer.time_zone] for seat in seats}
    for seat in seats:
        # Never before joining (a constraint): a seat from a day yet to come ends on that day.
        day = today[seat.engagement.customer_id]
        seat.left_on = max(seat.joined_on, day if ended_on is None else min(day, ended_on(seat)))
        seat.updated_at = now
        seat._change_reason = why(seat)[:100]
    TeamMember.objects.bulk_update(seats, ["left_on", "updated_at"], batch_size=500)
    TeamMember.history.bulk_history_create(seats, update=True, default_user=user, default_date=now)
    return today


def _team_tam_seats_hand_over(leaving, today, qualified_tams, *, now, user) -> list[TeamMember]:
    """The customer's TAM joins, as TAM, the open engagements whose TAM seat just ended (`leaving`), where
    support designates them, they are qualified on the customer's day, and hold no seat there yet."""
    open_engagements = {
        seat.engagement_id: seat
        for seat in leaving
        if seat.engagement.status not in CLOSED_ENGAGEMENT_STATUSES and seat.engagement.customer.tam_id
    }
    if not open_engagements:
        return []
    successors = {seat.engagement.customer.tam_id for seat in open_engagements.values()}
    customer_ids = {seat.engagement.customer_id for seat in open_engagements.values()}
    # Imported when called: support builds on engagements, not the other way round.
    from support.models import SupportSubscription

    designating = set(
        SupportSubscription.objects.filter(
            customer_id__in=customer_ids, ended_at__isnull=True, tam_id__in=successors
        ).values_list("customer_id", "tam_id")
    )
    qualified = {
        day: set(qualified_tams(day).filter(pk__in=successors).values_list("pk", flat=True))
        for day in {today[pk] for pk in customer_ids}
    }
    seated = set(
        TeamMember.objects.filter(
            engagement_id__in=open_engagements,
            role=TeamRole.TAM,
            user_id__in=successors,
            left_on__isnull=True,
        ).values_list("engagement_id", "user_id")
    )
    joining = []
    for engagement_id, seat in open_engagements.items():
        customer = seat.engagement.customer
        successor = customer.tam_id
        if (
            (customer.pk, successor) not in designating
            or successor not in qualified[today[customer.pk]]
            or (engagement_id, successor) in seated
        ):
            continue
        joining.append(
            TeamMember(
                engagement_id=engagement_id,
                user_id=successor,
                role=TeamRole.TAM,
                joined_on=today[customer.pk],
                note=f"took over from {seat.user} as {customer}'s designated TAM"[:200],
            )
        )
    created = TeamMember.objects.bulk_create(joining, batch_size=500)
    TeamMember.history.bulk_history_create(
        created,
        default_user=user,
        default_change_reason="The customer's designated TAM takes the team's TAM seat",
        default_date=now,
    )
    return created


def team_member_add_check(*, user, engagement: Engagement, role: str, member=None) -> None:
    """Refuse, as team_member_add would, a user who may not change the engagement's team, a closed
    engagement, or a member who does not fit the role (membership opens the customer's records to a
    member, and the customer reads who holds which role): for forms that say so before saving (the
    admin's). `engagement` may be one the form is starting, not saved yet: who may start it may staff it,
    and it has no partners or team yet.

    The team's Account Manager, Solutions Architect and TAM are staff who hold that role, with an account;
    its TAM is also one the customer's support plans designate, qualified (_team_tam_problem)."""
    if engagement.pk is None:
        engagement_create_check(user=user, customer=engagement.customer)
    elif not user_can_work_on_engagement(user, engagement):
        raise PermissionDeniedError(f"You cannot change the team of “{engagement.title}”.")
    _ensure_open(engagement)
    label = TeamRole(role).label if role in TeamRole.values else role
    staff_role = TEAM_ROLE_STAFF_ROLES.get(role)
    if member is None:
        if staff_role is not None:
            raise DomainError(
                f"The team's {label} is one of the provider's {staff_role.value}s, who sign in: choose "
                "them as the member rather than writing in a name.",
                field="member",
            )
        return
    if role in CUSTOMER_TEAM_ROLES and member.customer_id != engagement.customer_id:
        raise DomainError(f"{member} does not work for {full_stop(engagement.customer)}", field="member")
    if role in PROVIDER_TEAM_ROLES and not member.is_provider_staff:
        raise DomainError(f"{member} is not the provider's staff, so cannot be {label}.", field="member")
    if staff_role is not None:
        _check_staff_role(member, staff_role, "member")
    if role == TeamRole.TAM and (problem := _team_tam_problem(engagement.customer, member)):
        raise DomainError(problem, field="member")
    # Only a partner whose contract is not over: its people's seats end with it (_partner_seats_end).
    if role in PARTNER_TEAM_ROLES and not (
        member.partner_id
        and engagement.pk is not None
        and contracts_opening_engagements_to(member.partner_id).filter(engagement=engagement).exists()
    ):
        raise DomainError(f"{member} does not work for a partner on “{engagement.title}”.", field="member")
    if (
        engagement.pk is not None
        and TeamMember.objects.filter(engagement=engagement, user=member, role=role, left_on=None).exists()
    ):
        raise ConflictError(f"{member} is already {label} on the team.", field="member")


def team_member_add(
    *,
    user,
    engagement: Engagement,
    role: str,
    member=None,
    name: str = "",
    email: str = "",
    joined_on: datetime.date | None = None,
    note: str = "",
    instance: TeamMember | None = None,
) -> TeamMember:
    """Add somebody to the project team: a portal user in a role that fits who they work for, or a named
    person without an account.

    `instance`: an unsaved TeamMember to save with these values, instead of a new one (the admin's forms
    pass the object they built and go on with).

    The member's row is locked before their role is judged, after the customer's and the engagement's:
    the user admin takes it (after the customers naming them) to take a role or deactivate them, then
    ends their seats in that role (team_seats_follow_member). So either the seat is there for it to end,
    or this waits and finds the role gone, never a seat left open whose role its person no longer holds."""
    with transaction.atomic():
        locked = _lock_engagement(engagement)
        if member is not None:
            # FOR NO KEY UPDATE, as the user admin's (support.services._lock_users): rows that merely refer
            # to the person are not held up.
            member = lock_or_refuse(
                get_user_model().objects.select_for_update(no_key=True), member.pk, "user"
            )
        team_member_add_check(user=user, engagement=locked, role=role, member=member)
        team_member = _unsaved(instance, TeamMember, "Only a team member not saved yet can be added.")
        team_member.engagement = locked
        team_member.user = member
        team_member.name = (name or "").strip()
        team_member.email = (email or "").strip()
        team_member.role = role
        team_member.joined_on = joined_on or locked.customer.local_today()
        team_member.note = (note or "").strip()
        validate_or_refuse(team_member, exclude=["engagement", "user"])
        team_member._history_user = user
        team_member.save()
    return team_member


# Access grants ----------------------------------------------------------------------------------------


def access_grant_create(
    *,
    user,
    account: AwsAccount,
    engagement_partner: EngagementPartner,
    role_arn: str,
    scope: str,
    role_name: str = "",
    mfa_required: bool = True,
    expires_at: datetime.datetime | None = None,
    last_day: datetime.date | None = None,
) -> AccessGrant:
    """Grant a partner access (see access_grant_submit); every call is a new grant."""
    return access_grant_submit(
        user=user,
        account=account,
        engagement_partner=engagement_partner,
        role_arn=role_arn,
        scope=scope,
        role_name=role_name,
        mfa_required=mfa_required,
        expires_at=expires_at,
        last_day=last_day,
    )[0]


def access_grant_submit(
    *,
    user,
    account: AwsAccount,
    engagement_partner: EngagementPartner,
    role_arn: str,
    scope: str,
    role_name: str = "",
    mfa_required: bool = True,
    expires_at: datetime.datetime | None = None,
    last_day: datetime.date | None = None,
    submission_token=None,
) -> tuple[AccessGrant, bool]:
    """The customer delegates one of its accounts to a partner engaged for it, through an IAM role,
    until at the latest the end of the partner's contract: until an exact moment (`expires_at`), or to
    the end of a day in the customer's time zone (`last_day`; by default the contract's last day), which
    moves with the customer's calendar if its time zone changes. Returns the grant and whether it is
    new, like get_or_create.

    With the grant form's `submission_token`, the same submit sent again (a double click, Back and
    resubmit, two at once) returns the grant it made first, rather than refusing the role as held: as it
    is now, revoked or expired meanwhile perhaps, which the caller tells apart from a new grant."""
    if expires_at is not None and last_day is not None:
        raise DomainError("Give the grant an end or a last day of access, not both.", field="expires_at")
    customer = account.customer
    if not user_can_manage_access(user, customer):
        raise PermissionDeniedError(
            f"Only {customer}'s own access administrators can grant access to its accounts."
        )
    role_arn = (role_arn or "").strip()
    role_name = (role_name or "").strip() or role_arn.rsplit("/", 1)[-1]
    try:
        validate_role_name(role_name)
    except ValidationError as error:
        raise DomainError(error.messages[0], field="role_name") from None
    problem = role_arn_problem(role_arn, account.account_id, role_name)
    if problem:
        raise DomainError(problem, field="role_arn")
    if scope not in AccessScope.values:
        raise DomainError(
            f"'{scope}' is not a scope; use one of {', '.join(AccessScope.values)}.", field="scope"
        )
    if scope == AccessScope.ADMINISTRATION and not mfa_required:
        raise DomainError(
            "Administration access always requires the customer's MFA token.", field="mfa_required"
        )
    submission_key = submission_key_of(
        submission_token,
        user,
        account.pk,
        engagement_partner.pk,
        role_arn,
        scope,
        mfa_required,
        expires_at,
        last_day,
    )
    with transaction.atomic():
        # Locked in the order the other changes take them, and judged as they left them: the customer (its
        # time zone, which customer_time_zone_change moves every live grant's end with), then the
        # engagement (its status: a cancellation revokes the grants under it), then the contract (a
        # replacement revokes the old partner's). One made meanwhile either comes first, and the grant is
        # judged by it, or waits for the grant and then ends or moves it with the others.
        customer = lock_or_refuse(Customer.objects.select_for_update(), account.customer_id, "customer")
        engagement = lock_or_refuse(
            Engagement.objects.select_for_update(), engagement_partner.engagement_id, "engagement"
        )
        engaged = lock_or_refuse(
            EngagementPartner.objects.select_for_update(of=("self",)).select_related("partner"),
            engagement_partner.pk,
            "partner's contract",
        )
        engaged.engagement = engagement  # a contract's engagement never changes
        # Under the customer's lock, so a repeat sent at the same time waits for the first and finds it.
        # Back and submit again (a new token) finds it by its content while it is live: once revoked or
        # expired, the same grant sent again is meant, and judged as new.
        if expires_at is not None:
            same_end = {"expires_at": expires_at, "last_day": None}
        else:
            same_end = {"last_day": last_day or engaged.contract_end}
        same_grant = live_grants().filter(
            granted_by=user,
            account=account,
            engagement_partner=engaged,
            role_arn=role_arn,
            scope=scope,
            mfa_required=mfa_required,
            **same_end,
        )
        earlier = submitted_before(submission_key, same_grant)
        if earlier is not None:
            return earlier, False
        problem = engaged_partner_grant_problem(engaged, customer, customer.local_today())
        if problem:
            raise DomainError(problem, field="engagement_partner")
        deadline = access_deadline(engaged.contract_end, customer.time_zone)
        now = timezone.now()
        if expires_at is None:
            last_day = last_day or engaged.contract_end
            expires_at = access_deadline(last_day, customer.time_zone)
        if expires_at > deadline:
            raise DomainError(
                f"{engaged.partner}'s contract ends on {engaged.contract_end:%d %b %Y}; the grant must "
                "expire by then.",
                field="expires_at",
            )
        if expires_at <= now:
            raise DomainError("The grant would expire before it starts.", field="expires_at")
        # A grant of this role that has expired is no longer live, even before the hourly check records
        # it: record it now (as the check would), so the role can be granted again at once.
        access_grants_end_expired(
            engaged.access_grants.filter(account=account, role_name=role_name),
            noticed_by="recorded when the role was granted again",
            change_reason="Expired; recorded when the role was granted again",
        )
        if engaged.access_grants.filter(
            account=account, role_name=role_name, revoked_at__isnull=True
        ).exists():
            raise ConflictError(
                f"{engaged.partner} already holds role {role_name} on account {account.account_id}."
            )
        grant = AccessGrant.objects.create(
            account=account,
            engagement_partner=engaged,
            role_name=role_name,
            role_arn=role_arn,
            scope=scope,
            mfa_required=mfa_required,
            granted_by=user,
            granted_at=now,
            expires_at=expires_at,
            last_day=last_day,
            submission_key=submission_key,
        )
        # The partner sees the account from now on, and sees it named as the management account of the
        # members it already sees: their `updated_at` moves, so its sync with `updated_since` finds them.
        sees = live_grants(now).filter(engagement_partner__partner_id=engaged.partner_id).values("account")
        AwsAccount.objects.filter(Q(pk=account.pk) | Q(management_account=account, pk__in=sees)).update(
            updated_at=grant.updated_at
        )
        # Here, after the checks that return a repeated submit's grant, so a grant is announced once.
        events.access_grant_created(grant)
        _tell_access_granted(grant)
    return grant, True


def access_grant_revoke(*, user, grant: AccessGrant, reason: str) -> AccessGrant:
    """Take a partner's access away, saying why: the customer's access administrators, or the provider's
    staff looking after the customer."""
    reason = _require_reason(reason, "the access is revoked")
    with transaction.atomic():
        locked = _grants_to_revoke().get(pk=grant.pk)
        if not user_can_revoke_access(user, locked.account.customer):
            raise PermissionDeniedError(
                f"Only {locked.account.customer}'s access administrators can revoke access to its accounts."
            )
        now = timezone.now()
        if locked.is_revoked:
            revoked = locked.account.customer.local_time(locked.revoked_at)
            raise ConflictError(
                f"This access was already revoked on {revoked:%d %b %Y %H:%M} ({revoked.tzname()})."
            )
        if locked.expires_at <= now:
            # Ran out, recorded by the hourly check or not yet: revoking now would say somebody cut it short.
            raise ConflictError(
                f"This access already expired at {locked.ends_in_words}: there is nothing left to revoke."
            )
        _revoke([locked], user=user, reason=reason, at=now)
    grant.revoked_at, grant.revoked_by, grant.revocation_reason = (
        locked.revoked_at,
        locked.revoked_by,
        locked.revocation_reason,
    )
    return locked


def _expiry_reason(grant: AccessGrant, noticed_by: str) -> str:
    engaged = grant.engagement_partner
    zone = engaged.engagement.customer.time_zone
    if grant.expires_at == access_deadline(engaged.contract_end, zone):
        return (
            f"{engaged.partner.name}'s contract on {engaged.engagement.title} ended on "
            f"{engaged.contract_end:%d %b %Y}, and the access with it ({noticed_by})."
        )
    return f"Expired at {access_end_in_words(grant.expires_at, grant.last_day, zone)} ({noticed_by})."


class _RanOut(NamedTuple):
    """A locked grant found over, and how it ran out: when its access ended, the day it ran to (None: an
    exact moment) and why, in words for both sides."""

    grant: AccessGrant
    ended_at: datetime.datetime
    last_day: datetime.date | None
    reason: str


def _access_grants_record_ran_out(
    ran_out: list[_RanOut], *, change_reason: str, now: datetime.datetime, user=None
) -> int:
    """Record these locked grants as expired, not revoked: nobody cut them short, so no one revoked them,
    and each is dated when its access ended, not when that was noticed. In their history (`user`: who
    noticed, if anybody), announced by webhook, the customer and the partner told by email: how every end
    by running out is recorded, whoever finds it. Returns how many emails were queued."""
    grants = []
    for grant, ended_at, last_day, reason in ran_out:
        grant.expires_at = grant.revoked_at = ended_at
        grant.last_day = last_day
        grant.revoked_by = None
        grant.expired = True
        grant.revocation_reason = reason
        grant.updated_at = now
        grants.append(grant)
    if not grants:
        return 0
    AccessGrant.objects.bulk_update(
        grants,
        ["expires_at", "last_day", "revoked_at", "revoked_by", "expired", "revocation_reason", "updated_at"],
    )
    AccessGrant.history.bulk_history_create(
        grants, update=True, default_change_reason=change_reason, default_user=user, default_date=now
    )
    _grants_ended_touch(grants, now)
    events.access_grants_revoked(grants)
    return _tell_access_ended(grants)


def access_grants_end_expired(
    grants: QuerySet[AccessGrant], *, noticed_by: str, change_reason: str
) -> tuple[list[AccessGrant], int]:
    """Record those of `grants` that are past their expiry and not ended yet as expired, as
    _access_grants_record_ran_out does, dated when their access ended. Locks them first: call it inside a
    transaction (the check's, or a service's). Returns the grants recorded and how many emails were
    queued."""
    now = timezone.now()
    ended = list(
        grants.filter(revoked_at__isnull=True, expires_at__lte=now)
        .select_for_update(of=("self",))
        .select_related(*events.GRANT_EVENT_RELATED, "engagement_partner__engagement__customer")
        .order_by("pk")
    )
    told = _access_grants_record_ran_out(
        [
            _RanOut(grant, grant.expires_at, grant.last_day, _expiry_reason(grant, noticed_by))
            for grant in ended
        ],
        change_reason=change_reason,
        now=now,
    )
    return ended, told


def _ending_warning_due(days: list[int], now: datetime.datetime) -> Case:
    """The warning a grant is due now, in days before its end: the tightest of `days` whose moment has
    come (its end that close) and that the grant has lasted long enough to need. A warning repeats what
    the access-granted email said, so it goes only once that email is at least as far back as the end is
    ahead: a grant lasts twice the warning's lead or gets none of it, and one of three days gets the last
    day's warning only, none the moment it is made."""
    return Case(
        *[
            When(
                Q(expires_at__lte=now + datetime.timedelta(days=lead))
                & Q(expires_at__gte=F("granted_at") + datetime.timedelta(days=2 * lead)),
                then=Value(lead),
            )
            for lead in sorted(days)
        ],
        default=None,
        output_field=IntegerField(),
    )


def _ending_warning_key(grant_id: int, lead: int, expires_at: datetime.datetime) -> str:
    # The end is in the key: a grant whose end moved after its warning (its customer's time zone
    # changed) is warned again of the end it now has; the same end is never warned of twice.
    end = expires_at.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"access-grant-ending:{grant_id}:{lead}d:{end}"


class EndingWarnings(NamedTuple):
    grants: int  # grants warned
    emails: int  # emails queued
    # The warnings (dedupe keys) that had nobody to go to: the check keeps them for its next run.
    nobody_to_warn: frozenset[str] = frozenset()


def access_grants_warn_ending(*, days: Iterable[int], logged: Iterable[str] = ()) -> EndingWarnings:
    """Warn the partner holding each live grant, and its customer's access administrators, that the access
    ends soon: `days` before its end (see _ending_warning_due), the tightest due only for a run that
    missed the others. One email each per grant, warning and end, through the outbox, so running again
    sends nothing twice. Locks the grants still due first, as a revocation does: call it inside a
    transaction (the check's). `logged`: the warnings an earlier run found nobody to send to (its
    nobody_to_warn), logged at info this time. Returns how many grants were warned, how many emails were
    queued, and the warnings with nobody to send to."""
    days = sorted(set(days))
    if not days:
        return EndingWarnings(0, 0)
    now = timezone.now()
    due = (
        AccessGrant.objects.filter(
            revoked_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + datetime.timedelta(days=max(days)),
        )
        .annotate(warning_days=_ending_warning_due(days, now))
        .filter(warning_days__isnull=False)
    )
    keys = {
        pk: _ending_warning_key(pk, lead, expires_at)
        for pk, expires_at, lead in due.values_list("pk", "expires_at", "warning_days")
    }
    told = set(
        OutboxMessage.objects.filter(
            dedupe_key__in=[f"{key}:{side}" for key in keys.values() for side in ("customer", "partner")]
        ).values_list("dedupe_key", flat=True)
    )
    pending = [pk for pk, key in keys.items() if not {f"{key}:customer", f"{key}:partner"} <= told]
    if not pending:
        return EndingWarnings(0, 0)
    # Read again under the lock: one revoked or moved since is judged as it is now.
    grants = list(
        due.filter(pk__in=pending)
        .select_for_update(of=("self",))
        .select_related(*events.GRANT_EVENT_RELATED, "engagement_partner__engagement__customer")
        .order_by("pk")
    )
    return _tell_access_ending(grants, now, told=told, logged=frozenset(logged))


def _time_left_in_words(left: datetime.timedelta) -> str:
    """'in 7 days' (rounded: the hourly check runs a little after the moment), 'in 23 hours'."""
    if left >= datetime.timedelta(days=2):
        return f"in {plural(round(left / datetime.timedelta(days=1)), 'day')}"
    hours = left // datetime.timedelta(hours=1)
    return f"in {plural(hours, 'hour')}" if hours else "in less than an hour"


def _tell_access_ending(
    grants: list[AccessGrant],
    now: datetime.datetime,
    *,
    told: set[str] = frozenset(),
    logged: frozenset[str] = frozenset(),
) -> EndingWarnings:
    """`told`: the warnings' keys stored by earlier runs; `logged`: those an earlier run had nobody to
    send to. A side with nobody to warn (a partner with nobody signed up and no PDM, a customer with
    nobody left) stores nothing, so its grant is due again at every hourly run until its next warning:
    the outbox logs it as a warning the first time, and from then (its other side stored, or, with
    nobody on either side, the last run's `logged` naming it) it is logged here at info only, not as a
    new problem every hour."""
    if not grants:
        return EndingWarnings(0, 0)
    customers = _customer_recipients({grant.account.customer_id for grant in grants})
    partners = partner_contacts({grant.engagement_partner.partner_id for grant in grants})
    access_path, grants_path = reverse("engagements:access"), reverse("engagements:grants")
    emails: list[tuple[int, OutboxEmail]] = []
    for grant in grants:
        engaged = grant.engagement_partner
        customer = grant.account.customer
        contacts = partners[engaged.partner_id]
        ends = grant.ends_in_words
        context = {
            "grant": grant,
            "customer": customer,
            "partner": engaged.partner,
            "engagement": engaged.engagement,
            "ends": ends,
            "left": _time_left_in_words(grant.expires_at - now),
            # A new grant cannot outlive the contract: past its last day, a new contract comes first.
            "with_contract": grant.expires_at == access_deadline(engaged.contract_end, customer.time_zone),
            "contract_end": f"{engaged.contract_end.day} {engaged.contract_end:%b %Y}",
            "access_path": access_path,
            "grants_path": grants_path,
            "pdm_path": contacts.pdm_path_instead_of_staff,
        }
        subject = (
            f"Access ending: {engaged.partner.name} on account {grant.account.account_id} "
            f"({grant.role_name}) until {ends}"
        )
        key = _ending_warning_key(grant.pk, grant.warning_days, grant.expires_at)
        emails.append(
            (
                grant.pk,
                OutboxEmail(
                    dedupe_key=f"{key}:customer",
                    to=customers[customer.pk],
                    for_customer=customer.pk,
                    subject=subject,
                    template="emails/checks/access_grant_ending_customer",
                    context=context,
                ),
            )
        )
        emails.append(
            (
                grant.pk,
                OutboxEmail(
                    dedupe_key=f"{key}:partner",
                    to=contacts.staff_or_pdm,
                    for_partner=engaged.partner_id,
                    subject=subject,
                    template="emails/checks/access_grant_ending_partner",
                    context=context,
                ),
            )
        )
    other_side = {"customer": "partner", "partner": "customer"}
    nobody = frozenset(email.dedupe_key for _, email in emails if not any(email.to))
    reported = []
    for untold in sorted(nobody):
        key, _, side = untold.rpartition(":")
        if untold in logged or f"{key}:{other_side[side]}" in told:
            reported.append(untold)
    if reported:
        logger.info("Still nobody to warn of access ending (logged when due): %s", ", ".join(reported))
    stored = outbox_email_enqueue_many([email for _, email in emails if email.dedupe_key not in reported])
    warned = {pk for pk, email in emails if email.dedupe_key in stored}
    return EndingWarnings(len(warned), len(stored), nobody)


def _customer_recipients(customer_ids) -> dict[int, list[str]]:
    """A customer's access administrators (access_administrator_links': active, still its own people,
    with an address); failing that, its active staff."""
    User = get_user_model()
    admins: dict[int, list[str]] = {}
    for customer_id, email in (
        access_administrator_links(customer_ids)
        .exclude(user__email="")
        .values_list("customer_id", "user__email")
    ):
        admins.setdefault(customer_id, []).append(email)
    staff: dict[int, list[str]] = {}
    for customer_id, email in (
        User.objects.filter(customer_id__in=customer_ids, is_active=True)
        .exclude(email="")
        .values_list("customer_id", "email")
    ):
        staff.setdefault(customer_id, []).append(email)
    return {
        customer_id: admins.get(customer_id) or staff.get(customer_id, []) for customer_id in customer_ids
    }


def _tell_access_ended(grants: list[AccessGrant], *, contract_ended: bool = False) -> int:
    if not grants:
        return 0
    customers = _customer_recipients({grant.account.customer_id for grant in grants})
    partners = partner_contacts({grant.engagement_partner.partner_id for grant in grants})
    emails = []
    for grant in grants:
        contacts = partners[grant.engagement_partner.partner_id]
        context = {
            "grant": grant,
            "customer": grant.account.customer,
            "partner": grant.engagement_partner.partner,
            # Its PDM, told when the partner has nobody signed up, learns why it is theirs (emails/_for_pdm).
            "pdm_path": contacts.pdm_path_instead_of_staff,
            # A new grant needs a contract, which the partner no longer has.
            "contract_ended": contract_ended,
        }
        subject = (
            f"Access ended: {grant.engagement_partner.partner.name} on account {grant.account.account_id} "
            f"({grant.role_name})"
        )
        emails.append(
            OutboxEmail(
                dedupe_key=f"grant-revoked:{grant.pk}:customer",
                to=customers[grant.account.customer_id],
                for_customer=grant.account.customer_id,
                subject=subject,
                template="emails/checks/access_grant_revoked_customer",
                context=context,
            )
        )
        emails.append(
            OutboxEmail(
                dedupe_key=f"grant-revoked:{grant.pk}:partner",
                to=contacts.staff_or_pdm,
                for_partner=grant.engagement_partner.partner_id,
                subject=subject,
                template="emails/checks/access_grant_revoked_partner",
                context=context,
            )
        )
    return len(outbox_email_enqueue_many(emails))


def _tell_access_granted(grant: AccessGrant) -> None:
    """The partner learns the role it may now assume and on what terms, as it learns when the access ends
    (_tell_access_ended); the customer's other access administrators learn who delegated what, the one
    who granted it knowing already."""
    customer = grant.account.customer
    partner = grant.engagement_partner.partner
    contacts = partner_contacts({partner.pk})[partner.pk]
    granted_by = grant.granted_by.get_full_name() or grant.granted_by.get_username()
    context = {
        "grant": grant,
        "customer": customer,
        "partner": partner,
        "granted_by": granted_by,
        "ends": grant.ends_in_words,
        "pdm_path": contacts.pdm_path_instead_of_staff,
    }
    subject = f"Access granted: {partner.name} on account {grant.account.account_id} ({grant.role_name})"
    emails = [
        OutboxEmail(
            dedupe_key=f"access-grant-granted:{grant.pk}:partner",
            to=contacts.staff_or_pdm,
            for_partner=partner.pk,
            subject=subject,
            template="emails/access_grant_granted_partner",
            context=context,
        )
    ]
    others = [
        email for email in _customer_recipients([customer.pk])[customer.pk] if email != grant.granted_by.email
    ]
    if others:
        emails.append(
            OutboxEmail(
                dedupe_key=f"access-grant-granted:{grant.pk}:customer",
                to=others,
                for_customer=customer.pk,
                subject=subject,
                template="emails/access_grant_granted_customer",
                context=context,
            )
        )
    outbox_email_enqueue_many(emails)


# Purchases --------------------------------------------------------------------------------------------


def _customer_day(engagement: Engagement) -> str:
    """The customer's today, which dates an engagement's steps, said so a partner elsewhere sees why."""
    customer = engagement.customer
    return f"{customer.local_today():%d %b %Y} for {customer.name} ({customer.zone.key})"


def _plausible(day: datetime.date | None, field: str) -> None:
    try:
        if day is not None:
            validate_plausible_date(day)
    except ValidationError as error:
        raise DomainError(" ".join(error.messages), field=field) from None


def _may_buy_services(user, engagement: Engagement, bought_by: str, buying_partner: Partner | None) -> bool:
    """A partner buys for itself; the customer's side (its staff or AM) buys for anybody."""
    if user_can_manage_engagement(user, engagement):
        return True
    return bool(
        bought_by == ServicesBuyer.PARTNER
        and buying_partner is not None
        and user.is_authenticated
        and user.partner_id == buying_partner.pk
    )


def professional_services_add_check(
    *,
    user,
    engagement: Engagement,
    bought_by: str,
    buying_partner: Partner | None = None,
    consultant=None,
    starts_on: datetime.date | None = None,
    ends_on: datetime.date | None = None,
) -> None:
    """Refuse, as professional_services_add would, a closed engagement, a buying partner not on it, a
    user who may not buy for it, or a consultant who is not the provider's: for forms that say so before
    saving (the admin's). `engagement` may be one the form is starting, not saved yet: who may start it
    may buy for it, and no partner is on it yet."""
    if engagement.pk is None:
        engagement_create_check(user=user, customer=engagement.customer)
    _ensure_open(engagement)
    if bought_by == ServicesBuyer.PARTNER:
        if buying_partner is None:
            raise DomainError("Name the partner that buys the services.", field="buying_partner")
        not_on = f"{buying_partner} is not on “{engagement.title}”."
        if engagement.pk is None:
            raise DomainError(not_on, field="buying_partner")
        # Under a contract not over: one replaced, ended early or run out buys nothing more for it.
        if not contracts_opening_engagements_to(buying_partner.pk).filter(engagement=engagement).exists():
            # One that was on it is told when its contract ended, not that it never was: its last
            # contract there, one that ran before one that never did.
            held = (
                engagement.engagement_partners.filter(partner=buying_partner)
                .order_by("ended_before_start", "-contract_end", "-pk")
                .first()
            )
            raise DomainError(
                not_on
                if held is None
                else f"{buying_partner}'s contract on “{engagement.title}” {_contract_over_in_words(held)}.",
                field="buying_partner",
            )
    if not _may_buy_services(user, engagement, bought_by, buying_partner):
        raise PermissionDeniedError(f"You cannot buy Professional Services for “{engagement.title}”.")
    if consultant is not None and not consultant.is_provider_staff:
        raise DomainError(
            f"{consultant} is not on the provider's Professional Services staff.", field="consultant"
        )
    _plausible(starts_on, "starts_on")
    _plausible(ends_on, "ends_on")


def professional_services_add(
    *,
    user,
    engagement: Engagement,
    bought_by: str,
    goal: str,
    capability_gap: str,
    starts_on: datetime.date,
    ends_on: datetime.date | None = None,
    buying_partner: Partner | None = None,
    consultant=None,
    instance: ProfessionalServicesEngagement | None = None,
) -> ProfessionalServicesEngagement:
    """Record Professional Services bought for a project goal. A partner buys for itself; the customer's
    side (its staff or AM) buys for the customer. The consultant joins the team.

    `instance`: an unsaved ProfessionalServicesEngagement to save with these values, instead of a new one
    (the admin's forms pass the object they built and go on with)."""
    with transaction.atomic():
        locked = _lock_engagement(engagement)
        professional_services_add_check(
            user=user,
            engagement=locked,
            bought_by=bought_by,
            buying_partner=buying_partner,
            consultant=consultant,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        services = _unsaved(
            instance, ProfessionalServicesEngagement, "Only Professional Services not saved yet can be added."
        )
        services.engagement = locked
        services.bought_by = bought_by
        services.buying_partner = buying_partner if bought_by == ServicesBuyer.PARTNER else None
        services.goal = (goal or "").strip()
        services.capability_gap = (capability_gap or "").strip()
        services.consultant = consultant
        services.starts_on = starts_on
        services.ends_on = ends_on
        validate_or_refuse(services, exclude=["engagement"])
        services._history_user = user
        services.save()
        if (
            consultant is not None
            and not locked.team_members.filter(
                user=consultant, role=TeamRole.PROFESSIONAL_SERVICES, left_on=None
            ).exists()
        ):
            # Services already over (recorded afterwards) seat the consultant for their days only: the
            # hourly check ends the seats of those that run out (_consultant_seats_end).
            joining = TeamMember(
                engagement=locked,
                user=consultant,
                role=TeamRole.PROFESSIONAL_SERVICES,
                joined_on=starts_on,
                left_on=ends_on if ends_on is not None and ends_on < locked.customer.local_today() else None,
                note="Professional Services bought by "
                + (str(buying_partner) if buying_partner else "the customer"),
            )
            joining._history_user = user
            joining.save()
    return services


def professional_services_update_check(
    *,
    user,
    services: ProfessionalServicesEngagement,
    starts_on: datetime.date | None = None,
    ends_on: datetime.date | None = None,
) -> None:
    """Refuse, as professional_services_update would, a user who may not have bought these services, a
    closed engagement, or a day no calendar shows: the rules professional_services_add holds them to, for
    forms that say so before saving (the admin's)."""
    engagement = services.engagement
    if not _may_buy_services(user, engagement, services.bought_by, services.buying_partner):
        raise PermissionDeniedError(f"You cannot change the Professional Services of “{engagement.title}”.")
    _ensure_open(engagement)
    _plausible(starts_on, "starts_on")
    _plausible(ends_on, "ends_on")


def professional_services_update(
    *,
    user,
    services: ProfessionalServicesEngagement,
    goal: str,
    capability_gap: str,
    starts_on: datetime.date,
    ends_on: datetime.date | None = None,
) -> ProfessionalServicesEngagement:
    """Change the goal, the capability gap or the dates of Professional Services bought. Who bought them,
    for which engagement, and their consultant stay as recorded: other services are added as new ones."""
    with transaction.atomic():
        engagement = _lock_engagement(services.engagement)
        locked = lock_or_refuse(
            ProfessionalServicesEngagement.objects.select_for_update(of=("self",)),
            services.pk,
            "professional services engagement",
        )
        locked.engagement = engagement
        professional_services_update_check(user=user, services=locked, starts_on=starts_on, ends_on=ends_on)
        locked.goal = (goal or "").strip()
        locked.capability_gap = (capability_gap or "").strip()
        locked.starts_on = starts_on
        locked.ends_on = ends_on
        validate_or_refuse(locked, exclude=["engagement"])
        locked._history_user = user
        locked.save(update_fields=["goal", "capability_gap", "starts_on", "ends_on", "updated_at"])
    for field in ("goal", "capability_gap", "starts_on", "ends_on", "updated_at"):
        setattr(services, field, getattr(locked, field))
    return locked


def marketplace_subscription_add_check(
    *,
    user,
    engagement: Engagement,
    product: str,
    vendor: Partner,
    accounts: Iterable[AwsAccount],
    subscribed_on: datetime.date | None = None,
    changing: MarketplaceSubscription | None = None,
) -> None:
    """Refuse, as marketplace_subscription_add would, a user who may not subscribe the engagement, a
    closed engagement, a vendor that sells no marketplace software, another customer's accounts, a
    product it already has, or a day that has not come: for forms that say so before saving (the admin's,
    which re-ask it of a subscription they change, `changing`). `engagement` may be one the form is
    starting, not saved yet: who may start it may subscribe it, and it has no subscriptions yet."""
    if engagement.pk is None:
        engagement_create_check(user=user, customer=engagement.customer)
    elif not user_can_work_on_engagement(user, engagement):
        raise PermissionDeniedError(f"You cannot subscribe “{engagement.title}” to software.")
    _ensure_open(engagement)
    if vendor.partner_type != PartnerType.TECHNOLOGY:
        raise DomainError(
            f"{vendor} is not a Technology partner; marketplace software comes from one.", field="vendor"
        )
    accounts = list(accounts or ())
    if not accounts:
        raise DomainError("Choose the accounts the subscription is for.", field="accounts")
    problem = foreign_accounts_problem(accounts, engagement.customer)
    if problem:
        raise DomainError(problem, field="accounts")
    product = (product or "").strip()
    # One product is one subscription however its name is capitalised ("Cost Management" is "cost
    # management"); the engagement's lock keeps two adds from both passing this.
    if engagement.pk is not None:
        same = engagement.marketplace_subscriptions.filter(vendor=vendor, product__iexact=product)
        if changing is not None:
            same = same.exclude(pk=changing.pk)
        existing = same.first()
        if existing is not None:
            raise ConflictError(
                f"“{engagement.title}” already subscribes to {existing.product}.", field="product"
            )
    if subscribed_on is not None:
        _plausible(subscribed_on, "subscribed_on")
        # A subscription records software taken out, not planned: the service's day is the customer's today.
        today = engagement.customer.local_today()
        if subscribed_on > today:
            raise DomainError(
                f"A subscription starts when it is taken out: {subscribed_on:%d %b %Y} has not come yet "
                f"for {engagement.customer} (today there is {today:%d %b %Y}).",
                field="subscribed_on",
            )


def marketplace_subscription_add(
    *,
    user,
    engagement: Engagement,
    product: str,
    vendor: Partner,
    accounts: Iterable[AwsAccount],
    subscribed_on: datetime.date | None = None,
    instance: MarketplaceSubscription | None = None,
) -> MarketplaceSubscription:
    """Subscribe the engagement's accounts to a technology partner's marketplace product.

    `instance`: an unsaved MarketplaceSubscription to save with these values, instead of a new one (the
    admin's forms pass the object they built and go on with)."""
    accounts = list(accounts)
    with transaction.atomic():
        locked = _lock_engagement(engagement)
        marketplace_subscription_add_check(
            user=user,
            engagement=locked,
            product=product,
            vendor=vendor,
            accounts=accounts,
            subscribed_on=subscribed_on,
        )
        subscription = _unsaved(
            instance, MarketplaceSubscription, "Only a subscription not saved yet can be added."
        )
        subscription.engagement = locked
        subscription.product = (product or "").strip()
        subscription.vendor = vendor
        subscription.subscribed_on = subscribed_on or locked.customer.local_today()
        subscription.subscribed_by = user
        validate_or_refuse(subscription, exclude=["engagement", "vendor", "subscribed_by"])
        subscription._history_user = user  # the versions its save and its accounts' change write
        subscription.save()
        subscription.accounts.set(accounts)
    return subscription


def marketplace_subscription_update(
    *,
    user,
    subscription: MarketplaceSubscription,
    product: str,
    vendor: Partner,
    accounts: Iterable[AwsAccount],
    subscribed_on: datetime.date,
) -> MarketplaceSubscription:
    """Correct a subscription's product, vendor, accounts or day, held to the rules it was added under
    (marketplace_subscription_add_check, asked of the subscription it changes). It stays its engagement's,
    recorded as taken out by whoever subscribed it."""
    accounts = list(accounts)
    with transaction.atomic():
        engagement = _lock_engagement(subscription.engagement)
        locked = lock_or_refuse(
            MarketplaceSubscription.objects.select_for_update(of=("self",)),
            subscription.pk,
            "Marketplace subscription",
        )
        marketplace_subscription_add_check(
            user=user,
            engagement=engagement,
            product=product,
            vendor=vendor,
            accounts=accounts,
            subscribed_on=subscribed_on,
            changing=locked,
        )
        locked.engagement = engagement
        locked.product = (product or "").strip()
        locked.vendor = vendor
        locked.subscribed_on = subscribed_on
        validate_or_refuse(locked, exclude=["engagement", "vendor", "subscribed_by"])
        locked._history_user = user  # the versions its save and its accounts' change write
        locked.save(update_fields=["product", "vendor", "subscribed_on", "updated_at"])
        locked.accounts.set(accounts)
    for field in ("product", "vendor", "subscribed_on", "updated_at"):
        setattr(subscription, field, getattr(locked, field))
    return locked
