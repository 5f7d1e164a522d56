"""What the PDM's dashboard shows: a constant number of aggregate queries, whatever the network's size."""

import datetime
from collections import defaultdict

from django.conf import settings
from django.db.models import Count, F, Q
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone

from apn_portal.checks.charts import Series, column_chart
from apn_portal.checks.models import CheckRun
from apn_portal.checks.registry import ScheduledCheck, registered_checks
from partners.choices import PartnerType
from partners.models import ContactRequest, Partner, Tier, TierChange
from partners.selectors import active_certifications, expiry_window_end

MONTHS_AHEAD = 12
WEEKS_BACK = 12
LIST_LENGTH = 15


def _month_starts(today: datetime.date, count: int) -> list[datetime.date]:
    months, year, month = [], today.year, today.month
    for _ in range(count):
        months.append(datetime.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _week_starts(today: datetime.date, count: int) -> list[datetime.date]:
    this_monday = today - datetime.timedelta(days=today.weekday())
    return [this_monday - datetime.timedelta(weeks=back) for back in range(count - 1, -1, -1)]


def _as_date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def partners_by_tier_chart(partners):
    """Columns per rung of the ladders (by rank), one series per partner type."""
    tiers = list(Tier.objects.order_by("rank", "partner_type").values("partner_type", "rank", "name"))
    names_by_rank: dict[int, list[str]] = defaultdict(list)
    for tier in tiers:
        if tier["name"] not in names_by_rank[tier["rank"]]:
            names_by_rank[tier["rank"]].append(tier["name"])
    ranks = sorted(names_by_rank)
    counts = {
        (row["partner_type"], row["tier__rank"]): row["count"]
        for row in partners.order_by().values("partner_type", "tier__rank").annotate(count=Count("pk"))
    }
    series = [
        Series(label, [counts.get((value, rank), 0) for rank in ranks])
        for value, label in PartnerType.choices
    ]
    return column_chart(
        title="Partners by tier and type",
        description="How many consulting and technology partners hold each tier.",
        categories=[" / ".join(names_by_rank[rank]) for rank in ranks],
        series=series,
    )


def certifications_expiring_chart(partners, mine: bool, today: datetime.date):
    months = _month_starts(today, MONTHS_AHEAD)
    end = _month_starts(months[-1], 2)[1]
    certifications = active_certifications(today).filter(expires_on__lt=end)
    if mine:
        certifications = certifications.filter(staff_member__partner__in=partners)
    counts = {
        _as_date(row["month"]): row["count"]
        for row in certifications.annotate(month=TruncMonth("expires_on"))
        .values("month")
        .annotate(count=Count("pk"))
        .order_by()
    }
    return column_chart(
        title="Certifications expiring per month",
        description="Certifications counting today that expire in each of the next twelve months.",
        categories=[f"{month:%b %y}" for month in months],
        series=[Series("Certifications", [counts.get(month, 0) for month in months])],
    )


def tier_changes_chart(partners, mine: bool, today: datetime.date):
    weeks = _week_starts(today, WEEKS_BACK)
    since = timezone.make_aware(datetime.datetime.combine(weeks[0], datetime.time.min))
    changes = TierChange.objects.filter(changed_at__gte=since)
    if mine:
        changes = changes.filter(partner__in=partners)
    rows = (
        changes.annotate(week=TruncWeek("changed_at"))
        .values("week")
        .annotate(
            promotions=Count(
                "pk", filter=Q(from_tier__isnull=True) | Q(to_tier__rank__gt=F("from_tier__rank"))
            ),
            demotions=Count("pk", filter=Q(to_tier__rank__lt=F("from_tier__rank"))),
        )
        .order_by()
    )
    by_week = {_as_date(row["week"]): row for row in rows}
    return column_chart(
        title="Tier changes per week",
        description="Promotions and demotions in each of the last twelve weeks.",
        categories=[f"{week:%d %b}" for week in weeks],
        series=[
            Series("Promotions", [by_week.get(week, {}).get("promotions", 0) for week in weeks]),
            Series("Demotions", [by_week.get(week, {}).get("demotions", 0) for week in weeks]),
        ],
    )


def contact_requests_chart(partners, mine: bool, today: datetime.date):
    weeks = _week_starts(today, WEEKS_BACK)
    since = timezone.make_aware(datetime.datetime.combine(weeks[0], datetime.time.min))
    requests = ContactRequest.objects.filter(created_at__gte=since)
    if mine:
        requests = requests.filter(partner__in=partners)
    counts = {
        _as_date(row["week"]): row["count"]
        for row in requests.annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(count=Count("pk"))
        .order_by()
    }
    return column_chart(
        title="Contact requests per week",
        description="Contact requests customers sent from Find-a-Partner in each of the last twelve weeks.",
        categories=[f"{week:%d %b}" for week in weeks],
        series=[Series("Contact requests", [counts.get(week, 0) for week in weeks])],
    )


def latest_check_runs() -> list[tuple[ScheduledCheck, CheckRun | None]]:
    """Each registered check's latest run: one indexed query per check (a handful, whatever the history)."""
    return [
        (check, CheckRun.objects.filter(name=check.name).order_by("-started_at", "-id").first())
        for check in registered_checks()
    ]


def pdm_dashboard_data(*, user, mine: bool, today: datetime.date | None = None) -> dict:
    today = today or timezone.localdate()
    partners = Partner.objects.filter(pdm=user) if mine else Partner.objects.all()
    # The admin's "falls short within" filter and the scorecard read the same window.
    at_risk = Q(grace_started_on__isnull=True, at_risk_from__lte=expiry_window_end(today))
    counts = partners.aggregate(
        partners=Count("pk"),
        in_grace=Count("pk", filter=Q(grace_started_on__isnull=False)),
        at_risk=Count("pk", filter=at_risk),
        qualifies_for_more=Count("pk", filter=Q(qualifies_for_tier__isnull=False)),
    )
    listed = partners.select_related("tier", "pdm", "qualifies_for_tier")
    changes = TierChange.objects.filter(partner__in=partners) if mine else TierChange.objects.all()
    return {
        "today": today,
        "mine": mine,
        "at_risk_window_days": settings.PARTNER_EXPIRING_SOON_DAYS,
        "counts": counts,
        "partners_by_tier": partners_by_tier_chart(partners),
        "certifications_expiring": certifications_expiring_chart(partners, mine, today),
        "tier_changes_per_week": tier_changes_chart(partners, mine, today),
        "contact_requests_per_week": contact_requests_chart(partners, mine, today),
        "in_grace": list(
            listed.filter(grace_started_on__isnull=False).order_by("grace_ends_on", "name")[:LIST_LENGTH]
        ),
        "at_risk": list(listed.filter(at_risk).order_by("at_risk_from", "name")[:LIST_LENGTH]),
        "qualifies_for_more": list(
            listed.filter(qualifies_for_tier__isnull=False).order_by("name")[:LIST_LENGTH]
        ),
        "recent_tier_changes": list(
            changes.select_related("partner", "from_tier", "to_tier", "changed_by").order_by(
                "-changed_at", "-id"
            )[:LIST_LENGTH]
        ),
        "check_runs": latest_check_runs(),
    }
