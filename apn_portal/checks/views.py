from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from apn_portal.checks.dashboard import pdm_dashboard_data


@staff_member_required
def pdm_dashboard(request):
    """The PDMs' view of the network: plots and lists, read from aggregates."""
    if not (request.user.is_superuser or request.user.is_pdm):
        raise PermissionDenied("The dashboard is for Partner Development Managers.")
    mine = request.GET.get("scope") == "mine"
    context = {
        **admin.site.each_context(request),
        "title": "Partner network dashboard",
        **pdm_dashboard_data(user=request.user, mine=mine),
    }
    return render(request, "checks/pdm_dashboard.html", context)
