"""The PDM's dashboard: plots and lists of the network, for PDMs only, in a constant number of queries."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from partners.choices import CertificationLevel
from partners.models import Partner
from partners.services import partner_tier_change
from tests.checks import check_run_on
from tests.factories import (
    CertificationFactory,
    ContactRequestFactory,
    CustomerUserFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffMemberFactory,
    StaffUserFactory,
    SuperUserFactory,
    tier,
)

pytestmark = pytest.mark.django_db

URL = "/pdm/"


def grow_network(count, pdm=None):
    today = timezone.localdate()
    for index in range(count):
        partner = PartnerFactory(pdm=pdm)
        member = StaffMemberFactory(partner=partner)
        CertificationFactory(
            staff_member=member,
            level=CertificationLevel.FOUNDATIONAL,
            earned_on=today - datetime.timedelta(days=900),
            expires_on=today + datetime.timedelta(days=20 + 30 * (index % 12)),
        )
        ContactRequestFactory(partner=partner)
        if pdm is not None:
            partner_tier_change(
                partner=partner, to_tier=tier(slug="select"), reason="Evidence checked", user=pdm
            )
    Partner.objects.filter(pk__in=Partner.objects.order_by("pk").values("pk")[: max(count // 2, 1)]).update(
        at_risk_from=today + datetime.timedelta(days=40)
    )


def test_a_pdm_sees_the_plots_and_the_partners_at_risk(client):
    pdm = PdmFactory()
    grow_network(3, pdm=pdm)
    at_risk = Partner.objects.filter(at_risk_from__isnull=False).order_by("at_risk_from", "name").first()
    Partner.objects.filter(pk=Partner.objects.exclude(pk=at_risk.pk).first().pk).update(
        grace_started_on=timezone.localdate(),
        grace_ends_on=timezone.localdate() + datetime.timedelta(days=90),
    )
    client.force_login(pdm)

    response = client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    for title in (
        "Partners by tier and type",
        "Certifications expiring per month",
        "Tier changes per week",
        "Contact requests per week",
    ):
        assert f">{title}</title>" in page
    assert page.count("<svg viewBox=") == 4
    assert at_risk.name in page
    assert "In a grace period" in page and "Demoted on" in page
    assert response.context["counts"]["in_grace"] == 1
    assert response.context["counts"]["partners"] == 3
    expiring = response.context["certifications_expiring"]
    assert sum(value for _, (value,) in expiring.rows) == 3
    changes = response.context["tier_changes_per_week"]
    assert sum(promotions for _, (promotions, _) in changes.rows) == 3


def test_the_query_count_does_not_grow_with_the_network(client, django_assert_max_num_queries):
    pdm = PdmFactory()
    client.force_login(pdm)
    grow_network(2, pdm=pdm)
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL).status_code == 200
    grow_network(25, pdm=pdm)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(URL).status_code == 200


def test_my_partners_only_narrows_every_figure(client):
    pdm = PdmFactory()
    grow_network(2, pdm=pdm)
    grow_network(3)
    client.force_login(pdm)

    everything = client.get(URL).context
    mine = client.get(URL, {"scope": "mine"}).context

    assert everything["counts"]["partners"] == 5
    assert mine["counts"]["partners"] == 2
    assert sum(v for _, (v,) in mine["contact_requests_per_week"].rows) == 2
    assert sum(v for _, (v,) in everything["contact_requests_per_week"].rows) == 5


@pytest.mark.parametrize(
    ("make_user", "status"),
    [
        (lambda: None, 302),  # to the sign-in
        (lambda: StaffUserFactory(roles=[StaffRole.TAM]), 403),
        (lambda: PdmFactory(), 200),
        (lambda: SuperUserFactory(), 200),
    ],
)
def test_only_pdms_and_superusers_see_the_dashboard(client, make_user, status):
    user = make_user()
    if user is not None:
        client.force_login(user)
    assert client.get(URL).status_code == status


@pytest.mark.parametrize(
    "make_user", [CustomerUserFactory, PartnerUserFactory, lambda: StaffUserFactory(roles=[StaffRole.TAM])]
)
def test_anyone_else_signed_in_is_told_whom_the_dashboard_is_for(client, make_user):
    client.force_login(make_user())

    response = client.get(URL)

    assert response.status_code == 403
    assert "This page is for Partner Development Managers" in response.content.decode()


def test_a_pdm_opens_the_latest_run_each_check_links_to(client):
    check_run_on("certification_expiry", datetime.date(2026, 11, 24))
    client.force_login(PdmFactory())

    links = re.findall(r'href="(/admin/checks/checkrun/\d+/change/)"', client.get(URL).content.decode())

    assert links
    for link in links:
        assert client.get(link).status_code == 200


def test_someone_signed_out_signs_in_on_the_portals_page(client):
    response = client.get(URL)

    assert response["Location"] == f"/accounts/login/?next={URL}"


def test_the_admin_links_to_the_dashboard(client):
    client.force_login(PdmFactory())

    response = client.get("/admin/")

    assert response.status_code == 200
    assert b'href="/pdm/">Network dashboard</a>' in response.content


def test_the_scheduled_checks_are_named_in_words_with_what_each_does(client):
    client.force_login(PdmFactory())

    response = client.get(URL)

    page = response.content.decode()
    for label in (
        "Certification expiry",
        "Tier health",
        "Program renewal",
        "Access grant expiry",
        "Support SLA",
    ):
        assert f"<strong>{label}</strong>" in page
    assert "Expired certifications stop counting" in page
    assert "support_sla" not in page and "certification_expiry" not in page


def test_a_checks_last_run_is_shown_with_its_zone(client):
    run = check_run_on("certification_expiry", datetime.date(2026, 11, 24))  # at 02:00 UTC
    client.force_login(PdmFactory())

    page = client.get(URL).content.decode()

    assert f'<time datetime="{run.started_at.isoformat()}">24 Nov 2026, 02:00 UTC</time>' in page


def test_the_dashboard_and_the_admin_filter_agree_on_who_is_at_risk(client, settings):
    """Both read "at risk" over PARTNER_EXPIRING_SOON_DAYS: a PDM who follows the dashboard's figure into
    the admin's "falls short within" filter finds the same partners."""
    settings.PARTNER_EXPIRING_SOON_DAYS = 30
    pdm = PdmFactory()
    today = timezone.localdate()
    soon = PartnerFactory(pdm=pdm, name="Short In Twenty Days")
    later = PartnerFactory(pdm=pdm, name="Short In Sixty Days")
    Partner.objects.filter(pk=soon.pk).update(at_risk_from=today + datetime.timedelta(days=20))
    Partner.objects.filter(pk=later.pk).update(at_risk_from=today + datetime.timedelta(days=60))
    client.force_login(pdm)
    page = client.get(URL).content.decode()
    assert "at risk within 30 days" in page
    assert soon.name in page and later.name not in page
    admin_list = client.get("/admin/partners/partner/?health=at_risk").content.decode()
    assert soon.name in admin_list and later.name not in admin_list
