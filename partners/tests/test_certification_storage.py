"""How the certifications table is stored (migration partners 0026)."""

import pytest
from django.db import connection

from partners.models import Certification

pytestmark = pytest.mark.django_db


def test_certification_pages_keep_a_tenth_free_for_the_expiry_checks_marks():
    # certification_expiry marks a tenth of the table in a run: with room on the page, each new row
    # version stays there and no index entry is written for it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [Certification._meta.db_table]
        )
        (options,) = cursor.fetchone()

    assert "fillfactor=90" in (options or [])
