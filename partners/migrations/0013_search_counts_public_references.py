"""The search card's reference count now counts only what the public profile lists (public, validated,
launched): recount the stored entries once. PostgreSQL only, where the search entries are kept."""

from django.db import migrations

# Only the entries whose count changes are written: rewriting all of them would leave every index of the
# table with a dead entry per row until it is vacuumed.
RECOUNT = """
WITH counted AS (
    SELECT entry.partner_id, (
        SELECT count(*) FROM partners_customerreference AS reference
        WHERE reference.partner_id = entry.partner_id
          AND reference.is_validated AND reference.is_public AND reference.launched_on <= CURRENT_DATE
    ) AS public_references
    FROM partners_partnersearchentry AS entry
)
UPDATE partners_partnersearchentry AS entry
SET validated_references = counted.public_references
FROM counted
WHERE counted.partner_id = entry.partner_id AND entry.validated_references <> counted.public_references
"""


def recount(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RECOUNT)


class Migration(migrations.Migration):
    dependencies = [("partners", "0012_past_dates")]

    operations = [migrations.RunPython(recount, migrations.RunPython.noop, elidable=True)]
