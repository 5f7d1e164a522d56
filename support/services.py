"""Writes of support subscriptions and cases. Each use case takes the acting user, opens its own
transaction, checks who may do it, and raises a DomainError (or PermissionDeniedError / ConflictError)
whose message is written for that user. The pages, the admin and the API all call these."""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, QuerySet
from django.utils import timezone

from apn_portal.accounts.selectors import user_is_signed_in
from apn_portal.checks.results import batched
from apn_portal.exceptions import (
    ConflictError,
    DomainError,
    PermissionDeniedError,
    lock_or_refuse,
    validate_or_refuse,
)
from apn_portal.forms import submission_key_of, submitted_before
from apn_portal.history import history_bulk_create
from apn_portal.outbox.services import OutboxEmail, outbox_email_enqueue_many
from apn_portal.text import full_stop
from apn_portal.webhooks.choices import WebhookEvent
from apn_portal.webhooks.services import webhook_events_emit_many
from engagements.models import AwsAccount, Customer, todays_in_zones
from engagements.selectors import (
    partner_is_solution_provider,
    user_can_manage_access,
    user_names_customer_staff,
)
from engagements.services import (
    _customer_recipients,
    customers_lock_naming_users,
    team_tams_follow,
)
from partners.checks.contacts import partner_contacts
from partners.models import Partner
from support import selectors
from support.apps import CASE_READERS, CUSTOMER_TAM_READERS
from support.choices import (
    ACTIVE_CASE_STATUSES,
    DONE_CASE_STATUSES,
    CaseStatus,
    CaseType,
    ReplySide,
    Severity,
    SubscriptionChange,
    TamCoverage,
    TechnicalSupportHours,
)
from support.deadlines import first_response_due
from support.models import CaseReply, StaffCertification, SupportCase, SupportPlan, SupportSubscription

RETIREMENT_BATCH = 500
RETIREMENT_CHANGE_REASON = "By the scheduled check support_plan_retirement"

# Subscriptions ----------------------------------------------------------------------------------------


def _may_change_plan(user, customer: Customer) -> bool:
    """The customer's access administrators (its privileged people), its Account Manager, a superuser."""
    return user_is_signed_in(user) and (
        user.is_superuser
        or user_can_manage_access(user, customer)
        or user_names_customer_staff(user, customer)
    )


def _change_kind(old: SupportPlan | None, new: SupportPlan) -> str:
    if old is None:
        return SubscriptionChange.STARTED
    if new.rank > old.rank:
        return SubscriptionChange.UPGRADED
    if new.rank < old.rank:
        return SubscriptionChange.DOWNGRADED
    return SubscriptionChange.CHANGED


def _check_support_partner(partner: Partner, customer: Customer, account: AwsAccount | None) -> None:
    if not partner_is_solution_provider(partner):
        raise DomainError(
            f"{partner} is not an approved Solution Provider, so it cannot give partner-led support.",
            field="support_partner",
        )
    resold = AwsAccount.objects.filter(customer=customer, reseller=partner)
    if account is not None:
        resold = resold.filter(pk=account.pk)
    if not resold.exists():
        where = f"account {account.account_id}" if account is not None else f"any of {customer}'s accounts"
        raise DomainError(
            f"{partner} does not resell {where}: partner-led support covers the accounts a partner resells.",
            field="support_partner",
        )


def _tam_named(username: str):
    """The TAM the API names by `username`, looked up only once the asker has been found to name the
    customer's staff. Nobody by that name and somebody who is not a TAM get the same answer."""
    tam = selectors.tams().filter(username=username).first()
    if tam is None:
        raise DomainError(
            f"“{username}” is not one of the provider's Technical Account Managers.", field="tam"
        )
    return tam


def _lock_customers(customer_ids) -> None:
    """The customers' rows, locked in pk order: what every write of their support takes first (a change or
    end of a plan, naming a TAM, the retirement check, opening a case), before any subscription or case
    row, so two of them wait on each other rather than deadlock."""
    list(Customer.objects.select_for_update().filter(pk__in=customer_ids).order_by("pk").values_list("pk"))


def _lock_users(users) -> None:
    """The people's rows (`users`: pks, or a query of them), locked in pk order, after any customer's:
    naming a designated TAM takes the TAM's, and taking a certification from its holder the holder's
    (staff_certifications_lock_holders), so whichever comes second judges the TAM as the first left them.
    FOR NO KEY UPDATE: rows that merely refer to the person (their replies, say) are not held up."""
    list(
        get_user_model()
        .objects.select_for_update(no_key=True)
        .filter(pk__in=users)
        .order_by("pk")
        .values_list("pk")
    )


def staff_certifications_lock_holders(certifications: QuerySet[StaffCertification]) -> None:
    """For the admin, in the transaction that deletes `certifications` or gives them to somebody else or
    makes them another kind, before it asks whether they qualify a designated TAM
    (selectors.tam_certification_removal_problems): a TAM being named at that moment is either committed
    first, and seen, or waits and finds the certification gone."""
    _lock_users(certifications.values("user_id"))


def users_lock_leaving_tams(users) -> None:
    """For the user admin, in the transaction that may deactivate people or take their TAM role, before it
    asks whether a subscription designates them (selectors.tam_leaving_problems): a TAM being named at
    that moment is either committed first, and seen, or waits and finds them no TAM (tam_problem). The
    customers naming them come first, as in a plan's change (customer, then TAM): the same save may
    rename them, which updates those customers; so do those on whose teams they hold a TAM seat, which
    their leaving ends (engagements.services.team_tams_follow_member)."""
    customers_lock_naming_users(list(users), team_tam_seats=True)
    _lock_users(users)


def support_subscription_change(
    *,
    user,
    customer: Customer,
    plan: SupportPlan,
    account: AwsAccount | None = None,
    tam=None,
    support_partner: Partner | None = None,
    note: str = "",
) -> SupportSubscription:
    """Put the customer (or one of its accounts) on `plan` from now: the current subscription ends and a
    new one starts, recorded as an upgrade, a downgrade or a first subscription.

    Only a plan offered today, by the customer's calendar, can be subscribed to. A plan with a designated
    TAM needs one who holds a Solutions Architect certification; naming the TAM is the provider's, so only
    the customer's Account Manager or a superuser subscribes to such a plan. When the TAM changes or the
    new plan has none, the customer's TAM (Customer.tam) follows. `tam`: a user, or (from the API) a
    username, looked up only after those checks, so nobody else learns which usernames exist.
    """
    if not _may_change_plan(user, customer):
        raise PermissionDeniedError(
            f"Only {customer}'s access administrators or its Account Manager can change its support plan."
        )
    if account is not None and account.customer_id != customer.pk:
        raise DomainError(
            f"Account {account.account_id} does not belong to {full_stop(customer)}", field="account"
        )
    today = customer.local_today()
    if plan.tam_coverage == TamCoverage.DESIGNATED:
        if not user_names_customer_staff(user, customer):
            raise PermissionDeniedError(
                f"{plan.name} comes with a designated Technical Account Manager, whom the provider names: "
                f"ask {customer}'s Account Manager to subscribe."
            )
        if isinstance(tam, str):
            tam = _tam_named(tam)
        problem = selectors.tam_problem(tam, today)
        if problem:
            raise DomainError(problem, field="tam")
    elif tam is not None:
        raise DomainError(
            f"{plan.name} does not come with a designated TAM; leave the TAM empty.", field="tam"
        )
    if support_partner is not None:
        _check_support_partner(support_partner, customer, account)

    now = timezone.now()
    with transaction.atomic():
        # Locks the customer's row: two changes of its plan at once are serialised, not both "current".
        _lock_customers([customer.pk])
        if tam is not None:
            # Judged again under the TAM's lock, as they are now: the certification that qualified them
            # may have been taken away since the check above (staff_certifications_lock_holders).
            _lock_users([tam.pk])
            tam = get_user_model().objects.filter(pk=tam.pk).first()
            problem = selectors.tam_problem(tam, today)
            if problem:
                raise DomainError(problem, field="tam")
        current = (
            SupportSubscription.objects.select_for_update(of=("self",))
            .select_related("plan")
            .filter(customer=customer, account=account, ended_at__isnull=True)
            .order_by("pk")
            .first()
        )
        if (
            current is not None
            and current.plan_id == plan.pk
            and current.tam_id == getattr(tam, "pk", None)
            and current.support_partner_id == getattr(support_partner, "pk", None)
        ):
            raise ConflictError(f"{current} already; nothing to change.")
        if current is None or current.plan_id != plan.pk:
            # Subscribing to a plan; staying on one (another TAM, another support partner) is not.
            _check_plan_offered(plan, today)
        old_plan = current.plan if current is not None else None
        if current is not None:
            current.ended_at = now
            current.save(update_fields=["ended_at", "updated_at"])
        subscription = SupportSubscription(
            customer=customer,
            account=account,
            plan=plan,
            tam_coverage=plan.tam_coverage,
            tam=tam,
            support_partner=support_partner,
            change=_change_kind(old_plan, plan),
            replaces=current,
            started_at=now,
            changed_by=user,
            note=(note or "").strip(),
        )
        validate_or_refuse(subscription)
        try:
            subscription.save()
        except IntegrityError:
            raise ConflictError(
                "Somebody changed this support plan at the same moment; reload and try again."
            ) from None
        _customer_tams_follow([customer.pk], now, user=user)
        support_cases_follow_partner_led_support(
            user=user,
            customer=customer,
            now=now,
            why=f"{user} changed {_scope(customer, account)} support plan",
        )
    customer.refresh_from_db(fields=["tam", "updated_at"])
    return subscription


def _scope(customer: Customer, account: AwsAccount | None) -> str:
    return f"account {account.account_id}'s" if account is not None else f"{customer}'s"


TAM_FOLLOWS_REASON = "The TAM follows the customer's support plan"


def _customer_tams_follow(
    customer_ids, now: datetime.datetime, *, user, reason: str = TAM_FOLLOWS_REASON
) -> int:
    """The customer's TAM (Customer.tam, which engagements shows and lets look after the customer) is the
    one its support serves it with: the designated TAM a current subscription names (the customer's own
    before an account's), or nobody. Called whenever a customer's subscriptions change, so a TAM leaves
    with the plan that brought it, from the customer's record and from the TAM seats of its teams too,
    which the customer's TAM takes over (engagements.services.team_tams_follow). Each customer changed
    gets a version naming `user` (None: a scheduled check) and `reason`, as a save would write. In the
    caller's transaction, under the customers' locks; returns how many customers changed."""
    customer_ids = list(customer_ids)
    designated_now = selectors.designated_now(OuterRef("pk")).values("tam")[:1]
    changing = list(
        Customer.objects.filter(pk__in=customer_ids)
        .annotate(
            designated=designated_now,
            designating=selectors.designated_now(OuterRef("pk")).values("pk")[:1],
        )
        # IS DISTINCT FROM: SQL's = is unknown, and excludes nothing, when either side is NULL.
        .filter(
            Q(tam__isnull=True, designated__isnull=False)
            | Q(tam__isnull=False, designated__isnull=True)
            | (Q(tam__isnull=False, designated__isnull=False) & ~Q(tam=F("designated")))
        )
        .values_list("pk", "designating")
    )
    if changing:
        changed_ids = [pk for pk, _ in changing]
        Customer.objects.filter(pk__in=changed_ids).update(tam=designated_now, updated_at=now)
        # The update sends no signal: the versions are written here, as they now are.
        history_bulk_create(
            list(Customer.objects.filter(pk__in=changed_ids)), user=user, reason=reason, date=now
        )
        _email_tams_named([designating for _, designating in changing if designating], user=user, why=reason)
    # Whether or not Customer.tam moved: an account's plan that designated a team's TAM may have ended.
    team_tams_follow(customer_ids, user=user, now=now)
    return len(changing)


def _email_tams_named(subscription_ids, *, user, why: str) -> None:
    """Tell each TAM who has just become a customer's TAM (through the subscription that designates them,
    by its pk) which customer, on which plan, and who named them (`user`; None: a scheduled check, said
    with `why`). Keyed by the subscription as well as the customer and TAM: named again later (a new
    subscription) they are told again, a retry of the same naming is not. Nobody is told of naming
    themselves."""
    emails = []
    subscriptions = SupportSubscription.objects.filter(pk__in=subscription_ids).select_related(
        "customer", "account", "plan", "tam"
    )
    for subscription in subscriptions:
        tam = subscription.tam
        if not tam.is_active or not tam.email or tam.pk == getattr(user, "pk", None):
            continue
        emails.append(
            OutboxEmail(
                dedupe_key=f"customer-tam-named:{subscription.customer_id}:{tam.pk}:{subscription.pk}",
                to=[tam.email],
                # Named and moved on from before it goes out (the AM puts the former TAM back), they are
                # not told: nobody else needs it.
                readers=f"{CUSTOMER_TAM_READERS}:{subscription.customer_id}",
                subject=f"You are now {subscription.customer.name}'s Technical Account Manager",
                template="emails/support/tam_named",
                context={
                    "subscription": subscription,
                    "tam_name": tam.get_full_name() or tam.username,
                    "named_by": (user.get_full_name() or user.username) if user is not None else None,
                    "why": why,
                },
            )
        )
    outbox_email_enqueue_many(emails)


def _check_plan_offered(plan: SupportPlan, today: datetime.date) -> None:
    # Plans retire by the customer's calendar, as its contracts run (and as the retirement check moves them).
    if plan.is_offered_on(today):
        return
    if plan.retires_on is not None and today >= plan.retires_on:
        successor = f" Choose {plan.successor.name}, its successor." if plan.successor_id else ""
        raise DomainError(
            f"{plan.name} retired on {plan.retires_on:%d %b %Y} and can no longer be subscribed to."
            + successor,
            field="plan",
        )
    raise DomainError(f"{plan.name} can be subscribed to from {plan.available_from:%d %b %Y}.", field="plan")


def support_customer_tam_name(*, user, customer: Customer, tam) -> None:
    """Name the customer's TAM (engagements.services.customer_assign_staff, field "tam", which has checked
    that `user` names the customer's staff and that `tam` is a TAM). The TAM a customer is shown must be
    one who serves it: on a plan with a designated TAM, naming another changes that plan's TAM (a new
    subscription row, as support_subscription_change records any change of TAM); on any other plan
    there is nobody to name (selectors.customer_tam_problem says why), and None clears a TAM no plan
    brings."""
    with transaction.atomic():
        # The customer's plans are read under its lock, which a change of plan takes too: a TAM named at
        # the moment the plan changes is judged by, and kept on, the plan it now has.
        _lock_customers([customer.pk])
        problem = selectors.customer_tam_problem(customer, tam)
        if problem:
            raise DomainError(problem, field="tam")
        current = selectors.current_customer_subscription(customer)
        designated = current is not None and current.tam_coverage == TamCoverage.DESIGNATED
        if designated and tam.pk != current.tam_id:
            support_subscription_change(
                user=user,
                customer=customer,
                plan=current.plan,
                tam=tam,
                # Kept only while it gives partner-led support, as a change of plan may name it.
                support_partner=current.support_partner if current.partner_led else None,
                note=f"Designated TAM changed to {tam}.",
            )
            return
        _customer_tams_follow([customer.pk], timezone.now(), user=user)


def support_subscription_end(
    *, user, subscription: SupportSubscription, note: str = ""
) -> SupportSubscription:
    """End a subscription now: the customer is back on Basic (an account, on its customer's plan)."""
    if not _may_change_plan(user, subscription.customer):
        raise PermissionDeniedError(
            f"Only {subscription.customer}'s access administrators or its Account Manager can end its "
            "support plan."
        )
    with transaction.atomic():
        _lock_customers([subscription.customer_id])
        locked = lock_or_refuse(
            SupportSubscription.objects.select_for_update(of=("self",)),
            subscription.pk,
            "support subscription",
        )
        if locked.ended_at is not None:
            raise ConflictError(f"This subscription already ended on {locked.ended_at:%d %b %Y}.")
        locked.ended_at = timezone.now()
        if note:
            locked.note = note.strip()[:300]
        locked.save(update_fields=["ended_at", "note", "updated_at"])
        _customer_tams_follow([locked.customer_id], locked.ended_at, user=user)
        support_cases_follow_partner_led_support(
            user=user,
            customer=subscription.customer,
            now=locked.ended_at,
            why=f"{user} ended {_scope(subscription.customer, locked.account)} {locked.plan.name} plan",
        )
    subscription.customer.refresh_from_db(fields=["tam", "updated_at"])
    return locked


def support_subscriptions_move_retired(*, now: datetime.datetime | None = None) -> list[SupportSubscription]:
    """Move every current subscription on a plan that has retired, by its customer's calendar, to that
    plan's successor, from now.

    For the support_plan_retirement check, which holds the transaction and the check's lock: one UPDATE
    ends the old rows and one INSERT starts the new ones, each with one INSERT of their history (naming
    the check), per batch, whatever their number. A plan retires
    for each customer on its own retirement day (the day it stops being offered to that customer): run
    every quarter of an hour, the check moves each customer in the first minutes of that day, wherever it
    is; a second run finds nothing left.
    """
    now = now or timezone.now()
    # No customer's calendar is more than a day ahead of UTC's: a first, cheap cut.
    latest_today = timezone.localdate(now, datetime.UTC) + datetime.timedelta(days=1)
    due = SupportSubscription.objects.filter(
        ended_at__isnull=True, plan__retires_on__lte=latest_today, plan__successor__isnull=False
    )
    rows = list(due.order_by("pk").values_list("pk", "customer__time_zone", "plan__retires_on"))
    today_in = todays_in_zones({time_zone for _, time_zone, _ in rows}, now)
    due_ids = [pk for pk, time_zone, retires_on in rows if today_in[time_zone] >= retires_on]
    moved: list[SupportSubscription] = []
    for ids in batched(due_ids, RETIREMENT_BATCH):
        _lock_customers(SupportSubscription.objects.filter(pk__in=ids).values("customer_id"))
        batch = list(
            due.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .select_related("plan__successor", "support_partner")
        )
        # A successor with a designated TAM needs one named: such a move is left to the Account Manager.
        batch = [
            current
            for current in batch
            if current.plan.successor.tam_coverage != TamCoverage.DESIGNATED or current.tam_id is not None
        ]
        if not batch:
            continue
        # The new plan is signed with the support partner only while it still gives partner-led support,
        # as a person's change of plan could not name it otherwise (_check_support_partner).
        partner_led = set(
            SupportSubscription.objects.filter(pk__in=[s.pk for s in batch])
            .filter(selectors.subscriptions_partner_led(now))
            .values_list("pk", flat=True)
        )
        SupportSubscription.objects.filter(pk__in=[s.pk for s in batch]).update(ended_at=now, updated_at=now)
        for current in batch:
            current.ended_at = current.updated_at = now
        # The ended rows' history says they ended, when and why, as a person's change of plan records it.
        SupportSubscription.history.bulk_history_create(
            batch, update=True, default_change_reason=RETIREMENT_CHANGE_REASON, default_date=now
        )
        new_rows = []
        for current in batch:
            successor = current.plan.successor
            note = f"{current.plan.name} retired on {current.plan.retires_on:%d %b %Y}."
            support_partner_id = current.support_partner_id if current.pk in partner_led else None
            if current.support_partner_id and support_partner_id is None:
                note += (
                    f" {current.support_partner} no longer gave partner-led support, so {successor.name} "
                    "comes without it."
                )
            new_rows.append(
                SupportSubscription(
                    customer_id=current.customer_id,
                    account_id=current.account_id,
                    plan=successor,
                    tam_coverage=successor.tam_coverage,
                    # A designated TAM stays with the customer when the successor has one too.
                    tam_id=current.tam_id if successor.tam_coverage == TamCoverage.DESIGNATED else None,
                    support_partner_id=support_partner_id,
                    change=SubscriptionChange.SUCCESSOR,
                    replaces_id=current.pk,
                    started_at=now,
                    note=note[:300],
                )
            )
        created = SupportSubscription.objects.bulk_create(new_rows)
        SupportSubscription.history.bulk_history_create(
            created, default_change_reason=RETIREMENT_CHANGE_REASON, default_date=now
        )
        moved.extend(created)
        _customer_tams_follow(
            {current.customer_id for current in batch},
            now,
            user=None,
            reason=f"{RETIREMENT_CHANGE_REASON}: the TAM follows the customer's support plan",
        )
    return moved


# Cases ------------------------------------------------------------------------------------------------


def support_cases_follow_partner_led_support(
    *, user, customer: Customer, why: str, now: datetime.datetime | None = None
) -> list[SupportCase]:
    """The customer's cases that a reselling partner handles but no longer gives partner-led support for
    (selectors.cases_partner_led: the plan that applies to the account names another partner or none, or
    the partner no longer resells it, or is no longer a Solution Provider) go to the provider's support:
    the partner no longer sees or answers them, and a line on each, by `user` (the portal's own when
    None), tells the customer why (`why`: what changed). Closed cases stay as they were handled (the
    partner no longer sees them either).

    For whatever changes a customer's partner-led support (a plan here, an account's reseller in
    engagements), in its transaction, after the change: the customer keeps the whole case, and what it
    writes from then on reaches only the provider. Returns the cases moved."""
    return _cases_follow_partner_led_support(
        SupportCase.objects.filter(customer=customer), user=user, why=lambda case: why, now=now
    )


def support_cases_follow_partner_led_support_for_partners(
    *, partner_ids, why, user=None, now: datetime.datetime | None = None
) -> list[SupportCase]:
    """support_cases_follow_partner_led_support for every customer of many partners at once, whose
    partner-led support may have ended (an ended Solution Provider enrollment): the open cases they
    handle and no longer give partner-led support for go to the provider's support, in a fixed number of
    statements however many partners, customers and cases. `why`: each partner's reason, by partner id
    (a dict) or as a function of it. Run again, it moves nothing."""
    partner_ids = list(partner_ids)
    if not partner_ids:
        return []
    reason = why.__getitem__ if isinstance(why, dict) else why
    return _cases_follow_partner_led_support(
        SupportCase.objects.filter(handling_partner_id__in=partner_ids),
        user=user,
        why=lambda case: reason(case.handling_partner_id),
        now=now,
    )


def _cases_follow_partner_led_support(cases: QuerySet, *, user, why, now) -> list[SupportCase]:
    now = now or timezone.now()
    with transaction.atomic():
        still_led = cases.filter(selectors.cases_partner_led(now))
        leaving = list(
            cases.filter(handling_partner__isnull=False)
            .exclude(status=CaseStatus.CLOSED)
            # By pk: the partner-led test compares nullable columns, which an exclude() of it would not
            # read as "not led" when they are NULL (an account without a reseller).
            .exclude(pk__in=still_led.values("pk"))
            .select_for_update(of=("self",))
            .select_related("handling_partner", "account", "customer", "plan")
            .order_by("pk")
        )
        if not leaving:
            return []
        # An urgent case is told to whom now answers it, as one opened for the provider (the TAM) or passed
        # on to it is: not first by its breach email. One the partner passed on was told then already.
        urgent = [
            case
            for case in leaving
            if case.severity in URGENT_SEVERITIES
            and case.escalated_at is None
            and case.status not in DONE_CASE_STATUSES
        ]
        # Read before the partner leaves the case: `why` may be asked by its partner.
        partners = {case.pk: (case.handling_partner.name, why(case)) for case in urgent}

        def side(case: SupportCase) -> str:
            if user is not None and user.customer_id == case.customer_id:
                return ReplySide.REQUESTER
            return ReplySide.PROVIDER_SUPPORT

        CaseReply.objects.bulk_create(
            CaseReply(
                case=case,
                author=user,
                side=side(case),
                body=_partner_led_ended_text(case, why(case)),
                step=case.steps + 1,
            )
            for case in leaving
        )
        # Escalation is a handling partner's act (a constraint ties the two): the line above keeps it.
        SupportCase.objects.filter(pk__in=[case.pk for case in leaving]).update(
            handling_partner=None, escalated_at=None, steps=F("steps") + 1, updated_at=now
        )
        for case in leaving:
            case.handling_partner, case.escalated_at, case.updated_at = None, None, now
            case.steps += 1
        _email_provider_answers(
            urgent,
            # A case leaves its partner once (none is handed to a partner after it was opened): told once.
            dedupe_key=lambda case: f"support-case-to-provider:{case.pk}",
            subject=lambda case: (
                f"No longer with {partners[case.pk][0]}: case #{case.pk} "
                f"({case.get_severity_display()}) for {case.customer.name}"
            ),
            context=lambda case: dict(zip(("partner", "why"), partners[case.pk], strict=True)),
            actor=user,
        )
    return leaving


def _partner_led_ended_text(case: SupportCase, why: str) -> str:
    passed_on = ""
    if case.escalated_at:
        escalated_on = case.customer.local_time(case.escalated_at)
        passed_on = f" It had passed the case on to the provider on {escalated_on:%d %b %Y}."
    return (
        f"{case.handling_partner} no longer gives account {case.account.account_id} partner-led support "
        f"({why}), so this case is now with the provider's support, and {case.handling_partner} no longer "
        f"sees it.{passed_on}"
    )


def support_cases_follow_time_zone(customer: Customer, *, now: datetime.datetime | None = None):
    """The customer now works in `customer.time_zone`: every case still waiting for its first response
    in business hours (and not breached) is due when that many business hours have passed since it was
    opened, counted in the new zone, as if it had been opened there. A deadline met, breached, or passed
    already (though not marked yet) is history and stays. A case whose new deadline is already past is
    breached as the support_sla check would mark it (at its deadline), and whoever answers it is told at
    once.

    For engagements.services.customer_time_zone_change, in its transaction, after the customer's row is
    locked and saved with its new zone. Returns the cases whose deadline moved."""
    now = now or timezone.now()
    waiting = SupportCase.objects.filter(
        customer=customer,
        business_hours_only=True,
        first_response_due_at__isnull=False,
        first_responded_at__isnull=True,
        breached_at__isnull=True,
    ).exclude(status=CaseStatus.CLOSED)  # a resolved case can be reopened, and its deadline counts again
    # A deadline that has passed already (the support_sla check runs every few minutes, and may be down)
    # was missed in the zone the customer was shown it in: recorded first, before the new zone could move
    # it later again.
    support_cases_mark_breached(waiting, now)
    # Locked as a reply locks its case (support_case_reply): an answer is either in before (and its
    # deadline stays), or waits for the new deadline.
    moved = []
    for case in waiting.select_for_update(of=("self",)).order_by("pk"):
        due = first_response_due(
            case.opened_at,
            case.response_target_minutes,
            business_hours_only=True,
            time_zone=customer.time_zone,
        )
        if due != case.first_response_due_at:
            case.first_response_due_at, case.updated_at = due, now
            moved.append(case)
    SupportCase.objects.bulk_update(moved, ["first_response_due_at", "updated_at"], batch_size=500)
    if moved:
        support_cases_mark_breached(SupportCase.objects.filter(pk__in=[case.pk for case in moved]), now)
    return moved


def support_cases_mark_breached(
    cases: QuerySet[SupportCase], now: datetime.datetime, becoming: str | None = None
) -> tuple[list[SupportCase], int, int]:
    """Mark those of `cases` past their first-response deadline without a response (selectors.
    breached_cases) breached, and tell whoever answers each (support_cases_tell_breached). For the
    support_sla check and support_cases_follow_time_zone, in their transaction.

    The cases are locked as a reply locks its case (support_case_reply) and re-read under the lock, so a
    case answered in the meantime drops out, and one already marked is not marked (or told) again.
    `becoming`: the status a case is being set to as it is marked (resolved or closed unanswered), which the
    email and the event tell.
    Returns (the cases marked, read by selectors.breach_notice; emails queued; webhook events)."""
    with transaction.atomic():
        due = selectors.breached_cases(now).filter(pk__in=cases.values("pk"))
        marked = list(due.select_for_update(of=("self",)).values_list("pk", flat=True))
        if not marked:
            return [], 0, 0
        # Breached when the deadline passed, whenever it was noticed (updated_at says when).
        SupportCase.objects.filter(pk__in=marked).update(
            breached_at=F("first_response_due_at"), updated_at=now
        )
        notice = list(selectors.breach_notice(SupportCase.objects.filter(pk__in=marked)))
        for case in notice if becoming else ():
            # As support_case_status_change saves it next: the event shows the case as it then stands.
            case.status, case.resolved_at = becoming, case.resolved_at or now
        emails, webhook_events = support_cases_tell_breached(notice)
    return notice, emails, webhook_events


def _severity_problem(plan: SupportPlan, case_type: str, severity: str) -> str | None:
    if case_type == CaseType.ACCOUNT_AND_BILLING:
        if severity != Severity.GENERAL_GUIDANCE:
            return "Account and billing questions are opened as general guidance."
        return None
    if plan.technical_support_hours == TechnicalSupportHours.NONE:
        return (
            f"The {plan.name} plan includes no technical support: open an account and billing case, "
            "or upgrade your support plan."
        )
    allowed = selectors.plan_severities(plan)
    if severity not in allowed:
        labels = ", ".join(Severity(value).label.lower() for value in allowed)
        return f"On the {plan.name} plan a technical case can be: {labels}."
    return None


def support_case_open(
    *,
    user,
    account: AwsAccount,
    subject: str,
    description: str,
    severity: str,
    case_type: str = CaseType.TECHNICAL,
) -> SupportCase:
    """Open a case (see support_case_submit); every call is a new case."""
    return support_case_submit(
        user=user,
        account=account,
        subject=subject,
        description=description,
        severity=severity,
        case_type=case_type,
    )[0]


def support_case_submit(
    *,
    user,
    account: AwsAccount,
    subject: str,
    description: str,
    severity: str,
    case_type: str = CaseType.TECHNICAL,
    submission_token=None,
) -> tuple[SupportCase, bool]:
    """Open a case on one of the customer's accounts, with the first-response deadline its plan promises.
    Returns the case and whether it is new, like get_or_create.

    The customer's own staff may, and a partner the customer authorised: one holding a live access
    grant on the account whose scope allows the case (operations or administration: any case; billing:
    account and billing cases; read-only: none, and it is told so), or the Solution Provider reselling
    it with partner-led support. Anyone else is told the account does not exist for them.

    With the new-case form's `submission_token`, the same submit sent again (a double click, Back and
    resubmit, two at once) returns the case it opened first: one case, one deadline, one breach.
    """
    if not user_is_signed_in(user):
        raise PermissionDeniedError("Sign in to open a support case.")
    if not selectors.accounts_open_for_cases(user).filter(pk=account.pk).exists():
        # A partner the customer gave read-only access sees the account: it is told why, not refused as
        # a stranger.
        _refuse_by_grant_scope(user, account, None, field="account")
        raise PermissionDeniedError(
            "You cannot open a support case on this account: only its customer, or a partner it authorised "
            "(an access grant, or partner-led support), can.",
        )
    subject, description = (subject or "").strip(), (description or "").strip()
    if not subject:
        raise DomainError("Give the case a subject.", field="subject")
    if not description:
        raise DomainError("Describe the problem.", field="description")
    if case_type not in CaseType.values:
        raise DomainError("Choose technical support or account and billing.", field="case_type")
    if severity not in Severity.values:
        raise DomainError("Choose a severity.", field="severity")
    if not selectors.accounts_open_for_cases(user, case_type=case_type).filter(pk=account.pk).exists():
        _refuse_by_grant_scope(user, account, case_type, field="case_type")
        raise PermissionDeniedError("You cannot open this kind of support case on this account.")
    submission_key = submission_key_of(
        submission_token, user, account.pk, case_type, severity, subject, description
    )

    with transaction.atomic():
        # What serves the account is read under the customer's lock, and the reselling partner's: every
        # change of its plan or reseller (which locks the customer) and every end of a partner's Solution
        # Provider enrollment (which locks the partner) hands the open cases over in its transaction, so
        # a case opened at that moment either comes before it, and is handed over, or after, and sees it.
        customer = lock_or_refuse(Customer.objects.select_for_update(), account.customer_id, "customer")
        # Under that lock, so a repeat sent at the same time waits for the first and then finds its case;
        # before the plan is asked again, so a repeat is never refused what the first submit was given.
        # Back and submit again (a new token) finds it by its content while it is still as it was opened
        # (no step on it: no reply from anyone, no status change): the same problem told again once
        # support answered or resolved it, or the customer did, is back, and is a new case.
        same_case = SupportCase.objects.filter(
            opened_by=user,
            account=account,
            case_type=case_type,
            severity=severity,
            subject=subject,
            description=description,
            steps=0,
        )
        earlier = submitted_before(submission_key, same_case)
        if earlier is not None:
            return earlier, False
        opened_at = timezone.now()
        subscription = selectors.subscription_for_account(account, opened_at)
        handling_partner = selectors.handling_partner_for(subscription, account, user)
        if handling_partner is not None:
            Partner.objects.select_for_update(of=("self",)).filter(pk=handling_partner.pk).values_list(
                "pk"
            ).first()
            opened_at = timezone.now()
            subscription = selectors.subscription_for_account(account, opened_at)
            handling_partner = selectors.handling_partner_for(subscription, account, user)
        plan = subscription.plan if subscription is not None else selectors.basic_plan()
        problem = _severity_problem(plan, case_type, severity)
        if problem:
            raise DomainError(problem, field="severity")
        minutes = None
        due = None
        if case_type == CaseType.TECHNICAL:
            minutes = selectors.plan_targets(plan)[severity]
            due = first_response_due(
                opened_at,
                minutes,
                business_hours_only=plan.answers_in_business_hours_only,
                time_zone=customer.time_zone,
            )
        case = SupportCase(
            customer=customer,
            account=account,
            subscription=subscription,
            plan=plan,
            case_type=case_type,
            severity=severity,
            subject=subject,
            description=description,
            opened_by=user,
            opened_by_partner_id=user.partner_id,
            handling_partner=handling_partner,
            opened_at=opened_at,
            response_target_minutes=minutes,
            business_hours_only=bool(minutes) and plan.answers_in_business_hours_only,
            first_response_due_at=due,
            submission_key=submission_key,
        )
        validate_or_refuse(case)
        case.save()
        if severity in URGENT_SEVERITIES and handling_partner is None:
            _email_tam_of_urgent_case(case, user=user)
    return case, True


# A case of these is told to the customer's designated TAM as it is opened, not first by its breach email.
URGENT_SEVERITIES = (Severity.PRODUCTION_DOWN, Severity.BUSINESS_CRITICAL_DOWN)


def _email_tam_of_urgent_case(case: SupportCase, *, user) -> None:
    tam = selectors.tam_of(case.customer, case.subscription)
    if tam is None or not tam.is_active or not tam.email or tam.pk == user.pk:
        return
    outbox_email_enqueue_many(
        [
            OutboxEmail(
                dedupe_key=f"support-case-opened:{case.pk}:tam",
                to=[tam.email],
                readers=f"{CASE_READERS}:{case.pk}",
                subject=f"New case #{case.pk} ({case.get_severity_display()}) for {case.customer.name}",
                template="emails/support/case_opened_tam",
                context={
                    "case": case,
                    "due_at": case.first_response_due_at,
                    "time_zone": case.customer.time_zone,
                },
            )
        ]
    )


def _refuse_by_grant_scope(user, account: AwsAccount, case_type: str | None, *, field: str) -> None:
    """Refuse, beside `field`, a partner whose access grants on `account` are too narrow for the case
    (selectors.grant_scope_refusal); nothing when that is not why."""
    refusal = selectors.grant_scope_refusal(user, account, case_type)
    if refusal:
        raise DomainError(refusal, field=field)


def _locked(case: SupportCase) -> SupportCase:
    return (
        SupportCase.objects.select_for_update(of=("self",))
        .select_related("customer", "subscription")
        .get(pk=case.pk)
    )


def _reply_side(user, case: SupportCase) -> str:
    side = selectors.responder_side(user, case)
    if side:
        return side
    if selectors.user_is_case_requester(user, case):
        return ReplySide.REQUESTER
    raise PermissionDeniedError("You cannot reply to this case.")


def support_case_reply(*, user, case: SupportCase, body: str) -> CaseReply:
    """Add a reply (see support_case_reply_submit); every call is a new reply."""
    return support_case_reply_submit(user=user, case=case, body=body)[0]


def support_case_reply_submit(
    *, user, case: SupportCase, body: str, submission_token=None
) -> tuple[CaseReply, bool]:
    """Add a reply. Returns it and whether it is new, like get_or_create. Support's first one (the
    provider's, or the reselling partner's while it handles the case) is the case's first response; a
    requester's reply to a case waiting on them moves it on, and one to a resolved case reopens it.

    A first response after the deadline breaches the case here, as the support_sla check would have had
    it run first: the same breach time, email and webhook event, whichever of the two comes first.

    With the reply form's `submission_token`, the same submit sent again (a double click, Back and
    resubmit, two at once) returns the reply it stored first, and changes and sends nothing more."""
    body = (body or "").strip()
    if not body:
        raise DomainError("Write a reply.", field="body")
    submission_key = submission_key_of(submission_token, user, case.pk, body)
    with transaction.atomic():
        case = _locked(case)
        side = _reply_side(user, case)
        # Under the case's lock, so a repeat sent at the same time waits for the first and then finds its
        # reply; before the status is asked, so a repeat is not told the case it just answered moved on.
        # Back and submit again (a new token) finds it by its text while it is still the last step on the
        # case (SupportCase.steps): the same text once someone answered, or the case was resolved,
        # reopened or escalated meanwhile, is meant again, and is a new reply (that reopens a resolved case).
        same_reply = CaseReply.objects.filter(case=case, author=user, body=body, step=case.steps)
        earlier = submitted_before(submission_key, same_reply)
        if earlier is not None:
            return earlier, False
        if case.status == CaseStatus.CLOSED:
            raise ConflictError("This case is closed; open a new case if the problem is back.")
        now = timezone.now()
        case.steps += 1
        reply = CaseReply.objects.create(
            case=case, author=user, side=side, body=body, step=case.steps, submission_key=submission_key
        )
        changed = ["steps", "updated_at"]
        breached = False
        # Once the partner passed the case on, only the provider's answer stops the provider's clock.
        answers = side == ReplySide.PROVIDER_SUPPORT or (
            side == ReplySide.PARTNER_SUPPORT and case.with_partner
        )
        if answers:
            if case.first_responded_at is None:
                case.first_responded_at = now
                case.first_responder = user
                changed += ["first_responded_at", "first_responder"]
                breached = _late_first_response(case, now)
                if breached:
                    case.breached_at = case.first_response_due_at
                    changed.append("breached_at")
            if case.status == CaseStatus.OPEN:
                case.status = CaseStatus.IN_PROGRESS
                changed.append("status")
        elif side == ReplySide.REQUESTER and case.status in (
            CaseStatus.WAITING_ON_CUSTOMER,
            CaseStatus.RESOLVED,
        ):
            case.status = CaseStatus.IN_PROGRESS if case.first_responded_at else CaseStatus.OPEN
            case.resolved_at = None
            changed += ["status", "resolved_at"]
        case.save(update_fields=changed)
        if breached:
            support_cases_tell_breached(list(selectors.breach_notice(SupportCase.objects.filter(pk=case.pk))))
        if side != ReplySide.REQUESTER:
            _tell_requester(
                case,
                user,
                dedupe_key=f"support-case-reply:{reply.pk}",
                subject=f"Case #{case.pk} answered: {case.subject}",
                template="emails/support/case_answered",
                context={"reply": {"author": str(reply.author), "side": reply.side, "body": reply.body}},
            )
    return reply, True


def _tell_requester(case: SupportCase, user, *, dedupe_key: str, subject: str, template: str, context: dict):
    """Queue, in the caller's transaction, one email to whoever opened `case` about a step `user` took on
    it: the requester otherwise learns of an answer only by reloading the case's page. Nobody is told of
    their own step, nor one who has left (or has no address): the case is their organisation's, not the
    support desk's, to follow.

    A partner's people who opened it are told only while they may still read it (selectors.user_sees_case),
    now and again when the email goes out (its `readers`): once the customer no longer lets their partner
    see the case (it replaced the partner, or the grant it was opened under ended), the customer's own
    people who hear of its partners' access are told instead, and nothing more of it reaches the partner.

    Its body is written when it is sent (`context`, as JSON: render_when_sent), to whoever it goes to then:
    the requester, greeted by name, or, sent to the customer's people instead, without the partner's
    user's name, as they read it when it is queued straight to them."""
    opener = case.opened_by
    if opener.pk == user.pk or not opener.is_active:
        return
    context = {
        "case": {
            "pk": case.pk,
            "subject": case.subject,
            "status": case.status,
            "status_label": case.get_status_display(),
            "handling_partner": {"name": case.handling_partner.name} if case.handling_partner_id else None,
        },
        **context,
    }
    readers = f"{CASE_READERS}:{case.pk}"
    instead = []
    if opener.partner_id:
        # Those told of the partners' access to the customer's accounts (its access administrators, else its
        # active staff), but not of their own step.
        customer_people = _customer_recipients([case.customer_id])[case.customer_id]
        instead = [email for email in customer_people if email != user.email]
        if not selectors.user_sees_case(case.pk, opener):
            outbox_email_enqueue_many(
                [
                    OutboxEmail(
                        dedupe_key=dedupe_key,
                        to=instead,
                        for_customer=case.customer_id,
                        readers=readers,
                        subject=subject,
                        template=template,
                        context={"requester": None, **context},
                    )
                ],
                render_when_sent=True,
            )
            return
    if not opener.email:
        return
    outbox_email_enqueue_many(
        [
            OutboxEmail(
                dedupe_key=dedupe_key,
                to=[opener.email],
                # Sent later, it goes to them only while they are still of the organisation that opened it,
                # and may still read the case; else to the customer's people (`instead`), if a partner's.
                for_customer=case.customer_id if opener.customer_id else None,
                for_partner=opener.partner_id,
                readers=readers,
                otherwise_to=instead,
                otherwise_for_customer=case.customer_id if instead else None,
                subject=subject,
                template=template,
                context={"requester": {"first_name": opener.first_name}, **context},
            )
        ],
        render_when_sent=True,
    )


def _late_first_response(case: SupportCase, now: datetime.datetime) -> bool:
    """What support_sla marks: an active case past its deadline, not yet marked."""
    return (
        case.first_response_due_at is not None
        and now > case.first_response_due_at
        and case.breached_at is None
        and case.status in ACTIVE_CASE_STATUSES
    )


def support_cases_tell_breached(cases: list[SupportCase]) -> tuple[int, int]:
    """Tell whoever answers each case, just marked breached, that its first-response deadline passed: one
    email and one `support_case.breached` webhook event per case. Called once per case, by whichever
    marked it (the support_sla check, or a late first response); the email's dedupe key guards it too.
    In the caller's transaction, so both go out only if the breach is committed. `cases` come from
    selectors.breach_notice. Returns (emails queued, events that went to at least one endpoint)."""
    if not cases:
        return 0, 0
    return _email_breached(cases), _emit_breached(cases)


def or_support_desk(to: list[str | None]) -> list[str | None]:
    """`to`, or, when it names nobody with an address, the provider's support desk
    (settings.SUPPORT_TEAM_EMAIL): a notice the provider's support must hear is never left with nobody to
    tell. With that setting empty too, `to` stays empty and the outbox logs the email it could not queue."""
    if any(to) or not settings.SUPPORT_TEAM_EMAIL:
        return to
    return [settings.SUPPORT_TEAM_EMAIL]


def support_desk() -> list[str]:
    """The support desk's address (none when SUPPORT_TEAM_EMAIL is empty), as the `otherwise_to` of such a
    notice: its people may all leave before it goes out (the mail server down for a weekend), and the
    outbox then tells the desk rather than nobody."""
    return [settings.SUPPORT_TEAM_EMAIL] if settings.SUPPORT_TEAM_EMAIL else []


def _who_answers(cases: list[SupportCase]) -> dict[int, tuple[list[str | None], int | None]]:
    """Whom to tell of each case that its provider's support (or reselling partner) must act on, by case,
    with the partner they are told for (None: the provider's people): the reselling partner's staff while
    it handles the case (not its PDM, who can neither open nor answer it), else the designated TAM of the
    plan that applies to its account now, else the provider's Cloud Support Engineers; and when none of
    them has an address (a fresh install has no engineers yet), the support desk, so such a notice is never
    told to nobody."""
    # Only a partner still giving the account partner-led support (selectors.cases_partner_led) is told:
    # one the customer took it from no longer sees the case.
    with_partner = set(
        SupportCase.objects.filter(pk__in=[case.pk for case in cases if case.with_partner])
        .filter(selectors.cases_partner_led())
        .values_list("pk", flat=True)
    )
    partners = partner_contacts({case.handling_partner_id for case in cases if case.pk in with_partner})
    applying = selectors.subscriptions_applying(case.account for case in cases)
    engineers = None
    answerers = {}
    for case in cases:
        if case.pk in with_partner:
            answerers[case.pk] = (
                or_support_desk(partners[case.handling_partner_id].staff_emails),
                case.handling_partner_id,
            )
            continue
        tam = selectors.tam_of(case.customer, applying[case.account_id])
        if tam is not None and tam.is_active and tam.email:
            to = [tam.email]
        else:
            if engineers is None:
                engineers = list(
                    selectors.support_engineers().exclude(email="").values_list("email", flat=True)
                )
            to = engineers
        answerers[case.pk] = (or_support_desk(to), None)
    return answerers


def _email_breached(cases: list[SupportCase]) -> int:
    """One email per case, to whoever answers it (_who_answers); the desk too when all of those have left
    (the partner, or the provider) before the email goes out."""
    answerers = _who_answers(cases)
    emails = []
    for case in cases:
        to, for_partner = answerers[case.pk]
        emails.append(
            OutboxEmail(
                dedupe_key=f"support-case-breached:{case.pk}",
                to=to,
                for_partner=for_partner,
                # A reselling partner the customer took the account's support from meanwhile no longer
                # reads the case: the desk is told instead.
                readers=f"{CASE_READERS}:{case.pk}",
                otherwise_to=support_desk(),
                subject=f"Past its response deadline: case #{case.pk} ({case.get_severity_display()}) "
                f"for {case.customer.name}",
                template="emails/support/case_breached",
                context={
                    "case": case,
                    # The template shows it in this zone ({% timezone %}), whichever is active here.
                    "due_at": case.first_response_due_at,
                    "time_zone": case.customer.time_zone,
                    # Marked as it was answered late, or resolved or closed unanswered: nothing to answer.
                    "answered_at": case.first_responded_at,
                    "ended_unanswered": case.first_responded_at is None
                    and case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED),
                },
            )
        )
    return len(outbox_email_enqueue_many(emails))


def _emit_breached(cases: list[SupportCase]) -> int:
    from support.api.serializers import SupportCaseSerializer

    data = SupportCaseSerializer(cases, many=True).data
    deliveries = webhook_events_emit_many(
        event=WebhookEvent.SUPPORT_CASE_BREACHED,
        # The partner answering the case, and the one that opened it for its customer: both wait on it.
        items=[
            ((case.handling_partner, case.opened_by_partner), item)
            for case, item in zip(cases, data, strict=True)
        ],
        records=cases,
        visible_to=selectors.cases_visible_to,
        readers=CASE_READERS,
        record_customer_ids=[case.customer_id for case in cases],
    )
    return len({delivery.event_id for delivery in deliveries})


def support_case_status_change(*, user, case: SupportCase, status: str) -> SupportCase:
    if status not in CaseStatus.values:
        raise DomainError("Choose a status.", field="status")
    with transaction.atomic():
        case = _locked(case)
        # Who may set what is the rule the status form offers (selectors.case_settable_statuses); a
        # closed case, or the status it has, are refused below with their own reason.
        allowed = selectors.case_statuses_for(user, case)
        if not allowed:
            raise PermissionDeniedError("You cannot reply to this case.")
        if status not in allowed:
            labels = " or ".join(CaseStatus(value).label.lower() for value in allowed)
            raise PermissionDeniedError(f"You can set this case to {labels}.")
        if case.status == CaseStatus.CLOSED:
            raise ConflictError("This case is closed.")
        if case.status == status:
            raise ConflictError(f"The case is already {case.get_status_display().lower()}.")
        now = timezone.now()
        unanswered_late = case.first_responded_at is None and _late_first_response(case, now)
        if status in DONE_CASE_STATUSES and unanswered_late:
            # Resolving or closing ends the wait the support_sla check looks at: a deadline already missed
            # is marked first, as the check (or a late reply) would have, with the same email and event.
            marked, _, _ = support_cases_mark_breached(
                SupportCase.objects.filter(pk=case.pk), now, becoming=status
            )
            if marked:
                case.breached_at = marked[0].breached_at
        case.status = status
        if status in DONE_CASE_STATUSES:
            case.resolved_at = case.resolved_at or now
        else:
            case.resolved_at = None
        case.steps += 1
        case.save(update_fields=["status", "resolved_at", "steps", "updated_at"])
        waits_on_them = status == CaseStatus.WAITING_ON_CUSTOMER
        if status in DONE_CASE_STATUSES or waits_on_them:
            # Keyed by the step: a case resolved (or waiting on its requester), moved on and resolved (or
            # waiting) again is told each time; the same change sent again is refused above, so told once.
            # A case waiting on its requester waits for nobody else: unless told, they would not know.
            about = "waits for your reply" if waits_on_them else case.get_status_display().lower()
            _tell_requester(
                case,
                user,
                dedupe_key=f"support-case-status:{case.pk}:{case.steps}",
                subject=f"Case #{case.pk} {about}: {case.subject}",
                template="emails/support/case_status_changed",
                context={"changed_by": str(user)},
            )
    return case


def support_case_escalate(*, user, case: SupportCase) -> SupportCase:
    """The reselling partner passes a case on to the provider's support."""
    with transaction.atomic():
        case = _locked(case)
        if not selectors.user_handles_case(user, case):
            raise PermissionDeniedError("Only the partner handling this case can pass it on to the provider.")
        if case.escalated_at is not None:
            raise ConflictError("This case was already passed on to the provider.")
        if case.status in DONE_CASE_STATUSES:
            raise ConflictError("This case is resolved; it needs no escalation.")
        case.escalated_at = timezone.now()
        case.steps += 1
        case.save(update_fields=["escalated_at", "steps", "updated_at"])
        # The provider's support answers it from now on: told at once, not first by its breach email.
        _email_provider_answers(
            [case],
            dedupe_key=lambda case: f"support-case-escalated:{case.pk}",
            subject=lambda case: (
                f"Passed on by {case.handling_partner.name}: case #{case.pk} "
                f"({case.get_severity_display()}) for {case.customer.name}"
            ),
            context=lambda case: {"partner": case.handling_partner.name},
        )
    return case


def _email_provider_answers(cases: list[SupportCase], *, dedupe_key, subject, context, actor=None) -> None:
    """Tell whoever now answers each case at the provider (_who_answers: its designated TAM, else the Cloud
    Support Engineers, else the support desk) that it is theirs, the reselling partner (`context`'s
    "partner") having passed it on, or (with "why") no longer giving the account partner-led support.
    Sent only to those who may still read the case then, else to the desk. `actor`, who made the change,
    is not told of it."""
    if not cases:
        return
    answerers = _who_answers(cases)
    actor_email = getattr(actor, "email", None)
    emails = []
    for case in cases:
        to = [address for address in answerers[case.pk][0] if not actor_email or address != actor_email]
        if not to:
            continue
        emails.append(
            OutboxEmail(
                dedupe_key=dedupe_key(case),
                to=to,
                readers=f"{CASE_READERS}:{case.pk}",
                otherwise_to=support_desk(),
                subject=subject(case),
                template="emails/support/case_escalated",
                context={
                    "case": case,
                    "due_at": case.first_response_due_at,
                    "time_zone": case.customer.time_zone,
                    **context(case),
                },
            )
        )
    outbox_email_enqueue_many(emails)
