"""Create, change and delete a partner's records: the partner itself, its people, their
certifications, its customer references, and its applications to programs.

Kept beside services.py (tiers, enrollment decisions, imports, leads) so each module stays small; the
same rules apply: each use case takes the acting user, runs in its own transaction, and refuses with a
message for that user. Field-level problems come back as Django's ValidationError (one message list per
field, from the model's validators and constraints), which the admin and the API both show per field.
"""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse

from apn_portal.exceptions import (
    ConflictError,
    DomainError,
    PermissionDeniedError,
    lock_or_refuse,
    validate_or_refuse,
)
from apn_portal.forms import submission_key_of, submitted_before
from apn_portal.outbox.services import outbox_email_enqueue
from partners.choices import LIVE_ENROLLMENT_STATUSES, AuditResult, EnrollmentStatus, PartnerType
from partners.models import (
    Certification,
    ConsultingCategory,
    CustomerReference,
    Industry,
    Partner,
    Program,
    ProgramEnrollment,
    StaffMember,
    Tier,
    UseCase,
    latest_today,
)
from partners.selectors import partner_is_editable_by
from partners.services import (
    _ensure_can_edit,
    _lock,
    enrollment_lock,
    enrollment_program_closed,
    program_lock,
)
from partners.signals import partner_changes_batched

PARTNER_FIELDS = ("name", "slug", "description", "website", "is_published")
PARTNER_TAGS = {"categories": ConsultingCategory, "industries": Industry, "use_cases": UseCase}
STAFF_MEMBER_FIELDS = ("full_name", "email", "job_title")
CERTIFICATION_FIELDS = ("name", "level", "credential_id", "earned_on", "expires_on")
REFERENCE_FIELDS = ("customer_name", "summary", "services_used", "launched_on", "is_public")
# What an enrollment records of its application and audit; its status, approval and expiry change only
# through enrollment_start_review, enrollment_schedule_audit, enrollment_approve, enrollment_renew,
# enrollment_revoke and the scheduled check.
ENROLLMENT_FIELDS = ("applied_on", "audit_date", "audit_result")


def _refuse_unknown(changes: dict, allowed: Iterable[str]) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError(f"{name.replace('_', ' ').capitalize()} cannot be changed here.", field=name)


def _apply(instance, changes: dict, allowed: Iterable[str]) -> None:
    _refuse_unknown(changes, allowed)
    for name, value in changes.items():
        setattr(instance, name, value)


def _save_valid(instance, exclude=None) -> None:
    instance.full_clean(exclude=exclude)
    instance.save()


def _changed(instance, changes: dict, allowed: Iterable[str]) -> dict:
    """What of `changes` differs from `instance` as stored: an update that changes nothing writes nothing,
    so its `updated_at` (the API's ETag, integrators' `updated_since`) and its history stay as they were.
    Compared as the model holds it (a date, not "2025-01-10"); a value it cannot hold counts as a change,
    which the model's validation then refuses."""
    _refuse_unknown(changes, allowed)
    changed = {}
    for name, value in changes.items():
        try:
            held = type(instance)._meta.get_field(name).to_python(value)
        except ValidationError:
            held = value
        if held != getattr(instance, name):
            changed[name] = value
    return changed


def _lock_record(model, pk: int):
    """A record's row locked, read with no join: its owner may change meanwhile (see services._lock)."""
    return lock_or_refuse(model.objects.select_for_update(), pk, model._meta.verbose_name)


# Partners ----------------------------------------------------------------------------------------------


def _set_tags(partner: Partner, tags: dict) -> None:
    for name, values in tags.items():
        if values is not None:
            getattr(partner, name).set(values)


def _changed_tags(partner: Partner, tags: dict) -> dict:
    """The tag lists of `tags` that differ from the partner's, as sets (their order means nothing)."""
    changed = {}
    for name, values in tags.items():
        if values is None:
            continue
        wanted = {getattr(value, "pk", value) for value in values}
        if wanted != set(getattr(partner, name).values_list("pk", flat=True)):
            changed[name] = values
    return changed


def partner_categories_check(partner_type: str, categories) -> None:
    """Refuse consulting categories on a partner of another type: the one rule, which the admin's partner
    form asks too, so both say the same."""
    if categories and partner_type != PartnerType.CONSULTING:
        raise DomainError("Only consulting partners have consulting categories.", field="categories")


def partner_entry_tier(partner_type: str) -> Tier:
    """The tier every partner of `partner_type` joins on: a higher one is a promotion, recorded with its
    reason (partner_tier_change)."""
    entry_tier = Tier.objects.filter(partner_type=partner_type).order_by("rank").first()
    if entry_tier is None:
        raise DomainError("There is no tier ladder for this partner type.", field="partner_type")
    return entry_tier


def partner_create(
    *,
    user,
    name: str,
    slug: str,
    partner_type: str,
    description: str = "",
    website: str = "",
    is_published: bool = False,
    categories=(),
    industries=(),
    use_cases=(),
) -> Partner:
    """Add a partner on the entry tier of its ladder. A PDM who adds one becomes its PDM."""
    if not (user.is_authenticated and user.is_active and (user.is_superuser or user.is_pdm)):
        raise PermissionDeniedError("Only a PDM or a superuser can add partners.")
    entry_tier = partner_entry_tier(partner_type)
    partner_categories_check(partner_type, categories)
    partner = Partner(
        name=name,
        slug=slug,
        partner_type=partner_type,
        tier=entry_tier,
        description=description,
        website=website,
        is_published=is_published,
        pdm=user if user.is_pdm else None,
    )
    # Its history, tag lists included, names who (outside a request simple-history cannot tell).
    partner._history_user = user
    # The partner's save and each tag list's change would each refresh its search entry and move its
    # `updated_at`: once is enough.
    with transaction.atomic(), partner_changes_batched():
        _save_valid(partner)
        _set_tags(partner, {"categories": categories, "industries": industries, "use_cases": use_cases})
    return partner


def partner_update(*, partner: Partner, user, **changes) -> Partner:
    """Change a partner's profile and tags. Its tier changes only through `partner_tier_change`, which
    records why, and its type only through `partner_type_change`, since its tier belongs to that type's
    ladder."""
    tags = {name: changes.pop(name) for name in list(changes) if name in PARTNER_TAGS}
    partner_type = changes.pop("partner_type", None)
    with transaction.atomic(), partner_changes_batched():
        locked = _lock(partner)
        _ensure_can_edit(locked, user)
        locked._history_user = user  # the versions its save and its tag lists' changes write
        if partner_type is not None and partner_type != locked.partner_type:
            raise DomainError(
                "A partner's type is not changed by an edit: correct it with a type change (\"Correct "
                f'partner type" on its admin page, or POST /api/v1/partners/{locked.slug}/type-change/), '
                "which moves it to that type's tier ladder and records why.",
                field="partner_type",
            )
        partner_categories_check(locked.partner_type, tags.get("categories"))
        changes = _changed(locked, changes, PARTNER_FIELDS)
        if changes:
            _apply(locked, changes, PARTNER_FIELDS)
            # Its PDM is not changed here: one who has left since they were named (and is no longer a
            # choice, Partner.pdm) does not stop the rest of the record from being kept.
            _save_valid(locked, exclude=["pdm"])
        _set_tags(locked, _changed_tags(locked, tags))
    return locked


# Program applications ----------------------------------------------------------------------------------


def enrollment_apply_check(
    *, partner: Partner, program: Program, user, applied_on=None, audit_date=None, audit_result: str = ""
) -> None:
    """Refuse, as `enrollment_apply` would, an application that cannot be filed: the rules of applying
    live here alone, and the admin's application form asks them to show the refusal before anything is
    saved. `enrollment_apply` checks again, under its lock."""
    if not (user.is_authenticated and user.is_active) or (
        user.partner_id != partner.pk and not partner_is_editable_by(partner, user)
    ):
        raise PermissionDeniedError(f"Only {partner.name}'s own staff or its PDM can apply for it.")
    if not partner_is_editable_by(partner, user):
        # What the application records beyond itself is the PDM's to enter (`enrollment_update`, which
        # only they may call): the partner's staff apply, today, and their PDM records the audit.
        given = [
            name
            for name, value in (
                ("applied_on", applied_on),
                ("audit_date", audit_date),
                ("audit_result", audit_result),
            )
            if value not in (None, "")
        ]
        if given:
            raise DomainError(
                f"Only {partner.name}'s PDM records an application's date and audit: apply without it.",
                field=given[0],
            )
    closed = enrollment_program_closed(partner, program)
    if closed:
        raise DomainError(closed, field="program")
    _refuse_second_live_enrollment(partner, program)
    record = {"audit_date": audit_date, "audit_result": audit_result}
    if applied_on is not None:
        record["applied_on"] = applied_on
    _enrollment_record_check(ProgramEnrollment(partner=partner, program=program), record)


def _enrollment_record_check(enrollment: ProgramEnrollment, changes: dict) -> None:
    """The rules of what an enrollment records of its application and audit, the same for an application
    and for a later correction. `enrollment` is as it stands (unsaved, for an application), `changes` what
    the write sets. A rule is asked only of what changes, so correcting the audit of an enrollment is not
    refused for a day entered before the rule; the model's own validation (an audit result needs the
    audit's date) is asked of the whole enrollment by the services."""
    after = {name: changes.get(name, getattr(enrollment, name)) for name in ENROLLMENT_FIELDS}
    today = latest_today()  # a day that has begun anywhere on Earth is not the future
    applied_on, audit_date = after["applied_on"], after["audit_date"]
    if "applied_on" in changes and applied_on is not None:
        if applied_on > today:
            raise DomainError(
                f"An application cannot be dated in the future ({applied_on:%d %b %Y}); give the day it "
                "was made.",
                field="applied_on",
            )
        if enrollment.approved_on is not None and applied_on > enrollment.approved_on:
            raise DomainError(
                f"It was approved on {enrollment.approved_on:%d %b %Y}: the application cannot be dated "
                "later than that.",
                field="applied_on",
            )
    if (
        changes.keys() & {"audit_date", "audit_result"}
        and after["audit_result"]
        and audit_date is not None
        and audit_date > today
    ):
        raise DomainError(
            f"An audit with a result has been held: its date ({audit_date:%d %b %Y}) cannot be in the "
            "future. Leave the result empty until the audit is held.",
            field="audit_date",
        )
    program = enrollment.program
    if (
        "audit_result" in changes
        and enrollment.status == EnrollmentStatus.APPROVED
        and program.audit_required
        and after["audit_result"] != AuditResult.PASSED
    ):
        # The approval stands on that audit (enrollment_approve_check): it would stay approved and
        # public on a result that no longer allows it.
        raise DomainError(
            f"{program.name} was approved on a passed audit: revoke the enrollment rather than change "
            "its audit result.",
            field="audit_result",
        )


def _refuse_second_live_enrollment(partner: Partner, program: Program) -> None:
    live = partner.enrollments.filter(program=program, status__in=LIVE_ENROLLMENT_STATUSES).first()
    if live is not None:
        raise ConflictError(
            f"{partner.name} already has an enrollment in {program.name} that is "
            f"{live.get_status_display().lower()}."
        )


def enrollment_apply(
    *,
    partner: Partner,
    program: Program,
    user,
    applied_on=None,
    audit_date=None,
    audit_result: str = "",
) -> ProgramEnrollment:
    """A partner applies to a program: its own staff, its PDM or a superuser may file the application.

    A partner holds one open or approved enrollment per program; applying again is a conflict. An
    application entered later (in the admin, from paper) may carry the day it was made and its audit."""
    enrollment_apply_check(
        partner=partner,
        program=program,
        user=user,
        applied_on=applied_on,
        audit_date=audit_date,
        audit_result=audit_result,
    )
    try:
        with transaction.atomic():
            # Locked so two applications at once are decided one after the other, and so the program
            # is not closed to the partner's type while it applies (program_lock).
            locked = _lock(partner)
            locked_program = program_lock(program.pk)
            closed = enrollment_program_closed(locked, locked_program)
            if closed:
                raise DomainError(closed, field="program")
            _refuse_second_live_enrollment(locked, program)
            enrollment = ProgramEnrollment(
                partner=locked, program=locked_program, audit_date=audit_date, audit_result=audit_result
            )
            if applied_on is not None:
                enrollment.applied_on = applied_on
            validate_or_refuse(enrollment)
            enrollment.save()
            return enrollment
    except IntegrityError:
        raise ConflictError(
            f"{partner.name} already has an open or approved enrollment in {program.name}."
        ) from None


def enrollment_update_check(*, enrollment: ProgramEnrollment, user, **changes) -> dict:
    """Refuse, as `enrollment_update` would, a correction of what an enrollment records of its application
    and audit; otherwise return what actually changes. The admin's change form asks it to show the refusal
    beside the field; `enrollment_update` asks again under its lock.

    An ended (expired or revoked) enrollment is closed: as it can be neither approved nor revoked, its
    record stays as it was when it ended (its history says why), and the partner applies again."""
    _ensure_can_edit(enrollment.partner, user)
    _refuse_unknown(changes, ENROLLMENT_FIELDS)
    changed = {}
    for name, value in changes.items():
        try:
            # Compared as the model holds it (a date, not "2025-01-10"): an unchanged value is no change.
            value = ProgramEnrollment._meta.get_field(name).to_python(value)
        except ValidationError as error:
            raise DomainError(" ".join(error.messages), field=name) from None
        if value != getattr(enrollment, name):
            changed[name] = value
    if changed and enrollment.status not in LIVE_ENROLLMENT_STATUSES:
        raise ConflictError(
            f"This enrollment is {enrollment.get_status_display().lower()}: what it recorded stays as it "
            "was when it ended. The partner applies again."
        )
    _enrollment_record_check(enrollment, changed)
    return changed


def enrollment_update(*, enrollment: ProgramEnrollment, user, **changes) -> ProgramEnrollment:
    """Correct the day an enrollment was applied for, or record its audit (`ENROLLMENT_FIELDS`), by the
    partner's PDM or a superuser. Nothing is written when nothing changes."""
    with transaction.atomic():
        locked = enrollment_lock(enrollment, "program")
        changed = enrollment_update_check(enrollment=locked, user=user, **changes)
        if not changed:
            return locked
        _apply(locked, changed, ENROLLMENT_FIELDS)
        validate_or_refuse(locked)
        locked._history_user = user
        locked._change_reason = "Changed " + ", ".join(
            str(ProgramEnrollment._meta.get_field(name).verbose_name) for name in changed
        )
        locked.save(update_fields=[*changed, "updated_at"])
    return locked


# Staff members and certifications ---------------------------------------------------------------------


def staff_member_create(
    *, partner: Partner, user, full_name: str, email: str = "", job_title: str = ""
) -> StaffMember:
    _ensure_can_edit(partner, user)
    member = StaffMember(partner=partner, full_name=full_name, email=email, job_title=job_title)
    member._history_user = user
    with transaction.atomic():
        _save_valid(member)
    return member


def staff_member_update(*, member: StaffMember, user, **changes) -> StaffMember:
    with transaction.atomic():
        locked = _lock_record(StaffMember, member.pk)
        _ensure_can_edit(locked.partner, user)
        locked._history_user = user
        changes = _changed(locked, changes, STAFF_MEMBER_FIELDS)
        if changes:
            _apply(locked, changes, STAFF_MEMBER_FIELDS)
            _save_valid(locked)
    return locked


def staff_member_delete(*, member: StaffMember, user) -> None:
    """Remove a person and, with them, their certifications (which then no longer count for the tier)."""
    with transaction.atomic():
        # Asked of the row as it is now: a person moved to another partner meanwhile is not the old
        # partner's to remove, and one removed meanwhile is a GoneError. FOR NO KEY UPDATE waits for a change
        # under way yet holds no certification stored meanwhile behind it (its foreign key's check at commit
        # takes a KEY SHARE lock): the deletion is then refused at commit, to be sent again.
        locked = lock_or_refuse(StaffMember.objects.select_for_update(no_key=True), member.pk, "staff member")
        _ensure_can_edit(locked.partner, user)
        locked._history_user = user
        locked.delete()


def certification_create(
    *,
    staff_member: StaffMember,
    user,
    name: str,
    level: str,
    earned_on,
    credential_id: str = "",
    expires_on=None,
) -> Certification:
    """Record a certification; it expires three years after it was earned unless `expires_on` says."""
    _ensure_can_edit(staff_member.partner, user)
    certification = Certification(
        staff_member=staff_member,
        name=name,
        level=level,
        credential_id=credential_id,
        earned_on=earned_on,
        expires_on=expires_on,
    )
    certification._history_user = user
    with transaction.atomic():
        certification.clean()  # fills in the default expiry before the constraints are checked
        _save_valid(certification)
    return certification


def certification_update(*, certification: Certification, user, **changes) -> Certification:
    with transaction.atomic():
        locked = _lock_record(Certification, certification.pk)
        _ensure_can_edit(locked.staff_member.partner, user)
        locked._history_user = user
        changes = _changed(locked, changes, CERTIFICATION_FIELDS)
        if changes:
            _apply(locked, changes, CERTIFICATION_FIELDS)
            _save_valid(locked)
    return locked


def certification_delete(*, certification: Certification, user) -> None:
    _ensure_can_edit(certification.staff_member.partner, user)
    certification._history_user = user
    with transaction.atomic():
        certification.delete()


# Customer references ------------------------------------------------------------------------------------


def reference_create(
    *,
    partner: Partner,
    user,
    customer_name: str,
    summary: str,
    launched_on,
    services_used: str = "",
    is_public: bool = False,
) -> CustomerReference:
    """Register a launched customer project (see reference_submit); every call is a new reference."""
    return reference_submit(
        partner=partner,
        user=user,
        customer_name=customer_name,
        summary=summary,
        launched_on=launched_on,
        services_used=services_used,
        is_public=is_public,
    )[0]


def reference_submit(
    *,
    partner: Partner,
    user,
    customer_name: str,
    summary: str,
    launched_on,
    services_used: str = "",
    is_public: bool = False,
    submission_token=None,
) -> tuple[CustomerReference, bool]:
    """Register a launched customer project: the partner's own staff, or its PDM. It counts toward the
    tier once the PDM validates it (`customer_reference_set_validated`). Returns the reference and
    whether it is new, like get_or_create.

    With the partner area form's `submission_token`, the same submit sent again (a double click, Back and
    resubmit, two at once) returns the reference it registered first: one reference for the PDM to
    validate, one email."""
    _ensure_may_keep_reference(partner, user)
    reference = CustomerReference(
        partner=partner,
        customer_name=customer_name,
        summary=summary,
        services_used=services_used,
        launched_on=launched_on,
        is_public=is_public,
        submission_key=submission_key_of(
            submission_token, user, partner.pk, customer_name, summary, services_used, launched_on, is_public
        ),
    )
    reference._history_user = user  # who registered it: its first version names them
    with transaction.atomic():
        if reference.submission_key:
            # Under the partner's lock, so a repeat sent at the same time waits for the first and then
            # finds its reference; Back and submit again (a new token) finds it by its content while it is
            # as it was registered: once the PDM validated it, or withdrew that, or it was corrected, the
            # same reference sent again is meant, and registered again.
            _lock(partner)
            earlier = submitted_before(
                reference.submission_key,
                _references_registered_alike(reference, user).exclude(
                    Exists(CustomerReference.history.filter(id=OuterRef("pk")).exclude(history_type="+"))
                ),
            )
            if earlier is not None:
                return earlier, False
        _save_valid(reference)
        # Only the partner's own staff registering one is news to the provider (engagement_complete tells
        # the PDM whoever completes).
        if user.partner_id == reference.partner_id:
            reference_tell_pdm(reference, user)
    return reference, True


def _references_registered_alike(reference: CustomerReference, user) -> QuerySet[CustomerReference]:
    """The partner's references with the same content as `reference`, registered by `user`."""
    registered_by_user = CustomerReference.history.filter(
        id=OuterRef("pk"), history_type="+", history_user_id=user.pk
    )
    return CustomerReference.objects.filter(
        Exists(registered_by_user),
        partner_id=reference.partner_id,
        customer_name=reference.customer_name,
        summary=reference.summary,
        services_used=reference.services_used,
        launched_on=reference.launched_on,
        is_public=reference.is_public,
    )


def reference_tell_pdm(reference: CustomerReference, user) -> None:
    """An unvalidated reference waits for its partner's PDM, who is told (in the caller's transaction),
    whoever registered it: the partner's staff on /my/references/, or whoever completed the engagement
    that made it (engagement_complete); one the PDM registered themselves needs no email. Without a
    current PDM (User.is_pdm) it waits in the admin's list of references."""
    pdm = reference.partner.pdm
    if pdm is None or pdm.pk == user.pk or not pdm.is_pdm or not pdm.email:
        return
    outbox_email_enqueue(
        dedupe_key=f"customer-reference:{reference.pk}:registered",
        to=[pdm.email],
        subject=f"{reference.partner.name} registered a customer reference to validate",
        template="emails/customer_reference_registered",
        context={
            "reference": reference,
            "registered_by": user,
            "admin_path": reverse("admin:partners_customerreference_change", args=[reference.pk]),
        },
    )


def _ensure_may_keep_reference(partner: Partner, user, reference: CustomerReference | None = None) -> None:
    """A partner registers its own customer projects, and corrects or withdraws them until its PDM has
    validated them: what counts toward its tier then changes only through the PDM."""
    if partner_is_editable_by(partner, user):
        return
    if not (user.is_authenticated and user.is_active and user.partner_id == partner.pk):
        raise PermissionDeniedError(
            f"Only {partner.name}'s own staff or its PDM can keep its customer references."
        )
    if reference is not None and reference.is_validated:
        raise PermissionDeniedError(
            f"{partner.name}'s PDM has validated this reference: it now changes only through them."
        )


def reference_update(*, reference: CustomerReference, user, **changes) -> CustomerReference:
    with transaction.atomic():
        locked = _lock_record(CustomerReference, reference.pk)
        _ensure_may_keep_reference(locked.partner, user, locked)
        locked._history_user = user
        changes = _changed(locked, changes, REFERENCE_FIELDS)
        if changes:
            _apply(locked, changes, REFERENCE_FIELDS)
            _save_valid(locked)
    return locked


def reference_delete(*, reference: CustomerReference, user) -> None:
    with transaction.atomic():
        locked = _lock_record(CustomerReference, reference.pk)
        _ensure_may_keep_reference(locked.partner, user, locked)
        # Its last version, and that of the engagement recording it (engagements.signals), name who
        # withdrew it, outside a request too.
        locked._history_user = user
        locked.delete()
