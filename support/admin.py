"""Support in the admin, for the provider's support staff (Cloud Support Engineers, TAMs) and superusers.

Plans and their first-response targets are data the support staff edit here. Subscriptions and cases
change only through the services: a plan change is a form that calls support_subscription_change, and
cases move through actions (their conversation is on the case page, linked from each case).
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from apn_portal.accounts.choices import StaffRole
from apn_portal.admin import (
    ROW_REFUSALS,
    AuditedAdmin,
    GuardedDeletionMixin,
    LargeTableAdminMixin,
    report_refusal,
    selection_too_large,
)
from apn_portal.exceptions import DomainError
from engagements.models import AwsAccount, Customer
from engagements.selectors import customers_visible_to
from partners.models import Partner
from support import selectors, services
from support.choices import CaseStatus
from support.models import (
    CaseReply,
    PlanResponseTarget,
    StaffCertification,
    SupportCase,
    SupportPlan,
    SupportSubscription,
)


class SupportStaffEditsMixin:
    """Plans and staff certifications are kept by support staff (Cloud Support Engineers) and superusers;
    other roles with the app's permissions (a TAM, an Account Manager) only read them."""

    def _keeps_support_data(self, request) -> bool:
        return request.user.is_superuser or request.user.has_role(StaffRole.SUPPORT_ENGINEER)

    def has_add_permission(self, request, *args):
        return self._keeps_support_data(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self._keeps_support_data(request) and super().has_change_permission(request, obj)


# Plans -------------------------------------------------------------------------------------------------


class PlanResponseTargetFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        self._refuse_severities_of_other_rows()
        if any(self.errors):
            return
        severities = {
            form.cleaned_data["severity"]
            for form in self.forms
            if form.cleaned_data.get("severity") and not self._should_delete_form(form)
        }
        # The plan as edited on the same page (the admin builds the inlines on the validated form's
        # unsaved instance), so a change of its technical support hours counts.
        problem = selectors.plan_targets_problem(self.instance, severities)
        if problem:
            raise ValidationError(problem)

    def _refuse_severities_of_other_rows(self) -> None:
        # The rows are saved one after the other, and a plan has one row per severity (a constraint): a row
        # given the severity another stored row holds (two swapped) could not be saved. Each keeps its own.
        stored = {form.instance.pk: form.initial.get("severity") for form in self.initial_forms}
        for form in self.initial_forms:
            if self._should_delete_form(form) or "severity" not in form.changed_data:
                continue
            severity = form.cleaned_data["severity"]
            if any(held == severity and pk != form.instance.pk for pk, held in stored.items()):
                form.add_error(
                    "severity",
                    "Another row has this severity: change each row's minutes rather than their severities "
                    "(or remove that row first, in a save of its own).",
                )


class PlanResponseTargetInline(SupportStaffEditsMixin, admin.TabularInline):
    model = PlanResponseTarget
    formset = PlanResponseTargetFormSet
    fields = ("severity", "minutes")
    extra = 0

    def get_queryset(self, request):
        # Each row's title (its __str__) names its plan.
        return super().get_queryset(request).select_related("plan")


@admin.register(SupportPlan)
class SupportPlanAdmin(GuardedDeletionMixin, SupportStaffEditsMixin, AuditedAdmin):
    list_display = (
        "name",
        "rank",
        "trusted_advisor",
        "technical_support_hours",
        "tam_coverage",
        "available_from",
        "retires_on",
        "successor",
    )
    list_select_related = ("successor",)
    list_filter = ("technical_support_hours", "tam_coverage", "retires_on")
    search_fields = ("name", "slug")
    ordering = ("rank", "name")
    inlines = (PlanResponseTargetInline,)
    fieldsets = (
        (None, {"fields": ("name", "slug", "rank", "summary")}),
        (
            "Features (the whitepaper's Table 1)",
            {
                "fields": (
                    "customer_service_24x7",
                    "trusted_advisor",
                    ("health_dashboard", "health_api"),
                    "support_forums",
                    "documentation",
                    "technical_support_hours",
                    "technical_support_staff",
                    ("via_email", "via_chat", "via_phone"),
                    "tam_coverage",
                )
            },
        ),
        (
            "Availability",
            {
                "fields": ("available_from", "retires_on", "successor"),
                "description": "A retired plan cannot be newly subscribed to; on its retirement day the "
                "scheduled check support_plan_retirement moves its subscriptions to the successor.",
            },
        ),
    )

    def has_delete_permission(self, request, obj=None):
        # Subscriptions and cases refer to the plan; retire it instead.
        if obj is not None and obj.slug == selectors.BASIC_PLAN_SLUG:
            return False
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def deletion_problems(self, queryset):
        return selectors.plan_deletion_problems(queryset)

    def get_readonly_fields(self, request, obj=None):
        # Basic is found by its slug (selectors.basic_plan).
        if obj is not None and obj.slug == selectors.BASIC_PLAN_SLUG:
            return (*super().get_readonly_fields(request, obj), "slug")
        return super().get_readonly_fields(request, obj)

    def get_prepopulated_fields(self, request, obj=None):
        # Not the class's `prepopulated_fields`: a history version's page (django-simple-history) reads
        # that whatever the plan, and Basic's slug is not on its form.
        if obj is not None and obj.slug == selectors.BASIC_PLAN_SLUG:
            return {}
        return {"slug": ("name",)}


class StaffCertificationForm(forms.ModelForm):
    class Meta:
        model = StaffCertification
        fields = ("user", "track", "level", "name", "credential_id", "earned_on", "expires_on")

    def clean(self):
        cleaned = super().clean()
        # self.instance still holds the stored certification: the form copies its values in afterwards.
        problems = selectors.tam_certification_change_problems(
            self.instance, user=cleaned.get("user"), track=cleaned.get("track"), level=cleaned.get("level")
        )
        if problems:
            raise ValidationError(problems)
        return cleaned


@admin.register(StaffCertification)
class StaffCertificationAdmin(GuardedDeletionMixin, SupportStaffEditsMixin, AuditedAdmin):
    form = StaffCertificationForm
    list_display = ("user", "name", "track", "level", "earned_on", "expires_on")
    list_select_related = ("user",)
    list_filter = ("track", "level", "expires_on")
    search_fields = ("user__username", "user__first_name", "user__last_name", "name", "credential_id")
    autocomplete_fields = ("user",)
    ordering = ("user__username", "-expires_on")

    def deletion_problems(self, queryset):
        return selectors.tam_certification_removal_problems(queryset)

    # Taking a certification from its holder (deleting it, or giving it to somebody else or making it
    # another kind) is judged and done in one transaction under the holder's lock, which naming a TAM
    # takes too: a TAM named meanwhile is either seen by the check or finds the certification gone.

    def _lock_holder(self, request, object_id) -> None:
        if request.method != "POST" or object_id is None:
            return
        certification = self.get_object(request, unquote(object_id))
        if certification is not None:
            services.staff_certifications_lock_holders(StaffCertification.objects.filter(pk=certification.pk))

    def delete_view(self, request, object_id, extra_context=None):
        with transaction.atomic():
            self._lock_holder(request, object_id)
            return super().delete_view(request, object_id, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with transaction.atomic():
            self._lock_holder(request, object_id)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            guarded, name, description = actions["delete_selected"]

            def delete_selected(modeladmin, request, queryset):
                with transaction.atomic():
                    if request.POST.get("post"):
                        services.staff_certifications_lock_holders(queryset)
                    return guarded(modeladmin, request, queryset)

            actions["delete_selected"] = (delete_selected, name, description)
        return actions


# Subscriptions -------------------------------------------------------------------------------------------


class SubscriptionChangeForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.none())
    account = forms.ModelChoiceField(
        queryset=AwsAccount.objects.none(),
        required=False,
        help_text="Only for this account; leave empty for the whole customer.",
    )
    plan = forms.ModelChoiceField(
        queryset=SupportPlan.objects.none(), help_text="Plans offered today, on the customer's calendar."
    )
    tam = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label="Designated TAM",
        help_text="For a plan with a designated TAM: TAMs with a current Solutions Architect certification.",
    )
    support_partner = forms.ModelChoiceField(
        queryset=Partner.objects.none(),
        required=False,
        label="Partner-led support by",
        help_text="The Solution Provider that resells the account(s) and answers their cases first.",
    )
    note = forms.CharField(required=False, max_length=300)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        customers = customers_visible_to(user)
        self.fields["customer"].queryset = customers.order_by("name")
        self.fields["account"].queryset = AwsAccount.objects.filter(
            customer__in=customers.values("pk")
        ).order_by("account_id")
        # Which plans and TAMs a customer may have is judged on its own day (support_subscription_change,
        # which says why beside the field): offered here, those of any of the customers' days.
        days = selectors.customers_todays(customers)
        self.fields["plan"].queryset = selectors.plans_offered_on_any(days).order_by("rank")
        self.fields["tam"].queryset = selectors.qualified_tams(*days)
        self.fields["support_partner"].queryset = Partner.objects.filter(
            resold_accounts__isnull=False
        ).distinct()


@admin.register(SupportSubscription)
class SupportSubscriptionAdmin(LargeTableAdminMixin, AuditedAdmin):
    list_display = ("__str__", "plan", "change", "started_at", "ended_at", "tam", "support_partner")
    list_select_related = ("customer", "account", "plan", "tam", "support_partner")
    list_filter = ("plan", "change", ("ended_at", admin.EmptyFieldListFilter))
    search_fields = ("customer__name", "account__account_id", "plan__name")
    search_help_text = "Search by customer, account id or plan."
    ordering = ("-started_at", "-id")
    readonly_fields = (
        "customer",
        "account",
        "plan",
        "tam_coverage",
        "tam",
        "support_partner",
        "change",
        "replaces",
        "started_at",
        "ended_at",
        "changed_by",
        "note",
    )
    actions = ("end_subscriptions",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=selectors.subscriptions_visible_to(request.user).values("pk"))
        )

    def has_change_permission(self, request, obj=None):
        return False  # a change of plan is a new subscription: "Add"

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = SubscriptionChangeForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                subscription = services.support_subscription_change(user=request.user, **form.cleaned_data)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                self.message_user(
                    request, f"{subscription} from now ({subscription.get_change_display().lower()})."
                )
                return redirect("admin:support_supportsubscription_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Change a support plan",
            "form": form,
        }
        return TemplateResponse(request, "admin/support/subscription_change.html", context)

    @admin.action(description="End the selected subscriptions (back to Basic)", permissions=["view"])
    def end_subscriptions(self, request, queryset):
        if selection_too_large(self, request, queryset):
            return
        ended = 0
        for subscription in queryset.filter(ended_at__isnull=True).select_related("customer"):
            try:
                services.support_subscription_end(user=request.user, subscription=subscription)
            except ROW_REFUSALS as error:
                report_refusal(self, request, str(subscription), error)
            else:
                ended += 1
        if ended:
            self.message_user(request, f"Ended {ended} subscription(s).")


# Cases ---------------------------------------------------------------------------------------------------


class CaseReplyInline(admin.TabularInline):
    model = CaseReply
    fields = ("created_at", "author", "side", "body")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


@admin.register(SupportCase)
class SupportCaseAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "customer",
        "severity",
        "status",
        "plan",
        "opened_at",
        "first_response_due_at",
        "first_responded_at",
        "breached_at",
        "handling_partner",
    )
    list_select_related = ("customer", "plan", "handling_partner")
    list_filter = (
        "status",
        "severity",
        "case_type",
        "plan",
        ("breached_at", admin.EmptyFieldListFilter),
        ("first_responded_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("subject", "customer__name", "account__account_id")
    search_help_text = "Search by subject, customer or account id."
    ordering = ("-opened_at", "-id")
    date_hierarchy = "opened_at"
    inlines = (CaseReplyInline,)
    readonly_fields = (
        "page_link",
        "customer",
        "account",
        "subscription",
        "plan",
        "case_type",
        "severity",
        "subject",
        "description",
        "status",
        "opened_by",
        "opened_by_partner",
        "handling_partner",
        "escalated_at",
        "opened_at",
        "response_target_minutes",
        "business_hours_only",
        "first_response_due_at",
        "first_responded_at",
        "first_responder",
        "breached_at",
        "resolved_at",
    )
    fields = readonly_fields
    actions = ("mark_in_progress", "mark_waiting_on_customer", "mark_resolved")

    def get_queryset(self, request):
        return (
            super().get_queryset(request).filter(pk__in=selectors.cases_visible_to(request.user).values("pk"))
        )

    def has_add_permission(self, request):
        return False  # customers and the partners they authorised open cases, on their pages or the API

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Conversation")
    def page_link(self, case):
        url = reverse("support:case-detail", args=[case.pk])
        return format_html('<a href="{}">Read and reply on the case page</a>', url)

    def _set_status(self, request, queryset, status):
        if selection_too_large(self, request, queryset):
            return
        changed = 0
        for case in queryset.select_related("customer", "subscription"):
            try:
                services.support_case_status_change(user=request.user, case=case, status=status)
            except ROW_REFUSALS as error:
                report_refusal(self, request, str(case), error)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} case(s) now {CaseStatus(status).label.lower()}.")

    @admin.action(description="Mark the selected cases in progress", permissions=["change"])
    def mark_in_progress(self, request, queryset):
        self._set_status(request, queryset, CaseStatus.IN_PROGRESS)

    @admin.action(description="Mark the selected cases waiting on the customer", permissions=["change"])
    def mark_waiting_on_customer(self, request, queryset):
        self._set_status(request, queryset, CaseStatus.WAITING_ON_CUSTOMER)

    @admin.action(description="Mark the selected cases resolved", permissions=["change"])
    def mark_resolved(self, request, queryset):
        self._set_status(request, queryset, CaseStatus.RESOLVED)
