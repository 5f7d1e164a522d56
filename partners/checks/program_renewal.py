"""program_renewal: program enrollments expire, audits are renewed in time, and a program's minimum tier
is enforced.

- An approved enrollment past its expiry date becomes expired (one UPDATE per batch, with its history
  row), leaves the public page (the partner's search entry is refreshed), and the partner and its PDM
  are told.
- Programs that require an audit (the MSP program's re-audit): the partner and PDM are reminded 60 and
  30 days before the enrollment expires.
- An approved enrollment whose program needs a tier the partner no longer holds is revoked once the
  partner has been below that tier for the tier's grace period, counted from its last tier change; it
  is told when the enrollment starts to be at risk, and when it is revoked. One that expires before
  that day expires instead (it cannot be renewed below the minimum tier), and its warning, its expiry
  email and its status_reason say so.
"""

import datetime
from collections import defaultdict

from django.utils import timezone

from apn_portal.checks.registry import scheduled_check
from apn_portal.checks.results import CheckResult, batched
from apn_portal.outbox.services import outbox_email_enqueue_many
from apn_portal.text import plural
from partners import events
from partners.checks.contacts import enrollment_emails
from partners.choices import EnrollmentStatus, ProgramKind
from partners.models import Partner, ProgramEnrollment
from partners.search_index import partner_search_refresh
from partners.selectors import EnrollmentShortOfTier, enrollments_short_of_minimum_tier

AUDIT_REMINDER_DAYS = (60, 30)
BATCH = 1000
CHANGE_REASON = "By the scheduled check program_renewal"


@scheduled_check(
    "program_renewal",
    order=30,
    description=(
        "Expired enrollments expire and leave the public page; audit renewals reminded 60 and 30 days "
        "ahead; enrollments whose minimum tier is no longer held revoked after the grace period."
    ),
)
def program_renewal_check(*, today: datetime.date) -> CheckResult:
    result = CheckResult()
    touched_partners: set[int] = set()
    _expire(today, result, touched_partners)
    _remind_audit_renewals(today, result)
    _enforce_minimum_tiers(today, result, touched_partners)
    # Expired and revoked enrollments leave Find-a-Partner now, not when the entry next goes stale.
    partner_search_refresh(touched_partners, today=today)
    _summarise(result)
    return result


# Expiry ------------------------------------------------------------------------------------------------


def _expire(today: datetime.date, result: CheckResult, touched_partners: set[int]) -> None:
    due = ProgramEnrollment.objects.filter(status=EnrollmentStatus.APPROVED, expires_on__lt=today)
    now = timezone.now()
    expired: list[ProgramEnrollment] = []
    for ids in batched(due.order_by("pk").values_list("pk", flat=True), BATCH):
        # Their partners first, as every write of an enrollment locks them (enrollment_lock) and as this
        # run does again for the minimum tiers: a PDM acting on one of them meanwhile waits for the run.
        list(
            Partner.objects.select_for_update(of=("self",))
            .filter(pk__in=due.filter(pk__in=ids).values("partner_id"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # Locked, then read again: an enrollment renewed meanwhile keeps its new dates and its status.
        batch = list(
            due.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .select_related("program__minimum_tier", "partner__tier")
        )
        if not batch:
            continue
        # Those whose partner is below the program's minimum tier could not be renewed, as their warning
        # said: the rule that warned them, read as on the earliest last day among them (it leaves out an
        # enrollment past its expiry, which is all of these by now).
        blocked = {
            item.enrollment.pk
            for item in enrollments_short_of_minimum_tier(
                ProgramEnrollment.objects.filter(pk__in=[e.pk for e in batch]),
                min(e.expires_on for e in batch),
            )
        }
        for enrollment in batch:
            enrollment.status = EnrollmentStatus.EXPIRED
            enrollment.status_reason = f"Expired on {enrollment.expires_on.isoformat()}: " + (
                f"it could not be renewed, as the partner holds {enrollment.partner.tier.name} and the "
                f"program requires {enrollment.program.minimum_tier.name}."
                if enrollment.pk in blocked
                else "not renewed in time."
            )
            enrollment.updated_at = now
            enrollment.renewal_blocked = enrollment.pk in blocked
        ProgramEnrollment.objects.bulk_update(batch, ["status", "status_reason", "updated_at"])
        ProgramEnrollment.history.bulk_history_create(
            batch, update=True, default_change_reason=CHANGE_REASON, default_date=now
        )
        events.enrollments_expired(batch)
        _partner_led_cases_follow(
            batch,
            why=lambda e: f"its {e.program.name} enrollment expired on {e.expires_on:%d %b %Y}",
            now=now,
        )
        expired.extend(batch)
    result.add("enrollments_expired", len(expired))
    touched_partners.update(e.partner_id for e in expired)
    _tell(
        expired,
        key=lambda e: f"enrollment-expired:{e.pk}",
        subject=lambda e, name: f"{name}: {e.program.name} expired on {e.expires_on:%d %b %Y}",
        template="emails/checks/enrollment_expired",
        result=result,
        extra=lambda e: {"renewal_blocked": e.renewal_blocked},
    )


# Audit renewal reminders -------------------------------------------------------------------------------


def _remind_audit_renewals(today: datetime.date, result: CheckResult) -> None:
    due = list(
        ProgramEnrollment.objects.filter(
            status=EnrollmentStatus.APPROVED,
            program__audit_required=True,
            expires_on__gte=today,
            expires_on__lte=today + datetime.timedelta(days=max(AUDIT_REMINDER_DAYS)),
        )
        .select_related("program")
        .order_by("expires_on", "pk")
    )
    for enrollment in due:
        days_left = (enrollment.expires_on - today).days
        enrollment.days_left = days_left
        enrollment.threshold = min(days for days in AUDIT_REMINDER_DAYS if days_left <= days)
    stored = _tell(
        due,
        # Keyed on the expiry date too: once renewed, the next expiry gets its own reminders.
        key=lambda e: f"audit-renewal:{e.pk}:{e.expires_on.isoformat()}:{e.threshold}",
        subject=lambda e, name: f"{name}: renew the {e.program.name} audit before {e.expires_on:%d %b %Y}",
        template="emails/checks/audit_renewal",
        result=result,
        extra=lambda e: {"days_left": e.days_left},
    )
    result.add("audit_renewal_reminders", stored)


# Minimum tier ----------------------------------------------------------------------------------------


def _enrollments_short_of_minimum_tier(today: datetime.date) -> list[EnrollmentShortOfTier]:
    # The selector the API's enrollments read their revocation_due_on from: one rule for both.
    return enrollments_short_of_minimum_tier(ProgramEnrollment.objects.all(), today)


def _lock_still_short(
    short: list[EnrollmentShortOfTier], today: datetime.date
) -> list[EnrollmentShortOfTier]:
    """Of the enrollments read as short of their minimum tier, those still short once locked, with
    their partners, until the run commits: a promotion (partner_tier_change locks the partner) committed
    since the read is seen, and none can commit before this run's warning or revocation does."""
    by_partner: dict[int, list[int]] = defaultdict(list)
    for item in short:
        by_partner[item.enrollment.partner_id].append(item.enrollment.pk)
    still_short = []
    # A partner's enrollments in one batch, each batch's partners locked before their enrollments: the
    # order every write of both takes (partner_update, whose slug change touches the enrollments;
    # enrollment_approve, _revoke and _update, which lock the partner first), so none deadlocks with this.
    for partner_ids in batched(sorted(by_partner), BATCH):
        ids = [pk for partner_id in partner_ids for pk in by_partner[partner_id]]
        list(
            Partner.objects.select_for_update(of=("self",))
            .filter(pk__in=partner_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        locked = list(
            ProgramEnrollment.objects.select_for_update(of=("self",))
            .filter(pk__in=ids, status=EnrollmentStatus.APPROVED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # Read again: the tier, and when the partner fell below it, may have changed since.
        still_short.extend(
            enrollments_short_of_minimum_tier(ProgramEnrollment.objects.filter(pk__in=locked), today)
        )
    return still_short


def _enforce_minimum_tiers(today: datetime.date, result: CheckResult, touched_partners: set[int]) -> None:
    short = _lock_still_short(_enrollments_short_of_minimum_tier(today), today)
    revoke_on = {item.enrollment.pk: item.revoke_on for item in short}
    short_since = {item.enrollment.pk: item.short_since for item in short}
    warned = _tell(
        [item.enrollment for item in short if item.revoke_on is None or item.revoke_on > today],
        # One warning per time the partner falls short: a later fall, after regaining the tier, warns again.
        key=lambda e: f"enrollment-tier-short:{e.pk}:{short_since[e.pk].isoformat()}",
        subject=lambda e, name: f"{name}: {e.program.name} needs the {e.program.minimum_tier.name} tier",
        template="emails/checks/enrollment_tier_short",
        result=result,
        # None when it expires first: the email names its expiry instead.
        extra=lambda e: {"revoke_on": revoke_on[e.pk]},
    )
    result.add("enrollments_warned_of_revocation", warned)

    now = timezone.now()
    revoked = []
    due = (item for item in short if item.revoke_on is not None and item.revoke_on <= today)
    for batch in batched(due, BATCH):
        for item in batch:
            enrollment = item.enrollment
            enrollment.status = EnrollmentStatus.REVOKED
            enrollment.status_reason = (
                f"Revoked by the scheduled check: the partner has been below the "
                f"{enrollment.program.minimum_tier.name} tier this program requires since "
                f"{item.short_since:%d %b %Y}, past its "
                f"{enrollment.program.minimum_tier.grace_period_days}-day grace period."
            )
            enrollment.updated_at = now
        enrollments = [item.enrollment for item in batch]
        ProgramEnrollment.objects.bulk_update(enrollments, ["status", "status_reason", "updated_at"])
        ProgramEnrollment.history.bulk_history_create(
            enrollments, update=True, default_change_reason=CHANGE_REASON, default_date=now
        )
        _partner_led_cases_follow(
            enrollments,
            why=lambda e: (
                f"its {e.program.name} enrollment was revoked: the partner is below the "
                f"{e.program.minimum_tier.name} tier the program requires"
            ),
            now=now,
        )
        events.enrollments_revoked(enrollments)
        revoked.extend(enrollments)
    result.add("enrollments_revoked", len(revoked))
    touched_partners.update(e.partner_id for e in revoked)
    _tell(
        revoked,
        key=lambda e: f"enrollment-revoked:{e.pk}",
        subject=lambda e, name: f"{name}: {e.program.name} was revoked",
        template="emails/checks/enrollment_revoked",
        result=result,
    )


# Partner-led support -----------------------------------------------------------------------------------


def _partner_led_cases_follow(enrollments: list[ProgramEnrollment], *, why, now: datetime.datetime) -> None:
    """Solution Provider enrollments that ended take their partners' partner-led support with them: the
    open cases those partners handle go to the provider's support, the portal saying why on each (as
    enrollment_revoke does for one), in the batch's transaction and a fixed number of statements."""
    ended = {e.partner_id: e for e in enrollments if e.program.kind == ProgramKind.SOLUTION_PROVIDER}
    if not ended:
        return
    # Support builds on engagements and partners: imported when called, never at module level.
    from support.services import support_cases_follow_partner_led_support_for_partners

    support_cases_follow_partner_led_support_for_partners(
        partner_ids=sorted(ended), why=lambda partner_id: why(ended[partner_id]), now=now
    )


# Telling the partner -----------------------------------------------------------------------------------


def _tell(enrollments, *, key, subject, template, result: CheckResult, extra=lambda e: {}) -> int:
    """One email per enrollment to the partner's staff and PDM. Returns how many were stored now."""
    emails = enrollment_emails(enrollments, key=key, subject=subject, template=template, extra=extra)
    stored = len(outbox_email_enqueue_many(emails))
    result.add("emails", stored)
    return stored


def _summarise(result: CheckResult) -> None:
    lines = {
        "enrollments_expired": ("program enrollment", "expired and left the public page"),
        "audit_renewal_reminders": ("audit renewal reminder", "sent"),
        "enrollments_warned_of_revocation": (
            "enrollment",
            "at risk: the partner lacks the program's minimum tier (partner and PDM told)",
        ),
        "enrollments_revoked": ("enrollment", "revoked: minimum tier not regained within the grace period"),
    }
    for kind, (noun, text) in lines.items():
        if result.count(kind):
            result.note(f"{plural(result.count(kind), noun)} {text}.")
