"""Every page and API endpoint runs a constant number of SQL queries however much it lists: its count with
twelve units of tests/world.py's world equals its count with two, for each role that opens it.

The admin's pages and the API's endpoints are read from the admin site's registry and the API's router, so
a model or endpoint added later is held to the bound without a line here; one without an anchor record in
the world fails `test_every_admin_model_and_api_resource_has_an_anchor` until it is given one.

Building and growing the world and opening some two thousand pages takes minutes, so it is done once
for the run, in a transaction rolled back at its end (as the customers' permission matrix of the API
builds its world), and each test reads its share of the measurements. Only the cases of the tests selected
are measured: `-k` on one role or group takes seconds.
"""

import collections
import dataclasses
import re

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apn_portal.api.urls import router
from conftest import fast_and_isolated_settings
from tests.api.conftest import api_client
from tests.world import World

# Every test reads the database, through `bounds`; the mark also has pytest-django create the test database
# for a run that selects only them.
pytestmark = pytest.mark.django_db

FEW, MANY = 2, 12

# Who each role is in the world; None is nobody signed in.
ROLES = {
    "anonymous": lambda w: None,
    "partner": lambda w: w.partner_user,
    "customer_admin": lambda w: w.customer_admin,
    "customer_staff": lambda w: w.customer_staff,
    "account_manager": lambda w: w.am,
    "support_engineer": lambda w: w.engineer,
    "pdm": lambda w: w.pdm,
    "superuser": lambda w: w.superuser,
}
ADMIN_ROLES = ("superuser", "pdm", "account_manager", "support_engineer")

# The site's pages, by area, each page with the roles that open it (every role of the area if none named).
SITE_PAGES = {
    "public pages": [
        lambda w: "/",
        lambda w: "/partners/",
        lambda w: "/partners/?q=anchor",
        lambda w: f"/partners/?industry={w.industry.slug}",
        lambda w: f"/partners/{w.partner.slug}/",
        lambda w: f"/partners/{w.partner.slug}/?references=all",
    ],
    "partner area": [
        lambda w: "/my/",
        lambda w: "/my/programs/",
        lambda w: "/my/leads/",
        lambda w: f"/my/leads/{w.contact.reference}/",
        lambda w: "/my/references/",
        lambda w: "/my/references/new/",
        lambda w: f"/my/references/{w.reference.pk}/",
        lambda w: "/my/profile/",
        lambda w: "/my/profile/edit/",
        lambda w: "/my/engagements/",
        lambda w: f"/my/engagements/{w.engagement.pk}/",
        lambda w: "/my/grants/",
        lambda w: "/my/support/cases/",
        lambda w: "/my/support/cases/?status=open",
        lambda w: "/my/support/cases/new/",
    ],
    "customer area": [
        lambda w: "/my/organisation/",
        lambda w: "/my/engagements/",
        lambda w: f"/my/engagements/{w.engagement.pk}/",
        lambda w: "/my/access/",
        (lambda w: "/my/access/grant/", ("customer_admin",)),
        lambda w: "/my/support/",
        lambda w: "/my/support/cases/new/",
        lambda w: f"/my/support/cases/{w.case.pk}/",
    ],
    "account manager pages": [
        lambda w: "/my/customers/",
        lambda w: f"/my/customers/{w.customer.slug}/",
        lambda w: "/my/engagements/",
        lambda w: f"/my/engagements/{w.engagement.pk}/",
        lambda w: "/my/support/cases/",
        lambda w: "/my/support/cases/?status=open",
        lambda w: f"/my/support/cases/{w.case.pk}/",
    ],
    "support desk pages": [
        lambda w: "/my/support/cases/",
        lambda w: "/my/support/cases/?status=open",
        lambda w: f"/my/support/cases/{w.case.pk}/",
        lambda w: "/my/customers/",
        lambda w: "/my/engagements/",
    ],
    "pdm dashboard": [
        lambda w: "/pdm/",
    ],
}
SITE_ROLES = {
    "public pages": tuple(ROLES),
    "partner area": ("partner",),
    "customer area": ("customer_admin", "customer_staff"),
    "account manager pages": ("account_manager", "superuser"),
    "support desk pages": ("support_engineer", "superuser"),
    "pdm dashboard": ("pdm", "superuser"),
}

# Lists the API filters or searches besides its plain lists, which come from the router.
API_FILTERED_LISTS = [
    "/api/v1/partners/?q=anchor",
    "/api/v1/partners/?ordering=name",
    "/api/v1/support-cases/?status=open",
]

ADMIN_GROUPS = ("admin changelists", "admin add pages", "admin change pages", "admin history pages")
ADMIN_GROUPS += ("admin autocomplete",)
API_GROUPS = ("api root", "api lists", "api details")


@dataclasses.dataclass(frozen=True)
class Case:
    role: str
    group: str
    cache: str = "warm"  # "cold": the cache emptied before every request

    def __str__(self):
        return f"{self.role}-{self.group.replace(' ', '_')}-{self.cache}"


# Every role on the pages it opens with the cache warm, and the superuser, who opens all of them, once
# more with it cold: a page that reads per row only when its cache is empty is caught there.
ADMIN_CASES = [Case(role, group) for role in ADMIN_ROLES for group in ADMIN_GROUPS]
ADMIN_CASES += [Case("superuser", group, "cold") for group in ADMIN_GROUPS]
SITE_CASES = [Case(role, group) for group, roles in SITE_ROLES.items() for role in roles]
SITE_CASES += [
    Case("superuser", group, "cold") for group, roles in SITE_ROLES.items() if "superuser" in roles
]
API_CASES = [Case(role, group) for role in ROLES for group in API_GROUPS]
API_CASES += [Case("superuser", group, "cold") for group in API_GROUPS]


@dataclasses.dataclass
class Hit:
    """One request: its status (or the exception it raised), its SQL, and how many rows it listed."""

    status: object
    statements: list
    rows: int | None = None


# -- What each case opens ---------------------------------------------------------------------------------


def _label(model) -> str:
    return model._meta.label_lower


def _admin_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _admin_pages(world, user, group):
    """(what, url) of the pages of `group` in the admin that `user` may open, by the admin's own rules: a
    page the role may not open is no page of theirs."""
    request = _admin_request(user)
    pages = []
    for model, model_admin in admin.site._registry.items():
        label, base = _label(model), f"admin:{model._meta.app_label}_{model._meta.model_name}"
        if group == "admin changelists" and model_admin.has_view_or_change_permission(request):
            pages.append((f"{label} changelist", reverse(f"{base}_changelist")))
        elif group == "admin add pages" and model_admin.has_add_permission(request):
            pages.append((f"{label} add", reverse(f"{base}_add")))
        elif group in ("admin change pages", "admin history pages"):
            obj = world.anchor(model)
            if obj is None or not model_admin.has_view_or_change_permission(request, obj):
                continue
            if not model_admin.get_queryset(request).filter(pk=obj.pk).exists():
                continue  # outside what the role looks after
            view = "change" if group == "admin change pages" else "history"
            pages.append((f"{label} {view}", reverse(f"{base}_{view}", args=[obj.pk])))
    return pages


def autocomplete_fields():
    """(model, field name) of every autocomplete field of the admin, its inlines' included."""
    found = set()
    for model, model_admin in admin.site._registry.items():
        found.update((model, name) for name in model_admin.autocomplete_fields)
        for inline in model_admin.inlines:
            found.update((inline.model, name) for name in inline.autocomplete_fields)
    return sorted(found, key=lambda found: (_label(found[0]), found[1]))


def _autocomplete_pages(user):
    """The admin's autocomplete of every autocomplete field whose records `user` may see."""
    request = _admin_request(user)
    pages = []
    for model, name in autocomplete_fields():
        remote_admin = admin.site._registry[model._meta.get_field(name).remote_field.model]
        if remote_admin.has_view_permission(request):
            query = f"app_label={model._meta.app_label}&model_name={model._meta.model_name}&field_name={name}"
            pages.append(
                (f"{_label(model)}.{name} autocomplete", f"{reverse('admin:autocomplete')}?{query}&term=")
            )
    return pages


def _api_pages(world, group):
    if group == "api root":
        return [("api root", reverse("api-root"))]
    pages = []
    for _prefix, viewset, basename in router.registry:
        if group == "api lists":
            url = reverse(f"{basename}-list")
            pages += [(url, url), (f"{url}?page_size=100", f"{url}?page_size=100")]
            continue
        obj = world.anchor(viewset.queryset.model)
        if obj is None:
            continue
        kwargs = {viewset.lookup_url_kwarg or viewset.lookup_field: getattr(obj, viewset.lookup_field)}
        url = reverse(f"{basename}-detail", kwargs=kwargs)
        pages.append((url, url))
        for action in viewset.get_extra_actions():
            if "get" in action.mapping and action.detail:
                url = reverse(f"{basename}-{action.url_name}", kwargs=kwargs)
                pages.append((url, url))
                if action.kwargs.get("pagination_class", viewset.pagination_class) is not None:
                    pages.append((f"{url}?page_size=100", f"{url}?page_size=100"))
    if group == "api lists":
        pages += [(url, url) for url in API_FILTERED_LISTS]
    return pages


def _site_pages(world, case):
    pages = []
    for page in SITE_PAGES[case.group]:
        url, roles = page if isinstance(page, tuple) else (page, None)
        if roles is None or case.role in roles:
            pages.append((url(world), url(world)))
    return pages


def pages_of(world, case):
    user = ROLES[case.role](world)
    if case.group == "admin autocomplete":
        return _autocomplete_pages(user)
    if case.group.startswith("admin"):
        return _admin_pages(world, user, case.group)
    if case.group.startswith("api"):
        return _api_pages(world, case.group)
    return _site_pages(world, case)


# -- Measuring -------------------------------------------------------------------------------------------


def _get(client, url) -> Hit:
    with CaptureQueriesContext(connection) as captured:
        try:
            response = client.get(url)
        except Exception as exc:  # reported as that page's failure; the other pages are measured on
            return Hit(f"raised {exc!r}", [])
    rows = None
    if response.get("Content-Type", "").startswith("application/json") and response.status_code == 200:
        body = response.json()
        rows = len(body["results"]) if isinstance(body, dict) and "results" in body else None
    return Hit(response.status_code, [query["sql"] for query in captured.captured_queries], rows)


def _measure(clients, targets, cases) -> dict:
    measured = {}
    for case in cases:
        client = clients[case.role, case.group.startswith("api")]
        hits = measured[case] = {}
        for what, url in targets[case]:
            if case.cache == "cold":
                # As in a fresh process: the cache and what the process keeps (content types) empty.
                cache.clear()
                ContentType.objects.clear_cache()
            else:
                client.get(url)  # what a first request caches, for the session or for everyone
            hits[what] = _get(client, url)
    return measured


def _clients(world, cases):
    clients = {}
    for case in cases:
        user = ROLES[case.role](world)
        if case.group.startswith("api"):
            clients[case.role, True] = api_client(user)
        else:
            client = clients[case.role, False] = Client()
            if user is not None:
                client.force_login(user)
    return clients


def _selected_cases(request):
    """The cases of this module's tests that this run selected."""
    return {
        item.callspec.params["case"]
        for item in request.session.items
        if item.module.__name__ == __name__ and hasattr(item, "callspec") and "case" in item.callspec.params
    }


@dataclasses.dataclass
class Bounds:
    targets: dict
    few: dict
    many: dict


# Session-scoped, so that however a run orders or shares out its tests (pytest-xdist) the world is built
# once a process. Nothing of it outlives the fixture in the database (its transaction is rolled back).
@pytest.fixture(scope="session")
def bounds(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """Every selected case's pages measured with FEW units of the world and again with MANY."""
    cases = sorted(_selected_cases(request), key=str)
    # What conftest's _fast_and_isolated sets for each test, which a module's fixture runs before.
    fast = fast_and_isolated_settings("bounds", tmp_path_factory.mktemp("media"))
    with django_db_blocker.unblock(), override_settings(**fast), transaction.atomic():
        cache.clear()
        world = World()
        world.grow(FEW)
        targets = {case: pages_of(world, case) for case in cases}
        clients = _clients(world, cases)
        # Once each before measuring: a session's first request reads what later ones find cached.
        for client in clients.values():
            client.get(reverse("api-root"))
        few = _measure(clients, targets, cases)
        world.grow(MANY - FEW)
        many = _measure(clients, targets, cases)
        transaction.set_rollback(True)
    return Bounds(targets, few, many)


# -- Judging ---------------------------------------------------------------------------------------------

_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")
_COLUMNS = re.compile(r"^SELECT (DISTINCT )?.{60,}? FROM ")


def _shape(sql: str) -> str:
    """The statement with its values blanked, so that one query per row counts as one statement repeated."""
    return _LITERAL.sub("?", sql)


def _brief(sql: str) -> str:
    """The statement as a failure shows it: a long column list elided, so that its tables and conditions
    show."""
    return _COLUMNS.sub(lambda found: f"SELECT {found[1] or ''}... FROM ", sql)[:400]


def statements_that_grew(few: list, many: list) -> list[tuple[str, int, int]]:
    """(statement, times with few, times with many) of each statement run a different number of times."""
    before = collections.Counter(map(_shape, few))
    after = collections.Counter(map(_shape, many))
    return sorted(
        ((sql, before[sql], after[sql]) for sql in before.keys() | after.keys() if before[sql] != after[sql]),
        key=lambda row: row[1] - row[2],
    )


def _report(case, bounds, expected_statuses) -> list[str]:
    """A line for each page of `case` that was not as expected or whose query count grew, with the
    statements that grew."""
    problems = []
    for what, url in bounds.targets[case]:
        few, many = bounds.few[case][what], bounds.many[case][what]
        if few.status not in expected_statuses or many.status != few.status:
            problems.append(
                f"{what} ({url}): answered {few.status} with {FEW} units, {many.status} with {MANY}"
            )
        elif len(many.statements) != len(few.statements):
            problems.append(
                f"{what} ({url}): {len(few.statements)} queries with {FEW} units, "
                f"{len(many.statements)} with {MANY}"
            )
            problems += [
                f"    {times_few} -> {times_many} times: {_brief(sql)}"
                for sql, times_few, times_many in statements_that_grew(few.statements, many.statements)[:6]
            ]
    return problems


def _assert_bounded(case, bounds, expected_statuses=(200,)):
    assert bounds.targets[case], f"{case}: no pages to measure"
    problems = _report(case, bounds, expected_statuses)
    assert not problems, f"{case}: pages not held to a constant number of queries:\n" + "\n".join(problems)


# -- The tests -------------------------------------------------------------------------------------------


def test_every_admin_model_and_api_resource_has_an_anchor():
    world = World()
    models = set(admin.site._registry) | {viewset.queryset.model for _, viewset, _ in router.registry}
    missing = sorted(_label(model) for model in models if world.anchor(model) is None)
    assert not missing, f"Give these models an anchor record in tests/world.py (ANCHORS): {missing}"


@pytest.mark.parametrize("case", ADMIN_CASES, ids=str)
def test_admin_pages_run_a_constant_number_of_queries(bounds, case):
    # Only what the role may open is measured, so each page must open.
    _assert_bounded(case, bounds)


@pytest.mark.parametrize("case", SITE_CASES, ids=str)
def test_site_pages_run_a_constant_number_of_queries(bounds, case):
    _assert_bounded(case, bounds)


@pytest.mark.parametrize("case", API_CASES, ids=str)
def test_api_endpoints_run_a_constant_number_of_queries(bounds, case):
    # A record outside the role's reach is a 404, and everything but the root a 401 to nobody signed in:
    # those answers are held to the bound too. The lists open for everyone signed in, and everything for
    # the superuser.
    if case.role == "superuser" or (case.group == "api lists" and case.role != "anonymous"):
        _assert_bounded(case, bounds)
    else:
        _assert_bounded(case, bounds, expected_statuses=(200, 401, 404))


# Reference data the world does not add to.
FIXED_LISTS = {"/api/v1/tiers/?page_size=100", "/api/v1/support-plans/?page_size=100"}


@pytest.mark.parametrize("case", [Case("superuser", "api lists")], ids=str)
def test_the_api_lists_list_more_with_more_units(bounds, case):
    # The bound means something only if what is measured grew: every list but reference data lists more.
    fixed = {
        url: (bounds.few[case][what].rows, bounds.many[case][what].rows)
        for what, url in bounds.targets[case]
        if url.endswith("page_size=100")
    }
    fixed = {url: rows for url, rows in fixed.items() if rows[0] is None or rows[1] <= rows[0]}
    assert fixed.keys() == FIXED_LISTS, f"Lists that did not grow (rows with {FEW} units, {MANY}): {fixed}"
