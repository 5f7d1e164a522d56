"""certification_expiry: certifications stop counting after their date; their partner hears of it first.

An expired certification already counts for nothing wherever it is read: partners.selectors.
active_certifications is the one definition, which the tier evaluation uses, and the Find-a-Partner
search entries follow it (partners.tasks.search_refresh_due, every quarter of an hour). So no state is
stored for expiry itself; this check sends the reminders before it.

Reminders go 30 and 7 days before a certification's date, and first on the day it enters the window the
partner's scorecard lists as expiring "in the next 90 days", which that email links to: a date before today
+ 90 days (partners.selectors.expiry_window_end), so 89 days before it, as one expiring 90 days on still
counts every day of that window. One email per partner per day lists every certification due, never twice
for the same certification and threshold. The tightest reminder sent is kept on the certification
(`last_reminder_days`), set in one UPDATE per batch; a renewal (a later expiry date) clears it. A run that
missed a day catches up with the threshold now due only. Each batch's certifications are locked and read
again before anyone is told: one renewed or deleted (with its partner) after the run began is not reminded.

The emails are stored with their context and rendered when sent: the first run on an existing network
queues one for most partners at once (52,000 on the benchmark data set), and rendering them all inside
the run's transaction took longer than everything else it does (docs/performance.md).
"""

import datetime
import functools
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import groupby, islice

from django.db import connection
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone

from apn_portal.checks.registry import scheduled_check
from apn_portal.checks.results import CheckResult
from apn_portal.outbox.services import OutboxEmail, outbox_email_enqueue_many
from apn_portal.text import plural
from apn_portal.webhooks.choices import WebhookEvent
from apn_portal.webhooks.services import webhook_events_emit_many
from partners.checks.contacts import partner_contacts
from partners.choices import CertificationLevel
from partners.models import Certification
from partners.selectors import expiry_window_end

# The widest is the scorecard's window, PARTNER_EXPIRING_SOON_DAYS (a test holds them equal).
REMINDER_DAYS = (90, 30, 7)
PARTNERS_PER_BATCH = 1000


def _due(days: int, today: datetime.date) -> Q:
    """Whether a certification's expiry is within the reminder at `days`. The widest is the scorecard's
    window, which its email links to: an expiry before expiry_window_end. The others go on the day that
    many days before the date, and after."""
    if days == max(REMINDER_DAYS):
        return Q(expires_on__lt=expiry_window_end(today, days))
    return Q(expires_on__lte=today + datetime.timedelta(days=days))


def _due_threshold(today: datetime.date) -> Case:
    """The reminder a certification is due for today: the tightest threshold its expiry is within."""
    return Case(
        *[When(_due(days, today), then=Value(days)) for days in sorted(REMINDER_DAYS)],
        output_field=IntegerField(),
    )


def certifications_due_for_reminder(today: datetime.date):
    """Certifications counting today, expiring within the widest threshold, not yet reminded at the
    threshold now due; ordered by partner."""
    return (
        Certification.objects.filter(
            _due(max(REMINDER_DAYS), today),
            earned_on__lte=today,
            expires_on__gte=today,
        )
        .annotate(due_days=_due_threshold(today))
        .filter(Q(last_reminder_days__isnull=True) | Q(last_reminder_days__gt=F("due_days")))
        .order_by("staff_member__partner_id", "expires_on", "pk")
        .values_list(
            "pk",
            "staff_member__partner_id",
            "staff_member__full_name",
            "name",
            "level",
            "expires_on",
            "due_days",
        )
    )


def _clear_reminders_of_renewed(today: datetime.date) -> int:
    """A certification whose expiry moved later than its last reminder's threshold was renewed: its next
    expiry gets reminders of its own."""
    renewed = Q()
    for days in REMINDER_DAYS:
        renewed |= Q(last_reminder_days=days) & ~_due(days, today)
    return Certification.objects.filter(renewed).update(last_reminder_days=None)


# How far back a run looks for certifications whose `is_active` changed: a worker stopped this long still
# gets integrators the change on its next run.
ACTIVITY_LOOKBACK_DAYS = 31


def _touch_those_whose_activity_changed(today: datetime.date) -> int:
    """A certification's `is_active` (the API's) turns false the day after it expires, and true on the day
    it was earned when that was recorded ahead of it (a day already begun elsewhere on Earth); nothing is
    saved then, so its `updated_at`, which integrators sync on, is moved here: once, as a row saved after
    that day showed the change already. One statement."""
    since = today - datetime.timedelta(days=ACTIVITY_LOOKBACK_DAYS)
    expired = Q(expires_on__gte=since, expires_on__lt=today, updated_at__date__lte=F("expires_on"))
    earned = Q(earned_on__gt=since, earned_on__lte=today, updated_at__date__lt=F("earned_on"))
    return Certification.objects.filter(expired | earned).update(updated_at=timezone.now())


@scheduled_check(
    "certification_expiry",
    order=10,
    description="Expired certifications stop counting; partners are reminded 90, 30 and 7 days before.",
)
def certification_expiry_check(*, today: datetime.date) -> CheckResult:
    result = CheckResult()
    result.add("reminder_marks_cleared", _clear_reminders_of_renewed(today))
    result.add("certifications_now_counting_or_not", _touch_those_whose_activity_changed(today))

    by_threshold: dict[int, int] = defaultdict(int)
    scorecard_path = reverse("my:scorecard")
    with _cursors_planned_to_be_read_whole():
        rows = certifications_due_for_reminder(today).iterator(chunk_size=5000)
        by_partner = groupby(rows, key=lambda row: row[1])
        while batch := [
            (partner_id, list(certs)) for partner_id, certs in islice(by_partner, PARTNERS_PER_BATCH)
        ]:
            _remind_batch(batch, today, result, by_threshold, scorecard_path)

    _summarise(result, by_threshold)
    return result


@contextmanager
def _cursors_planned_to_be_read_whole() -> Iterator[None]:
    """PostgreSQL plans a server-side cursor's query for its first 10% of rows (cursor_tuple_fraction):
    for the due certifications, a nested loop over every staff member, four times slower to read whole
    than a hash join on the benchmark data. The check reads every row, so it is planned for that."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('cursor_tuple_fraction')")
        (before,) = cursor.fetchone()
        cursor.execute("SELECT set_config('cursor_tuple_fraction', '1.0', true)")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('cursor_tuple_fraction', %s, true)", [before])


def _lock_still_due(batch, today: datetime.date) -> list[tuple[int, list[tuple]]]:
    """The batch's certifications still due for their reminder, locked until the run commits and read
    again, grouped by partner as the batch was. The rows were read through a cursor whose snapshot is
    the run's start: a certification renewed since (certification_update locks it) has its new date
    here, and is left out if that is no longer due; one deleted since, with its partner or alone, is
    left out; and neither can happen now until the run's reminders and marks are committed."""
    ids = sorted(cert[0] for _, certs in batch for cert in certs)
    if connection.vendor == "postgresql":
        # One array parameter rather than an IN list of thousands of ids (see _mark_reminded).
        ids = RawSQL("SELECT unnest(%s::bigint[])", (ids,))
    rows = sorted(
        # Locked in id order, roughly the order the rows lie in the table.
        certifications_due_for_reminder(today)
        .filter(pk__in=ids)
        .select_for_update(of=("self",))
        .order_by("pk"),
        key=lambda row: (row[1], row[5], row[0]),
    )
    return [(partner_id, list(certs)) for partner_id, certs in groupby(rows, key=lambda row: row[1])]


def _remind_batch(
    batch, today: datetime.date, result: CheckResult, by_threshold: dict[int, int], scorecard_path: str
) -> None:
    batch = _lock_still_due(batch, today)
    if not batch:
        return
    contacts = partner_contacts(partner_id for partner_id, _ in batch)
    emails = {}
    for partner_id, certs in batch:
        partner = contacts[partner_id]
        emails[partner_id] = OutboxEmail(
            dedupe_key=f"cert-expiry:{partner_id}:{today.isoformat()}",
            to=partner.staff_or_pdm,
            for_partner=partner_id,
            subject=_subject(partner.name, certs),
            template="emails/checks/certification_expiry",
            context={
                "partner": {"name": partner.name},
                "headline": _headline(certs),
                "certifications": [_describe(cert, today) for cert in certs],
                "scorecard_path": scorecard_path,
                "pdm_path": partner.pdm_path_instead_of_staff,
            },
        )
    # Rendered when sent: the first run on an existing network queues tens of thousands of these.
    stored = outbox_email_enqueue_many(list(emails.values()), render_when_sent=True)
    reminded = []
    announced = []
    for partner_id, certs in batch:
        email = emails[partner_id]
        if email.dedupe_key in stored:
            result.add("reminder_emails")
        elif email.to:
            # This partner was already sent today's email (an earlier run today): these certifications
            # are in tomorrow's, as only one message a day goes to a partner.
            continue
        else:
            result.add("partners_without_anyone_to_tell")
        for cert in certs:
            reminded.append((cert[0], cert[6]))
            by_threshold[cert[6]] += 1
        # The partner's id, not a Partner: the first run builds some 60,000 of these.
        announced.append((partner_id, _expiring_event(contacts[partner_id].slug, certs, today)))
    # Integrators hear of it as the partner does: once per partner and day, with the same certifications.
    webhook_events_emit_many(event=WebhookEvent.CERTIFICATION_EXPIRING, items=announced)
    if reminded:
        _mark_reminded(reminded, today)
        result.add("certifications_reminded", len(reminded))


def _mark_reminded(reminded: list[tuple[int, int]], today: datetime.date) -> None:
    """Keep on each certification (id, threshold) the threshold it was just reminded at."""
    if connection.vendor != "postgresql":
        Certification.objects.filter(pk__in=[pk for pk, _ in reminded]).update(
            last_reminder_days=_due_threshold(today)
        )
        return
    # Two array parameters rather than an IN list of thousands of ids, which took longer to build and
    # parse than the UPDATE takes to run; in id order, roughly the order the rows lie in the table.
    reminded.sort()
    table = connection.ops.quote_name(Certification._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_reminder_days = reminded.days "
            "FROM unnest(%s::bigint[], %s::smallint[]) AS reminded (id, days) "
            f"WHERE {table}.id = reminded.id",
            [[pk for pk, _ in reminded], [days for _, days in reminded]],
        )


_LEVEL_LABELS = dict(CertificationLevel.choices)


def _expiring_event(partner_slug: str, certs, today: datetime.date) -> dict:
    return {
        "partner": partner_slug,
        "reminded_on": today.isoformat(),
        "certifications": [
            {
                "id": pk,
                "person": person,
                "name": name,
                "level": level,
                "expires_on": expires_on.isoformat(),
                "reminder_days": days,
            }
            for pk, _, person, name, level, expires_on, days in certs
        ],
    }


def _describe(cert, today: datetime.date) -> dict:
    # Formatted here, as the context is stored as JSON until the email is sent.
    _, _, person, name, level, expires_on, _ = cert
    expires, days_left = _expiry_in_words(expires_on, today)
    return {
        "person": person,
        "name": name,
        "level": _LEVEL_LABELS[level],
        "expires": expires,
        "days_left": days_left,
    }


@functools.lru_cache(maxsize=1024)  # a run's certifications share the 90 dates within the widest threshold
def _expiry_in_words(expires_on: datetime.date, today: datetime.date) -> tuple[str, str]:
    days_left = (expires_on - today).days
    return (
        f"{expires_on.day} {expires_on:%b %Y}",
        "today is its last day" if days_left == 0 else f"in {plural(days_left, 'day')}",
    )


def _headline(certs) -> str:
    if len(certs) == 1:
        return "A certification held by your staff expires soon"
    return f"{len(certs)} certifications held by your staff expire soon"


def _subject(partner_name: str, certs) -> str:
    first = _day_month_year(min(cert[5] for cert in certs))
    if len(certs) == 1:
        return f"{partner_name}: a certification expires on {first}"
    return f"{partner_name}: {len(certs)} certifications expire soon, the first on {first}"


@functools.lru_cache(maxsize=1024)
def _day_month_year(day: datetime.date) -> str:
    return f"{day:%d %b %Y}"


def _summarise(result: CheckResult, by_threshold: dict[int, int]) -> None:
    if result.count("certifications_reminded"):
        thresholds = ", ".join(
            f"{days} days: {by_threshold[days]:,}"
            for days in sorted(REMINDER_DAYS, reverse=True)
            if by_threshold[days]
        )
        result.note(
            f"Reminded {plural(result.count('certifications_reminded'), 'certification')} ({thresholds}) in "
            f"{plural(result.count('reminder_emails'), 'email')}."
        )
    if result.count("partners_without_anyone_to_tell"):
        result.note(
            f"{plural(result.count('partners_without_anyone_to_tell'), 'partner')} had nobody to tell "
            "(no active staff user and no PDM)."
        )
    if result.count("certifications_now_counting_or_not"):
        result.note(
            f"{plural(result.count('certifications_now_counting_or_not'), 'certification')} expired or began "
            "to count: integrators syncing on updated_since get them again."
        )
    if result.count("reminder_marks_cleared"):
        result.note(
            f"{plural(result.count('reminder_marks_cleared'), 'renewed certification')} will be reminded "
            "again before their new expiry."
        )
