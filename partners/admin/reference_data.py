"""Reference data a PDM maintains: the tier ladders and their requirements, programs, and tag lists."""

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html

from apn_portal.admin import AuditedAdmin, GuardedDeletionMixin, keep_unedited_as_stored
from apn_portal.exceptions import DomainError
from apn_portal.pages import form_error
from partners.choices import PartnerType, RequirementMetric
from partners.models import ConsultingCategory, Industry, Program, Tier, TierRequirement, UseCase
from partners.selectors import program_deletion_problems
from partners.services import program_partner_type_change_check, program_update
from partners.signals import partner_changes_batched

from .formsets import UniqueRowsInlineFormSet


class TierRequirementInline(admin.TabularInline):
    model = TierRequirement
    formset = UniqueRowsInlineFormSet
    extra = 0
    fields = ("metric", "minimum")

    def get_queryset(self, request):
        # Each row's title (its __str__) names its tier.
        return super().get_queryset(request).select_related("tier")


@admin.register(Tier)
class TierAdmin(GuardedDeletionMixin, AuditedAdmin):
    list_display = ("name", "partner_type", "rank", "requirement_summary", "grace_period_days", "partners")
    list_filter = ("partner_type",)
    search_fields = ("name", "slug")
    ordering = ("partner_type", "rank")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("partner_type", "name", "slug", "rank", "description", "grace_period_days")
    inlines = (TierRequirementInline,)

    def get_queryset(self, request):
        lower = Tier.objects.filter(partner_type=OuterRef("partner_type"), rank__lt=OuterRef("rank"))
        queryset = super().get_queryset(request).prefetch_related("requirements")
        return queryset.annotate(is_entry=~Exists(lower))

    @admin.display(description="requires")
    def requirement_summary(self, tier):
        order = list(RequirementMetric.values)
        requirements = sorted(tier.requirements.all(), key=lambda req: order.index(req.metric))
        summary = "; ".join(f"{req.minimum} {req.get_metric_display()}" for req in requirements)
        if summary and getattr(tier, "is_entry", False):
            # Stored before the entry tier refused requirements; evaluation leaves them out.
            return f"nothing (not applied on the entry tier: {summary})"
        return summary or "nothing"

    @admin.display(description="partners")
    def partners(self, tier):
        url = reverse("admin:partners_partner_changelist") + f"?tier__id__exact={tier.pk}"
        return format_html('<a href="{}">List</a>', url)

    def deletion_problems(self, queryset):
        return tier_deletion_problems(list(queryset))


def tier_deletion_problems(tiers) -> list[str]:
    """Why deleting these tiers together is refused, one sentence per ladder, or none. Without its entry
    tier a ladder's next rung becomes the entry tier, which every partner holds on joining and which cannot
    have requirements (TierRequirement.clean): so not while that rung has some. A ladder's only tier may
    go."""
    deleted = {tier.pk for tier in tiers}
    problems = []
    for partner_type in sorted({tier.partner_type for tier in tiers}):
        ladder = list(Tier.objects.filter(partner_type=partner_type).order_by("rank"))
        if not ladder or ladder[0].pk not in deleted:
            continue  # its entry tier stays
        remaining = [tier for tier in ladder if tier.pk not in deleted]
        if remaining and remaining[0].requirements.exists():
            entry, successor = ladder[0], remaining[0]
            problems.append(
                f"{entry.name} is the entry tier of the {PartnerType(partner_type).label} ladder: without it "
                f"{successor.name} would be, and the entry tier, which every partner holds on joining, "
                f"cannot have requirements. Delete {successor.name}'s requirements first."
            )
    return problems


@admin.register(TierRequirement)
class TierRequirementAdmin(AuditedAdmin):
    list_display = ("tier", "metric", "minimum")
    list_select_related = ("tier",)
    list_filter = ("tier__partner_type", "tier", "metric")
    ordering = ("tier__partner_type", "tier__rank", "metric")


class ProgramForm(forms.ModelForm):
    """Opening a program to one partner type only is refused, beside the field, while partners of the
    other type hold it or have applied for it (`program_partner_type_change_check`)."""

    def clean(self):
        cleaned = super().clean()
        partner_type = cleaned.get("partner_type")
        # The instance still holds the saved type here: the form copies its own in only after clean.
        if partner_type is not None and partner_type != self.instance.partner_type:
            try:
                program_partner_type_change_check(program=self.instance, partner_type=partner_type)
            except DomainError as error:
                form_error(self, error)
        return cleaned


@admin.register(Program)
class ProgramAdmin(GuardedDeletionMixin, AuditedAdmin):
    form = ProgramForm
    list_display = (
        "name",
        "kind",
        "competency_category",
        "partner_type",
        "audit_required",
        "minimum_tier",
        "validity_months",
        "qualifies_for_tier",
    )
    list_select_related = ("minimum_tier",)
    list_filter = ("kind", "competency_category", "partner_type", "audit_required", "qualifies_for_tier")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "kind", "competency_category", "partner_type", "description")}),
        (
            "Rules",
            {
                "fields": (
                    "audit_required",
                    "minimum_tier",
                    "minimum_tier_since",
                    "validity_months",
                    "qualifies_for_tier",
                ),
                "description": "Raising the minimum tier gives the enrolled partners it leaves short the new "
                "tier's grace period from that day, with a warning, before their enrollments are revoked; "
                "a partner already short of the old minimum keeps its countdown.",
            },
        ),
    )
    readonly_fields = ("minimum_tier_since",)

    def save_model(self, request, obj, form, change):
        if not change:
            # A new program has nobody enrolled whom its type could shut out.
            super().save_model(request, obj, form, change)
            return
        keep_unedited_as_stored(obj, form)
        # The form's check showed a refusal beside the field; this one, under the program's lock, is the
        # one that holds (an application filed meanwhile). Its refusal is shown as the form's would be
        # (AdminInputMixin.changeform_view).
        program_update(program=obj, user=request.user)

    def deletion_problems(self, queryset):
        return program_deletion_problems(queryset)


class TaxonomyAdmin(AuditedAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug")

    def delete_queryset(self, request, queryset):
        # Each deleted tag refreshes its partners' search entries (partners.signals): deleting several at
        # once refreshes them once, at the end.
        with transaction.atomic(), partner_changes_batched():
            super().delete_queryset(request, queryset)


admin.site.register(ConsultingCategory, TaxonomyAdmin)
admin.site.register(Industry, TaxonomyAdmin)
admin.site.register(UseCase, TaxonomyAdmin)
