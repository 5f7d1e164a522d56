"""Public Find-a-Partner pages: the search at /partners/ and a partner's profile at /partners/<slug>/.

The search takes the public contract's parameters (partners.filtersets.PartnerFilterSet). Bad parameters
never give an error page: each is left out with a note saying so. An htmx request gets only the results
region, which the page swaps in place while the URL follows.
"""

from dataclasses import dataclass

from django.http import Http404, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from apn_portal.http import whole_number
from partners.filtersets import PartnerFilterSet
from partners.search import FACETS, SearchVocabulary, SortOrder, search_base, search_vocabulary
from partners.search_results import facet_groups, partner_search_page
from partners.selectors_partner_area import partner_profile_preview
from partners.selectors_visibility import partners_published
from partners.views.contact import contact_form_for

MAX_PAGE_NUMBER_DIGITS = 6
PLACE_FIELDS = "lat lng radius"
PAGES_AROUND_CURRENT = 2


@dataclass(frozen=True)
class ActiveFilter:
    label: str
    remove_url: str
    # The form's fields it is in (a place is three, space-separated) and, for a facet's, its value: what
    # find-a-partner.js unticks or empties before it searches with the form as it is then.
    fields: str
    value: str = ""


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None: a gap ("…")
    url: str = ""
    current: bool = False


def _canonical_params(filterset: PartnerFilterSet) -> QueryDict:
    """The search's parameters as understood: what links on the page carry (never a bad parameter)."""
    data = filterset.form.cleaned_data
    params = QueryDict(mutable=True)
    if data.get("q"):
        params["q"] = data["q"]
    for name in FACETS:
        if data.get(name):
            params.setlist(name, data[name])
    near = filterset.near
    if near is not None:
        # Every digit the visitor gave (up to a float's 15): links lead to the same place, not one ~100 m off.
        params["lat"], params["lng"], params["radius"] = (
            f"{near.latitude:.15g}",
            f"{near.longitude:.15g}",
            f"{near.radius_km:.15g}",
        )
    if data.get("sort"):
        params["sort"] = data["sort"]
    return params


def _url(params: QueryDict, **changes) -> str:
    params = params.copy()
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        elif isinstance(value, list):
            params.setlist(name, value)
        else:
            params[name] = value
    base = reverse("partners:search")
    return f"{base}?{params.urlencode()}" if params else base


def _active_filters(filterset, params: QueryDict, vocabulary: SearchVocabulary) -> list[ActiveFilter]:
    data = filterset.form.cleaned_data
    active = []
    if data.get("q"):
        active.append(ActiveFilter(f"Words: {data['q']}", _url(params, q=None, page=None), "q"))
    for name, facet in FACETS.items():
        labels = {choice.value: choice.label for choice in vocabulary.choices(name)}
        for value in data.get(name) or []:
            rest = [other for other in data[name] if other != value]
            label = f"{facet.legend}: {labels.get(value, value)}"
            active.append(ActiveFilter(label, _url(params, **{name: rest, "page": None}), name, value))
    near = filterset.near
    if near is not None:
        label = f"Within {near.radius_km:g} km of {near.latitude:g}, {near.longitude:g}"
        remove_url = _url(params, lat=None, lng=None, radius=None, page=None)
        active.append(ActiveFilter(label, remove_url, PLACE_FIELDS))
    return active


def _page_number(raw: str | None, notes: list[str]) -> int:
    if raw in (None, ""):
        return 1
    number = whole_number(raw, max_digits=MAX_PAGE_NUMBER_DIGITS)
    if number is None:
        notes.append("That page number is not one we have, so the first page is shown.")
        return 1
    return number


def _page_links(params: QueryDict, number: int, page_count: int) -> list[PageLink]:
    wanted = {1, page_count, *range(number - PAGES_AROUND_CURRENT, number + PAGES_AROUND_CURRENT + 1)}
    links, previous = [], 0
    for page in sorted(n for n in wanted if 1 <= n <= page_count):
        if page - previous > 1:
            links.append(PageLink(None))
        links.append(PageLink(page, _url(params, page=str(page) if page > 1 else None), page == number))
        previous = page
    return links


def _sort_choices(filterset) -> list[tuple[str, str]]:
    # "Recommended" (no `sort`) follows the search: best match for words, nearest for a place, tier
    # otherwise. Without JavaScript the form sends the sort along with new words, so it must not pin one.
    choices = [("", "Recommended")]
    for value, label in SortOrder.choices:
        if value == SortOrder.RELEVANCE or (value == SortOrder.DISTANCE and filterset.near is None):
            continue
        choices.append((value, label))
    return choices


@require_safe
@vary_on_headers("HX-Request")
def partner_search(request):
    vocabulary = search_vocabulary()
    filterset, notes = PartnerFilterSet.forgiving(request.GET, queryset=search_base(), vocabulary=vocabulary)
    requested_page = _page_number(request.GET.get("page"), notes)
    sort_requested = filterset.form.cleaned_data.get("sort") or ""
    if sort_requested == SortOrder.DISTANCE and filterset.near is None:
        notes.append("Nearest first needs a place (a latitude and longitude), so the usual order is used.")
    page = partner_search_page(filterset, search_base(), page=requested_page)
    # With no results at all, "No partners found" says it: there is no last page to point to.
    if page.total and requested_page > page.page_count:
        notes.append(
            f"There {'is' if page.page_count == 1 else 'are'} only {page.page_count} "
            f"page{'s' if page.page_count != 1 else ''} of results; this is the last."
        )
    if page.typos_tolerated:
        # Said of the words, not of how they were stretched: the match may be a name like them, or a
        # word of the description they begin.
        notes.append(
            f"No partner matched every word of “{filterset.form.cleaned_data['q']}” as typed; "
            "these come closest."
        )
    params = _canonical_params(filterset)
    facets = facet_groups(page.counts, vocabulary, filterset.form.cleaned_data)
    loosen_labels = {name: facet.legend.lower() for name, facet in FACETS.items()}
    loosen_labels.update(q="search words", near="distance limit")
    loosen_params = {"q": {"q": None}, "near": {"lat": None, "lng": None, "radius": None}}
    context = {
        "filterset": filterset,
        "form": filterset.form,
        "notes": notes,
        "page": page,
        "facets": facets,
        "active_filters": _active_filters(filterset, params, vocabulary),
        "clear_url": reverse("partners:search"),
        "page_links": _page_links(params, page.number, page.page_count),
        "previous_url": _url(params, page=str(page.number - 1) if page.number > 2 else None)
        if page.number > 1
        else "",
        "next_url": _url(params, page=str(page.number + 1)) if page.number < page.page_count else "",
        "sort_choices": _sort_choices(filterset),
        "sort_value": "" if sort_requested == SortOrder.RELEVANCE else sort_requested,
        "near": filterset.near,
        # The place as it was sent, kept in its fields even when it was left out (half a place, a
        # latitude of 95), with why beside the field, so it can be put right rather than typed again.
        "place": {
            name: {"sent": request.GET.get(name, ""), "error": filterset.left_out.get(name, "")}
            for name in ("lat", "lng", "radius")
        },
        "loosenings": [
            {
                "label": loosen_labels[loosening.name],
                "count": loosening.count,
                "url": _url(params, page=None, **loosen_params.get(loosening.name, {loosening.name: None})),
                "fields": PLACE_FIELDS if loosening.name == "near" else loosening.name,
            }
            for loosening in page.loosenings
            if loosening.count
        ],
        "is_htmx": request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true",
    }
    template = "partners/_results.html" if context["is_htmx"] else "partners/search.html"
    return render(request, template, context)


@require_safe
def partner_profile(request, slug):
    partner = partners_published().filter(slug=slug).first()
    if partner is None:
        raise Http404("No published partner has this address.")
    return render(
        request,
        "partners/profile.html",
        {
            "profile": partner_profile_preview(
                partner, every_reference=request.GET.get("references") == "all"
            ),
            "contact_form": contact_form_for(request, partner),
        },
    )
