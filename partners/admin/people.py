"""A partner's people and their certifications, with the CSV import of certifications."""

import csv

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from apn_portal.admin import AuditedAdmin, LargeTableAdminMixin
from apn_portal.text import plural
from partners.choices import CertificationLevel
from partners.forms import CertificationImportForm
from partners.models import Certification, StaffMember
from partners.selectors import partners_editable_by, staff_members_with_active_certification_count
from partners.services import (
    CERTIFICATION_CSV_COLUMNS,
    CERTIFICATION_CSV_REQUIRED,
    certifications_import_csv,
)

from .filters import CertificationExpiryFilter
from .formsets import UniqueRowsInlineFormSet
from .records import OwnerFixedOnChangeMixin
from .scope import (
    MyPartnersFilter,
    PartnerChildInlineMixin,
    PartnerScopedAdminMixin,
    is_autocomplete_for_partners_app,
)


class CertificationInline(PartnerChildInlineMixin, admin.TabularInline):
    model = Certification
    formset = UniqueRowsInlineFormSet
    parent_partner_path = "partner"
    extra = 0
    fields = ("name", "level", "credential_id", "earned_on", "expires_on")


@admin.register(StaffMember)
class StaffMemberAdmin(OwnerFixedOnChangeMixin, PartnerScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin):
    list_display = ("full_name", "partner", "email", "job_title", "active_certification_count")
    list_select_related = ("partner",)
    list_filter = (MyPartnersFilter,)
    search_fields = ("full_name", "=email", "partner__name")
    search_help_text = "Search by name, exact email, or partner name."
    autocomplete_fields = ("partner",)
    ordering = ("-pk",)
    fields = ("partner", "full_name", "email", "job_title")
    inlines = (CertificationInline,)

    def get_queryset(self, request):
        return staff_members_with_active_certification_count(super().get_queryset(request))

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if is_autocomplete_for_partners_app(request) and not request.user.is_superuser:
            # Choosing the person a certification belongs to: only the staff of this PDM's partners.
            queryset = queryset.filter(partner__in=partners_editable_by(request.user).values("pk"))
        return queryset, may_have_duplicates

    @admin.display(description="active certifications")
    def active_certification_count(self, member):
        return member.active_certification_count


CERTIFICATION_CSV_EXAMPLE = [
    ["acme-cloud", "Jane Doe", "jane@acme.example", "Solutions Architect - Associate", "associate", "ABC-123",
     "2025-01-15", ""],
    ["acme-cloud", "Raj Patel", "", "Cloud Practitioner", "foundational", "", "2024-06-01", "2027-06-01"],
]  # fmt: skip


@admin.register(Certification)
class CertificationAdmin(
    OwnerFixedOnChangeMixin, PartnerScopedAdminMixin, LargeTableAdminMixin, AuditedAdmin
):
    partner_path = "staff_member__partner"
    owner_field = "staff_member"
    list_display = ("name", "level", "staff_member", "partner", "credential_id", "earned_on", "expires_on")
    list_select_related = ("staff_member__partner",)
    list_filter = ("level", CertificationExpiryFilter, MyPartnersFilter)
    search_fields = ("name", "=credential_id", "staff_member__full_name", "staff_member__partner__name")
    search_help_text = "Search by certification name, exact credential id, person or partner name."
    autocomplete_fields = ("staff_member",)
    ordering = ("-pk",)
    fields = ("staff_member", "name", "level", "credential_id", "earned_on", "expires_on")

    @admin.display(description="partner", ordering="staff_member__partner__name")
    def partner(self, certification):
        return certification.staff_member.partner

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "import-csv/",
                self.admin_site.admin_view(self.import_csv_view),
                name="{}_{}_import_csv".format(*info),
            ),
            path(
                "import-csv/example.csv",
                self.admin_site.admin_view(self.import_csv_example_view),
                name="{}_{}_import_csv_example".format(*info),
            ),
            *super().get_urls(),
        ]

    def import_csv_view(self, request):
        """Upload a CSV of certifications: all rows are imported, or none and every bad line is listed."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        result = None
        if request.method == "POST":
            form = CertificationImportForm(request.POST, request.FILES)
            if form.is_valid():
                result = certifications_import_csv(data=form.cleaned_data["file"].read(), user=request.user)
                if result.ok:
                    added_people = (
                        f", and added {plural(result.staff_created, 'staff member')}"
                        if result.staff_created
                        else ""
                    )
                    skipped = (
                        f"; {plural(result.already_recorded, 'row')} already recorded, skipped"
                        if result.already_recorded
                        else ""
                    )
                    self.message_user(
                        request,
                        f"Imported {plural(result.created, 'certification')}{added_people}{skipped}.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:partners_certification_changelist"))
        else:
            form = CertificationImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import certifications from CSV",
            "form": form,
            "result": result,
            "columns": CERTIFICATION_CSV_COLUMNS,
            "required": CERTIFICATION_CSV_REQUIRED,
            "levels": CertificationLevel.values,
            "today": timezone.localdate(),
        }
        return TemplateResponse(request, "admin/partners/certification/import_csv.html", context)

    def import_csv_example_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="certifications-example.csv"'
        writer = csv.writer(response)
        writer.writerow(CERTIFICATION_CSV_COLUMNS)
        writer.writerows(CERTIFICATION_CSV_EXAMPLE)
        return response
