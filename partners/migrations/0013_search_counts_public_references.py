"""The search card's reference count now counts only what the public profile lists (public, validated,
launched): recount the stored entries once. PostgreSQL only, where the search entries are kept."""

from django.db import migrations

RECOUNT = """
UPDATE partners_partnersearchentry AS entry
SET validated_references = (
    SELECT count(*) FROM partners_customerreference AS reference
    WHERE reference.partner_id = entry.partner_id
      AND reference.is_validated AND reference.is_public AND reference.launched_on <= CURRENT_DATE
)
"""


def recount(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RECOUNT)


class Migration(migrations.Migration):
    dependencies = [("partners", "0012_past_dates")]

    operations = [migrations.RunPython(recount, migrations.RunPython.noop, elidable=True)]
