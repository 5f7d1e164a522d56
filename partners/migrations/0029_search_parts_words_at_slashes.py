"""Find a Partner finds words joined by a slash: `ML` or `CI/CD` finds a partner doing "AI/ML" and "CI/CD".

PostgreSQL's parser reads "AI/ML" as one path, a word no query holds; the entries are now written with the
slash as a space (partners.search_index). Every entry is written again, and one is written for every
partner without one: a database upgraded from before partners 0005 has partners and no entries, and
PostgreSQL's Find a Partner reads only the entries. PostgreSQL only, where the entries are kept.
"""

from django.db import migrations


def write_every_entry(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # As the code now writes them: searched so from the moment this migration commits.
    from partners.search_index import partner_search_refresh

    if apps.get_model("partners", "Partner").objects.exists():
        partner_search_refresh()


class Migration(migrations.Migration):
    dependencies = [("partners", "0028_search_ignores_accents")]

    # Backwards nothing to do: the code before reads a query for "AI/ML" as "ai" and "ml" too, which these
    # entries hold, and nothing else in them changed.
    operations = [migrations.RunPython(write_every_entry, migrations.RunPython.noop)]
