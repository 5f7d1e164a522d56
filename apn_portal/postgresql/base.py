"""Django's PostgreSQL backend, reading `timestamptz` values with C code rather than a regular expression.

Django reads every `timestamptz` through a loader derived from psycopg's pure-Python one, because it
must pin the values to its own time zone and psycopg's C loader cannot be subclassed (Django ticket
#36960, psycopg issue #1273). That parser costs about 12 µs a value: a page of 50 partners spent more
time turning 200 timestamps into datetimes than PostgreSQL spent finding them. With `USE_TZ` and the
database in UTC (Django's setting unless `DATABASES[...]["TIME_ZONE"]` says otherwise), the ISO text
PostgreSQL sends is read by `datetime.fromisoformat`, which is C.
"""

import datetime
from functools import lru_cache

from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.adapt import AdaptersMap

UTC = datetime.UTC


class UtcTimestamptzLoader(BaseTzLoader):
    # Django's create_cursor compares this with the connection's time zone, and re-registers its own
    # loader on a cursor when they differ.
    timezone = UTC

    def load(self, data):
        try:
            return datetime.datetime.fromisoformat(bytes(data).decode()).astimezone(UTC)
        except ValueError:
            # Not ISO 8601 (another DateStyle, 'infinity', a year BC or past 9999): psycopg's own
            # parser, with its own errors.
            return super().load(data)


@lru_cache
def _adapters_reading_utc(template: AdaptersMap) -> AdaptersMap:
    adapters = AdaptersMap(template)
    adapters.register_loader("timestamptz", UtcTimestamptzLoader)
    return adapters


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if self.timezone is UTC:
            params["context"] = _adapters_reading_utc(params["context"])
        return params
