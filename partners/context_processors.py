"""What every page's template may read about the signed-in partner user, computed only if it reads it."""

from django.utils.functional import SimpleLazyObject

from partners.selectors_partner_area import contact_request_status_counts


def area_nav(request):
    """`lead_counts` for the signed-in area's navigation (templates/_area_nav.html), whichever app's page
    shows it: the partner's contact requests by status, in one query, run only when a template reads it
    (public pages, the API and other users' pages never do). A view that counted them already passes its
    own `lead_counts`, which wins."""

    def counts():
        partner_id = getattr(request.user, "partner_id", None)
        return contact_request_status_counts(partner_id) if partner_id else {}

    return {"lead_counts": SimpleLazyObject(counts)}
