"""Which contracts a cancellation ended: the partner keeps a cancelled engagement in its history only under
one in force until it was cancelled, not one ended early weeks before (both carry an `ended_reason`, which
is all contracts_opening_engagements_to read until now, so a contract ended early showed the engagement to
its former contractor again once it was cancelled). services._contracts_end records it from now on.

For the contracts ended before: a contract of a cancelled engagement, not replaced, with an `ended_reason`,
whose last day is not before the day it was cancelled (when its history first said so, else its
`updated_at`, in the customer's time zone, as migration 0012 reads it), and no version of which had an
`ended_reason` before that day (one ended early before its first day keeps that first day as its last).
Only the new flag is written: no date, reason or email changes; reversed, the column goes.
"""

import zoneinfo

from django.db import migrations, models

CHUNK = 500
CANCELLED = "cancelled"


def _cancelled_at(History, engagements) -> dict:
    moments, previous = {}, {}
    versions = (
        History.objects.filter(id__in=[engagement.pk for engagement in engagements])
        .order_by("id", "history_date", "history_id")
        .values_list("id", "status", "history_date")
    )
    for pk, status, at in versions:
        if status == CANCELLED and previous.get(pk) != CANCELLED:
            moments[pk] = at
        previous[pk] = status
    return {
        engagement.pk: (
            moments[engagement.pk] if previous.get(engagement.pk) == CANCELLED else engagement.updated_at
        )
        for engagement in engagements
    }


def mark_contracts_ended_by_cancellation(apps, schema_editor):
    Engagement = apps.get_model("engagements", "Engagement")
    HistoricalEngagement = apps.get_model("engagements", "HistoricalEngagement")
    EngagementPartner = apps.get_model("engagements", "EngagementPartner")
    HistoricalEngagementPartner = apps.get_model("engagements", "HistoricalEngagementPartner")
    ended = EngagementPartner.objects.filter(replaced_by__isnull=True).exclude(ended_reason="")
    last_pk = 0
    while True:
        engagements = list(
            Engagement.objects.filter(status=CANCELLED, pk__gt=last_pk, pk__in=ended.values("engagement_id"))
            .select_related("customer")
            .order_by("pk")[:CHUNK]
        )
        if not engagements:
            break
        last_pk = engagements[-1].pk
        cancelled_at = _cancelled_at(HistoricalEngagement, engagements)
        days = {
            engagement.pk: cancelled_at[engagement.pk]
            .astimezone(zoneinfo.ZoneInfo(engagement.customer.time_zone))
            .date()
            for engagement in engagements
        }
        zones = {
            engagement.pk: zoneinfo.ZoneInfo(engagement.customer.time_zone) for engagement in engagements
        }
        contracts = list(ended.filter(engagement_id__in=list(days)).order_by("pk"))
        ended_first = {}
        for pk, at in (
            HistoricalEngagementPartner.objects.filter(id__in=[contract.pk for contract in contracts])
            .exclude(ended_reason="")
            .order_by("id", "history_date")
            .values_list("id", "history_date")
        ):
            ended_first.setdefault(pk, at)
        marked = []
        for contract in contracts:
            day = days[contract.engagement_id]
            first = ended_first.get(contract.pk)
            if contract.contract_end < day:
                continue  # over before the cancellation
            if first is not None and first.astimezone(zones[contract.engagement_id]).date() < day:
                continue  # ended early before the cancellation
            marked.append(contract.pk)
        EngagementPartner.objects.filter(pk__in=marked).update(ended_by_cancellation=True)


class Migration(migrations.Migration):
    dependencies = [("engagements", "0012_end_contracts_of_engagements_cancelled_earlier")]

    operations = [
        migrations.AddField(
            model_name="engagementpartner",
            name="ended_by_cancellation",
            field=models.BooleanField(
                default=False,
                help_text="Ended by its engagement's cancellation, in force until then (not one ended early "
                "before it): its partner keeps the cancelled engagement in its history.",
            ),
        ),
        migrations.AddField(
            model_name="historicalengagementpartner",
            name="ended_by_cancellation",
            field=models.BooleanField(
                default=False,
                help_text="Ended by its engagement's cancellation, in force until then (not one ended early "
                "before it): its partner keeps the cancelled engagement in its history.",
            ),
        ),
        migrations.RunPython(mark_contracts_ended_by_cancellation, migrations.RunPython.noop),
    ]
