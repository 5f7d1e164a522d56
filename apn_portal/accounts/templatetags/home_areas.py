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
    for area in home_areas_of(request.user):
        url = reverse(area.url_name)
        links.append(
            {"label": area.label, "url": url, "description": area.description, "current": request.path == url}
        )
    return links


@register.simple_tag(takes_context=True)
def provider_sections(context) -> frozenset[str]:
    request = context.get("request")
    return provider_sections_of(request.user) if request is not None else frozenset()
