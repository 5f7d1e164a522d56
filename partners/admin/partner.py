"""The partner's admin: the list PDMs work from, the change page with its tier evaluation and inlines, and
the actions (tier changes, publishing, CSV export) that go through partners.services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Prefetch
from django.forms import Textarea
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from apn_portal.admin import (
    ROW_REFUSALS,
    SET_ACTION_MAX_OBJECTS,
    AdminInputMixin,
    AuditedAdmin,
    ChangeListQuerysetMixin,
    GuardedDeletionMixin,
    LargeTableAdminMixin,
    csv_streaming_response,
    report_each_change,
    report_refusal,
    selection_too_large,
)
from apn_portal.exceptions import DomainError
from apn_portal.forms import REASON_MAX_LENGTH, TextareaField
from partners.choices import PartnerType, RequirementMetric
from partners.forms import PartnerAdminForm, PartnerTierChangeForm
from partners.models import (
    Certification,
    CustomerReference,
    Office,
    Partner,
    ProgramEnrollment,
    StaffMember,
    TierChange,
)
from partners.selectors import (
    PARTNER_EXPORT_HEADER,
    partner_deletion_problems,
    partner_is_editable_by,
    partners_editable_by,
    partners_export_rows,
    partners_with_list_columns,
    tier_evaluate,
)
from partners.services import (
    partner_tier_change,
    partner_tier_recompute,
    partner_type_change,
    partners_set_published,
)
from partners.signals import partner_changes_batched

from .filters import (
    ExpiringSoonFilter,
    HeldProgramFilter,
    OfficeCountryFilter,
    PdmFilter,
    TierHealthFilter,
    taxonomy_filter,
)
from .formsets import UniqueRowsInlineFormSet
from .pages import action_form_page
from .scope import PartnerChildInlineMixin, PartnerScopedAdminMixin, is_autocomplete_for_partners_app

TIER_HEALTH_FIELDS = ("grace_started_on", "grace_ends_on", "at_risk_from", "qualifies_for_tier")


class PartnerTypeChangeForm(forms.Form):
    partner_type = forms.ChoiceField(label="Correct type")
    reason = TextareaField(
        max_length=REASON_MAX_LENGTH,
        widget=Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded with the tier change the correction makes, in the partner's tier history.",
    )

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner_type"].choices = [
            (value, label) for value, label in PartnerType.choices if value != current
        ]


# Inlines -----------------------------------------------------------------------------------------------


def may_add_for_partner(request, model, partner) -> bool:
    """Whether a link on the partner's page to add a `model` record for it would lead anywhere: the user
    may add one, and the add form offers this partner (only the partners the user may change)."""
    codename = get_permission_codename("add", model._meta)
    return request.user.has_perm(f"{model._meta.app_label}.{codename}") and partner_is_editable_by(
        partner, request.user
    )


class OfficeInline(PartnerChildInlineMixin, admin.TabularInline):
    model = Office
    formset = UniqueRowsInlineFormSet
    extra = 0
    fields = ("is_headquarters", "country", "city", "latitude", "longitude")


class StaffMemberInline(PartnerChildInlineMixin, admin.TabularInline):
    model = StaffMember
    formset = UniqueRowsInlineFormSet
    extra = 0
    fields = ("full_name", "email", "job_title", "certification_list")
    readonly_fields = ("certification_list",)
    show_change_link = True
    # Whether each row links to adding a certification for that person, set per request in get_formset.
    may_add_certification = False

    def get_queryset(self, request):
        certifications = Certification.objects.order_by("-expires_on", "pk")
        return super().get_queryset(request).prefetch_related(Prefetch("certifications", certifications))

    def get_formset(self, request, obj=None, **kwargs):
        # Django makes the inline instance for this request and this partner, whose staff every row is.
        self.may_add_certification = obj is not None and may_add_for_partner(request, Certification, obj)
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description="certifications")
    def certification_list(self, member):
        if member.pk is None:
            return "-"
        today = timezone.localdate()
        items = format_html_join(
            "",
            '<li><a href="{}">{}</a> ({}), {} {}</li>',
            (
                (
                    reverse("admin:partners_certification_change", args=[cert.pk]),
                    cert.name,
                    cert.get_level_display(),
                    "expired" if cert.expires_on < today else "expires",
                    cert.expires_on.isoformat(),
                )
                for cert in member.certifications.all()
            ),
        )
        if not self.may_add_certification:
            return format_html('<ul class="certification-list">{}</ul>', items)
        add_url = reverse("admin:partners_certification_add") + f"?staff_member={member.pk}"
        return format_html('<ul class="certification-list">{}</ul><a href="{}">Add one</a>', items, add_url)


class ProgramEnrollmentInline(admin.TabularInline):
    """A read-only summary. An enrollment changes only on its own page and through the enrollment list's
    approve and revoke, which apply the service's rules (an audit result once approved, an ended enrollment
    closed, a revocation with a reason): editable here, the same rows would go around all of them. The
    heading links to adding one for this partner, where applying checks the program is open to it."""

    model = ProgramEnrollment
    extra = 0
    fields = (
        "program",
        "status",
        "applied_on",
        "audit_date",
        "audit_result",
        "approved_on",
        "expires_on",
        "page",
    )
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        # Each row's title names its partner and program.
        return super().get_queryset(request).select_related("partner", "program")

    def get_formset(self, request, obj=None, **kwargs):
        # Django makes the inline instance for this request and this partner: its heading can name both.
        if obj is not None and may_add_for_partner(request, self.model, obj):
            url = reverse("admin:partners_programenrollment_add") + f"?partner={obj.pk}"
            self.verbose_name_plural = format_html(
                '{} <a href="{}" class="addlink">Add an enrollment</a>', self.opts.verbose_name_plural, url
            )
        return super().get_formset(request, obj, **kwargs)

    def has_add_permission(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="enrollment")
    def page(self, enrollment):
        url = reverse("admin:partners_programenrollment_change", args=[enrollment.pk])
        return format_html('<a href="{}">Open</a>', url)


class CustomerReferenceInline(PartnerChildInlineMixin, AdminInputMixin, admin.TabularInline):
    """Validation is read-only: it changes through the reference list's validate action, which records who."""

    model = CustomerReference
    formset = UniqueRowsInlineFormSet
    extra = 0
    fields = ("customer_name", "launched_on", "services_used", "summary", "is_public", "is_validated")
    readonly_fields = ("is_validated",)
    formfield_overrides = {models.TextField: {"widget": Textarea(attrs={"rows": 2, "cols": 40})}}
    show_change_link = True

    def get_queryset(self, request):
        # Each row's title names its partner.
        return super().get_queryset(request).select_related("partner")


class TierChangeInline(admin.TabularInline):
    model = TierChange
    extra = 0
    fields = ("changed_at", "from_tier", "to_tier", "reason", "source", "changed_by")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "tier history"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("partner", "from_tier", "to_tier", "changed_by")

    def has_add_permission(self, request, obj):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The partner -------------------------------------------------------------------------------------------


@admin.register(Partner)
class PartnerAdmin(
    GuardedDeletionMixin,
    PartnerScopedAdminMixin,
    LargeTableAdminMixin,
    ChangeListQuerysetMixin,
    AuditedAdmin,
):
    partner_path = ""
    form = PartnerAdminForm
    list_display = (
        "name",
        "partner_type",
        "tier",
        "headquarters",
        "pdm",
        "is_published",
        "active_certification_count",
        "validated_reference_count",
    )
    list_select_related = ("tier", "pdm")
    list_filter = (
        "partner_type",
        "tier",
        HeldProgramFilter,
        OfficeCountryFilter,
        PdmFilter,
        "is_published",
        ExpiringSoonFilter,
        TierHealthFilter,
        taxonomy_filter("categories", "consulting category"),
        taxonomy_filter("industries", "industry"),
    )
    sortable_by = ("name", "partner_type", "tier", "pdm", "is_published")
    search_fields = ("name", "slug")
    search_help_text = "Search by name or slug."
    autocomplete_fields = ("pdm",)
    filter_horizontal = ("categories", "industries", "use_cases")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "partner_type", "tier", "pdm", "is_published")}),
        ("Tier evaluation", {"fields": ("tier_evaluation",)}),
        (
            "Tier health, as the scheduled check last found it",
            {"fields": TIER_HEALTH_FIELDS},
        ),
        ("Profile", {"fields": ("description", "website", "logo", "categories", "industries", "use_cases")}),
        ("Record", {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )
    inlines = (
        OfficeInline,
        StaffMemberInline,
        ProgramEnrollmentInline,
        CustomerReferenceInline,
        TierChangeInline,
    )
    actions = ("recompute_tier", "change_tier", "publish", "unpublish", "export_selected_csv")

    def get_queryset(self, request):
        # The change page shows the tier it qualifies for (tier health) with the partner.
        return partners_with_list_columns(super().get_queryset(request)).select_related("qualifies_for_tier")

    def deletion_problems(self, queryset):
        return partner_deletion_problems(queryset)

    def get_readonly_fields(self, request, obj=None):
        # A partner joins on its ladder's entry tier (the form sets it); a tier changes only with a recorded
        # reason (the actions).
        readonly = ["tier", "tier_evaluation", *TIER_HEALTH_FIELDS, "created_at", "updated_at"]
        if obj is not None:
            # The ladder follows the type: the type changes through its own page, which moves the partner
            # to the new type's ladder.
            readonly.append("partner_type")
        return readonly

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The partner's save, each tag list's change and each inline record would each refresh its search
        # entry and move its `updated_at`: once, at the end of the transaction the admin opens for the
        # save, is enough.
        with transaction.atomic(), partner_changes_batched():
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if request.user.is_pdm:
            initial.setdefault("pdm", request.user.pk)
        return initial

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if is_autocomplete_for_partners_app(request) and not request.user.is_superuser:
            # Choosing a partner for a record: only the partners this PDM may change.
            queryset = queryset.filter(pk__in=partners_editable_by(request.user).values("pk"))
        return queryset, may_have_duplicates

    # List columns --------------------------------------------------------------------------------------

    @admin.display(description="headquarters")
    def headquarters(self, partner):
        if not partner.hq_country:
            return "-"
        return f"{partner.hq_city}, {partner.hq_country}"

    @admin.display(description="active certifications")
    def active_certification_count(self, partner):
        return partner.active_certification_count

    @admin.display(description="validated references")
    def validated_reference_count(self, partner):
        return partner.validated_reference_count

    @admin.display(description="tier evaluation")
    def tier_evaluation(self, partner):
        if partner.pk is None:
            return "Evaluated once the partner is saved."
        return render_to_string(
            "admin/partners/partner/tier_evaluation.html", {"evaluation": tier_evaluation_rows(partner)}
        )

    # Extra pages -------------------------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "export-csv/",
                self.admin_site.admin_view(self.export_csv_view),
                name="{}_{}_export_csv".format(*info),
            ),
            path(
                "<path:object_id>/tier/",
                self.admin_site.admin_view(self.tier_view),
                name="{}_{}_tier".format(*info),
            ),
            path(
                "<path:object_id>/type/",
                self.admin_site.admin_view(self.type_view),
                name="{}_{}_type".format(*info),
            ),
            *super().get_urls(),
        ]

    def export_csv_view(self, request):
        """The changelist as it is filtered, searched and ordered, streamed as CSV."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            queryset = self.changelist_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:partners_partner_changelist") + "?e=1")
        return self._csv_response(queryset)

    def _partner_to_change(self, request, object_id) -> Partner:
        partner = self.get_object(request, unquote(object_id))
        if partner is None:
            raise Http404
        if not self.has_change_permission(request, partner):
            raise PermissionDenied
        return partner

    def tier_view(self, request, object_id):
        """One partner's tier: its evaluation, recomputation, and a promotion or demotion with a reason."""
        partner = self._partner_to_change(request, object_id)
        change_url = reverse("admin:partners_partner_change", args=[partner.pk])
        form = PartnerTierChangeForm(partner_types=[partner.partner_type])
        if request.method == "POST":
            if "recompute" in request.POST:
                self._recompute(request, [partner])
                return HttpResponseRedirect(change_url)
            form = PartnerTierChangeForm(request.POST, partner_types=[partner.partner_type])
            if form.is_valid() and self._change_tier(request, [partner], **form.cleaned_data):
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Tier of {partner.name}",
            "partner": partner,
            "evaluation": tier_evaluation_rows(partner),
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/partners/partner/tier.html", context)

    def type_view(self, request, object_id):
        """Correct one partner's type, with a reason: partners.services.partner_type_change moves it to the
        new type's ladder, or names what stands in the way."""
        partner = self._partner_to_change(request, object_id)
        change_url = reverse("admin:partners_partner_change", args=[partner.pk])
        form = PartnerTypeChangeForm(current=partner.partner_type)
        if request.method == "POST":
            form = PartnerTypeChangeForm(request.POST, current=partner.partner_type)
            if form.is_valid():
                from_tier = partner.tier
                try:
                    change = partner_type_change(user=request.user, partner=partner, **form.cleaned_data)
                except DomainError as error:
                    report_refusal(self, request, partner.name, error)
                else:
                    self.message_user(
                        request,
                        f"{partner.name} is now a {partner.get_partner_type_display()} partner: "
                        f"{from_tier} → {change.to_tier}.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Correct the type of {partner.name}",
            "partner": partner,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/partners/partner/partner_type.html", context)

    # Actions -------------------------------------------------------------------------------------------

    @admin.action(description="Recompute tier from the evidence", permissions=["change"])
    def recompute_tier(self, request, queryset):
        if selection_too_large(self, request, queryset):
            return None
        self._recompute(request, self.keep_editable(request, list(queryset.select_related("tier"))))
        return None

    @admin.action(description="Promote or demote to a tier, with a reason…", permissions=["change"])
    def change_tier(self, request, queryset):
        if selection_too_large(self, request, queryset):
            return None
        partners = self.keep_editable(request, list(queryset.select_related("tier")))
        if not partners:
            return None
        partner_types = {partner.partner_type for partner in partners}
        if "apply" in request.POST:
            form = PartnerTierChangeForm(request.POST, partner_types=partner_types)
            if form.is_valid():
                self._change_tier(request, partners, **form.cleaned_data)
                return None
        else:
            form = PartnerTierChangeForm(partner_types=partner_types)
        return action_form_page(
            self,
            request,
            action="change_tier",
            title="Promote or demote partners",
            intro="Each partner moves to the tier you choose; the reason is recorded with the change.",
            objects=partners,
            describe=lambda partner: f"{partner.name}: now {partner.tier.name}",
            form=form,
            submit_label="Change tier",
        )

    @admin.action(description="Publish on Find-a-Partner", permissions=["change"])
    def publish(self, request, queryset):
        self._set_published(request, queryset, published=True)

    @admin.action(description="Unpublish from Find-a-Partner", permissions=["change"])
    def unpublish(self, request, queryset):
        self._set_published(request, queryset, published=False)

    @admin.action(description="Export selected partners to CSV", permissions=["view"])
    def export_selected_csv(self, request, queryset):
        return self._csv_response(queryset)

    # Helpers the actions share ------------------------------------------------------------------------------

    def _csv_response(self, queryset):
        filename = f"partners-{timezone.localdate().isoformat()}.csv"
        return csv_streaming_response(filename, PARTNER_EXPORT_HEADER, partners_export_rows(queryset))

    def _recompute(self, request, partners):
        def recompute(partner):
            change = partner_tier_recompute(partner=partner, user=request.user)
            return change and f"{partner.name} ({change.from_tier.name} → {change.to_tier.name})"

        report_each_change(
            self,
            request,
            partners,
            recompute,
            name=lambda partner: partner.name,
            changed="Tier changed for",
            already="already at the tier the evidence supports",
            separator="; ",
        )

    def _change_tier(self, request, partners, *, to_tier, reason) -> bool:
        changed = []
        for partner in partners:
            from_tier = partner.tier
            try:
                partner_tier_change(partner=partner, to_tier=to_tier, reason=reason, user=request.user)
            except ROW_REFUSALS as error:
                report_refusal(self, request, partner.name, error)
                continue
            changed.append(f"{partner.name} ({from_tier.name} → {to_tier.name})")
        if changed:
            self.message_user(
                request, f"Tier changed for {len(changed)}: {'; '.join(changed)}.", messages.SUCCESS
            )
        return bool(changed)

    def _set_published(self, request, queryset, *, published: bool):
        if selection_too_large(self, request, queryset, limit=SET_ACTION_MAX_OBJECTS):
            return
        verb = "Published" if published else "Unpublished"
        partners = self.keep_editable(request, list(queryset))
        # One transaction for the selection: a refusal or a rollback leaves every partner as it was.
        changed = partners_set_published(partners=partners, published=published, user=request.user)
        changed_ids = {partner.pk for partner in changed}
        report_each_change(
            self,
            request,
            partners,
            lambda partner: partner.pk in changed_ids,
            name=lambda partner: partner.name,
            changed=verb,
            already=f"already {verb.lower()}",
        )


def tier_evaluation_rows(partner: Partner) -> dict:
    """The partner's tier evaluation, with one row per measure: what it has, what holding its current tier
    takes (every rung up to it counts), and what the next tier up asks."""
    evaluation = tier_evaluate(partner)
    rows = [
        {
            "label": RequirementMetric(metric).label,
            "actual": evaluation.metrics[metric],
            "current": evaluation.current_tier_minimums.get(metric),
            "next": evaluation.next_tier_minimums.get(metric),
        }
        for metric in RequirementMetric.values
    ]
    return {"result": evaluation, "next_tier": evaluation.next_tier, "rows": rows}
