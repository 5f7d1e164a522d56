"""A partner's records kept by others or by the portal: offices, references, leads, proposed profile
changes, and the tier history."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.defaultfilters import date as date_filter
from django.urls import path, reverse

from apn_portal.admin import (
    ROW_REFUSALS,
    AuditedAdmin,
    DeletedOnlyWithParentMixin,
    DeletedWithParentMixin,
    LargeTableAdminMixin,
    report_each_change,
    report_refusal,
    selection_too_large,
)
from apn_portal.text import full_stop
from partners.choices import ProfileChangeStatus
from partners.forms import ReasonForm
from partners.models import ContactRequest, CustomerReference, Office, ProfileChangeRequest, TierChange
from partners.services import (
    customer_reference_set_validated,
    profile_change_approve,
    profile_change_reject,
)

from .filters import OfficeCountryFilter
from .pages import action_form_page
from .scope import MyPartnersFilter, PartnerScopedAdminMixin


class ReadOnlyAdminMixin:
    """Records that only the portal writes: the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OwnerFixedOnChangeMixin:
    """A record's owner (`owner_field`: its partner, a certification's staff member) is chosen when it is
    added and only shown on its change page. Moved to another partner, a record would count toward a tier
    it was never earned for (a validated reference, a certification) and leave its PDM's scope unseen; the
    services refuse it too (reference_update, certification_update, staff_member_update take no owner)."""

    owner_field = "partner"

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and self.owner_field not in readonly:
            readonly.append(self.owner_field)
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form
        owner = self.owner_field

        class OwnerCheckedForm(form):
            def _get_validation_exclusions(self):
                # Read-only here, the owner is not on the form, and Django would skip every constraint
                # naming it (one email per partner, one headquarters), leaving the database to refuse the
                # save with a 500: it is the instance's own, so those are checked as on the add page.
                return {name for name in super()._get_validation_exclusions() if name != owner}

        return OwnerCheckedForm


# Only the partner's deletion takes its tier history: no tier change is deleted on its own.
@admin.register(TierChange)
class TierChangeAdmin(DeletedOnlyWithParentMixin, ReadOnlyAdminMixin, LargeTableAdminMixin, admin.ModelAdmin):
    partner_path = "partner"  # for the "My partners" filter
    list_display = ("changed_at", "partner", "from_tier", "to_tier", "source", "changed_by", "reason")
    list_select_related = ("partner", "from_tier", "to_tier", "changed_by")
    list_filter = ("source", "to_tier", MyPartnersFilter)
    search_fields = ("partner__name",)
    search_help_text = "Search by partner name."
    ordering = ("-changed_at", "-pk")


@admin.register(Office)
class OfficeAdmin(OwnerFixedOnChangeMixin, PartnerScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin):
    list_display = ("city", "country_name", "partner", "is_headquarters", "latitude", "longitude")
    list_select_related = ("partner",)
    list_filter = ("is_headquarters", OfficeCountryFilter, MyPartnersFilter)
    search_fields = ("city", "partner__name")
    search_help_text = "Search by city or partner name."
    autocomplete_fields = ("partner",)
    ordering = ("-pk",)
    fields = ("partner", "is_headquarters", "country", "city", "latitude", "longitude")

    @admin.display(description="country", ordering="country")
    def country_name(self, office):
        # The country's own name: the field's display would flatten all the world's choices per row.
        return office.country.name


@admin.register(CustomerReference)
class CustomerReferenceAdmin(
    OwnerFixedOnChangeMixin, PartnerScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin
):
    list_display = ("customer_name", "partner", "launched_on", "is_validated", "validated_by", "is_public")
    list_select_related = ("partner", "validated_by")
    list_filter = ("is_validated", "is_public", MyPartnersFilter)
    search_fields = ("customer_name", "partner__name")
    search_help_text = "Search by customer or partner name."
    autocomplete_fields = ("partner",)
    ordering = ("-pk",)
    fields = (
        "partner",
        "customer_name",
        "summary",
        "services_used",
        "launched_on",
        "is_public",
        "is_validated",
        "validated_by",
        "validated_at",
    )
    # Validation counts toward the tier: it changes only through the actions, which record who and when.
    readonly_fields = ("is_validated", "validated_by", "validated_at")
    actions = ("validate", "withdraw_validation")

    @admin.action(
        description="Validate selected references (they count toward the tier)", permissions=["change"]
    )
    def validate(self, request, queryset):
        self._set_validated(request, queryset, validated=True)

    @admin.action(description="Withdraw validation of selected references", permissions=["change"])
    def withdraw_validation(self, request, queryset):
        self._set_validated(request, queryset, validated=False)

    def _set_validated(self, request, queryset, *, validated: bool):
        if selection_too_large(self, request, queryset):
            return
        report_each_change(
            self,
            request,
            self.keep_editable(request, list(queryset)),
            lambda reference: customer_reference_set_validated(
                reference=reference, validated=validated, user=request.user
            ),
            changed="Validated" if validated else "Withdrew validation of",
            already="already validated" if validated else "not validated",
            separator="; ",
        )


@admin.register(ContactRequest)
class ContactRequestAdmin(ReadOnlyAdminMixin, LargeTableAdminMixin, admin.ModelAdmin):
    """Leads are the partner's to answer; PDMs see them here. None is ever deleted."""

    partner_path = "partner"
    list_display = ("reference", "created_at", "partner", "company", "name", "country", "status")
    list_select_related = ("partner",)
    list_filter = ("status", "project_size", "timeline", MyPartnersFilter)
    search_fields = ("=reference", "company", "=email", "partner__name")
    search_help_text = "Search by exact reference or email, company, or partner name."
    ordering = ("-pk",)


@admin.register(ProfileChangeRequest)
class ProfileChangeRequestAdmin(
    DeletedWithParentMixin, PartnerScopedAdminMixin, LargeTableAdminMixin, admin.ModelAdmin
):
    """Profile changes a partner proposes: its PDM approves (they go live) or rejects them with a reason.
    The partner's deletion takes them (DeletedWithParentMixin): they were about a profile no longer there."""

    list_display = ("partner", "status", "proposed_by", "created_at", "decided_by", "decided_at")
    list_select_related = ("partner", "proposed_by", "decided_by")
    list_filter = ("status", MyPartnersFilter)
    search_fields = ("partner__name",)
    search_help_text = "Search by partner name."
    ordering = ("-pk",)
    fields = (
        "partner",
        "status",
        "proposed_by",
        "created_at",
        "replaces",
        "changed",
        "description",
        "website",
        "industries",
        "use_cases",
        "decided_by",
        "decided_at",
        "decision_reason",
    )
    readonly_fields = fields
    actions = ("approve", "reject")

    def has_add_permission(self, request):
        return False

    @admin.display(description="Changed by the partner")
    def changed(self, obj):
        # Only these go live on approval; the others below are the profile as it was when proposed.
        return obj.fields_changed_display()

    @admin.display(description="Replaces")
    def replaces(self, obj):
        # A proposal sent while another waited is laid over it: those who proposed what it keeps are named,
        # as the decision is theirs too (they are told of it).
        return (
            "; ".join(
                f"{kept.proposal.proposed_by or 'a former colleague'}'s proposal of "
                f"{date_filter(kept.proposal.created_at, 'j M Y, H:i T')} ({kept.fields_display()})"
                for kept in obj.replaced()
            )
            or "None"
        )

    def has_change_permission(self, request, obj=None):
        # The page is for reading; the decision is taken with the actions, or with the page's own buttons.
        return obj is None and super().has_change_permission(request)

    def can_decide(self, request, change) -> bool:
        """Approve and Reject on the proposal's page, the one its PDM's email opens: the actions' rules."""
        return (
            change.status == ProfileChangeStatus.PENDING
            and self.has_change_permission(request)
            and self.is_editable(request, change)
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        change = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {})}
        if change is not None and self.can_decide(request, change):
            extra_context.update(can_decide=True, reason_form=ReasonForm())
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="{}_{}_approve".format(*info),
            ),
            path(
                "<path:object_id>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="{}_{}_reject".format(*info),
            ),
            *super().get_urls(),
        ]

    def _decide(self, request, object_id, decide):
        """POST only (the admin's view wrapper checks its CSRF token); the service refuses another PDM's
        partner or a proposal already decided, said as the actions say it. Back to the proposal's page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        change = self.get_object(request, unquote(object_id))
        if change is None:
            raise Http404
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            decide(change)
        except ROW_REFUSALS as error:
            report_refusal(self, request, change.partner.name, error)
        return HttpResponseRedirect(reverse("admin:partners_profilechangerequest_change", args=[change.pk]))

    def approve_view(self, request, object_id):
        def approve(change):
            profile_change_approve(change=change, user=request.user)
            self.message_user(
                request, f"Approved and live: {full_stop(change.partner.name)}", messages.SUCCESS
            )

        return self._decide(request, object_id, approve)

    def reject_view(self, request, object_id):
        def reject(change):
            form = ReasonForm(request.POST)
            if form.is_valid() or not request.POST.get("reason", "").strip():
                # A reason left empty reaches the service, which says why one is needed.
                profile_change_reject(
                    change=change, user=request.user, reason=form.cleaned_data.get("reason")
                )
                self.message_user(request, f"Rejected: {full_stop(change.partner.name)}", messages.SUCCESS)
            else:
                self.message_user(
                    request,
                    f"{change.partner.name}: not rejected: {' '.join(form.errors['reason'])}",
                    messages.ERROR,
                )

        return self._decide(request, object_id, reject)

    def has_delete_permission(self, request, obj=None):
        # A proposal is approved, or rejected with a reason its partner reads; a decided one is the record of
        # who decided what. Only a superuser clears one away.
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    @admin.action(description="Approve selected proposals (they go live)", permissions=["change"])
    def approve(self, request, queryset):
        if selection_too_large(self, request, queryset):
            return None
        approved = []
        for change in self.keep_editable(request, list(queryset)):
            try:
                profile_change_approve(change=change, user=request.user)
            except ROW_REFUSALS as error:
                report_refusal(self, request, change.partner.name, error)
                continue
            approved.append(change.partner.name)
        if approved:
            self.message_user(
                request, f"Approved and live: {full_stop(', '.join(approved))}", messages.SUCCESS
            )
        return None

    @admin.action(description="Reject selected proposals, with a reason…", permissions=["change"])
    def reject(self, request, queryset):
        if selection_too_large(self, request, queryset):
            return None
        changes = self.keep_editable(request, list(queryset))
        if not changes:
            return None
        if "apply" in request.POST:
            form = ReasonForm(request.POST)
            if form.is_valid():
                rejected = []
                for change in changes:
                    try:
                        profile_change_reject(
                            change=change, user=request.user, reason=form.cleaned_data["reason"]
                        )
                    except ROW_REFUSALS as error:
                        report_refusal(self, request, change.partner.name, error)
                        continue
                    rejected.append(change.partner.name)
                if rejected:
                    self.message_user(
                        request, f"Rejected: {full_stop(', '.join(rejected))}", messages.SUCCESS
                    )
                return None
        else:
            form = ReasonForm()
        return action_form_page(
            self,
            request,
            action="reject",
            title="Reject proposed profile changes",
            intro="The partner's staff are told, with your reason.",
            objects=changes,
            describe=str,
            form=form,
            submit_label="Reject",
        )
