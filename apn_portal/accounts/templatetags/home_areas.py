"""`{% home_areas as areas %}`: the signed-in user's own areas (`home_areas_of`), as links for a page;
`{% provider_sections as sections %}`: the sections of the signed-in area a provider staff member can use."""

from django import template
from django.urls import reverse

from apn_portal.accounts.selectors import home_areas_of, provider_sections_of

register = template.Library()


@register.simple_tag(takes_context=True)
def home_areas(context) -> list[dict]:
    request = context.get("request")
    if request is None:  # a page rendered without a request (an email) has no visitor to lead anywhere
        return []
    links = []
    for area in home_areas_of(request.user, _provider_sections(request)):
        url = reverse(area.url_name)
        links.append(
            {"label": area.label, "url": url, "description": area.description, "current": request.path == url}
        )
    return links


@register.simple_tag(takes_context=True)
def provider_sections(context) -> frozenset[str]:
    request = context.get("request")
    return _provider_sections(request) if request is not None else frozenset()


def _provider_sections(request) -> frozenset[str]:
    """provider_sections_of the request's user, read once a request: the header and the area navigation
    both ask, and for a support engineer or PDM the answer costs queries about their seats."""
    if not hasattr(request, "_provider_sections"):
        request._provider_sections = provider_sections_of(request.user)
    return request._provider_sections
