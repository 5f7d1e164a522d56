"""A Professional Services consultant reads the engagement, and through their seat on its team all of the
customer's records, while their services last and while they are on the team. Before, the seat that
professional_services_add opened never ended (nothing read the services' last day), and being named on the
services opened the engagement by itself (engagements_visible_to), so a consultant long done, or taken off
the team, still found it on /my/engagements/ and in /api/v1/engagements/ for good. Now the hourly
access_grant_expiry check ends the seat on the services' last day once that day is over in the customer's
time zone, as it ends a partner's people's seats when its contract runs out, and the seat is what opens it."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from engagements import services
from engagements.models import ProfessionalServicesEngagement, TeamMember
from engagements.tests.test_partner_seats_end_with_contract import _team_lines_of
from tests.checks import check_run_on, on
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
LAST_DAY = datetime.date(2026, 12, 10)
CONSULTANT_LINE = (
    "Cora Consultant, Professional Services consultant (Professional Services bought by the customer)"
)


def _services(engagement, consultant, *, starts_on, ends_on):
    return services.professional_services_add(
        user=engagement.customer.account_manager,
        engagement=engagement,
        bought_by="customer",
        goal="Move the data warehouse",
        capability_gap="Nobody on the team has run a migration of this size",
        starts_on=starts_on,
        ends_on=ends_on,
        consultant=consultant,
    )


@pytest.fixture
def migration():
    """Zeta's migration in Los Angeles, with Professional Services until 10 Dec 2026 and Cora their
    consultant."""
    with on(LAST_DAY - 60 * DAY):
        customer = CustomerFactory(
            name="Zeta plc", time_zone="America/Los_Angeles", account_manager=AccountManagerFactory()
        )
        admin = CustomerUserFactory(customer=customer, access_admin=True, first_name="Ada", last_name="Admin")
        engagement = EngagementFactory(customer=customer, title="Zeta migration")
        consultant = StaffUserFactory(username="cora", first_name="Cora", last_name="Consultant")
        _services(engagement, consultant, starts_on=LAST_DAY - 50 * DAY, ends_on=LAST_DAY)
    return engagement, admin, consultant


def _listed_to(user) -> dict:
    """The engagements `user` finds on /my/engagements/ and in /api/v1/engagements/."""
    page = Client()
    page.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    listed = page.get("/my/engagements/")
    assert listed.status_code == 200
    return {
        "page": "Zeta migration" in listed.content.decode(),
        "API": [item["title"] for item in api.get("/api/v1/engagements/").json()["results"]],
    }


def test_the_seat_ends_on_the_services_last_day_and_the_consultant_reads_nothing_more(migration):
    engagement, admin, consultant = migration
    # 02:00 UTC on 11 Dec is still 10 Dec in Los Angeles: the services' last day is not over there.
    check_run_on("access_grant_expiry", LAST_DAY + DAY)
    with on(LAST_DAY + DAY):
        assert _listed_to(consultant) == {"page": True, "API": ["Zeta migration"]}

    run = check_run_on("access_grant_expiry", LAST_DAY + 2 * DAY)

    assert run.changed["consultant_seats_ended"] == 1
    assert "team_seats_ended" not in run.changed
    with on(LAST_DAY + 2 * DAY):
        assert _listed_to(consultant) == {"page": False, "API": []}
        assert f"{CONSULTANT_LINE} left 10 Dec 2026" in _team_lines_of(admin, engagement)
        api = APIClient()
        api.force_authenticate(consultant)
        assert api.get(f"/api/v1/engagements/{engagement.pk}/").status_code == 404
        assert api.get("/api/v1/customers/").json()["results"] == []
    seat = TeamMember.objects.get(user=consultant)
    assert seat.left_on == LAST_DAY
    assert seat.history.first().history_user is None
    assert (
        seat.history.first().history_change_reason
        == "Cora Consultant's Professional Services ended on 10 Dec 2026"
    )


def test_running_again_changes_nothing(migration):
    _, _, consultant = migration
    check_run_on("access_grant_expiry", LAST_DAY + 2 * DAY)
    seat = TeamMember.objects.get(user=consultant)
    versions, updated_at = seat.history.count(), seat.updated_at

    run = check_run_on("access_grant_expiry", LAST_DAY + 3 * DAY)

    seat.refresh_from_db()
    assert "consultant_seats_ended" not in run.changed
    assert (seat.history.count(), seat.updated_at, seat.left_on) == (versions, updated_at, LAST_DAY)


def test_services_still_going_there_keep_the_seat(migration):
    engagement, _, consultant = migration
    with on(LAST_DAY - 10 * DAY):
        _services(engagement, consultant, starts_on=LAST_DAY - 10 * DAY, ends_on=LAST_DAY + 30 * DAY)
        _services(engagement, StaffUserFactory(username="open-ended"), starts_on=LAST_DAY, ends_on=None)

    check_run_on("access_grant_expiry", LAST_DAY + 20 * DAY)
    assert TeamMember.objects.filter(engagement=engagement, left_on=None).count() == 2

    # Once those run out too, the consultant leaves on their last day; services without an end go on.
    check_run_on("access_grant_expiry", LAST_DAY + 32 * DAY)
    assert TeamMember.objects.get(user=consultant).left_on == LAST_DAY + 30 * DAY
    assert TeamMember.objects.get(user__username="open-ended").left_on is None


def test_a_consultant_taken_off_the_team_reads_nothing_more(migration):
    engagement, _, consultant = migration
    seat = TeamMember.objects.get(user=consultant)
    account_manager = engagement.customer.account_manager
    with on(LAST_DAY - 20 * DAY):
        admin = Client()
        admin.force_login(account_manager)
        url = f"/admin/engagements/teammember/{seat.pk}/change/"
        form = admin.get(url).context["adminform"].form
        data = {
            name: "" if value is None else value
            for name, value in form.initial.items()
            if name in form.fields
        }
        data["left_on"] = (LAST_DAY - 20 * DAY).isoformat()
        assert admin.post(url, data).status_code == 302

        assert _listed_to(consultant) == {"page": False, "API": []}


def test_services_recorded_once_over_seat_the_consultant_for_their_days_only(migration):
    engagement, admin, _ = migration
    late = StaffUserFactory(username="late", first_name="Lee", last_name="Late")
    with on(LAST_DAY - 20 * DAY):
        _services(engagement, late, starts_on=LAST_DAY - 40 * DAY, ends_on=LAST_DAY - 30 * DAY)

        line = f"{CONSULTANT_LINE.replace('Cora Consultant', 'Lee Late')} left 10 Nov 2026"
        assert line in _team_lines_of(admin, engagement)
        assert _listed_to(late) == {"page": False, "API": []}


def test_the_check_reads_in_constant_queries_however_many_seats_end(migration):
    engagement, _, _ = migration
    with on(LAST_DAY - 20 * DAY):
        for name in ("one", "two", "three"):
            _services(
                engagement, StaffUserFactory(username=name), starts_on=LAST_DAY, ends_on=LAST_DAY + 5 * DAY
            )

    with CaptureQueriesContext(connection) as one:
        run = check_run_on("access_grant_expiry", LAST_DAY + 2 * DAY)
    assert run.changed["consultant_seats_ended"] == 1
    with CaptureQueriesContext(connection) as three:
        run = check_run_on("access_grant_expiry", LAST_DAY + 7 * DAY)
    assert run.changed["consultant_seats_ended"] == 3

    assert len(three.captured_queries) == len(one.captured_queries)


def test_services_recorded_without_a_seat_open_the_engagement_only_until_their_last_day(migration):
    """Services written around professional_services_add seat nobody: their consultant reads the engagement
    (not the customer) while the services last, in the customer's time zone, and nothing after."""
    engagement, _, _ = migration
    seatless = StaffUserFactory(username="seatless")
    ProfessionalServicesEngagement.objects.create(
        engagement=engagement,
        bought_by="customer",
        goal="Tune the warehouse",
        capability_gap="Redshift tuning",
        consultant=seatless,
        starts_on=LAST_DAY - 50 * DAY,
        ends_on=LAST_DAY,
    )

    with on(LAST_DAY + DAY):  # still 10 Dec in Los Angeles
        assert _listed_to(seatless) == {"page": True, "API": ["Zeta migration"]}
    with on(LAST_DAY + 2 * DAY):
        assert _listed_to(seatless) == {"page": False, "API": []}
