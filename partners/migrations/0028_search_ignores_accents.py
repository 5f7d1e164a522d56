"""Find a Partner ignores accents: `zurich` finds "Zürich Data AG" and `München` finds "Munchen Cloud".

The search entries' documents and the queries are read with `apn_search`, a copy of PostgreSQL's `english`
configuration whose words lose their accents (the `unaccent` extension) before they are stemmed. Every
entry is written again with it: a document read with `english` keeps its accents, which a query read with
`apn_search` has lost. PostgreSQL only; SQLite (the embedded default) matches words as typed.
"""

from django.db import migrations

CONFIGURATION = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'apn_search') THEN
        CREATE TEXT SEARCH CONFIGURATION apn_search (COPY = english);
        ALTER TEXT SEARCH CONFIGURATION apn_search
            ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
    END IF;
END
$$;
"""


def read_with_apn_search(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    schema_editor.execute(CONFIGURATION)
    # The entries as the code now writes them (partners.search_index): a database with partners is
    # searched with the new configuration from the moment this migration commits.
    from partners.search_index import partner_search_refresh

    if apps.get_model("partners", "PartnerSearchEntry").objects.exists():
        partner_search_refresh()


class Migration(migrations.Migration):
    dependencies = [("partners", "0027_staff_member_email_unique_any_case")]

    operations = [migrations.RunPython(read_with_apn_search, migrations.RunPython.noop)]
