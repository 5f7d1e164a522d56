"""Program enrollments: applications are entered here, and approved and revoked; all three go through the
services, so the admin refuses what the API refuses."""

from django import forms
from django.contrib import admin, messages

from apn_portal.admin import AuditedAdmin, LargeTableAdminMixin, report_refusal, selection_too_large
from apn_portal.exceptions import DomainError
from apn_portal.pages import form_error
from partners.forms import ReasonForm
from partners.models import ProgramEnrollment
from partners.services import enrollment_approve, enrollment_revoke, enrollment_revoke_check
from partners.services_records import enrollment_apply, enrollment_apply_check

from .filters import EnrollmentExpiryFilter
from .pages import action_form_page
from .scope import MyPartnersFilter, PartnerScopedAdminMixin


class EnrollmentApplicationForm(forms.ModelForm):
    """Adding an enrollment is applying: the service's refusal (a program closed to the partner's type, an
    enrollment already open) is shown on the form before anything is saved."""

    user = None  # the person applying, set by the admin for each request

    def clean(self):
        cleaned = super().clean()
        partner, program = cleaned.get("partner"), cleaned.get("program")
        if partner is not None and program is not None:
            try:
                enrollment_apply_check(partner=partner, program=program, user=self.user)
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


@admin.register(ProgramEnrollment)
class ProgramEnrollmentAdmin(PartnerScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin):
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
        "approved_by",
        "expires_on",
        "status_reason",
    )
    actions = ("approve", "revoke")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = type(
                "EnrollmentApplicationForm", (EnrollmentApplicationForm,), {"user": request.user}
            )
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = enrollment_apply(
            partner=obj.partner,
            program=obj.program,
            user=request.user,
            applied_on=obj.applied_on,
            audit_date=obj.audit_date,
            audit_result=obj.audit_result,
        )
        # The admin goes on with the object it built (to log the addition and redirect): it becomes the
        # enrollment the service saved.
        for field in ProgramEnrollment._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False

    def get_readonly_fields(self, request, obj=None):
        # Status and approval change only through the approve and revoke actions, which check the rules.
        readonly = ["status", "approved_on", "approved_by", "expires_on", "status_reason"]
        if obj is not None:
            readonly = ["partner", "program", *readonly]
        return readonly

    @admin.action(description="Approve selected enrollments", permissions=["change"])
    def approve(self, request, queryset):
        if selection_too_large(self, request, queryset):
            return None
        enrollments = self.keep_editable(request, list(queryset.select_related("partner", "program")))
        approved = []
        for enrollment in enrollments:
            subject = f"{enrollment.partner.name} in {enrollment.program.name}"
            try:
                enrollment_approve(enrollment=enrollment, user=request.user)
            except DomainError as error:
                report_refusal(self, request, subject, error)
                continue
            approved.append(subject)
        if approved:
            self.message_user(request, f"Approved {len(approved)}: {'; '.join(approved)}.", messages.SUCCESS)
        return None

    @admin.action(description="Revoke selected enrollments, with a reason…", permissions=["change"])
    def revoke(self, request, queryset):
        if selection_too_large(self, request, queryset):
            return None
        enrollments = self.keep_editable(request, list(queryset.select_related("partner", "program")))
        if not enrollments:
            return None
        if "apply" in request.POST:
            form = EnrollmentRevokeForm(request.POST)
            if form.is_valid():
                revoked = []
                for enrollment in enrollments:
                    subject = f"{enrollment.partner.name} in {enrollment.program.name}"
                    try:
                        enrollment_revoke(
                            enrollment=enrollment, user=request.user, reason=form.cleaned_data["reason"]
                        )
                    except DomainError as error:
                        report_refusal(self, request, subject, error)
                        continue
                    revoked.append(subject)
                if revoked:
                    self.message_user(
                        request, f"Revoked {len(revoked)}: {'; '.join(revoked)}.", messages.SUCCESS
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
