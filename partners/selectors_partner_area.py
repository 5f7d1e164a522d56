"""Reads for the partner's own signed-in area (/my/): its tier scorecard, programs and leads.

Kept beside selectors.py (tier evaluation, public and admin reads) so each module stays small.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import (
    BooleanField,
    Case,
    Count,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils import dateformat, timezone

from partners.choices import (
    AuditResult,
    CertificationLevel,
    ContactRequestStatus,
    EnrollmentStatus,
    ProfileChangeStatus,
    RequirementMetric,
)
from partners.models import (
    Certification,
    ContactRequest,
    CustomerReference,
    Partner,
    ProfileChangeRequest,
    ProgramEnrollment,
)
from partners.selectors import (
    EnrollmentShortOfTier,
    TierEvaluation,
    TierOutlook,
    active_certifications,
    active_enrollments,
    enrollments_revocation_due,
    expiry_window_end,
    tier_evaluate,
    tier_outlook,
)
from partners.selectors_visibility import references_public

# A profile lists this many of the partner's public references, the most recently launched.
PROFILE_REFERENCES = 10


@dataclass(frozen=True)
class RequirementProgress:
    metric: str
    label: str
    required: int
    now: int
    later: int

    @property
    def met(self) -> bool:
        return self.now >= self.required

    @property
    def met_later(self) -> bool:
        return self.later >= self.required

    @property
    def missing(self) -> int:
        return max(self.required - self.now, 0)

    @property
    def missing_later(self) -> int:
        return max(self.required - self.later, 0)


@dataclass(frozen=True)
class TierScorecard:
    """Where a partner stands today and where it would stand at `horizon` if nothing were renewed."""

    today: datetime.date
    horizon: datetime.date
    now: TierEvaluation
    later: TierEvaluation
    expiring_certifications: list[Certification]
    expiring_enrollments: list[ProgramEnrollment]
    # The first day the partner falls short of the tier it holds unless something is renewed, worked out
    # now as tier_health does each night (None when it is already short, or nothing can lapse): the
    # stored partner.at_risk_from is a night old, and a renewal since would make the page contradict itself.
    falls_short_on: datetime.date | None = None
    # Its grace period, when it is short of its tier (tier_outlook, which the API's evaluation gives too).
    outlook: TierOutlook = field(default_factory=TierOutlook)

    @property
    def days_ahead(self) -> int:
        return (self.horizon - self.today).days

    @property
    def would_drop(self) -> bool:
        """Holds its tier today, but would fall short of it at the horizon unless something is renewed."""
        return self.now.meets_current_tier and not self.later.meets_current_tier

    @property
    def falls_short_soon(self) -> bool:
        """The day it falls short is within the window the page looks at (falling short on the horizon
        itself too, as the admin's "falls short within N days" filter counts it)."""
        return self.falls_short_on is not None and self.falls_short_on <= self.horizon

    def _progress(self, minimums: dict[str, int]) -> list[RequirementProgress]:
        return [
            RequirementProgress(
                metric=metric,
                label=RequirementMetric(metric).label,
                required=minimums[metric],
                now=self.now.metrics.get(metric, 0),
                later=self.later.metrics.get(metric, 0),
            )
            for metric in RequirementMetric.values
            if metric in minimums
        ]

    @property
    def current_tier_progress(self) -> list[RequirementProgress]:
        return self._progress(self.now.current_tier_minimums)

    @property
    def next_tier_progress(self) -> list[RequirementProgress]:
        return self._progress(self.now.next_tier_minimums)


def partner_scorecard(partner: Partner, *, days_ahead: int | None = None) -> TierScorecard:
    """The partner's tier scorecard in a constant number of queries."""
    today = timezone.localdate()
    horizon = expiry_window_end(today, days_ahead)
    now = tier_evaluate(partner, on=today)
    outlook = tier_outlook(partner, now, today)
    return TierScorecard(
        today=today,
        horizon=horizon,
        now=now,
        later=tier_evaluate(partner, on=horizon),
        # An expiry within the window is one before the horizon (expiry_window_end), as the reminders count.
        expiring_certifications=list(
            active_certifications(today)
            .filter(staff_member__partner=partner, expires_on__lt=horizon)
            .select_related("staff_member")
            .order_by("expires_on", "staff_member__full_name", "id")
        ),
        expiring_enrollments=list(
            active_enrollments(today)
            .filter(partner=partner, expires_on__lt=horizon)
            .select_related("program")
            .order_by("expires_on", "id")
        ),
        falls_short_on=outlook.at_risk_from,
        outlook=outlook,
    )


@dataclass(frozen=True)
class EnrollmentStanding:
    """One of the partner's program enrollments as its staff read it: where it stands, in words."""

    enrollment: ProgramEnrollment
    # "Applied", "Audit scheduled for 3 Dec 2026", "Not accepted" (an application revoked), ...
    status: str
    # The .status--<tone> of the badge: pending, approved, rejected or superseded.
    tone: str
    # Expired or revoked, or approved but past its expiry day (the night's check has not expired it yet).
    ended: bool
    # Why it ended, as the PDM or the scheduled check recorded it.
    reason: str = ""
    # Its audit is dated today or later, with no result yet.
    audit_to_come: bool = False
    # How an approval ended ("expired" or "revoked"), or an application ("refused"), and on which day: a
    # revoked one keeps the expiry of the term it lost, which it must not be said to be valid until.
    # Empty for one still in force or open.
    ended_as: str = ""
    ended_on: datetime.date | None = None
    # An approval its partner's tier no longer supports: the day program_renewal revokes it unless the
    # partner holds the program's minimum tier again (the day its warning email names); None when it
    # expires before that day, which is then never reached.
    revocation_due_on: datetime.date | None = None
    # That day has come and the check has not run since: it revokes the approval on its next run, and
    # nothing done now saves it.
    revocation_overdue: bool = False
    # Its partner is below the program's minimum tier: it cannot be renewed until it holds that tier again.
    short_of_minimum_tier: bool = False


def _enrollment_standing(
    enrollment: ProgramEnrollment, today: datetime.date, short: EnrollmentShortOfTier | None = None
) -> EnrollmentStanding:
    e = enrollment
    to_come = e.audit_date is not None and e.audit_date >= today and not e.audit_result

    def standing(status: str, tone: str, ended: bool = False, reason: str = "", **end) -> EnrollmentStanding:
        return EnrollmentStanding(e, status, tone, ended, reason or e.status_reason, to_come, **end)

    if e.status == EnrollmentStatus.APPROVED:
        if e.expires_on < today:
            expired = {"ended_as": "expired", "ended_on": e.expires_on}
            return standing("Expired", "superseded", True, "Not renewed in time.", **expired)
        if short is None:
            return standing("Approved", "approved")
        overdue = short.revoke_on is not None and short.revoke_on <= today
        return standing(
            "Approved",
            "approved",
            revocation_due_on=short.revoke_on,
            revocation_overdue=overdue,
            short_of_minimum_tier=True,
        )
    if e.status == EnrollmentStatus.EXPIRED:
        return standing("Expired", "superseded", True, ended_as="expired", ended_on=e.expires_on)
    if e.status == EnrollmentStatus.REVOKED:
        revoked_on = timezone.localdate(e.revoked_at) if e.revoked_at else None
        # Revoking an application refuses it (enrollment_revoke): it was never approved.
        if not e.approved_on:
            return standing("Not accepted", "rejected", True, ended_as="refused", ended_on=revoked_on)
        return standing("Revoked", "rejected", True, ended_as="revoked", ended_on=revoked_on)
    # Still open: a recorded audit says more than the step it was recorded at.
    if e.audit_result == AuditResult.FAILED:
        return standing(f"Audit failed on {dateformat.format(e.audit_date, 'j M Y')}", "rejected")
    if e.audit_result == AuditResult.PASSED:
        return standing("Audit passed: waiting for approval", "pending")
    if e.status == EnrollmentStatus.AUDIT_SCHEDULED and e.audit_date is not None:
        return standing(f"Audit scheduled for {dateformat.format(e.audit_date, 'j M Y')}", "pending")
    return standing(e.get_status_display(), "pending")


def enrollments_of_partner(partner_id: int) -> list[EnrollmentStanding]:
    """Every program enrollment of the partner, applications and ended ones too, in one query: live ones
    first, then ended ones, the most recently applied first within each."""
    today = timezone.localdate()
    ended = Q(status__in=[EnrollmentStatus.EXPIRED, EnrollmentStatus.REVOKED]) | Q(
        status=EnrollmentStatus.APPROVED, expires_on__lt=today
    )
    # The day it was revoked (an application: refused) is in its history (the service and the scheduled
    # check both record it); a revoked enrollment is closed to changes, so its updated_at stands in for a
    # row recorded without one.
    revoked_at = (
        ProgramEnrollment.history.filter(id=OuterRef("pk"), status=EnrollmentStatus.REVOKED)
        .order_by("history_date")
        .values("history_date")[:1]
    )
    enrollments = (
        ProgramEnrollment.objects.filter(partner_id=partner_id)
        .select_related("program__minimum_tier")
        .annotate(
            has_ended=Case(When(ended, then=True), default=False, output_field=BooleanField()),
            revoked_at=Case(
                When(status=EnrollmentStatus.REVOKED, then=Coalesce(Subquery(revoked_at), "updated_at")),
                default=None,
            ),
        )
        .order_by("has_ended", "-applied_on", "-id")
    )
    enrollments = list(enrollments)
    revocation_due = enrollments_revocation_due(enrollments, today)
    return [_enrollment_standing(e, today, revocation_due.get(e.pk)) for e in enrollments]


def contact_requests_of_partner(partner_id: int, status: str | None = None) -> QuerySet[ContactRequest]:
    """A partner's leads, newest first; only ever one organisation's."""
    leads = ContactRequest.objects.filter(partner_id=partner_id)
    return leads.filter(status=status) if status else leads


def contact_request_status_counts(partner_id: int) -> dict[str, int]:
    counts = dict(
        ContactRequest.objects.filter(partner_id=partner_id)
        .values_list("status")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {status: counts.get(status, 0) for status in ContactRequestStatus.values}


@dataclass(frozen=True)
class ProfilePreview:
    """What the public profile shows of a partner, read even while it is unpublished."""

    partner: Partner
    programs: list[ProgramEnrollment]
    certifications_by_level: list[tuple[str, int]]
    references: list[CustomerReference]
    # All of its public references, of which `references` may be the most recently launched few.
    reference_count: int


def partner_profile_preview(partner: Partner, every_reference: bool = False) -> ProfilePreview:
    """The profile's contents; its references the PROFILE_REFERENCES most recently launched, unless
    `every_reference`."""
    today = timezone.localdate()
    partner = (
        Partner.objects.select_related("tier")
        .prefetch_related("categories", "industries", "use_cases", "offices")
        .get(pk=partner.pk)
    )
    counts = dict(
        active_certifications(today)
        .filter(staff_member__partner=partner)
        .values_list("level")
        .annotate(count=Count("id"))
        .order_by()
    )
    programs = list(
        active_enrollments(today).filter(partner=partner).select_related("program").order_by("program__name")
    )
    certifications_by_level = [
        (label, counts[level]) for level, label in CertificationLevel.choices if counts.get(level)
    ]
    references = references_public(today).filter(partner=partner).annotate(total=Window(Count("*")))
    references = list(references if every_reference else references[:PROFILE_REFERENCES])
    return ProfilePreview(
        partner=partner,
        programs=programs,
        certifications_by_level=certifications_by_level,
        references=references,
        reference_count=references[0].total if references else 0,
    )


def profile_change_reviewer(partner: Partner) -> str:
    """Who reviews the partner's proposed profile changes, as its staff are told: its PDM while it has a
    current one (User.is_pdm); otherwise the provider's staff, who find the proposal in the admin."""
    if partner.pdm is not None and partner.pdm.is_pdm:
        return "your Partner Development Manager"
    return "the partner network's team (you have no Partner Development Manager at the moment)"


def profile_change_pending(partner: Partner) -> ProfileChangeRequest | None:
    """The partner's proposal still waiting for its PDM (there is at most one), with its tags."""
    return (
        partner.profile_change_requests.filter(status=ProfileChangeStatus.PENDING)
        .select_related("proposed_by")
        .prefetch_related("industries", "use_cases")
        .first()
    )


def profile_changes_recent(partner: Partner, count: int = 5) -> list[ProfileChangeRequest]:
    """The partner's `count` latest proposals, newest first. Each one replaced (SUPERSEDED) carries in
    `replacement` the KeptProposal saying by which proposal and what of it that one still proposes (the
    rule ProfileChangeRequest.replaced names them by), in a constant number of queries however many."""
    changes = list(partner.profile_change_requests.select_related("proposed_by")[:count])
    # A proposal is replaced only by the next one sent, which lays itself over it: the one just before it
    # in this list, as the newest cannot have been replaced.
    pairs = [
        (change, changes[i - 1])
        for i, change in enumerate(changes)
        if i and change.status == ProfileChangeStatus.SUPERSEDED
    ]
    replacements = {kept.proposal.pk: kept for kept in ProfileChangeRequest.kept_of(pairs)}
    for change in changes:
        change.replacement = replacements.get(change.pk)
    return changes


def references_of_partner(partner_id: int) -> QuerySet[CustomerReference]:
    """All of the partner's customer references, validated or not, newest project first."""
    return CustomerReference.objects.filter(partner_id=partner_id).select_related("validated_by")


def reference_withdrawn(partner_id: int, pk: int):
    """The partner's reference `pk` as it was when withdrawn (the history's deletion, naming who withdrew
    it), or None: no reference `pk` of this partner was ever withdrawn."""
    return (
        CustomerReference.history.filter(id=pk, partner_id=partner_id, history_type="-")
        .select_related("history_user")
        .order_by("-history_date")
        .first()
    )


def reference_counts(partner_id: int) -> dict[str, int]:
    """How many of the partner's references its PDM has validated, and how many wait for them."""
    counts = dict(
        CustomerReference.objects.filter(partner_id=partner_id)
        .values_list("is_validated")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {"validated": counts.get(True, 0), "waiting": counts.get(False, 0)}
