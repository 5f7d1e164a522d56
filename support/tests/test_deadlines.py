"""First-response deadlines: business hours in the customer's time zone for Developer, around the clock
otherwise. support.deadlines is a pure function, tested here without a database."""

import datetime
import zoneinfo

import pytest

from support.deadlines import first_response_due

UTC = datetime.UTC
LONDON = zoneinfo.ZoneInfo("Europe/London")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
HOURS_12 = 12 * 60
HOURS_24 = 24 * 60


def business(opened, minutes, zone="Europe/London"):
    return first_response_due(opened, minutes, business_hours_only=True, time_zone=zone)


def local(moment, zone=LONDON):
    return moment.astimezone(zone).replace(tzinfo=None)


def test_around_the_clock_a_target_is_simply_that_much_later():
    opened = datetime.datetime(2026, 11, 27, 17, 50, tzinfo=LONDON)  # a Friday evening

    due = first_response_due(opened, 60, business_hours_only=False, time_zone="Europe/London")

    assert due == datetime.datetime(2026, 11, 27, 18, 50, tzinfo=UTC)
    assert due.tzinfo == UTC


def test_a_case_opened_at_17_50_on_friday_with_a_12_hour_target_is_due_at_09_50_on_tuesday():
    opened = datetime.datetime(2026, 11, 27, 17, 50, tzinfo=LONDON)

    # 10 minutes on Friday, 10 hours on Monday, 1 h 50 min on Tuesday.
    assert local(business(opened, HOURS_12)) == datetime.datetime(2026, 12, 1, 9, 50)


def test_a_24_hour_target_is_two_and_a_half_business_days():
    opened = datetime.datetime(2026, 11, 27, 17, 50, tzinfo=LONDON)

    # Friday 10 min + Monday 10 h + Tuesday 10 h = 20 h 10 min; 3 h 50 min on Wednesday.
    assert local(business(opened, HOURS_24)) == datetime.datetime(2026, 12, 2, 11, 50)


def test_within_one_business_day():
    opened = datetime.datetime(2026, 11, 24, 9, 15, tzinfo=LONDON)  # Tuesday

    assert local(business(opened, 60)) == datetime.datetime(2026, 11, 24, 10, 15)


def test_a_target_that_ends_exactly_at_closing_time_is_due_at_18_00_that_day():
    opened = datetime.datetime(2026, 11, 24, 8, 0, tzinfo=LONDON)

    assert local(business(opened, 600)) == datetime.datetime(2026, 11, 24, 18, 0)


@pytest.mark.parametrize(
    ("opened", "expected"),
    [
        # Saturday afternoon: the clock starts on Monday at 08:00.
        (datetime.datetime(2026, 11, 28, 14, 0), datetime.datetime(2026, 12, 1, 10, 0)),
        # Sunday just before midnight.
        (datetime.datetime(2026, 11, 29, 23, 59), datetime.datetime(2026, 12, 1, 10, 0)),
        # Monday before opening.
        (datetime.datetime(2026, 11, 30, 6, 30), datetime.datetime(2026, 12, 1, 10, 0)),
        # Monday exactly at closing time: nothing left that day.
        (datetime.datetime(2026, 11, 30, 18, 0), datetime.datetime(2026, 12, 2, 10, 0)),
        # Wednesday evening.
        (datetime.datetime(2026, 12, 2, 19, 0), datetime.datetime(2026, 12, 4, 10, 0)),
        # Friday after closing: the next Tuesday.
        (datetime.datetime(2026, 12, 4, 18, 30), datetime.datetime(2026, 12, 8, 10, 0)),
    ],
)
def test_outside_business_hours_the_clock_waits_for_the_next_business_morning(opened, expected):
    assert local(business(opened.replace(tzinfo=LONDON), HOURS_12)) == expected


def test_business_hours_are_the_customers_not_the_servers():
    opened = datetime.datetime(2026, 11, 27, 17, 50, tzinfo=UTC)  # Friday 17:50 in London

    london = business(opened, 60, "Europe/London")
    new_york = business(opened, 60, "America/New_York")  # 12:50 on Friday there
    tokyo = business(opened, 60, "Asia/Tokyo")  # already 02:50 on Saturday there
    kolkata = business(opened, 60, "Asia/Kolkata")  # 23:20 on Friday, half an hour off the hour

    assert local(london) == datetime.datetime(2026, 11, 30, 8, 50)
    assert local(new_york, NEW_YORK) == datetime.datetime(2026, 11, 27, 13, 50)
    assert local(tokyo, TOKYO) == datetime.datetime(2026, 11, 30, 9, 0)
    assert local(kolkata, KOLKATA) == datetime.datetime(2026, 11, 30, 9, 0)


def test_when_the_clocks_go_forward_over_the_weekend_business_still_opens_at_08_00_local():
    # Europe/London moves from GMT to BST on Sunday 28 March 2027.
    opened = datetime.datetime(2027, 3, 26, 17, 50, tzinfo=LONDON)  # Friday, GMT

    due = business(opened, HOURS_12)

    assert local(due) == datetime.datetime(2027, 3, 30, 9, 50)  # Tuesday, BST
    assert due == datetime.datetime(2027, 3, 30, 8, 50, tzinfo=UTC)


def test_when_the_clocks_go_back_business_still_opens_at_08_00_local():
    # America/New_York moves from EDT to EST on Sunday 1 November 2026.
    opened = datetime.datetime(2026, 10, 30, 17, 0, tzinfo=NEW_YORK)  # Friday, EDT

    due = business(opened, HOURS_12, "America/New_York")

    assert local(due, NEW_YORK) == datetime.datetime(2026, 11, 3, 9, 0)  # Tuesday, EST
    assert due == datetime.datetime(2026, 11, 3, 14, 0, tzinfo=UTC)


def test_around_the_clock_over_a_clock_change_counts_real_time_not_the_wall_clock():
    opened = datetime.datetime(2027, 3, 28, 0, 30, tzinfo=LONDON)  # 00:30 GMT, clocks jump at 01:00

    due = first_response_due(opened, HOURS_12, business_hours_only=False, time_zone="Europe/London")

    assert due == datetime.datetime(2027, 3, 28, 12, 30, tzinfo=UTC)
    assert local(due) == datetime.datetime(2027, 3, 28, 13, 30)  # the wall clock shows 13 hours later


def _business_minutes_between(start: datetime.datetime, end: datetime.datetime, zone) -> int:
    """Brute force: every minute from start to end, counted when it falls in business hours locally."""
    count = 0
    minute = start
    while minute < end:
        wall = minute.astimezone(zone)
        if wall.weekday() < 5 and 8 <= wall.hour < 18:
            count += 1
        minute += datetime.timedelta(minutes=1)
    return count


@pytest.mark.parametrize(
    "zone_name", ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
)
@pytest.mark.parametrize("minutes", [15, HOURS_12, HOURS_24])
def test_the_deadline_leaves_exactly_the_target_in_business_minutes_around_clock_changes(zone_name, minutes):
    zone = zoneinfo.ZoneInfo(zone_name)
    # Openings every 7 h 13 min across the autumn clock changes of London (25 Oct) and New York (1 Nov).
    opened = datetime.datetime(2026, 10, 22, 0, 0, tzinfo=UTC)
    step = datetime.timedelta(hours=7, minutes=13)
    for _ in range(50):
        due = business(opened, minutes, zone_name)
        wall = due.astimezone(zone)

        assert _business_minutes_between(opened, due, zone) == minutes, (opened, due)
        assert wall.weekday() < 5
        assert datetime.time(8, 0) < wall.time() <= datetime.time(18, 0)
        opened += step


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="aware"):
        business(datetime.datetime(2026, 11, 27, 9, 0), 60)
    with pytest.raises(ValueError, match="at least one minute"):
        business(datetime.datetime(2026, 11, 27, 9, 0, tzinfo=UTC), 0)
