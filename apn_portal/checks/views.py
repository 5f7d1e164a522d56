from django.contrib import admin
from django.shortcuts import render

from apn_portal.checks.dashboard import pdm_dashboard_data
from apn_portal.pages import not_for_you, signed_in_required


@signed_in_required
def pdm_dashboard(request):
    """The PDMs' view of the network: plots and lists, read from aggregates. Anyone else signed in gets
    the portal's page saying whom it is for (not the admin's sign-in, which would ask them to sign in
    again)."""
    if not (request.user.is_superuser or (request.user.is_staff and request.user.is_pdm)):
        return not_for_you(request, "Partner Development Managers")
    mine = request.GET.get("scope") == "mine"
    context = {
        **admin.site.each_context(request),
        "title": "Partner network dashboard",
        **pdm_dashboard_data(user=request.user, mine=mine),
    }
    return render(request, "checks/pdm_dashboard.html", context)
