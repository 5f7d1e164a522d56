# A contract ended before its first day (its engagement cancelled, or its partner replaced) keeps that
# first day as its last, the earliest a contract can end: the flag says it never ran, so that the pages,
# the API and the emails stop reading it as a day's work.

import zoneinfo

from django.db import migrations, models


def mark_contracts_ended_before_start(apps, schema_editor):
    """Those ended already: the day their `ended_reason` was first recorded (in the customer's time zone,
    as _contracts_end reckons it) came before their first day."""
    EngagementPartner = apps.get_model("engagements", "EngagementPartner")
    History = apps.get_model("engagements", "HistoricalEngagementPartner")
    candidates = (
        EngagementPartner.objects.exclude(ended_reason="")
        .filter(contract_end=models.F("contract_start"))
        .values_list("pk", "contract_start", "engagement__customer__time_zone")
    )
    never_ran = []
    for pk, start, zone in candidates:
        ended_at = (
            History.objects.filter(id=pk)
            .exclude(ended_reason="")
            .order_by("history_date")
            .values_list("history_date", flat=True)
            .first()
        )
        if ended_at is not None and ended_at.astimezone(zoneinfo.ZoneInfo(zone)).date() < start:
            never_ran.append(pk)
    EngagementPartner.objects.filter(pk__in=never_ran).update(ended_before_start=True)


class Migration(migrations.Migration):
    dependencies = [
        ("engagements", "0010_customer_staff_pickers_offer_current_role_holders"),
    ]

    operations = [
        migrations.AddField(
            model_name="engagementpartner",
            name="ended_before_start",
            field=models.BooleanField(
                default=False,
                help_text="Ended (replaced, or its engagement cancelled) before its first day: it never "
                "ran, though its last day then reads as its first.",
            ),
        ),
        migrations.AddField(
            model_name="historicalengagementpartner",
            name="ended_before_start",
            field=models.BooleanField(
                default=False,
                help_text="Ended (replaced, or its engagement cancelled) before its first day: it never "
                "ran, though its last day then reads as its first.",
            ),
        ),
        migrations.RunPython(mark_contracts_ended_before_start, migrations.RunPython.noop),
    ]
