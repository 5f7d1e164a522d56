"""Every page of the signed-in area offers the same way to every section its visitor may use."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apn_portal.accounts.choices import StaffRole
from engagements.models import ProfessionalServicesEngagement, TeamMember
from tests.factories import (
    AccountManagerFactory,
    CustomerUserFactory,
    EngagementFactory,
    PartnerUserFactory,
    PdmFactory,
    SolutionsArchitectFactory,
    StaffUserFactory,
    SuperUserFactory,
    SupportEngineerFactory,
    TamFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "page", ["my:scorecard", "my:references", "engagements:engagement-list", "support:case-list"]
)
def test_a_partners_staff_reach_every_section_from_any_page(client, page):
    client.force_login(PartnerUserFactory())

    html = client.get(reverse(page)).content.decode()

    for section in [
        "my:scorecard",
        "my:programs",
        "my:references",
        "my:leads",
        "engagements:engagement-list",
        "engagements:grants",
        "support:case-list",
    ]:
        assert f'href="{reverse(section)}"' in html, section
    assert 'href="/pdm/"' not in html


@pytest.mark.parametrize("page", ["engagements:organisation", "engagements:access", "support:home"])
def test_a_customers_staff_reach_every_section_from_any_page(client, page):
    client.force_login(CustomerUserFactory())

    html = client.get(reverse(page)).content.decode()

    for section in [
        "engagements:organisation",
        "engagements:engagement-list",
        "engagements:access",
        "support:home",
    ]:
        assert f'href="{reverse(section)}"' in html, section
    assert f'href="{reverse("my:leads")}"' not in html


# The header and the home page lead each signed-in user to their own area -------------------------------

SITE_NAV = re.compile(r'<nav class="site-nav" aria-label="Main">(.*?)</nav>', re.DOTALL)
CARDS = re.compile(r'<ul class="cards">(.*?)</ul>', re.DOTALL)
LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>')


def links_in(pattern, html) -> dict[str, str]:
    """{href: text} of the links in the part of the page `pattern` finds."""
    return {href: text for href, _, text in LINK.findall(pattern.search(html).group(1))}


AREAS = {
    "partner": (lambda: PartnerUserFactory(), {"/my/": "Partner area"}),
    "customer": (lambda: CustomerUserFactory(), {"/my/organisation/": "My organisation"}),
    "account manager": (lambda: AccountManagerFactory(), {"/my/customers/": "My customers"}),
    "support engineer": (lambda: SupportEngineerFactory(), {"/my/support/cases/": "Support cases"}),
    "pdm": (lambda: PdmFactory(), {"/pdm/": "Network dashboard"}),
    "superuser": (
        lambda: SuperUserFactory(),
        {"/my/customers/": "My customers", "/pdm/": "Network dashboard"},
    ),
    "provider staff without a role": (lambda: StaffUserFactory(), {"/my/customers/": "My customers"}),
}
ALL_AREA_PATHS = {path for _, areas in AREAS.values() for path in areas}


@pytest.mark.parametrize("audience", list(AREAS))
def test_the_header_and_home_page_lead_to_the_users_own_area(client, audience):
    make_user, expected = AREAS[audience]
    client.force_login(make_user())

    home = client.get(reverse("home")).content.decode()

    header = links_in(SITE_NAV, home)
    assert {path: header[path] for path in ALL_AREA_PATHS if path in header} == expected
    cards = links_in(CARDS, home)
    assert {path: cards[path] for path in ALL_AREA_PATHS if path in cards} == expected
    for path, label in expected.items():
        area = client.get(path)
        assert area.status_code == 200, path
        if path == "/pdm/":
            continue  # the network dashboard is an admin page, under the admin's own header
        # On the area's own page the header marks its link as the current page.
        nav = SITE_NAV.search(area.content.decode()).group(1)
        assert f'<a href="{path}" aria-current="page">{label}</a>' in nav


def test_an_anonymous_visitor_is_led_to_no_signed_in_area(client):
    home = client.get(reverse("home")).content.decode()

    assert not ALL_AREA_PATHS & set(links_in(SITE_NAV, home))
    assert not ALL_AREA_PATHS & set(links_in(CARDS, home))
    assert 'href="/my/' not in home
    # The sign-in card promises each kind of user what their area has: a customer has no scorecard.
    assert "Partners: your tier scorecard, leads and engagements." in home
    assert "Customers: your AWS accounts, engagements, partners' access and support cases." in " ".join(
        home.replace("&#x27;", "'").split()
    )


# The signed-in area's own navigation offers a provider's staff member only the sections their roles can
# ever fill, or that their seats on a customer's team fill -------------------------------------------

AREA_NAV = re.compile(r'<nav class="partner-area__nav" aria-label="Your area">(.*?)</nav>', re.DOTALL)
CUSTOMERS = {"/my/customers/": "My customers"}
ENGAGEMENTS = {"/my/engagements/": "Engagements"}
CASES = {"/my/support/cases/": "Support cases"}
DASHBOARD = {"/pdm/": "Network dashboard"}
LOOKING_AFTER_CUSTOMERS = CUSTOMERS | ENGAGEMENTS | CASES


def on_a_team(make_user):
    """A staff member in the team's Professional Services seat, which any of the provider's staff may take:
    the customer's records open to them as to its Account Manager."""

    def make():
        user = make_user()
        TeamMember.objects.create(engagement=EngagementFactory(), user=user, role="professional_services")
        return user

    return make


PROVIDER_SECTIONS = {
    "account manager": (AccountManagerFactory, LOOKING_AFTER_CUSTOMERS),
    "solutions architect": (SolutionsArchitectFactory, LOOKING_AFTER_CUSTOMERS),
    "tam": (TamFactory, LOOKING_AFTER_CUSTOMERS),
    # Every customer's cases are theirs, and no customer, engagement or account is.
    "support engineer": (SupportEngineerFactory, CASES),
    "pdm": (PdmFactory, DASHBOARD),
    "pdm and account manager": (
        lambda: StaffUserFactory(roles=[StaffRole.PDM, StaffRole.ACCOUNT_MANAGER]),
        LOOKING_AFTER_CUSTOMERS | DASHBOARD,
    ),
    "support engineer on a team": (on_a_team(SupportEngineerFactory), LOOKING_AFTER_CUSTOMERS),
    "pdm on a team": (on_a_team(PdmFactory), LOOKING_AFTER_CUSTOMERS | DASHBOARD),
    # Professional Services consultants, who have customers only through the teams they sit on.
    "provider staff without a role": (StaffUserFactory, LOOKING_AFTER_CUSTOMERS),
    "superuser": (SuperUserFactory, LOOKING_AFTER_CUSTOMERS | DASHBOARD),
}


@pytest.mark.parametrize("staff", list(PROVIDER_SECTIONS))
def test_the_area_navigation_offers_provider_staff_only_the_sections_they_can_use(client, staff):
    make_user, expected = PROVIDER_SECTIONS[staff]
    client.force_login(make_user())

    page = client.get(reverse("support:case-list"))

    assert page.status_code == 200
    assert links_in(AREA_NAV, page.content.decode()) == expected
    for path in expected:
        assert client.get(path).status_code == 200, path


# The header leads provider staff to the same sections as the area navigation: one rule for both -------


def consulting(make_user):
    """A staff member who is the consultant on a Professional Services engagement, with no seat on its
    customer's team: the engagement is theirs to see, the customer is not."""

    def make():
        user = make_user()
        ProfessionalServicesEngagement.objects.create(
            engagement=EngagementFactory(),
            bought_by="customer",
            goal="Migrate the data warehouse.",
            capability_gap="Redshift tuning.",
            consultant=user,
            starts_on=datetime.date(2026, 1, 1),
        )
        return user

    return make


HEADER_AREAS = {
    "support engineer on a team": (
        on_a_team(SupportEngineerFactory),
        {"/my/customers/": "My customers", "/my/support/cases/": "Support cases"},
    ),
    "pdm on a team": (
        on_a_team(PdmFactory),
        {"/my/customers/": "My customers", "/pdm/": "Network dashboard"},
    ),
    "support engineer consulting": (
        consulting(SupportEngineerFactory),
        {"/my/engagements/": "Engagements", "/my/support/cases/": "Support cases"},
    ),
}
HEADER_AREA_PATHS = ALL_AREA_PATHS | {"/my/engagements/"}


@pytest.mark.parametrize("staff", list(HEADER_AREAS))
def test_the_header_leads_staff_with_a_seat_to_the_customers_their_seat_opens(client, staff):
    make_user, expected = HEADER_AREAS[staff]
    client.force_login(make_user())

    home = client.get(reverse("home")).content.decode()

    header = links_in(SITE_NAV, home)
    assert {path: header[path] for path in HEADER_AREA_PATHS if path in header} == expected
    cards = links_in(CARDS, home)
    assert {path: cards[path] for path in HEADER_AREA_PATHS if path in cards} == expected
    for path in expected:
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("staff", list(PROVIDER_SECTIONS | HEADER_AREAS))
def test_the_header_offers_the_customers_and_engagements_the_area_navigation_offers(client, staff):
    make_user, _ = (PROVIDER_SECTIONS | HEADER_AREAS)[staff]
    client.force_login(make_user())

    page = client.get(reverse("support:case-list")).content.decode()

    header, nav = links_in(SITE_NAV, page), links_in(AREA_NAV, page)
    if "/my/customers/" in nav:
        assert "/my/customers/" in header
    elif "/my/engagements/" in nav:
        assert "/my/engagements/" in header
    else:
        assert not {"/my/customers/", "/my/engagements/"} & set(header)


def test_the_header_and_the_area_navigation_ask_about_seats_once_a_page(
    client, django_assert_max_num_queries
):
    """Both read a support engineer's seats, which their roles alone do not tell: one page asks once, however
    many teams they sit on."""
    engineer = on_a_team(SupportEngineerFactory)()
    client.force_login(engineer)
    with CaptureQueriesContext(connection) as one_seat:
        assert client.get(reverse("support:case-list")).status_code == 200
    seat_queries = [q for q in one_seat.captured_queries if "engagements_teammember" in q["sql"]]
    assert len(seat_queries) == 1, [q["sql"] for q in seat_queries]

    for _ in range(3):
        TeamMember.objects.create(engagement=EngagementFactory(), user=engineer, role="professional_services")
    with django_assert_max_num_queries(len(one_seat.captured_queries)):
        client.get(reverse("support:case-list"))
