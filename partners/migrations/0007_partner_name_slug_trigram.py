"""Trigram indexes for the admin's partner search (`search_fields = ("name", "slug")`).

Django's `icontains` on PostgreSQL compiles to `UPPER("col"::text) LIKE UPPER('%word%')`: an index on that
very expression lets 100,000 partners be searched without a sequential scan. PostgreSQL only; SQLite (the
embedded default) has no such index type and needs none at its size.
"""

from django.db import migrations

INDEXES = {
    "partner_name_upper_trgm": "partners_partner USING gin ((UPPER(name::text)) gin_trgm_ops)",
    "partner_slug_upper_trgm": "partners_partner USING gin ((UPPER(slug::text)) gin_trgm_ops)",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("partners", "0006_partner_tier_health")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
