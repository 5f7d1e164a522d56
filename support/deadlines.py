"""When a case's first response is due: a pure function of when it was opened, the plan's target, whether
the plan answers in business hours only, and the customer's time zone.

Business hours are 08:00 to 18:00 on Monday to Friday, on the customer's wall clock: a day on which the
clocks change still opens at 08:00 and closes at 18:00 local time. The time that counts is real elapsed
time inside those hours, so should a zone ever change its clocks during business hours, the hour that
did not happen is not counted and the repeated one counts once (every comparison is made in UTC, because
Python compares two datetimes of the same zone by their wall-clock reading, fold ignored). Public
holidays are not modelled: they count as working days.
"""

import datetime
import zoneinfo

BUSINESS_DAY_START = datetime.time(8, 0)
BUSINESS_DAY_END = datetime.time(18, 0)
WORKING_WEEKDAYS = frozenset(range(5))  # Monday (0) to Friday (4)


def first_response_due(
    opened_at: datetime.datetime, minutes: int, *, business_hours_only: bool, time_zone: str
) -> datetime.datetime:
    """The moment, in UTC, by which a case opened at `opened_at` must have its first response.

    Around the clock that is simply `minutes` later. In business hours only, the minutes run during the
    customer's business hours: a case opened at 17:50 on a Friday with a 12-hour target has used 10
    minutes by the weekend, 10 hours on Monday, and is due at 09:50 on Tuesday.
    """
    if opened_at.tzinfo is None or opened_at.utcoffset() is None:
        raise ValueError("opened_at must be an aware datetime.")
    if minutes <= 0:
        raise ValueError("A response target is at least one minute.")
    opened_utc = opened_at.astimezone(datetime.UTC)
    remaining = datetime.timedelta(minutes=minutes)
    if not business_hours_only:
        return opened_utc + remaining

    zone = zoneinfo.ZoneInfo(time_zone)
    day = opened_utc.astimezone(zone).date()
    while True:
        if day.weekday() in WORKING_WEEKDAYS:
            opens, closes = business_hours_of(day, zone)
            start = max(opens, opened_utc)
            if start < closes:
                available = closes - start
                if remaining <= available:
                    return start + remaining
                remaining -= available
        day += datetime.timedelta(days=1)


def business_hours_of(
    day: datetime.date, zone: zoneinfo.ZoneInfo
) -> tuple[datetime.datetime, datetime.datetime]:
    """When business opens and closes on `day` in `zone`, as UTC moments.

    A local time that does not exist (the clocks jumped over it) is read with the offset from before
    the jump, which lands just after it; one that happens twice is its first occurrence.
    """
    opens = datetime.datetime.combine(day, BUSINESS_DAY_START, tzinfo=zone)
    closes = datetime.datetime.combine(day, BUSINESS_DAY_END, tzinfo=zone)
    return opens.astimezone(datetime.UTC), closes.astimezone(datetime.UTC)
