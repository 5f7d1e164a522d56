"""An access grant records its last day of access when it runs to the end of a day (the contract's last
day, or the day chosen on the page): a change of the customer's time zone moves only those grants, to the
end of the same day there. Null is an exact moment, which no change of zone lengthens.

Existing grants are read as ending with a day when their end is exactly the end of a day in their
customer's zone: midnight, or 01:00 where the clocks skip midnight (Cairo, Santiago, Havana, Beirut).
On PostgreSQL the access-grant trigger of migration 0002 now also refuses a live grant whose end is not
the end of its recorded last day there.
"""

import datetime
import importlib
import zoneinfo

from django.db import migrations, models

BATCH = 1000


def _end_of(day: datetime.date, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    # engagements.models.access_deadline as it is today; a migration keeps its own copy. Through UTC, as
    # Python never finds a time in a skipped hour (00:00 in Cairo on 24 April 2026) equal to a moment.
    midnight = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
    return midnight.astimezone(datetime.UTC)


def backfill_last_day(apps, schema_editor):
    AccessGrant = apps.get_model("engagements", "AccessGrant")
    rows = AccessGrant.objects.order_by("pk").values_list("pk", "expires_at", "account__customer__time_zone")
    zones: dict[str, zoneinfo.ZoneInfo] = {}
    found = []
    for pk, expires_at, time_zone in rows.iterator(chunk_size=BATCH):
        zone = zones.setdefault(time_zone, zoneinfo.ZoneInfo(time_zone))
        day = expires_at.astimezone(zone).date() - datetime.timedelta(days=1)
        if _end_of(day, zone) == expires_at:
            found.append(AccessGrant(pk=pk, last_day=day))
        if len(found) >= BATCH:
            AccessGrant.objects.bulk_update(found, ["last_day"])
            found = []
    AccessGrant.objects.bulk_update(found, ["last_day"])


GRANT_CHECK = """
    CREATE OR REPLACE FUNCTION engagements_access_grant_check() RETURNS trigger AS $$
    DECLARE
      account_customer bigint;
      account_number varchar;
      engaged_customer bigint;
      last_day date;
      customer_zone varchar;
    BEGIN
      SELECT a.customer_id, a.account_id INTO account_customer, account_number
        FROM engagements_awsaccount a WHERE a.id = NEW.account_id;
      SELECT e.customer_id, ep.contract_end, c.time_zone INTO engaged_customer, last_day, customer_zone
        FROM engagements_engagementpartner ep
        JOIN engagements_engagement e ON e.id = ep.engagement_id
        JOIN engagements_customer c ON c.id = e.customer_id
        WHERE ep.id = NEW.engagement_partner_id;
      IF account_customer IS DISTINCT FROM engaged_customer THEN
        RAISE EXCEPTION 'Access can only be granted on an account of the customer whose engagement the partner is on.'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'access_grant_account_of_engaged_customer';
      END IF;
      IF split_part(NEW.role_arn, ':', 5) <> account_number THEN
        RAISE EXCEPTION 'The role ARN must name the grant''s own account: arn:aws:iam::%:role/%.',
          account_number, NEW.role_name
          USING ERRCODE = 'check_violation', CONSTRAINT = 'access_grant_arn_names_account';
      END IF;
      IF NEW.revoked_at IS NULL
         AND NEW.expires_at > ((last_day + 1)::timestamp AT TIME ZONE customer_zone) THEN
        RAISE EXCEPTION 'An access grant cannot outlive the partner''s contract, whose last day is %.', last_day
          USING ERRCODE = 'check_violation', CONSTRAINT = 'access_grant_within_contract';
      END IF;
      IF NEW.revoked_at IS NULL AND NEW.last_day IS NOT NULL
         AND NEW.expires_at <> ((NEW.last_day + 1)::timestamp AT TIME ZONE customer_zone) THEN
        RAISE EXCEPTION 'An access grant to the end of % must end when that day ends in the customer''s time zone.',
          NEW.last_day USING ERRCODE = 'check_violation', CONSTRAINT = 'access_grant_ends_with_last_day';
      END IF;
      RETURN NEW;
    END
    $$ LANGUAGE plpgsql
"""


def _grant_check_of_0002() -> str:
    integrity = importlib.import_module("engagements.migrations.0002_cross_table_integrity")
    (statement,) = [s for s in integrity.FORWARD if "CREATE FUNCTION engagements_access_grant_check()" in s]
    return statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def _on_postgresql(statement):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # No parameters: the PL/pgSQL body uses % for its own placeholders.
            schema_editor.execute(statement() if callable(statement) else statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("engagements", "0004_plausible_dates")]

    operations = [
        migrations.AddField(
            model_name="accessgrant",
            name="last_day",
            field=models.DateField(
                blank=True,
                help_text="Access to the end of this day in the customer's time zone, which moves with it. "
                "Empty for access until an exact moment.",
                null=True,
                verbose_name="last day of access",
            ),
        ),
        migrations.AddField(
            model_name="historicalaccessgrant",
            name="last_day",
            field=models.DateField(
                blank=True,
                help_text="Access to the end of this day in the customer's time zone, which moves with it. "
                "Empty for access until an exact moment.",
                null=True,
                verbose_name="last day of access",
            ),
        ),
        migrations.RunPython(backfill_last_day, migrations.RunPython.noop),
        migrations.RunPython(_on_postgresql(GRANT_CHECK), _on_postgresql(_grant_check_of_0002)),
    ]
