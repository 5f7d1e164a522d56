import calendar
import datetime

from django import forms
from django.core.exceptions import ValidationError

# A date later than this is a typing mistake; and adding a validity period or a grace day to one near the
# calendar's end (9999-12-31) would leave it.
LATEST_DATE = datetime.date(2199, 12, 31)
# Nothing the portal records (a contract, a cloud project's launch, a certification) predates this: an
# earlier date is a typing mistake (0025 for 2025, 1926 for 2026).
EARLIEST_DATE = datetime.date(2000, 1, 1)


def validate_plausible_date(value: datetime.date | datetime.datetime) -> None:
    """For every date a person types that the portal computes from: from EARLIEST_DATE to LATEST_DATE."""
    day = value.date() if isinstance(value, datetime.datetime) else value
    if day > LATEST_DATE:
        raise ValidationError(f"Give a date no later than {LATEST_DATE:%d %b %Y}.", code="implausible_date")
    validate_not_too_early(day)


def validate_not_too_early(day: datetime.date) -> None:
    if day < EARLIEST_DATE:
        raise ValidationError(
            f"Give a date no earlier than {EARLIEST_DATE:%d %b %Y}.", code="implausible_date"
        )


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later (or earlier), or the month's last day when it is shorter (31 Jan + 1 month
    is 28 or 29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


class DatePicker(forms.DateInput):
    """The browser's date picker. It takes and shows only ISO dates (2026-11-28): in the site's own
    format (28/11/2026) an initial or stored date would be dropped, and the field shown empty."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")
