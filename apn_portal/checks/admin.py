from django.contrib import admin
from django.utils.html import format_html_join

from apn_portal.admin import LargeTableAdminMixin
from apn_portal.checks.models import CheckRun
from apn_portal.checks.registry import registered_checks


class CheckNameFilter(admin.SimpleListFilter):
    """The registered checks, without a DISTINCT over every run ever recorded."""

    title = "check"
    parameter_name = "name"

    def lookups(self, request, model_admin):
        return [(check.name, check.name) for check in registered_checks()]

    def queryset(self, request, queryset):
        return queryset.filter(name=self.value()) if self.value() else queryset


@admin.register(CheckRun)
class CheckRunAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    """Every run of the scheduled checks, read-only: started, finished, what changed, errors."""

    list_display = ("name", "status", "started_at", "duration", "trigger", "summary_first_line")
    list_filter = (CheckNameFilter, "status", "trigger")
    date_hierarchy = "started_at"
    search_fields = ("summary", "error")
    fields = (
        "name",
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "duration",
        "summary",
        "counts",
        "error",
    )
    readonly_fields = fields

    @admin.display(description="took")
    def duration(self, run):
        if run.duration is None:
            return "running"
        return f"{run.duration.total_seconds():.1f} s"

    @admin.display(description="summary")
    def summary_first_line(self, run):
        return run.summary.splitlines()[0] if run.summary else ""

    @admin.display(description="changed")
    def counts(self, run):
        rows = [(kind.replace("_", " "), f"{count:,}") for kind, count in run.changed.items()]
        if not rows:
            return "nothing"
        return format_html_join("", "<div>{}: {}</div>", rows)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
