"""The PostgreSQL backend reads `timestamptz` values as Django's own would: the same instants, in UTC."""

import datetime

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader

from apn_portal.postgresql.base import UtcTimestamptzLoader

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
STORED = [
    "2026-11-29 11:14:40.123456+00",
    "2026-11-29 11:14:40+00",
    "2026-03-29 00:59:59.999999+00",  # the second before Europe's clocks go forward
    "2026-10-25 01:30:00+00",  # inside the hour Europe's clocks go back
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def read(sql: str, session_zone: str = "UTC", django_loader: bool = False):
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if django_loader:
            register_tzloader(UTC, raw)
        raw.execute("SELECT set_config('TimeZone', %s, true)", [session_zone])
        raw.execute(sql)
        return [row[0] for row in raw.fetchall()]


def values_sql(values: list[str]) -> str:
    return "SELECT v::timestamptz FROM (VALUES " + ", ".join(f"('{v}')" for v in values) + ") AS t(v)"


def test_the_connection_reads_timestamps_with_the_backends_loader():
    connection.ensure_connection()

    assert connection.connection.adapters.get_loader(1184, psycopg.pq.Format.TEXT) is UtcTimestamptzLoader


def test_timestamps_are_the_same_utc_datetimes_djangos_loader_reads():
    ours, djangos = read(values_sql(STORED)), read(values_sql(STORED), django_loader=True)

    assert ours == djangos
    assert [value.tzinfo for value in ours] == [UTC] * len(STORED)
    assert ours[0] == datetime.datetime(2026, 11, 29, 11, 14, 40, 123456, tzinfo=UTC)
    assert ours[-1] == datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_a_session_in_another_time_zone_still_reads_the_same_instants_in_utc():
    # PostgreSQL then writes the offset (+05:30, or local mean time's seconds in 1900).
    stored = [*STORED[:4], "1900-01-01 00:00:00+00"]
    values = read(values_sql(stored), session_zone="Asia/Kolkata")
    as_text = values_sql(stored).replace("v::timestamptz", "v::timestamptz::text")
    as_sent = read(as_text, session_zone="Asia/Kolkata")

    assert as_sent[0] == "2026-11-29 16:44:40.123456+05:30"
    assert as_sent[-1] == "1900-01-01 05:21:10+05:21:10"
    assert values == read(values_sql([*STORED[:4], "1900-01-01 00:00:00+00"]))
    assert {value.utcoffset() for value in values} == {datetime.timedelta(0)}


def test_a_model_reads_back_the_instant_it_saved(django_user_model):
    berlin_summer = datetime.timezone(datetime.timedelta(hours=2))
    joined = datetime.datetime(2026, 3, 29, 3, 30, 15, 250, tzinfo=berlin_summer)
    user = django_user_model.objects.create_user(username="timestamp", password="x", date_joined=joined)

    stored = django_user_model.objects.get(pk=user.pk).date_joined

    assert stored == joined
    assert stored.tzinfo is UTC


def test_values_beyond_python_datetimes_fail_as_djangos_loader_fails():
    for value in ("infinity", "-infinity", "10000-01-01 00:00:00+00", "4713-01-01 00:00:00+00 BC"):
        with pytest.raises(psycopg.DataError) as ours:
            read(values_sql([value]))
        with pytest.raises(psycopg.DataError) as djangos:
            read(values_sql([value]), django_loader=True)
        assert str(ours.value) == str(djangos.value)
