"""Find a Partner ignores accents: `zurich` finds "Zürich Data AG" and `München` finds "Munchen Cloud".

The search entries' documents and the queries are read with `apn_search`, a copy of PostgreSQL's `english`
configuration whose words lose their accents (the `unaccent` extension) before they are stemmed. Every
entry is written again with it: a document read with `english` keeps its accents, which a query read with
`apn_search` has lost. PostgreSQL only; SQLite (the embedded default) matches words as typed.
"""

from django.db import migrations

CONFIGURATION = [
    """
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'apn_search') THEN
            CREATE TEXT SEARCH CONFIGURATION apn_search (COPY = english);
        END IF;
    END
    $$
    """,
    "ALTER TEXT SEARCH CONFIGURATION apn_search"
    " ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem",
    # A word with digits ("Café24") is another kind of token: no stemming, as in english, but unaccented.
    "ALTER TEXT SEARCH CONFIGURATION apn_search"
    " ALTER MAPPING FOR numword, numhword, hword_numpart WITH unaccent, simple",
]


def read_with_apn_search(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    for statement in CONFIGURATION:
        schema_editor.execute(statement)
    # The entries as the code now writes them (partners.search_index): a database with partners is
    # searched with the new configuration from the moment this migration commits.
    from partners.search_index import partner_search_refresh

    if apps.get_model("partners", "PartnerSearchEntry").objects.exists():
        partner_search_refresh()


def read_with_english_again(apps, schema_editor):
    """Back to the code before: its queries are read with `english`, so the entries are written with it
    again (the configuration stays, unused)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    from partners import search_index

    if not apps.get_model("partners", "PartnerSearchEntry").objects.exists():
        return
    # The code writes with its SEARCH_CONFIG: for this one rewrite, the one the earlier code reads with.
    current, search_index.SEARCH_CONFIG = search_index.SEARCH_CONFIG, "english"
    try:
        search_index.partner_search_refresh()
    finally:
        search_index.SEARCH_CONFIG = current


class Migration(migrations.Migration):
    dependencies = [("partners", "0027_staff_member_email_unique_any_case")]

    operations = [migrations.RunPython(read_with_apn_search, read_with_english_again)]
