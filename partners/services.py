"""Writes of the partner domain. Each use case takes the acting user, opens its own transaction and
raises a DomainError with a message for that user; views, the admin, the API and tasks all call these."""

import csv
import datetime
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from apn_portal.exceptions import ConflictError, DomainError, PermissionDeniedError
from partners.choices import (
    LIVE_ENROLLMENT_STATUSES,
    AuditResult,
    CertificationLevel,
    EnrollmentStatus,
    TierChangeSource,
)
from partners.models import (
    Certification,
    Partner,
    ProgramEnrollment,
    StaffMember,
    Tier,
    TierChange,
    certification_default_expiry,
)
from partners.selectors import partner_is_editable_by, partners_editable_by, tier_evaluate


def _ensure_can_edit(partner: Partner, user) -> None:
    if not partner_is_editable_by(partner, user):
        raise PermissionDeniedError(
            f"You cannot change {partner.name}: only its assigned PDM or a superuser can."
        )


def _lock(partner: Partner) -> Partner:
    return Partner.objects.select_for_update().select_related("tier").get(pk=partner.pk)


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
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the tier changes.", field="reason")
    if source == TierChangeSource.MANUAL:
        if user is None:
            raise DomainError("A manual tier change needs the person making it.")
        _ensure_can_edit(partner, user)
    else:
        user = None
    with transaction.atomic():
        locked = _lock(partner)
        if to_tier.partner_type != locked.partner_type:
            raise DomainError(
                f"{to_tier} is not on the {locked.get_partner_type_display()} ladder.", field="to_tier"
            )
        if to_tier.pk == locked.tier_id:
            raise ConflictError(f"{locked.name} is already {locked.tier.name}.", field="to_tier")
        change = TierChange.objects.create(
            partner=locked,
            from_tier=locked.tier,
            to_tier=to_tier,
            reason=reason,
            source=source,
            changed_by=user,
            changed_at=at or timezone.now(),
        )
        locked.tier = to_tier
        locked.save(update_fields=["tier", "updated_at"])
    partner.tier = to_tier
    return change


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


def partner_set_published(*, partner: Partner, published: bool, user) -> bool:
    """Publish or unpublish a partner on Find-a-Partner. Returns whether anything changed."""
    _ensure_can_edit(partner, user)
    with transaction.atomic():
        locked = _lock(partner)
        if locked.is_published == published:
            return False
        locked.is_published = published
        locked.save(update_fields=["is_published", "updated_at"])
    partner.is_published = published
    return True


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def enrollment_approve(
    *, enrollment: ProgramEnrollment, user, approved_on: datetime.date | None = None
) -> ProgramEnrollment:
    """Approve an open enrollment: the partner must hold the program's minimum tier and pass its audit."""
    approved_on = approved_on or timezone.localdate()
    with transaction.atomic():
        locked = (
            ProgramEnrollment.objects.select_for_update()
            .select_related("partner__tier", "program__minimum_tier")
            .get(pk=enrollment.pk)
        )
        partner, program = locked.partner, locked.program
        _ensure_can_edit(partner, user)
        if locked.status == EnrollmentStatus.APPROVED:
            raise ConflictError(f"This enrollment in {program.name} is already approved.")
        if locked.status not in LIVE_ENROLLMENT_STATUSES:
            raise DomainError(
                f"An enrollment that is {locked.get_status_display().lower()} cannot be approved; "
                "the partner applies again."
            )
        if program.partner_type and program.partner_type != partner.partner_type:
            raise DomainError(
                f"{program.name} is only open to {program.get_partner_type_display()} partners."
            )
        if program.minimum_tier and partner.tier.rank < program.minimum_tier.rank:
            raise DomainError(
                f"{program.name} needs at least the {program.minimum_tier.name} tier; "
                f"{partner.name} is {partner.tier.name}."
            )
        if program.audit_required and locked.audit_result != AuditResult.PASSED:
            raise DomainError(f"{program.name} needs a passed audit before approval.", field="audit_result")
        locked.status = EnrollmentStatus.APPROVED
        locked.approved_on = approved_on
        locked.approved_by = user
        locked.expires_on = _add_months(approved_on, program.validity_months)
        locked.status_reason = ""
        locked.save()
    return locked


def enrollment_revoke(*, enrollment: ProgramEnrollment, user, reason: str) -> ProgramEnrollment:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why the enrollment is revoked.", field="reason")
    with transaction.atomic():
        locked = ProgramEnrollment.objects.select_for_update().select_related("partner").get(pk=enrollment.pk)
        _ensure_can_edit(locked.partner, user)
        if locked.status not in LIVE_ENROLLMENT_STATUSES:
            raise ConflictError(f"This enrollment is already {locked.get_status_display().lower()}.")
        locked.status = EnrollmentStatus.REVOKED
        locked.status_reason = reason
        locked.save()
    return locked


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
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)

    @property
    def ok(self) -> bool:
        return not self.errors


def _parse_date(value: str, column: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column} '{value}' is not a date in the form YYYY-MM-DD") from None


def certifications_import_csv(*, data: bytes | str, user) -> CertificationImportResult:
    """Import certifications from CSV: all rows or none. Every bad row is reported with its line number.

    Columns: partner (slug), staff_name, staff_email (optional; identifies the person when given),
    name, level, credential_id (optional), earned_on, expires_on (optional: three years after earning).
    A staff member not yet on the partner's record is added.
    """
    result = CertificationImportResult()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            result.errors.append((1, "The file is not UTF-8 text; save it as CSV UTF-8 and try again."))
            return result
    reader = csv.DictReader(io.StringIO(data))
    header = [(name or "").strip() for name in (reader.fieldnames or [])]
    missing = [column for column in CERTIFICATION_CSV_REQUIRED if column not in header]
    if missing:
        result.errors.append((1, f"The header lacks the column(s): {', '.join(missing)}."))
        return result
    reader.fieldnames = header

    rows = []
    for row in reader:
        if reader.line_num - 1 > CERTIFICATION_IMPORT_MAX_ROWS:
            result.errors.append(
                (reader.line_num, f"Import at most {CERTIFICATION_IMPORT_MAX_ROWS} rows at once.")
            )
            return result
        if None in row:
            result.errors.append((reader.line_num, "The row has more fields than the header."))
            continue
        values = {key: (value or "").strip() for key, value in row.items()}
        if not any(values.values()):
            continue
        rows.append((reader.line_num, values))
    if not rows and not result.errors:
        result.errors.append((1, "The file has no rows to import."))
        return result

    editable = {
        partner.slug: partner
        for partner in partners_editable_by(user).filter(slug__in={values["partner"] for _, values in rows})
    }
    known_partner_slugs = set(
        Partner.objects.filter(slug__in={values["partner"] for _, values in rows}).values_list(
            "slug", flat=True
        )
    )
    staff_by_key = {}
    for member in StaffMember.objects.filter(partner__in=editable.values()):
        staff_by_key[(member.partner_id, "email", member.email.lower())] = member
        staff_by_key[(member.partner_id, "name", member.full_name.casefold())] = member
    credential_ids = [values["credential_id"] for _, values in rows if values.get("credential_id")]
    taken_credentials = set(
        Certification.objects.filter(credential_id__in=credential_ids).values_list("credential_id", flat=True)
    )

    seen_credentials: dict[str, int] = {}
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
                if column == "earned_on":
                    earned_on = parsed
                else:
                    expires_on = parsed
        if earned_on and earned_on > timezone.localdate():
            problems.append("earned_on is in the future")
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
        credential = values.get("credential_id", "")
        if credential:
            if credential in taken_credentials:
                problems.append(f"credential_id '{credential}' is already recorded")
            elif credential in seen_credentials:
                problems.append(f"credential_id '{credential}' repeats line {seen_credentials[credential]}")
            else:
                seen_credentials[credential] = line
        if problems:
            result.errors.append((line, "; ".join(problems) + "."))
            continue
        key = (partner.pk, "email", email) if email else (partner.pk, "name", values["staff_name"].casefold())
        member = staff_by_key.get(key)
        if member is None:
            member = StaffMember(partner=partner, full_name=values["staff_name"], email=email)
            staff_by_key[key] = member
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
        return result

    try:
        with transaction.atomic():
            new_members = [
                member for member in {id(m): m for m, _ in to_create}.values() if member.pk is None
            ]
            for member in new_members:
                member.save()
            certifications = []
            for member, certification in to_create:
                certification.staff_member = member
                certifications.append(certification)
            # With history rows, so the audit trail shows who imported each certification.
            bulk_create_with_history(certifications, Certification, batch_size=1000, default_user=user)
    except IntegrityError:
        # A concurrent import took a credential id between our check and our write: nothing was kept.
        result.errors.append(
            (1, "Another import recorded some of these credential ids meanwhile; try again.")
        )
        return result
    result.created = len(certifications)
    result.staff_created = len(new_members)
    return result
