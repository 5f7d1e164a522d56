"""certification_expiry reads, locks, tells and marks a batch of partners in a fixed number of
statements, however many partners and certifications it holds."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from tests.checks import on
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffMemberFactory,
)

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 3, 2)


def partners_with_expiring_certifications(count: int, expires_on: datetime.date) -> None:
    with on(DAY):
        for _ in range(count):
            partner = PartnerFactory(pdm=PdmFactory())
            PartnerUserFactory(partner=partner)
            for _ in range(2):
                CertificationFactory(
                    staff_member=StaffMemberFactory(partner=partner),
                    earned_on=DAY - datetime.timedelta(days=400),
                    expires_on=expires_on,
                )


def statements_of_a_run(day: datetime.date) -> tuple[int, dict]:
    with on(day), CaptureQueriesContext(connection) as queries:
        run = check_run("certification_expiry")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    return len(queries), run.changed


def test_reminding_20_partners_takes_as_many_statements_as_reminding_2():
    partners_with_expiring_certifications(2, DAY + datetime.timedelta(days=5))
    few, few_changed = statements_of_a_run(DAY)
    # Reminded a day later, the first ones being reminded already at the same threshold.
    partners_with_expiring_certifications(20, DAY + datetime.timedelta(days=6))
    many, many_changed = statements_of_a_run(DAY + datetime.timedelta(days=1))

    assert (few_changed["reminder_emails"], few_changed["certifications_reminded"]) == (2, 4)
    assert (many_changed["reminder_emails"], many_changed["certifications_reminded"]) == (20, 40)
    assert many == few
