"""Writes of the partner domain. Each use case takes the acting user, opens its own transaction and
raises a DomainError with a message for that user; views, the admin, the API and tasks all call these."""

import contextlib
import csv
import datetime
import hashlib
import io
import json
import logging
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, OuterRef, Q, Subquery, Value, When
from django.urls import reverse
from django.utils import timezone
from django_countries import countries
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from apn_portal.dates import add_months
from apn_portal.exceptions import (
    ConflictError,
    DomainError,
    GoneError,
    PermissionDeniedError,
    lock_or_refuse,
    validate_or_refuse,
)
from apn_portal.forms import submitted_before
from apn_portal.history import history_bulk_create
from apn_portal.http import ip_address_or_none
from apn_portal.outbox.services import outbox_email_enqueue, outbox_email_enqueue_many
from apn_portal.text import short_list
from partners import events
from partners.choices import (
    LIVE_ENROLLMENT_STATUSES,
    AuditResult,
    CertificationLevel,
    ContactRequestStatus,
    EnrollmentStatus,
    PartnerType,
    ProfileChangeStatus,
    ProgramKind,
    TierChangeSource,
)
from partners.models import (
    PROFILE_CHANGE_FIELDS,
    Certification,
    ContactRequest,
    CustomerReference,
    Partner,
    ProfileChangeRequest,
    Program,
    ProgramEnrollment,
    StaffMember,
    Tier,
    TierChange,
    certification_default_expiry,
)
from partners.search_index import partner_search_refresh
from partners.selectors import (
    minimum_tier_rungs,
    minimum_tier_shortfall,
    partner_is_editable_by,
    partners_editable_by,
    tier_evaluate,
)
from partners.signals import (
    enrollments_tier_changes_touch,
    partner_changes_batched,
    partners_published_touch,
)

logger = logging.getLogger(__name__)


def _ensure_can_edit(partner: Partner, user) -> None:
    if not partner_is_editable_by(partner, user):
        raise PermissionDeniedError(
            f"You cannot change {partner.name}: only its assigned PDM or a superuser can."
        )


def _lock(partner: Partner) -> Partner:
    """The partner's row locked, read with no join: PostgreSQL checks a locked row's joins again against
    the row as a concurrent write left it, so a partner whose tier changed while this waited would not be
    found at all. Its tier (read when asked, once the lock is held) is the current one, and is not
    locked: edits of partners on one tier do not wait on each other."""
    return lock_or_refuse(Partner.objects.select_for_update(), partner.pk, "partner")


def program_lock(program_id: int) -> Program:
    """The program's row locked against a change of whom it is open to (`program_update`), read as it is
    once the lock is held. Applying for it and approving or renewing an enrollment in it take this lock
    before they ask whether the program is open to the partner's type (`enrollment_program_closed`), and
    a program's update takes it before it asks who holds it (`program_partner_type_change_check`): each
    then reads what the other committed, where two checks at once each passed, an application to a
    program made closed to its partner meanwhile was saved, and could never be approved. Taken after the
    partner's row and before the enrollment's, the order every write of them takes."""
    return lock_or_refuse(Program.objects.select_for_update(no_key=True), program_id, "program")


def enrollment_lock(enrollment: ProgramEnrollment, *related: str, program: bool = False) -> ProgramEnrollment:
    """The enrollment, locked after its partner: a partner's row before its enrollments' is the order
    every write of both takes (a partner's edit touches its enrollments, the program renewal check locks
    partners then enrollments), so two of them never wait on each other. With `program`, its program's
    row in between (`program_lock`), for a write that asks whether the program is open to the partner."""
    Partner.objects.select_for_update(of=("self",)).filter(pk=enrollment.partner_id).values_list("pk").first()
    if program:
        program_lock(enrollment.program_id)
    return lock_or_refuse(
        ProgramEnrollment.objects.select_for_update(of=("self",)).select_related("partner", *related),
        enrollment.pk,
        "program enrollment",
    )


def partner_history_bulk_create(partners: list[Partner], user=None, reason: str | None = None) -> None:
    """The history rows a save of each of `partners` writes (as they are in memory), by `user` (None: a
    scheduled check, or the request's user within one), saying `reason`, with the tag lists each version
    records (Partner.history's m2m_fields), in a constant number of statements however many partners
    (apn_portal.history.history_bulk_create)."""
    history_bulk_create(partners, user=user, reason=reason)


def _tier_change_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the tier changes.", field="reason")
    return reason


def _tier_change_record(
    locked: Partner, to_tier: Tier, *, reason: str, source: str, user, at: datetime.datetime
) -> TierChange:
    """The change (not yet saved) that moves a locked partner to `to_tier`, refused unless the tier is
    another of its ladder; the partner is moved in memory, to be saved by the caller."""
    if to_tier.partner_type != locked.partner_type:
        raise DomainError(
            f"{to_tier} is not on the {locked.get_partner_type_display()} ladder.", field="to_tier"
        )
    if to_tier.pk == locked.tier_id:
        raise ConflictError(f"{locked.name} is already {locked.tier.name}.", field="to_tier")
    change = TierChange(
        partner=locked,
        from_tier=locked.tier,
        to_tier=to_tier,
        reason=reason,
        source=source,
        changed_by=user,
        changed_at=at,
    )
    locked.tier = to_tier
    # A grace period is for keeping the tier it was started on: on another tier it no longer runs
    # (tier_health starts a new one if the partner falls short of this tier too).
    locked.grace_started_on = locked.grace_ends_on = None
    locked._history_user = user  # outside a request, simple-history cannot tell who acted
    return change


def partner_tier_change(
    *,
    partner: Partner,
    to_tier: Tier,
    reason: str,
    user=None,
    source: str = TierChangeSource.MANUAL,
    at: datetime.datetime | None = None,
) -> TierChange:
    """Move a partner to another tier of its ladder (a promotion or a demotion) and record why."""
    reason = _tier_change_reason(reason)
    if source == TierChangeSource.MANUAL:
        if user is None:
            raise DomainError("A manual tier change needs the person making it.")
        _ensure_can_edit(partner, user)
    else:
        user = None
    with transaction.atomic():
        locked = _lock(partner)
        change = _tier_change_record(
            locked, to_tier, reason=reason, source=source, user=user, at=at or timezone.now()
        )
        change.save(force_insert=True)
        locked.save(update_fields=["tier", "grace_started_on", "grace_ends_on", "updated_at"])
        enrollments_tier_changes_touch([change], at=locked.updated_at)
        if source == TierChangeSource.MANUAL:  # the check keeps the figures of its own demotions
            _tier_health_refresh(locked)
            # The check's demotions are emailed by the check (emails/checks/tier_demoted).
            _tier_changed_tell(change, user)
        events.tier_changed(change)
    partner.tier = to_tier
    partner.at_risk_from, partner.qualifies_for_tier_id = locked.at_risk_from, locked.qualifies_for_tier_id
    return change


def _tier_changed_tell(change: TierChange, user) -> None:
    """The partner's staff and PDM read a PDM's promotion or demotion as they read the scheduled check's:
    the new tier, the old one, the reason given, and whom to ask about it (its PDM; for a partner without
    a current one, whoever made the change). Once per change, in its transaction."""
    from partners.checks.contacts import partner_contacts  # the checks package imports this module

    contacts = partner_contacts([change.partner_id]).get(change.partner_id)
    if contacts is None:
        return
    promoted = change.to_tier.rank > change.from_tier.rank
    changed_by = user.get_full_name() or user.get_username()
    outbox_email_enqueue(
        dedupe_key=f"tier-changed:{change.pk}",
        to=contacts.staff_and_pdm,
        for_partner=contacts.partner_id,
        subject=(
            f"{contacts.name} is promoted to {change.to_tier.name}"
            if promoted
            else f"{contacts.name} is now {change.to_tier.name} (was {change.from_tier.name})"
        ),
        template="emails/tier_changed",
        context={
            "partner": contacts,
            "change": change,
            "promoted": promoted,
            "changed_by": changed_by,
            "changed_by_email": user.email,
            "scorecard_path": reverse("my:scorecard"),
            "pdm_path": contacts.pdm_path_with_staff,
        },
    )


@dataclass(frozen=True)
class TierMove:
    partner: Partner
    to_tier: Tier
    reason: str


def partner_tier_change_many(
    *, moves: list[TierMove], source: str, at: datetime.datetime | None = None
) -> list[TierChange]:
    """partner_tier_change for many partners at once, by a scheduled check (a person moves one partner at
    a time): the same rules and the same records (the change, the partner's history row, its search
    entry, the webhook event) in a constant number of statements however many partners move. Refused as
    a whole when one move is."""
    if source == TierChangeSource.MANUAL:
        raise DomainError("A person changes one partner's tier at a time.")
    reasons = [_tier_change_reason(move.reason) for move in moves]
    if not moves:
        return []
    if len({move.partner.pk for move in moves}) < len(moves):
        raise DomainError("A partner moves to one tier at a time: name each partner once.")
    at = at or timezone.now()
    with transaction.atomic():
        # Locked by pk, the order every write of many partners takes; with no join, as _lock says.
        locked = {
            p.pk: p
            for p in Partner.objects.select_for_update()
            .filter(pk__in=[move.partner.pk for move in moves])
            .order_by("pk")
        }
        if len(locked) < len(moves):
            raise GoneError("This partner no longer exists: it was deleted meanwhile.")
        tiers = Tier.objects.in_bulk({p.tier_id for p in locked.values()})
        for partner in locked.values():
            partner.tier = tiers[partner.tier_id]
        changes = [
            _tier_change_record(
                locked[move.partner.pk], move.to_tier, reason=reason, source=source, user=None, at=at
            )
            for move, reason in zip(moves, reasons, strict=True)
        ]
        TierChange.objects.bulk_create(changes)
        moved = [change.partner for change in changes]
        now = timezone.now()
        for partner in moved:
            partner.updated_at = now
        # One UPDATE: the new tier by partner, the rest the same for all (a save's `updated_at` included).
        by_tier: dict[int, list[int]] = {}
        for partner in moved:
            by_tier.setdefault(partner.tier_id, []).append(partner.pk)
        Partner.objects.filter(pk__in=[p.pk for p in moved]).update(
            tier_id=Case(*(When(pk__in=pks, then=Value(tier_id)) for tier_id, pks in by_tier.items())),
            grace_started_on=None,
            grace_ends_on=None,
            updated_at=now,
        )
        enrollments_tier_changes_touch(changes, at=now)
        # The history rows a save writes (the partners as just updated, with their tags).
        partner_history_bulk_create(moved)
        # What the saves' signals do (partners.search_signals; the slug is unchanged), in one statement.
        partner_search_refresh([p.pk for p in moved])
        events.tier_changes(changes)
    for move in moves:
        move.partner.tier = move.to_tier
    return changes


def _tier_health_refresh(partner: Partner) -> None:
    """The figures the tier_health check keeps (the day the partner falls short, the tier it qualifies
    for) worked out again for the tier it now holds, as the check does, rather than left from the old tier
    until its next run. A partner short of its new tier has none: its grace period, and the emails that
    start it, are the next run's."""
    # The checks build on these services: imported when called.
    from partners.checks.tier_health import partner_tier_health

    health = partner_tier_health(partner, timezone.localdate())
    partner.at_risk_from = health.at_risk_from if health else None
    partner.qualifies_for_tier_id = health.qualifies_for_tier_id if health else None
    Partner.objects.filter(pk=partner.pk).update(
        at_risk_from=partner.at_risk_from, qualifies_for_tier_id=partner.qualifies_for_tier_id
    )


def partner_tier_recompute(*, partner: Partner, user) -> TierChange | None:
    """Set the partner to the tier its evidence qualifies it for, now. Returns the change, or None."""
    _ensure_can_edit(partner, user)
    evaluation = tier_evaluate(partner)
    if evaluation.qualified_tier.pk == partner.tier_id:
        return None
    direction = "Promoted" if evaluation.qualifies_for_more else "Demoted"
    reason = f"{direction} on recomputation: qualifies for {evaluation.qualified_tier.name}"
    if evaluation.current_tier_shortfalls and not evaluation.qualifies_for_more:
        reason += (
            " ("
            + "; ".join(s.message for s in evaluation.current_tier_shortfalls)
            + f" to stay {evaluation.current_tier.name})"
        )
    return partner_tier_change(partner=partner, to_tier=evaluation.qualified_tier, reason=reason, user=user)


def _partner_type_change_obstacles(partner: Partner, partner_type: str, to_tier: Tier) -> list[str]:
    """What stands in the way of `partner` becoming a `partner_type` partner, for its PDM to resolve first:
    records the new type's own rules would refuse (a program closed to it, consulting categories, an
    engagement role it may not hold). Each is a decision about somebody else's record (the partner's
    application, a customer's engagement), so none is undone here on the PDM's behalf."""
    # Engagements build on partners: read their rules when asked, not when this module loads.
    from engagements.choices import CLOSED_ENGAGEMENT_STATUSES
    from engagements.selectors import contracts_opening_engagements_to, partner_role_problem
    from partners.services_records import partner_categories_check

    label = PartnerType(partner_type).label
    obstacles = []
    closed = list(
        partner.enrollments.filter(status__in=LIVE_ENROLLMENT_STATUSES)
        .exclude(program__partner_type="")
        .exclude(program__partner_type=partner_type)
        .order_by("program__name")
        .values_list("program__name", flat=True)
    )
    if closed:
        obstacles.append(
            f"revoke its applications and enrollments in programs closed to {label} partners "
            f"({', '.join(closed)})"
        )
    # The tier it would hold must still be one its programs ask for: else the scheduled check would
    # revoke them after the grace period, as if the partner had fallen below them.
    # Its minimum is the rung of the ladder it would be on (none there: it would be below it).
    rung_rank = minimum_tier_rungs(partner_type, OuterRef("program__minimum_tier__slug")).values("rank")[:1]
    above = list(
        partner.enrollments.filter(status__in=LIVE_ENROLLMENT_STATUSES, program__minimum_tier__isnull=False)
        .annotate(minimum_rank=Subquery(rung_rank))
        .filter(Q(minimum_rank__isnull=True) | Q(minimum_rank__gt=to_tier.rank))
        .order_by("program__name")
        .values_list("program__name", "program__minimum_tier__name")
    )
    if above:
        needs = ", ".join(f"{name} needs {minimum}" for name, minimum in above)
        obstacles.append(
            f"resolve its enrollments in programs whose minimum tier is above the {to_tier.name} tier it "
            f"would hold as a {label} partner ({needs})"
        )
    categories = list(partner.categories.values_list("name", flat=True))
    try:
        partner_categories_check(partner_type, categories)
    except DomainError:
        obstacles.append(f"remove its consulting categories ({', '.join(categories)})")
    # The roles it holds now, asked of the partner as it would be: the same rule that adding it asks.
    candidate = Partner(pk=partner.pk, name=partner.name, partner_type=partner_type, tier_id=partner.tier_id)
    # A contract that is over (replaced, ended early or run out) is no role it holds.
    roles = (
        contracts_opening_engagements_to(partner.pk)
        .exclude(engagement__status__in=CLOSED_ENGAGEMENT_STATUSES)
        .select_related("engagement__customer")
        .order_by("engagement__title", "role", "pk")
    )
    refused_roles: dict[str, bool] = {}
    held = []
    for engaged in roles:
        if engaged.role not in refused_roles:
            refused_roles[engaged.role] = partner_role_problem(candidate, engaged.role) is not None
        if refused_roles[engaged.role]:
            held.append(f"{engaged.get_role_display()} on {engaged.engagement}")
    if held:
        obstacles.append(f"hand over the engagement roles a {label} partner cannot hold ({'; '.join(held)})")
    return obstacles


def partner_type_change(*, user, partner: Partner, partner_type: str, reason: str) -> TierChange:
    """Correct a partner's type (consulting or technology), which its tier ladder follows: the partner
    moves to the tier its evidence earns on the new type's ladder (its entry tier when it earns none),
    recorded as a tier change with the reason, as any other. Refused while records the new type's rules
    would refuse still stand, with all of them named."""
    reason = (reason or "").strip()
    if partner_type not in PartnerType.values:
        raise DomainError(f"Choose a partner type: {', '.join(PartnerType.values)}.", field="partner_type")
    if not reason:
        raise DomainError("Say why the partner's type is corrected.", field="reason")
    _ensure_can_edit(partner, user)
    label = PartnerType(partner_type).label
    with transaction.atomic():
        locked = _lock(partner)
        # The programs it holds or applied for (program_lock), so that none is made closed to the new
        # type while this asks whether they are open to it.
        list(
            Program.objects.select_for_update(no_key=True, of=("self",))
            .filter(enrollments__partner=locked, enrollments__status__in=LIVE_ENROLLMENT_STATUSES)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if locked.partner_type == partner_type:
            raise ConflictError(f"{locked.name} is already a {label} partner.", field="partner_type")
        if not Tier.objects.filter(partner_type=partner_type).exists():
            raise DomainError(f"There is no tier ladder for {label} partners.", field="partner_type")
        candidate = Partner(pk=locked.pk, partner_type=partner_type, tier_id=locked.tier_id)
        to_tier = tier_evaluate(candidate).qualified_tier
        obstacles = _partner_type_change_obstacles(locked, partner_type, to_tier)
        if obstacles:
            raise DomainError(
                f"{locked.name} cannot become a {label} partner yet. First " + "; ".join(obstacles) + ".",
                field="partner_type",
            )
        # The type and the tier are one change: the type is written first, with no signal or history row,
        # so partner_tier_change (which refuses a tier of another ladder) moves the partner, and its save
        # records both, refreshes the search entry, works out the new ladder's tier health and announces
        # the tier change.
        Partner.objects.filter(pk=locked.pk).update(partner_type=partner_type)
        change = partner_tier_change(
            partner=partner,
            to_tier=to_tier,
            reason=f"Partner type corrected from {locked.get_partner_type_display()} to {label}: {reason}",
            user=user,
        )
    partner.partner_type = partner_type
    return change


def partners_set_published(*, partners: list[Partner], published: bool, user) -> list[Partner]:
    """Publish or unpublish partners on Find-a-Partner, all of them or (one not the user's to change)
    none; returns those it changed, the others being so already. A fixed number of statements however
    many: a PDM's bulk action on 1,000 partners took 20 s one partner at a time, near the web server's
    timeout. Each changed partner gets its history row, naming the user, and its search entry."""
    for partner in partners:
        _ensure_can_edit(partner, user)
    with transaction.atomic():
        # Locked in pk order, read with no join (see _lock).
        locked = list(
            Partner.objects.select_for_update()
            .filter(pk__in=[partner.pk for partner in partners])
            .order_by("pk")
        )
        changed = [partner for partner in locked if partner.is_published != published]
        now = timezone.now()
        for partner in changed:
            partner.is_published, partner.updated_at = published, now
        Partner.objects.bulk_update(changed, ["is_published", "updated_at"], batch_size=1000)
        # A bulk update sends no signal: what a partner's save does for the records publishing shows.
        partners_published_touch([partner.pk for partner in changed], published=published, at=now)
        partner_history_bulk_create(changed, user=user)
        if changed:
            partner_search_refresh([partner.pk for partner in changed])
    return changed


def enrollment_program_closed(partner: Partner, program: Program) -> str | None:
    """Why `program` is closed to `partner`'s type, or None if it is open to it: applying and approving
    both refuse with this."""
    if program.partner_type and program.partner_type != partner.partner_type:
        return f"{program.name} is only open to {program.get_partner_type_display()} partners."
    return None


def program_partner_type_change_check(*, program: Program, partner_type: str) -> None:
    """Refuse to open `program` to `partner_type` partners only while partners of the other type hold it
    or have applied for it (a live enrollment), naming them: closing it under them would leave an approval
    counted for their tier that can be neither renewed nor applied for again (enrollment_program_closed).
    Their PDMs decide what becomes of each, as when a partner's own type is corrected."""
    if not partner_type or program.pk is None:
        return
    live = list(
        program.enrollments.filter(status__in=LIVE_ENROLLMENT_STATUSES)
        .exclude(partner__partner_type=partner_type)
        .order_by("partner__name", "partner_id")
        .values_list("partner__name", "status")
    )
    if live:
        labels = dict(EnrollmentStatus.choices)
        held = short_list((f"{name} ({labels[status].lower()})" for name, status in live), 10)
        raise DomainError(
            f"{program.name} cannot be made open only to {PartnerType(partner_type).label} partners while "
            f"partners of the other type hold it or have applied for it: {held}. Their PDMs first revoke "
            "these enrollments or applications, or correct the partners' type.",
            field="partner_type",
        )


def program_update(*, program: Program, user) -> Program:
    """Save a PDM's edit of `program` (as edited in memory). Whom it is open to changes only as
    `program_partner_type_change_check` allows, asked under the program's lock (`program_lock`): a form
    checked before the save does not see an application filed meanwhile, which the program would then be
    closed to."""
    with transaction.atomic():
        stored = program_lock(program.pk)
        if program.partner_type != stored.partner_type:
            program_partner_type_change_check(program=stored, partner_type=program.partner_type)
        program._history_user = user
        program.save()
    return program


def enrollment_approve_check(
    *, enrollment: ProgramEnrollment, approved_on: datetime.date | None = None
) -> datetime.date:
    """Refuse an approval the rules do not allow; otherwise return the day the approved enrollment would
    expire. The rules of approval live here alone: `enrollment_approve` asks, and the admin's approve
    action reports its refusal as it is."""
    today = timezone.localdate()
    approved_on = approved_on or today
    if approved_on > today:
        raise DomainError(
            f"An approval cannot be dated in the future ({approved_on:%d %b %Y}); give today's date or an "
            "earlier one.",
            field="approved_on",
        )
    program = enrollment.program
    if enrollment.status == EnrollmentStatus.APPROVED:
        raise ConflictError(f"This enrollment in {program.name} is already approved.")
    if enrollment.status not in LIVE_ENROLLMENT_STATUSES:
        # Its state no longer allows it, as revoking it again: a conflict, not bad input.
        raise ConflictError(
            f"An enrollment that is {enrollment.get_status_display().lower()} cannot be approved; "
            "the partner applies again."
        )
    if approved_on < enrollment.applied_on:
        raise DomainError(
            "An approval cannot be dated before the application it answers "
            f"({enrollment.applied_on:%d %b %Y}).",
            field="approved_on",
        )
    return _enrollment_term(
        enrollment,
        approved_on=approved_on,
        audit_date=enrollment.audit_date,
        audit_result=enrollment.audit_result,
    )


def _enrollment_term(
    enrollment: ProgramEnrollment,
    *,
    approved_on: datetime.date,
    audit_date: datetime.date | None,
    audit_result: str,
) -> datetime.date:
    """What an approval and a renewal both stand on (the program open to the partner's type, its minimum
    tier held, its audit passed, and held no later than the approval): refuse a term they do not allow,
    otherwise return the day a term approved on `approved_on` ends, by the program's validity."""
    today = timezone.localdate()
    partner, program = enrollment.partner, enrollment.program
    closed = enrollment_program_closed(partner, program)
    if closed:
        raise DomainError(closed)
    short_of_minimum = minimum_tier_shortfall(partner, program)
    if short_of_minimum:
        raise DomainError(short_of_minimum)
    if program.audit_required and audit_result != AuditResult.PASSED:
        raise DomainError(f"{program.name} needs a passed audit before approval.", field="audit_result")
    if program.audit_required and audit_date is not None and approved_on < audit_date:
        # The renewal asks for an audit held after the approval (enrollment_renew_check): one dated
        # before its own audit would let that same audit renew it at once.
        raise DomainError(
            f"An approval cannot be dated before the audit it stands on ({audit_date:%d %b %Y}).",
            field="approved_on",
        )
    expires_on = add_months(approved_on, program.validity_months)
    if expires_on <= today:
        # It would never count, yet the partner and the integrators would be told it was approved.
        raise DomainError(
            f"Approved on {approved_on:%d %b %Y}, the enrollment would have expired on "
            f"{expires_on:%d %b %Y} ({program.name} is valid for {program.validity_months} months): "
            "give a later approval date.",
            field="approved_on",
        )
    return expires_on


def enrollment_approve(
    *, enrollment: ProgramEnrollment, user, approved_on: datetime.date | None = None
) -> ProgramEnrollment:
    """Approve an open enrollment: the partner must hold the program's minimum tier and pass its audit
    (`enrollment_approve_check`)."""
    approved_on = approved_on or timezone.localdate()
    with transaction.atomic():
        locked = enrollment_lock(enrollment, "partner__tier", "program__minimum_tier", program=True)
        _ensure_can_edit(locked.partner, user)
        expires_on = enrollment_approve_check(approved_on=approved_on, enrollment=locked)
        locked.status = EnrollmentStatus.APPROVED
        locked.approved_on = approved_on
        locked.approval_audit_date = locked.audit_date
        locked.approved_by = user
        locked.expires_on = expires_on
        locked.status_reason = ""
        locked._history_user = user
        locked.save()
        _enrollment_tell(locked, user, "approved")
        events.enrollment_approved(locked)
    return locked


def enrollment_start_review(*, enrollment: ProgramEnrollment, user) -> ProgramEnrollment:
    """A PDM takes up an application: applied becomes under review. It is approved (or revoked) from
    there as from applied; an application approved straight away skips it."""
    with transaction.atomic():
        locked = enrollment_lock(enrollment, "program")
        _ensure_can_edit(locked.partner, user)
        if locked.status != EnrollmentStatus.APPLIED:
            state = locked.get_status_display().lower()
            if locked.status == EnrollmentStatus.UNDER_REVIEW:
                raise ConflictError(f"This enrollment in {locked.program.name} is already under review.")
            raise ConflictError(
                f"This enrollment is {state}: only an application still applied for is taken up."
            )
        locked.status = EnrollmentStatus.UNDER_REVIEW
        locked._history_user = user
        locked._change_reason = "Review started"
        locked.save(update_fields=["status", "updated_at"])
    return locked


# The last place on Earth where a day ends (UTC-12).
_LATEST_TIME_ZONE = zoneinfo.ZoneInfo("Etc/GMT+12")


def enrollment_schedule_audit_check(
    *, audit_date: datetime.date | None, enrollment: ProgramEnrollment | None = None
) -> None:
    """Refuse an audit schedule the rules do not allow. Without an enrollment, only the date is checked:
    the admin's form asks so, before it schedules the audit of each of the selected enrollments, and says
    what the API says."""
    if audit_date is None:
        raise DomainError("Give the day the audit is to be held.", field="audit_date")
    # Partners and PDMs work in every time zone: a day not yet over somewhere on Earth is not the past.
    if audit_date < timezone.localdate(timezone=_LATEST_TIME_ZONE):
        raise DomainError(
            f"An audit cannot be scheduled in the past ({audit_date:%d %b %Y}); give today's date or a "
            "later one.",
            field="audit_date",
        )
    if enrollment is None:
        return
    program = enrollment.program
    if enrollment.status not in LIVE_ENROLLMENT_STATUSES:
        raise ConflictError(
            f"This enrollment is {enrollment.get_status_display().lower()}: the partner applies again."
        )
    if enrollment.status == EnrollmentStatus.APPROVED:
        raise ConflictError(
            f"This enrollment is approved: {program.name} is renewed on its next audit, not scheduled "
            "for one."
        )
    if not program.audit_required:
        raise DomainError(f"{program.name} needs no audit: approve the enrollment without one.")
    if enrollment.audit_result == AuditResult.PASSED:
        raise ConflictError(
            f"This enrollment passed its audit of {enrollment.audit_date:%d %b %Y}: approve it rather than "
            "schedule another."
        )
    if (
        enrollment.status == EnrollmentStatus.AUDIT_SCHEDULED
        and enrollment.audit_date is not None
        and not enrollment.audit_result
    ):
        raise ConflictError(
            f"This enrollment's audit is already scheduled for {enrollment.audit_date:%d %b %Y}: correct "
            "the audit date on the enrollment to move it."
        )


def enrollment_schedule_audit(
    *, enrollment: ProgramEnrollment, user, audit_date: datetime.date | None
) -> ProgramEnrollment:
    """A PDM schedules the third-party audit an application to a program that requires one waits for:
    applied or under review becomes audit scheduled, on the audit's date. Once the audit is held, its
    date and result are recorded on the enrollment (`enrollment_update`) and it is approved (on a passed
    audit) or revoked from there, as from applied. A failed audit recorded may be followed by another."""
    enrollment_schedule_audit_check(audit_date=audit_date)
    with transaction.atomic():
        locked = enrollment_lock(enrollment, "program")
        _ensure_can_edit(locked.partner, user)
        enrollment_schedule_audit_check(audit_date=audit_date, enrollment=locked)
        locked.status = EnrollmentStatus.AUDIT_SCHEDULED
        # A result recorded (a failed audit) was the previous audit's: the new one has none yet.
        locked.audit_date, locked.audit_result = audit_date, ""
        locked._history_user = user
        locked._change_reason = f"Audit scheduled for {audit_date:%d %b %Y}"
        locked.save(update_fields=["status", "audit_date", "audit_result", "updated_at"])
        _enrollment_tell(locked, user, "audit")
    return locked


def enrollment_renew_check(
    *,
    audit_date: datetime.date | None = None,
    audit_result: str = "",
    enrollment: ProgramEnrollment | None = None,
) -> datetime.date | None:
    """Refuse a renewal the rules do not allow; otherwise return the day the renewed enrollment expires.
    Without an enrollment, only the audit sent is checked: the admin's renew form asks so, before it renews
    each of the selected enrollments, and says what the API says.

    A renewal is an approval again, today, of an approved enrollment still in force, so its term follows
    without a gap: by the rules of approval (`_enrollment_term`), on an audit held since it was approved
    (sent with the renewal, or recorded on the enrollment before) that passed. A failed audit is refused
    as recording it on the approved enrollment is: the enrollment stays as it is, to be revoked with a
    reason if the partner no longer meets the program."""
    if audit_result and audit_date is None:
        raise DomainError("An audit result needs the audit's date.", field="audit_date")
    if audit_date is not None and not audit_result:
        # Without it, the new date would be read with the result of the audit it was approved on.
        raise DomainError(
            "Give the new audit's result: a renewal stands on a passed audit.", field="audit_result"
        )
    if audit_result and audit_result != AuditResult.PASSED:
        raise DomainError(
            "A failed audit does not renew the enrollment: it stays approved until it expires; revoke it "
            "with a reason rather than record the failed audit on it.",
            field="audit_result",
        )
    if enrollment is None:
        return None
    today = timezone.localdate()
    program = enrollment.program
    state = enrollment.get_status_display().lower()
    if enrollment.status not in LIVE_ENROLLMENT_STATUSES:
        raise ConflictError(f"An enrollment that is {state} cannot be renewed; the partner applies again.")
    if enrollment.status != EnrollmentStatus.APPROVED:
        raise ConflictError(f"This enrollment is {state}, not approved yet: approve it rather than renew it.")
    if enrollment.expires_on < today:
        raise ConflictError(
            f"This enrollment expired on {enrollment.expires_on:%d %b %Y}: it cannot be renewed; the partner "
            "applies again."
        )
    changes = {"audit_date": audit_date, "audit_result": audit_result} if audit_date is not None else {}
    held_on = changes.get("audit_date", enrollment.audit_date)
    result = changes.get("audit_result", enrollment.audit_result)
    if changes or program.audit_required:
        if held_on is None or result != AuditResult.PASSED:
            raise DomainError(
                f"{program.name} is renewed on a new passed audit: give its date and result.",
                field="audit_date",
            )
        # A new audit is held after the approval and after the audit the approval stood on: an approval
        # is no longer dated before its audit (_enrollment_term), but one backdated before that rule was
        # (approval_audit_date says so), and its audit is not a new one.
        if held_on <= enrollment.approved_on:
            raise DomainError(
                f"The audit of {held_on:%d %b %Y} is not newer than the approval of "
                f"{enrollment.approved_on:%d %b %Y}: give the date of the new audit.",
                field="audit_date",
            )
        stood_on = enrollment.approval_audit_date
        if stood_on is not None and held_on <= stood_on:
            raise DomainError(
                f"The audit of {held_on:%d %b %Y} is not newer than the audit of {stood_on:%d %b %Y} the "
                f"approval of {enrollment.approved_on:%d %b %Y} stands on: give the date of the new audit.",
                field="audit_date",
            )
    # The rules of what an enrollment records (an audit with a result is not in the future) live with
    # the records; that module builds on this one, so it is imported when called.
    from partners.services_records import _enrollment_record_check

    _enrollment_record_check(enrollment, changes)
    if (changes or program.audit_required) and held_on > today:
        # Held today where the day has begun, not yet here: the renewal, dated today, would precede it.
        raise DomainError(
            f"Renewed today ({today:%d %b %Y}), the enrollment would be approved before the audit it "
            f"stands on ({held_on:%d %b %Y}): renew it on that day or later.",
            field="audit_date",
        )
    expires_on = _enrollment_term(enrollment, approved_on=today, audit_date=held_on, audit_result=result)
    if expires_on <= enrollment.expires_on:
        raise ConflictError(
            f"Renewed today, it would expire on {expires_on:%d %b %Y}, no later than it does now "
            f"({enrollment.expires_on:%d %b %Y}): there is nothing to renew yet."
        )
    return expires_on


def enrollment_renew(
    *, enrollment: ProgramEnrollment, user, audit_date: datetime.date | None = None, audit_result: str = ""
) -> ProgramEnrollment:
    """Renew an approved enrollment before it expires, on its new passed audit (`enrollment_renew_check`):
    the audit sent is recorded, and the enrollment is approved again today, by this user, for the
    program's validity. Integrators hear of it as of an approval (`enrollment.approved`, with the new
    dates); the history keeps the term it replaces."""
    enrollment_renew_check(audit_date=audit_date, audit_result=audit_result)
    with transaction.atomic():
        locked = enrollment_lock(enrollment, "partner__tier", "program__minimum_tier", program=True)
        _ensure_can_edit(locked.partner, user)
        expires_on = enrollment_renew_check(
            audit_date=audit_date, audit_result=audit_result, enrollment=locked
        )
        if audit_date is not None:
            locked.audit_date, locked.audit_result = audit_date, audit_result
        previous = locked.expires_on
        locked.approved_on = timezone.localdate()
        locked.approval_audit_date = locked.audit_date
        locked.approved_by = user
        locked.expires_on = expires_on
        locked._history_user = user
        locked._change_reason = (
            f"Renewed until {expires_on:%d %b %Y} (was {previous:%d %b %Y}) on the audit of "
            f"{locked.audit_date:%d %b %Y}"
            if locked.audit_date
            else f"Renewed until {expires_on:%d %b %Y} (was {previous:%d %b %Y})"
        )
        locked.save()
        _enrollment_tell(locked, user, "renewed", previous_expires_on=previous)
        events.enrollment_approved(locked)
    return locked


def enrollment_revoke_check(*, reason: str, enrollment: ProgramEnrollment | None = None) -> str:
    """Refuse a revocation the rules do not allow; otherwise return the reason as recorded. Without an
    enrollment, only the reason is checked: the admin's revoke form asks so, before it revokes each of
    the selected enrollments, and says what the API says."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the enrollment is revoked.", field="reason")
    if enrollment is not None and enrollment.status not in LIVE_ENROLLMENT_STATUSES:
        raise ConflictError(f"This enrollment is already {enrollment.get_status_display().lower()}.")
    return reason


def enrollment_revoke(*, enrollment: ProgramEnrollment, user, reason: str) -> ProgramEnrollment:
    reason = enrollment_revoke_check(reason=reason)
    with transaction.atomic():
        locked = enrollment_lock(enrollment, "program")
        _ensure_can_edit(locked.partner, user)
        enrollment_revoke_check(reason=reason, enrollment=locked)
        # Revoking an application refuses it: it was never validated, nor on the public profile.
        application = locked.status != EnrollmentStatus.APPROVED
        locked.status = EnrollmentStatus.REVOKED
        locked.status_reason = reason
        locked._history_user = user
        locked.save()
        # The reason is written for the partner; the customer is told only what changed.
        _partner_led_cases_follow(
            locked, user=user, why=f"{user} revoked its {locked.program.name} enrollment"
        )
        _enrollment_revoked_tell(locked, user, application=application)
        events.enrollments_revoked([locked])
    return locked


def _enrollment_revoked_tell(enrollment: ProgramEnrollment, user, *, application: bool) -> None:
    """The partner's staff and PDM read why, as when the scheduled check revokes one (the same email and
    key: an enrollment is revoked once, and they are told once)."""
    from partners.checks.contacts import enrollment_emails  # the checks package imports this module

    revoked_by = user.get_full_name() or user.get_username()
    outbox_email_enqueue_many(
        enrollment_emails(
            [enrollment],
            key=lambda e: f"enrollment-revoked:{e.pk}",
            subject=lambda e, name: (
                f"{name}: {e.program.name} " + ("application not accepted" if application else "was revoked")
            ),
            template="emails/checks/enrollment_revoked",
            extra=lambda e: {"revoked_by": revoked_by, "application": application},
        )
    )


def _day(day: datetime.date) -> str:
    return f"{day.day} {day:%b %Y}"  # as the emails' templates write a day ("j M Y")


_ENROLLMENT_NEWS_TEMPLATES = {
    "approved": "emails/enrollment_approved",
    "renewed": "emails/enrollment_approved",
    "audit": "emails/enrollment_audit_scheduled",
}


def _enrollment_news_key(enrollment: ProgramEnrollment, event: str, version: int | None) -> str:
    """Once per event: an enrollment is approved once, each renewal is keyed by the term it gives and each
    audit scheduled by the enrollment's history version its decision saved (another may follow a failed
    one, on the same day too; the day alone would drop its email as the first's)."""
    if event == "approved":
        return f"enrollment-approved:{enrollment.pk}"
    if event == "renewed":
        return f"enrollment-renewed:{enrollment.pk}:{enrollment.expires_on.isoformat()}"
    return f"enrollment-audit:{enrollment.pk}:{enrollment.audit_date.isoformat()}:{version}"


def _enrollment_news_subject(enrollment: ProgramEnrollment, event: str, partner_name: str) -> str:
    if event == "approved":
        about = "approved"
    elif event == "renewed":
        about = f"renewed until {_day(enrollment.expires_on)}"
    else:
        about = f"audit on {_day(enrollment.audit_date)}"
    return f"{partner_name}: {enrollment.program.name} {about}"


def _enrollment_tell(
    enrollment: ProgramEnrollment, user, event: str, *, previous_expires_on: datetime.date | None = None
) -> None:
    """The partner's staff and PDM read a PDM's decision on an enrollment (its approval, its renewal, its
    audit scheduled) as they read its revocation: queued in the decision's own transaction."""
    from partners.checks.contacts import enrollment_emails  # the checks package imports this module

    decided_by = user.get_full_name() or user.get_username()
    # The history row the decision just saved, under the enrollment's lock: each decision has its own and
    # keeps it, so a decision queued twice is one email and the next decision (whatever its day) another.
    version = None
    if event == "audit":
        version = enrollment.history.order_by("-history_id").values_list("history_id", flat=True).first()
    outbox_email_enqueue_many(
        enrollment_emails(
            [enrollment],
            key=lambda e: _enrollment_news_key(e, event, version),
            subject=lambda e, name: _enrollment_news_subject(e, event, name),
            template=_ENROLLMENT_NEWS_TEMPLATES[event],
            extra=lambda e: {
                "decided_by": decided_by,
                "renewed": event == "renewed",
                "previous_expires_on": previous_expires_on,
                "programs_path": reverse("my:programs"),
            },
        )
    )


def _partner_led_cases_follow(enrollment: ProgramEnrollment, *, user, why: str) -> None:
    """A Solution Provider enrollment that ends takes the partner's partner-led support with it: the open
    cases it handles, at every customer, go to the provider's support, a line on each saying why. In the
    caller's transaction, after the enrollment's row is saved."""
    if enrollment.program.kind != ProgramKind.SOLUTION_PROVIDER:
        return
    # Support builds on engagements and partners: imported when called, never at module level.
    from support.services import support_cases_follow_partner_led_support_for_partners

    support_cases_follow_partner_led_support_for_partners(
        partner_ids=[enrollment.partner_id], why={enrollment.partner_id: why}, user=user
    )


# CSV import of certifications ------------------------------------------------------------------------

CERTIFICATION_CSV_COLUMNS = [
    "partner",
    "staff_name",
    "staff_email",
    "name",
    "level",
    "credential_id",
    "earned_on",
    "expires_on",
]
CERTIFICATION_CSV_REQUIRED = ["partner", "staff_name", "name", "level", "earned_on"]
CERTIFICATION_IMPORT_MAX_ROWS = 50_000


@dataclass
class CertificationImportResult:
    created: int = 0
    staff_created: int = 0
    # Rows naming a certification the person already holds (recorded, or on an earlier row of the file).
    already_recorded: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)

    @property
    def ok(self) -> bool:
        return not self.errors


def _parse_date(value: str, column: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column} '{value}' is not a date in the form YYYY-MM-DD") from None


# The columns kept as text, each with the model field whose rules it must meet (email is checked apart).
CERTIFICATION_CSV_TEXT_FIELDS = {
    "staff_name": (StaffMember, "full_name"),
    "name": (Certification, "name"),
    "credential_id": (Certification, "credential_id"),
}


def _csv_separator(data: str) -> str:
    """The separator of the file's columns, told by its header: a comma, or the semicolon (or tab) Excel
    writes where the list separator is ";" (German, French, Dutch...). Column names hold none of them."""
    header = data.partition("\n")[0]
    return max((",", ";", "\t"), key=header.count)


def _certification_csv_rows(data: str, result: CertificationImportResult) -> list[tuple[int, dict]] | None:
    """The file's rows that hold something, with their line numbers; None when the file cannot be read on
    (what stops it is in `result.errors`)."""
    # newline="": the csv module finds the line endings itself, a classic Mac's lone CR included.
    reader = csv.DictReader(io.StringIO(data, newline=""), delimiter=_csv_separator(data))
    try:
        header = [(name or "").strip() for name in (reader.fieldnames or [])]
        missing = [column for column in CERTIFICATION_CSV_REQUIRED if column not in header]
        if missing:
            result.errors.append((1, f"The header lacks the column(s): {', '.join(missing)}."))
            return None
        reader.fieldnames = header

        rows = []
        for row in reader:
            if reader.line_num - 1 > CERTIFICATION_IMPORT_MAX_ROWS:
                result.errors.append(
                    (reader.line_num, f"Import at most {CERTIFICATION_IMPORT_MAX_ROWS} rows at once.")
                )
                return None
            if None in row:
                result.errors.append((reader.line_num, "The row has more fields than the header."))
                continue
            values = {key: (value or "").strip() for key, value in row.items()}
            if not any(values.values()):
                continue
            if any("\x00" in value for value in values.values()):
                # Before any of it reaches a query: PostgreSQL text cannot hold one.
                result.errors.append(
                    (reader.line_num, "The row holds a NUL character; save the file as CSV text.")
                )
                continue
            rows.append((reader.line_num, values))
    except csv.Error as error:  # an unclosed quote, a field over the csv module's size limit
        # The underlying reader's count: DictReader's own stops at the last row it gave.
        result.errors.append((max(reader.reader.line_num, 1), f"This line cannot be read as CSV: {error}."))
        return None
    return rows


def _certification_key(person, name: str, level: str, earned_on: datetime.date) -> tuple:
    """What makes a person's certification the same one on another row: its name (whatever the case),
    level and day earned."""
    return (person, name.casefold(), level, earned_on)


def _certification_label(person, name: str, level: str, earned_on: datetime.date) -> str:
    return f"{name}, earned {earned_on:%-d %b %Y}"


def _credential_clash(holder: tuple, person, key: tuple, *, another_person: str, another_certification: str):
    """Why a row for the certification `key` of `person` cannot carry a credential id that is `holder`'s
    (person, name, level, day earned): None when it is the same certification."""
    if holder[0] != person:
        return another_person
    if _certification_key(*holder) != key:
        return f"{another_certification} of this person ({_certification_label(*holder)})."
    return None


def certifications_import_csv(*, data: bytes | str, user) -> CertificationImportResult:
    """Import certifications from CSV: all rows or none. Every bad row is reported with its line number.

    Columns: partner (slug), staff_name, staff_email (optional; identifies the person when given),
    name, level, credential_id (optional), earned_on, expires_on (optional: three years after earning).
    A row naming a certification its person already holds (the same name, level and day earned), recorded
    or on an earlier row of the file, is skipped and counted as already recorded: importing a file again,
    or next month's export with this month's rows, adds only what is new. A credential id held by someone
    else, or by the same person for another certification (another name, level or day earned), is a bad
    row, as is one repeated in the file for another person or another certification. A staff member not
    yet on the partner's record is added; an email nobody has yet goes to the one person of that name
    recorded without an email, if there is one (several: the row is refused). A row without an email is
    the one person of that name (several, recorded or added by earlier rows: the row is refused).
    """
    result = CertificationImportResult()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            result.errors.append((line, "The file is not UTF-8 text; save it as CSV UTF-8 and try again."))
            return result
    data = data.removeprefix("\ufeff")
    if not data.strip():
        result.errors.append((1, "The file is empty: its first line should be the header."))
        return result
    rows = _certification_csv_rows(data, result)
    if rows is None:
        return result
    if not rows and not result.errors:
        result.errors.append((1, "The file has no rows to import."))
        return result

    with transaction.atomic():
        return _certifications_import_rows(rows, user, result)


def _certifications_import_rows(rows, user, result: CertificationImportResult) -> CertificationImportResult:
    """certifications_import_csv's rows checked against what is recorded, then written, in the caller's
    transaction. The file's partners are locked first, in pk order: the same file imported twice at once
    (a double click, two PDMs) waits for the first import, then finds its rows recorded, where both would
    have read the people and certifications before either wrote, and recorded each row twice."""
    editable = {
        partner.slug: partner
        for partner in partners_editable_by(user)
        .filter(slug__in={values["partner"] for _, values in rows})
        # Not FOR UPDATE: that would hold every insert naming one of these partners (a contact request,
        # a staff member) until the import ends; another import of them waits all the same.
        .select_for_update(no_key=True)
        .order_by("pk")
    }
    known_partner_slugs = set(
        Partner.objects.filter(slug__in={values["partner"] for _, values in rows}).values_list(
            "slug", flat=True
        )
    )
    staff_by_email: dict[tuple[int, str], StaffMember] = {}
    # Everyone by name, recorded or added by an earlier row: a row without an email is the one person of
    # its name, and is refused when there are several (crediting one of them would be a guess).
    staff_by_name: dict[tuple[int, str], list[StaffMember]] = {}
    # People recorded without an email, by name: a row giving an email nobody has yet is such a person
    # (imported once without one), who gets the email, rather than a namesake counted twice toward a
    # people requirement.
    unmailed_by_name: dict[tuple[int, str], list[StaffMember]] = {}
    for member in StaffMember.objects.filter(partner__in=editable.values()):
        if member.email:
            staff_by_email[(member.partner_id, member.email.lower())] = member
        staff_by_name.setdefault((member.partner_id, member.full_name.casefold()), []).append(member)
        if not member.email:
            unmailed_by_name.setdefault((member.partner_id, member.full_name.casefold()), []).append(member)
    emailed: list[StaffMember] = []  # recorded people given the email of a row
    credential_ids = [values["credential_id"] for _, values in rows if values.get("credential_id")]
    days_earned = set()
    for _, values in rows:
        with contextlib.suppress(ValueError):  # not a day: the row is refused below
            days_earned.add(datetime.date.fromisoformat(values.get("earned_on", "")))
    # What is recorded already, in one query: whose each credential id is, and what the people of the
    # file's partners hold (earned on one of its days), so a row naming either is known for what it is.
    # Each credential id recorded: the certification it is for, as (person, name, level, day earned).
    credential_holders: dict[str, tuple] = {}
    held: set[tuple] = set()  # (person, name casefolded, level, day earned)
    for member_id, cert_name, cert_level, cert_earned_on, cert_credential in Certification.objects.filter(
        Q(credential_id__in=credential_ids)
        | Q(staff_member__partner__in=editable.values(), earned_on__in=days_earned)
    ).values_list("staff_member_id", "name", "level", "earned_on", "credential_id"):
        if cert_credential:
            credential_holders[cert_credential] = (member_id, cert_name, cert_level, cert_earned_on)
        held.add((member_id, cert_name.casefold(), cert_level, cert_earned_on))

    # Each credential id of the file, with its first line and the certification it named there, as
    # (person, name, level, day earned).
    seen_credentials: dict[str, tuple[int, tuple]] = {}
    to_create = []  # (staff key or member, certification)
    for line, values in rows:
        problems = []
        for column in CERTIFICATION_CSV_REQUIRED:
            if not values.get(column):
                problems.append(f"{column} is required")
        slug = values["partner"]
        partner = editable.get(slug)
        if slug and partner is None:
            problems.append(
                f"partner '{slug}' does not exist"
                if slug not in known_partner_slugs
                else f"you cannot change partner '{slug}'"
            )
        level = values.get("level", "").lower()
        if level and level not in CertificationLevel.values:
            problems.append(f"level '{values['level']}' is not one of {', '.join(CertificationLevel.values)}")
        earned_on = expires_on = None
        for column in ("earned_on", "expires_on"):
            if values.get(column):
                try:
                    parsed = _parse_date(values[column], column)
                except ValueError as exc:
                    problems.append(str(exc))
                    continue
                try:
                    # The model's own rules for the day (not in the future, plausible), as the admin and
                    # the API apply them.
                    Certification._meta.get_field(column).run_validators(parsed)
                except ValidationError as error:
                    problems.append(f"{column}: {' '.join(error.messages).rstrip('.')}")
                    continue
                if column == "earned_on":
                    earned_on = parsed
                else:
                    expires_on = parsed
        if earned_on and not expires_on:
            expires_on = certification_default_expiry(earned_on)
        if earned_on and expires_on and expires_on <= earned_on:
            problems.append("expires_on must be after earned_on")
        email = values.get("staff_email", "").lower()
        if email:
            try:
                StaffMember._meta.get_field("email").run_validators(email)
            except ValidationError:
                problems.append(f"staff_email '{values['staff_email']}' is not an email address")
        for column, (model, field_name) in CERTIFICATION_CSV_TEXT_FIELDS.items():
            if values.get(column):
                try:
                    # The model's own limits (a length), as the admin and the API apply them.
                    model._meta.get_field(field_name).run_validators(values[column])
                except ValidationError as error:
                    problems.append(f"{column}: {' '.join(error.messages).rstrip('.')}")
        if problems:
            result.errors.append((line, "; ".join(problems) + "."))
            continue
        name = values["staff_name"].casefold()
        if email:
            member = staff_by_email.get((partner.pk, email))
        else:
            namesakes = staff_by_name.get((partner.pk, name), [])
            if len(namesakes) > 1:
                result.errors.append(
                    (
                        line,
                        f"staff_email is empty and {len(namesakes)} people are named "
                        f"'{values['staff_name']}': it is unclear which one this is. Give the email address "
                        "of that person on the partner's record.",
                    )
                )
                continue
            member = namesakes[0] if namesakes else None
        if member is None and email:
            namesakes = unmailed_by_name.get((partner.pk, name), [])
            if len(namesakes) > 1:
                result.errors.append(
                    (
                        line,
                        f"staff_email '{values['staff_email']}' is nobody's yet and {len(namesakes)} people "
                        f"named '{values['staff_name']}' have no email: it is unclear which one this is. "
                        "Give that person the email address on the partner's record first.",
                    )
                )
                continue
            if namesakes:
                member = namesakes.pop()
                member.email = email
                staff_by_email[(partner.pk, email)] = member
                if member.pk is not None:
                    emailed.append(member)
        if member is None:
            member = StaffMember(partner=partner, full_name=values["staff_name"], email=email)
            if email:
                staff_by_email[(partner.pk, email)] = member
            else:
                unmailed_by_name.setdefault((partner.pk, name), []).append(member)
            # A later row naming the person without an email is this person too, as a recorded one is.
            staff_by_name.setdefault((partner.pk, name), []).append(member)
        # A person added by an earlier row has no id yet: the object itself stands for them.
        person = member.pk if member.pk is not None else ("added", id(member))
        certification_key = _certification_key(person, values["name"], level, earned_on)
        credential = values.get("credential_id", "")
        recorded = credential_holders.get(credential) if credential else None
        first_line, first = seen_credentials.get(credential, (None, None)) if credential else (None, None)
        # The credential id of another person, or of another of this person's certifications (a typo or a
        # conflict, for the importer to settle, not a row already recorded): recorded, or on a line above.
        clash = (
            recorded
            and _credential_clash(
                recorded,
                person,
                certification_key,
                another_person=f"credential_id '{credential}' is already recorded for another person.",
                another_certification=f"credential_id '{credential}' is recorded for another certification",
            )
        ) or (
            first
            and _credential_clash(
                first,
                person,
                certification_key,
                another_person=f"credential_id '{credential}' repeats line {first_line}.",
                another_certification=f"credential_id '{credential}' is on line {first_line} for another "
                "certification",
            )
        )
        if clash:
            result.errors.append((line, clash))
            continue
        if credential and first_line is None:
            seen_credentials[credential] = (line, (person, values["name"], level, earned_on))
        if certification_key in held:
            # The person holds it already: recorded, or on an earlier row of this file.
            result.already_recorded += 1
            continue
        held.add(certification_key)
        to_create.append(
            (
                member,
                Certification(
                    name=values["name"],
                    level=level,
                    credential_id=credential,
                    earned_on=earned_on,
                    expires_on=expires_on,
                ),
            )
        )
    if result.errors:
        result.errors.sort()  # rows with too many fields were reported while reading, before the rest
        return result

    try:
        with transaction.atomic():
            new_members = [
                member for member in {id(m): m for m, _ in to_create}.values() if member.pk is None
            ]
            # In bulk, as the certifications: a save per person (and the search refresh its signal makes)
            # took a file of thousands of people past the web server's timeout. With their history rows,
            # so a person's history shows who added them, or gave them an email address, by an import.
            bulk_create_with_history(new_members, StaffMember, batch_size=1000, default_user=user)
            now = timezone.now()
            for member in emailed:
                member.updated_at = now  # bulk_update leaves auto_now alone
            bulk_update_with_history(
                emailed, StaffMember, ["email", "updated_at"], batch_size=1000, default_user=user
            )
            certifications = []
            for member, certification in to_create:
                certification.staff_member = member
                certifications.append(certification)
            # With history rows, so the audit trail shows who imported each certification.
            bulk_create_with_history(certifications, Certification, batch_size=1000, default_user=user)
            # A bulk insert sends no signals: bring Find-a-Partner's counts up to date in one statement.
            if to_create:  # a file all already recorded changes no count
                partner_search_refresh({member.partner_id for member, _ in to_create})
    except IntegrityError:
        # A concurrent import or edit took a credential id or an email between our check and our write:
        # nothing was kept.
        result.errors.append(
            (
                1,
                "Another import or edit recorded some of these credential ids or staff emails meanwhile; "
                "try again.",
            )
        )
        return result
    result.created = len(certifications)
    result.staff_created = len(new_members)
    return result


# Contact requests (leads) -----------------------------------------------------------------------------

CONTACT_REQUEST_FIELDS = ("name", "email", "company", "country", "message", "project_size", "timeline")


def _contact_request_recipients(partner: Partner):
    """Whom to tell of a new lead (PartnerContacts.staff_or_pdm): the partner's own active users; when it
    has none yet, its PDM, who passes the lead on."""
    from partners.checks.contacts import partner_contacts  # the checks package imports this module

    return partner_contacts([partner.pk])[partner.pk]


def contact_request_country(value) -> str:
    """The country a contact request names, as its ISO 3166-1 alpha-2 code in any case ("de " is Germany
    too); anything else is refused. The model's own validation would read it as a numeric or alpha-3 code
    ("12" is Algeria), and fail on digits int() cannot read ("²"). The API's field asks it too, so that
    its answer lists this error with the others."""
    code = str(value).strip().upper()
    if code not in countries.countries:
        raise DomainError(
            f"There is no country with the code “{code}”: give its ISO 3166-1 alpha-2 code, e.g. DE.",
            field="country",
        )
    return code


def _contact_request_build(partner: Partner, data: dict, ip: str | None) -> ContactRequest:
    if not partner.is_published:
        raise DomainError(f"{partner.name} does not take contact requests at the moment.")
    values = {name: data.get(name) or "" for name in CONTACT_REQUEST_FIELDS}
    if values["country"]:
        values["country"] = contact_request_country(values["country"])
    # A proxy that did not know the client's address wrote `unknown`: the lead is kept without one.
    contact_request = ContactRequest(partner=partner, submitted_from_ip=ip_address_or_none(ip), **values)
    validate_or_refuse(contact_request, exclude=["reference", "partner", "submission_key"])
    return contact_request


def _contact_request_submission_key(contact_request: ContactRequest, submission_token) -> str | None:
    """The digest that makes one submit of the form one request: the same token sent again to the same
    partner with the same text. The same token with another partner or other text (a customer who went
    back and edited it, a shared cached page) gives another key, so it is a new request and never shows
    anyone the earlier one."""
    if not submission_token:
        return None
    parts = [str(submission_token), str(contact_request.partner_id)]
    parts += [str(getattr(contact_request, name)) for name in CONTACT_REQUEST_FIELDS]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _contact_request_sent_before(contact_request: ContactRequest, submission_key: str | None):
    """The request a submit of the form repeats (apn_portal.forms.submitted_before): the same submit (its
    key), or the same text to the same partner sent through the form shortly before (Back, when the
    browser fetches the profile again, puts back what was typed under a new token) that the partner has
    not answered yet: once it accepted or declined it, the same text sent again is meant, a new request.
    None for a new one, and for requests without a form."""
    same_text = {name: getattr(contact_request, name) for name in CONTACT_REQUEST_FIELDS}
    return submitted_before(
        submission_key,
        ContactRequest.objects.filter(
            partner_id=contact_request.partner_id, status=ContactRequestStatus.NEW, **same_text
        ),
    )


def contact_request_submitted_before(
    *, partner: Partner, data: dict, submission_token=None
) -> ContactRequest | None:
    """The request this very submit already stored (the form sent twice), if any; None for a new one.

    Lets the contact page answer a repeat before its throttle, which counts only new requests.
    """
    try:
        contact_request = _contact_request_build(partner, data, ip=None)
    except DomainError:
        return None  # the service refuses it; nothing was stored for it either
    key = _contact_request_submission_key(contact_request, submission_token)
    return _contact_request_sent_before(contact_request, key)


def contact_request_submit(
    *, partner: Partner, data: dict, ip: str | None = None, submission_token=None
) -> tuple[ContactRequest, bool]:
    """Store a customer's contact request and queue the partner's notification, in one transaction.
    Returns the request and whether it is new, like get_or_create.

    The email is sent by a task after commit; if the broker or the mail server is down it stays in the
    outbox and is retried, so the request is never lost and never half-stored.

    With the contact form's `submission_token`, the same submit sent again (a double click, a retry, two
    at once, Back and resubmit) returns the request it stored first, and stores, emails and notifies
    nothing more.
    """
    contact_request = _contact_request_build(partner, data, ip)
    contact_request.submission_key = _contact_request_submission_key(contact_request, submission_token)
    earlier = _contact_request_sent_before(contact_request, contact_request.submission_key)
    if earlier is not None:
        return earlier, False
    try:
        with transaction.atomic():
            contact_request.save()
            events.contact_request_created(contact_request)
            contacts = _contact_request_recipients(partner)
            if contacts.staff_or_pdm:
                # The PDM, told instead of staff, cannot open the partner's inbox: they get the admin's page.
                pdm_told = not contacts.staff_emails
                outbox_email_enqueue(
                    dedupe_key=f"contact-request:{contact_request.reference}:partner",
                    to=contacts.staff_or_pdm,
                    for_partner=partner.pk,
                    subject=f"New contact request {contact_request.reference} from {contact_request.company}",
                    template="emails/contact_request_new",
                    context={
                        "contact_request": contact_request,
                        "partner": partner,
                        "lead_path": reverse("my:lead-detail", args=[contact_request.reference]),
                        "pdm_path": reverse("admin:partners_contactrequest_change", args=[contact_request.pk])
                        if pdm_told
                        else "",
                    },
                )
            else:
                # Still stored and shown in the admin; a PDM assigned later sees it there.
                logger.warning(
                    "Contact request %s: %s has nobody to notify", contact_request.reference, partner
                )
    except IntegrityError:
        # The same submit, sent at the same time, committed first: the unique key kept this one out, and
        # the rolled-back savepoint took its webhook event and email with it.
        earlier = (
            ContactRequest.objects.filter(submission_key=contact_request.submission_key).first()
            if contact_request.submission_key
            else None
        )
        if earlier is None:
            raise
        return earlier, False
    return contact_request, True


def contact_request_create(*, partner: Partner, data: dict, ip: str | None = None) -> ContactRequest:
    """Store a customer's contact request (see contact_request_submit); every call is a new request."""
    return contact_request_submit(partner=partner, data=data, ip=ip)[0]


def _lead_for_response(contact_request: ContactRequest, user) -> ContactRequest:
    if not user.is_authenticated or user.partner_id is None or user.partner_id != contact_request.partner_id:
        raise PermissionDeniedError("Only the partner's own staff can answer this contact request.")
    locked = lock_or_refuse(ContactRequest.objects.select_for_update(), contact_request.pk, "contact request")
    if locked.status != ContactRequestStatus.NEW:
        raise ConflictError(
            f"Contact request {locked.reference} was already {locked.get_status_display().lower()}."
        )
    return locked


def contact_request_accept(*, contact_request: ContactRequest, user) -> ContactRequest:
    """The partner takes the lead on: it will get in touch with the customer."""
    with transaction.atomic():
        locked = _lead_for_response(contact_request, user)
        locked.status = ContactRequestStatus.ACCEPTED
        locked.responded_at = timezone.now()
        locked.responded_by = user
        locked.save(update_fields=["status", "responded_at", "responded_by", "updated_at"])
    return locked


def contact_request_decline(*, contact_request: ContactRequest, user, reason: str) -> ContactRequest:
    reason = (reason or "").strip()
    with transaction.atomic():
        # A lead already answered is refused first, whatever the reason: it came from a page older than
        # that answer, which no longer offers to decline.
        locked = _lead_for_response(contact_request, user)
        if not reason:
            raise DomainError("Say why you decline this request.", field="reason")
        locked.status = ContactRequestStatus.DECLINED
        locked.decline_reason = reason
        locked.responded_at = timezone.now()
        locked.responded_by = user
        locked.save(update_fields=["status", "decline_reason", "responded_at", "responded_by", "updated_at"])
    return locked


# Profile changes proposed by a partner ------------------------------------------------------------------


def profile_change_submit(
    *, partner: Partner, user, description: str, website: str, industries, use_cases, changed=None
) -> tuple[ProfileChangeRequest, bool]:
    """A partner's staff propose new profile text and tags; its PDM approves them before they go live.
    Returns the proposal and whether it is new, like get_or_create.

    `changed` names the fields the sender changed on their page (the form's page state says what it
    showed). Only those are the sender's: every other field stays as it now stands, the live profile with
    the waiting proposal's changes over it, which is what the form starts from. So a correction the PDM
    made after the page was opened is not proposed back as the partner's, and a colleague's proposal sent
    meanwhile is not dropped: what is sent is laid over it. None (a page sent without its state, a script)
    takes every field that differs from the profile as it now stands as changed.

    A proposal still waiting is replaced by the one laid over it, so the PDM only ever reviews the latest.
    Nothing new sent (a double click, Back and resend, a colleague sending the same) returns the one still
    waiting: no second proposal, no second email to the PDM. A proposal left changing nothing of the live
    profile (the partner set back what it proposed) withdraws the waiting one (returned, WITHDRAWN).
    """
    if not user.is_authenticated or user.partner_id != partner.pk:
        raise PermissionDeniedError(f"Only {partner.name}'s own staff can propose changes to its profile.")
    sent = {
        "description": (description or "").strip(),
        "website": (website or "").strip(),
        "industries": {industry.pk for industry in industries},
        "use_cases": {use_case.pk for use_case in use_cases},
    }

    def values_of(source) -> dict:
        return {
            "description": source.description,
            "website": source.website,
            "industries": set(source.industries.values_list("pk", flat=True)),
            "use_cases": set(source.use_cases.values_list("pk", flat=True)),
        }

    with transaction.atomic():
        # Locked so two colleagues proposing at once lay theirs over each other's in turn, and so a repeat
        # sent at the same time waits here and then finds the proposal the first one stored.
        locked = lock_or_refuse(Partner.objects.select_for_update(), partner.pk, "partner")
        # Its row locked too, as the update below locks it anyway: if a PDM is deciding it right now, this
        # waits and then no longer finds it pending, rather than answering with a proposal just decided.
        pending = (
            locked.profile_change_requests.select_for_update()
            .filter(status=ProfileChangeStatus.PENDING)
            .first()
        )
        live = values_of(locked)
        standing = dict(live)
        if pending is not None:
            waiting = values_of(pending)
            standing |= {name: waiting[name] for name in pending.fields_changed}
        by_sender = [
            name
            for name in PROFILE_CHANGE_FIELDS
            if (changed is None or name in changed) and sent[name] != standing[name]
        ]
        proposed = standing | {name: sent[name] for name in by_sender}
        fields_changed = [name for name in PROFILE_CHANGE_FIELDS if proposed[name] != live[name]]
        if pending is not None and not by_sender:
            return pending, False
        if not fields_changed:
            if pending is None:
                raise DomainError("These are the profile's current values: change something to propose it.")
            # What the waiting proposal changed, set back while it waits: the partner thought better of it.
            pending.status = ProfileChangeStatus.WITHDRAWN
            pending.save(update_fields=["status", "updated_at"])
            return pending, False
        locked.profile_change_requests.filter(status=ProfileChangeStatus.PENDING).update(
            status=ProfileChangeStatus.SUPERSEDED, updated_at=timezone.now()
        )
        change = ProfileChangeRequest.objects.create(
            partner=locked,
            proposed_by=user,
            description=proposed["description"],
            website=proposed["website"],
            fields_changed=fields_changed,
        )
        change.industries.set(proposed["industries"])
        change.use_cases.set(proposed["use_cases"])
        if pending is not None:
            _profile_change_replaced_notify(pending, change)
        # A PDM who has left (deactivated, out of the provider's staff, or without the role) is no PDM:
        # like a partner without one, nobody is told, and the proposal waits in the admin for whoever
        # takes the partner on.
        if locked.pdm_id and locked.pdm.is_pdm and locked.pdm.email:
            outbox_email_enqueue(
                dedupe_key=f"profile-change:{change.pk}:proposed",
                to=[locked.pdm.email],
                subject=f"{locked.name} proposes changes to its profile",
                template="emails/profile_change_proposed",
                context={
                    "partner": locked,
                    "change": change,
                    "proposed_by": user,
                    "admin_path": reverse("admin:partners_profilechangerequest_change", args=[change.pk]),
                },
            )
    return change, True


def _profile_change_for_decision(change: ProfileChangeRequest, user) -> ProfileChangeRequest:
    # The partner's row first, then the proposal: the order a proposer takes them in. Taken the other way
    # round, a decision and a proposal made at the same moment would deadlock.
    partner = lock_or_refuse(Partner.objects.select_for_update(), change.partner_id, "partner")
    locked = (
        ProfileChangeRequest.objects.select_for_update(of=("self",))
        .select_related("proposed_by")
        .get(pk=change.pk)
    )
    locked.partner = partner
    _ensure_can_edit(partner, user)
    if locked.status != ProfileChangeStatus.PENDING:
        raise ConflictError(f"This proposal is already {locked.get_status_display().lower()}.")
    return locked


def _profile_change_recipients(change: ProfileChangeRequest) -> list[str]:
    """The proposer and those whose proposals it replaced and still proposes changes of (replaced(): the
    decision is on them too; one whose every change was changed again is not told that anything of theirs
    went live), each while still one of the partner's active staff; if none is, the partner's staff. The
    decision and the PDM's reason are the partner's: never for someone who has left it, perhaps for a
    competitor."""
    from partners.checks.contacts import partner_contacts  # the checks package imports this module

    emails = []
    for proposer in [change.proposed_by, *(kept.proposal.proposed_by for kept in change.replaced())]:
        email = _profile_change_proposer_email(proposer, change.partner_id)
        if email and email not in emails:
            emails.append(email)
    return emails or partner_contacts([change.partner_id])[change.partner_id].staff_emails


def _profile_change_proposer_email(proposer, partner_id: int) -> str:
    """Where a proposer is told of their proposal: their address while they are one of the partner's
    active staff; else nowhere ("")."""
    still_theirs = proposer is not None and proposer.is_active and proposer.partner_id == partner_id
    return proposer.email if still_theirs else ""


def _profile_change_replaced_notify(replaced: ProfileChangeRequest, change: ProfileChangeRequest) -> None:
    """Tell the proposer of `replaced` that `change` was laid over it, and which of their changes it still
    proposes: the rest will not go live with it, and nobody would tell them so otherwise (one whose every
    change was changed again hears of no decision). Nobody is told of their own proposal replacing theirs,
    nor anyone who has left the partner (its proposals are the partner's business)."""
    if replaced.proposed_by_id is None or replaced.proposed_by_id == change.proposed_by_id:
        return
    if not (to := _profile_change_proposer_email(replaced.proposed_by, change.partner_id)):
        return
    (kept,) = ProfileChangeRequest.kept_of([(replaced, change)])
    outbox_email_enqueue(
        dedupe_key=f"profile-change:{replaced.pk}:replaced",
        to=[to],
        for_partner=change.partner_id,
        subject=f"Your proposed profile changes for {change.partner.name} were replaced",
        template="emails/profile_change_replaced",
        context={
            "kept": kept,
            "partner": change.partner,
            "replaced_by": change.proposed_by or "a former colleague",
            "time_zone": settings.TIME_ZONE,
            "profile_path": reverse("my:profile"),
        },
    )


def _profile_change_notify(change: ProfileChangeRequest) -> None:
    if to := _profile_change_recipients(change):
        outbox_email_enqueue(
            dedupe_key=f"profile-change:{change.pk}:{change.status}",
            to=to,
            for_partner=change.partner_id,
            subject=f"Your profile changes for {change.partner.name}: {change.get_status_display().lower()}",
            template="emails/profile_change_decided",
            context={"change": change, "partner": change.partner, "profile_path": reverse("my:profile")},
        )


def profile_change_approve(*, change: ProfileChangeRequest, user) -> ProfileChangeRequest:
    """Put a proposal live: the partner's profile takes what the partner changed (and keeps whatever its
    PDM corrected meanwhile in the rest), and the history shows who."""
    # The partner's save and each tag list's change would each refresh its search entry and move its
    # `updated_at`: once is enough.
    with transaction.atomic(), partner_changes_batched():
        locked = _profile_change_for_decision(change, user)
        partner = locked.partner
        changed = set(locked.fields_changed)
        text = [name for name in ("description", "website") if name in changed]
        for name in text:
            setattr(partner, name, getattr(locked, name))
        partner._history_user = user
        partner.save(update_fields=[*text, "updated_at"])
        for tags in ("industries", "use_cases"):
            if tags in changed:
                getattr(partner, tags).set(getattr(locked, tags).all())
        locked.status = ProfileChangeStatus.APPROVED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.decision_reason = ""
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "updated_at"])
        _profile_change_notify(locked)
    return locked


def profile_change_reject(*, change: ProfileChangeRequest, user, reason: str) -> ProfileChangeRequest:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the proposed changes are rejected; the partner reads it.", field="reason")
    with transaction.atomic():
        locked = _profile_change_for_decision(change, user)
        locked.status = ProfileChangeStatus.REJECTED
        locked.decided_by = user
        locked.decided_at = timezone.now()
        locked.decision_reason = reason
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "updated_at"])
        _profile_change_notify(locked)
    return locked


# Customer references -------------------------------------------------------------------------------------


def customer_reference_set_validated(*, reference: CustomerReference, validated: bool, user) -> bool:
    """A PDM validates a launched customer project (it then counts toward the tier) or withdraws that.

    Returns whether anything changed."""
    with transaction.atomic():
        # No join to its partner, which may change meanwhile (see _lock).
        locked = lock_or_refuse(
            CustomerReference.objects.select_for_update(), reference.pk, "customer reference"
        )
        # Asked after the no-op, so the partner's staff may send back `is_validated` as they read it.
        if locked.is_validated == validated:
            return False
        if not partner_is_editable_by(locked.partner, user):
            # Its own staff may register and correct it: "cannot change" would tell them otherwise.
            raise PermissionDeniedError(
                f"Only {locked.partner.name}'s PDM validates a reference: its own staff register and "
                "correct theirs until then."
            )
        locked.is_validated = validated
        locked.validated_by = user if validated else None
        locked.validated_at = timezone.now() if validated else None
        # The history keeps who withdrew a validation: validated_by no longer names anyone then.
        locked._history_user = user
        locked._change_reason = "Validated" if validated else "Validation withdrawn"
        locked.save(update_fields=["is_validated", "validated_by", "validated_at", "updated_at"])
    reference.is_validated, reference.validated_by, reference.validated_at = (
        locked.is_validated,
        locked.validated_by,
        locked.validated_at,
    )
    return True
