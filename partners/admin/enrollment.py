"""Program enrollments: applications are entered here, corrected, taken up for review, audited, approved,
renewed and revoked; all go through the services, so the admin refuses what the API refuses."""

from django import forms
from django.contrib import admin, messages

from apn_portal.admin import (
    ROW_REFUSALS,
    AuditedAdmin,
    GuardedDeletionMixin,
    LargeTableAdminMixin,
    report_refusal,
    selection_too_large,
)
from apn_portal.dates import DatePicker, validate_plausible_date
from apn_portal.exceptions import DomainError
from apn_portal.pages import form_error
from partners.choices import LIVE_ENROLLMENT_STATUSES, AuditResult, EnrollmentStatus
from partners.forms import ReasonForm
from partners.models import ProgramEnrollment
from partners.services import (
    enrollment_approve,
    enrollment_renew,
    enrollment_renew_check,
    enrollment_revoke,
    enrollment_revoke_check,
    enrollment_schedule_audit,
    enrollment_schedule_audit_check,
    enrollment_start_review,
)
from partners.services_records import (
    ENROLLMENT_FIELDS,
    enrollment_apply,
    enrollment_apply_check,
    enrollment_update,
    enrollment_update_check,
)

from .filters import EnrollmentExpiryFilter
from .pages import action_form_page
from .scope import MyPartnersFilter, PartnerScopedAdminMixin


class EnrollmentApplicationForm(forms.ModelForm):
    """Adding an enrollment is applying: the service's refusal (a program closed to the partner's type, an
    enrollment already open, an application dated in the future) is shown on the form before anything is
    saved."""

    user = None  # the person applying, set by the admin for each request

    def clean(self):
        cleaned = super().clean()
        partner, program = cleaned.get("partner"), cleaned.get("program")
        if partner is not None and program is not None:
            try:
                enrollment_apply_check(
                    partner=partner,
                    program=program,
                    user=self.user,
                    applied_on=cleaned.get("applied_on"),
                    audit_date=cleaned.get("audit_date"),
                    audit_result=cleaned.get("audit_result", ""),
                )
            except DomainError as error:
                form_error(self, error)
        return cleaned


class EnrollmentChangeForm(forms.ModelForm):
    """Changing an enrollment is correcting its application and audit: the service's refusal
    (`enrollment_update_check`) is shown beside the field, with what was typed kept."""

    user = None  # the person changing it, set by the admin for each request

    def clean(self):
        cleaned = super().clean()
        # A field already wrong on its own (a date that is no date) is left out: its error is shown.
        changes = {name: cleaned[name] for name in ENROLLMENT_FIELDS if name in cleaned}
        try:
            # The instance still holds the saved values here: the form copies its own in only after clean.
            enrollment_update_check(enrollment=self.instance, user=self.user, **changes)
        except DomainError as error:
            form_error(self, error)
        return cleaned


class EnrollmentRevokeForm(ReasonForm):
    """The reason for a revocation, refused by the service's rule (`enrollment_revoke_check`), so the
    admin says what the API says."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = False

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["reason"] = enrollment_revoke_check(reason=cleaned.get("reason", ""))
        except DomainError as error:
            form_error(self, error)
        return cleaned


class EnrollmentRenewForm(forms.Form):
    """The new audit a renewal stands on, refused by the service's rule (`enrollment_renew_check`), so the
    admin says what the API says. Left empty, each enrollment is renewed on the audit recorded on it."""

    audit_date = forms.DateField(
        required=False,
        widget=DatePicker(),
        help_text="The new audit's date, if it is not recorded on the enrollments yet.",
    )
    audit_result = forms.ChoiceField(
        choices=[("", "---------"), *AuditResult.choices],
        required=False,
        help_text="A renewal stands on a passed audit.",
    )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            enrollment_renew_check(
                audit_date=cleaned.get("audit_date"), audit_result=cleaned.get("audit_result", "")
            )
        except DomainError as error:
            form_error(self, error)
        return cleaned


class EnrollmentScheduleAuditForm(forms.Form):
    """The day of the audit, refused by the service's rule (`enrollment_schedule_audit_check`), so the
    admin says what the API says."""

    audit_date = forms.DateField(
        widget=DatePicker(),
        validators=[validate_plausible_date],
        help_text="The day the third-party audit is to be held: today or later.",
    )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            enrollment_schedule_audit_check(audit_date=cleaned.get("audit_date"))
        except DomainError as error:
            form_error(self, error)
        return cleaned


# How many approved enrollments a refused delete names, each with its own message.
_NAMED_APPROVED = 10


@admin.register(ProgramEnrollment)
class ProgramEnrollmentAdmin(
    GuardedDeletionMixin, PartnerScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin
):
    list_display = (
        "partner",
        "program",
        "status",
        "applied_on",
        "audit_date",
        "audit_result",
        "approved_on",
        "expires_on",
    )
    list_select_related = ("partner", "program")
    list_filter = (
        "status",
        "program",
        "program__kind",
        "audit_result",
        EnrollmentExpiryFilter,
        MyPartnersFilter,
    )
    search_fields = ("partner__name", "program__name")
    search_help_text = "Search by partner or program name."
    autocomplete_fields = ("partner",)
    ordering = ("-pk",)
    fields = (
        "partner",
        "program",
        "status",
        "applied_on",
        "audit_date",
        "audit_result",
        "approved_on",
        "approval_audit_date",
        "approved_by",
        "expires_on",
        "status_reason",
    )
    actions = ("start_review", "schedule_audit", "approve", "renew", "revoke")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = EnrollmentApplicationForm if obj is None else EnrollmentChangeForm
        kwargs["form"] = type(form.__name__, (form,), {"user": request.user})
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            saved = enrollment_update(
                enrollment=obj,
                user=request.user,
                **{name: form.cleaned_data[name] for name in ENROLLMENT_FIELDS if name in form.cleaned_data},
            )
        else:
            saved = enrollment_apply(
                partner=obj.partner,
                program=obj.program,
                user=request.user,
                applied_on=obj.applied_on,
                audit_date=obj.audit_date,
                audit_result=obj.audit_result,
            )
        # The admin goes on with the object it built (to log the change and redirect): it becomes the
        # enrollment the service saved.
        for field in ProgramEnrollment._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def get_readonly_fields(self, request, obj=None):
        # Status and approval change only through the actions (start review, schedule the audit, approve,
        # renew, revoke), which check the rules.
        readonly = [
            "status",
            "approved_on",
            "approval_audit_date",
            "approved_by",
            "expires_on",
            "status_reason",
        ]
        if obj is not None:
            readonly = ["partner", "program", *readonly]
            if obj.status not in LIVE_ENROLLMENT_STATUSES:
                # An ended enrollment is closed (enrollment_update_check): shown, not offered for editing.
                readonly += ENROLLMENT_FIELDS
        return readonly

    # An approved enrollment is the partner's standing in the program (a Solution Provider's gives its
    # customers partner-led support): it ends by a revocation, which records why and hands its support
    # cases to the provider, never by disappearing. Deleting is for applications and ended enrollments.
    def deletion_problems(self, queryset):
        approved = queryset.filter(status=EnrollmentStatus.APPROVED).select_related("partner", "program")
        # Named one by one up to a point: a message each, and a big selection would bury the page.
        named = list(approved.order_by("partner__name", "program__name", "pk")[: _NAMED_APPROVED + 1])
        problems = [
            f"{e.partner.name} in {e.program.name} is approved: revoke it with a reason instead."
            for e in named[:_NAMED_APPROVED]
        ]
        if len(named) > _NAMED_APPROVED:
            more = approved.count() - _NAMED_APPROVED
            problems.append(
                f"{more} more of the selected enrollments are approved: revoke them with a reason instead."
            )
        return problems

    def _editable_selection(self, request, queryset) -> list[ProgramEnrollment]:
        """The selected enrollments the user may change (the others named in an error), or none for a
        selection too large to act on."""
        if selection_too_large(self, request, queryset):
            return []
        return self.keep_editable(request, list(queryset.select_related("partner", "program")))

    def _each(self, request, enrollments, service, done: str) -> None:
        """Run `service` on each enrollment, saying which it refused and why, then which it changed."""
        succeeded = []
        for enrollment in enrollments:
            subject = f"{enrollment.partner.name} in {enrollment.program.name}"
            try:
                service(enrollment)
            except ROW_REFUSALS as error:
                report_refusal(self, request, subject, error)
                continue
            succeeded.append(subject)
        if succeeded:
            self.message_user(request, f"{done} {len(succeeded)}: {'; '.join(succeeded)}.", messages.SUCCESS)

    @admin.action(description="Start reviewing selected applications", permissions=["change"])
    def start_review(self, request, queryset):
        self._each(
            request,
            self._editable_selection(request, queryset),
            lambda enrollment: enrollment_start_review(enrollment=enrollment, user=request.user),
            "Under review",
        )

    @admin.action(description="Schedule the audit of selected applications…", permissions=["change"])
    def schedule_audit(self, request, queryset):
        enrollments = self._editable_selection(request, queryset)
        if not enrollments:
            return None
        if "apply" in request.POST:
            form = EnrollmentScheduleAuditForm(request.POST)
            if form.is_valid():
                audit_date = form.cleaned_data["audit_date"]
                self._each(
                    request,
                    enrollments,
                    lambda enrollment: enrollment_schedule_audit(
                        enrollment=enrollment, user=request.user, audit_date=audit_date
                    ),
                    "Audit scheduled",
                )
                return None
        else:
            form = EnrollmentScheduleAuditForm()
        return action_form_page(
            self,
            request,
            action="schedule_audit",
            title="Schedule the audit",
            intro="These applications to programs that require an audit wait for their third-party audit "
            "on this day. Once it is held, record its date and result on the enrollment, then approve it.",
            objects=enrollments,
            describe=lambda e: f"{e.partner.name} in {e.program.name} ({e.get_status_display().lower()})",
            form=form,
            submit_label="Schedule",
        )

    @admin.action(description="Approve selected enrollments", permissions=["change"])
    def approve(self, request, queryset):
        self._each(
            request,
            self._editable_selection(request, queryset),
            lambda enrollment: enrollment_approve(enrollment=enrollment, user=request.user),
            "Approved",
        )

    @admin.action(description="Renew selected enrollments on a passed audit…", permissions=["change"])
    def renew(self, request, queryset):
        enrollments = self._editable_selection(request, queryset)
        if not enrollments:
            return None
        if "apply" in request.POST:
            form = EnrollmentRenewForm(request.POST)
            if form.is_valid():
                audit = {name: form.cleaned_data[name] for name in ("audit_date", "audit_result")}
                self._each(
                    request,
                    enrollments,
                    lambda enrollment: enrollment_renew(enrollment=enrollment, user=request.user, **audit),
                    "Renewed",
                )
                return None
        else:
            form = EnrollmentRenewForm()
        return action_form_page(
            self,
            request,
            action="renew",
            title="Renew enrollments",
            intro="These approved enrollments are approved again today for their program's validity, on a "
            "new passed audit: give it here, or leave it empty to renew each on the audit recorded on it.",
            objects=enrollments,
            describe=lambda e: (
                f"{e.partner.name} in {e.program.name} ({e.get_status_display().lower()}"
                + (f", expires on {e.expires_on:%d %b %Y})" if e.expires_on else ")")
            ),
            form=form,
            submit_label="Renew",
        )

    @admin.action(description="Revoke selected enrollments, with a reason…", permissions=["change"])
    def revoke(self, request, queryset):
        enrollments = self._editable_selection(request, queryset)
        if not enrollments:
            return None
        if "apply" in request.POST:
            form = EnrollmentRevokeForm(request.POST)
            if form.is_valid():
                reason = form.cleaned_data["reason"]
                self._each(
                    request,
                    enrollments,
                    lambda enrollment: enrollment_revoke(
                        enrollment=enrollment, user=request.user, reason=reason
                    ),
                    "Revoked",
                )
                return None
        else:
            form = EnrollmentRevokeForm()
        return action_form_page(
            self,
            request,
            action="revoke",
            title="Revoke enrollments",
            intro="These enrollments end now; the reason is recorded and shown to the partner.",
            objects=enrollments,
            describe=lambda e: f"{e.partner.name} in {e.program.name} ({e.get_status_display().lower()})",
            form=form,
            submit_label="Revoke",
        )
