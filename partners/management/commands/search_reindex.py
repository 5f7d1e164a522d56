import time

from django.core.management.base import BaseCommand

from partners.search_index import (
    partner_search_refresh,
    partner_search_refresh_due,
    search_index_available,
)


class Command(BaseCommand):
    help = (
        "Rebuild Find-a-Partner's search entries for every partner, in one statement (PostgreSQL only). "
        "Run it after loading partners with bulk inserts, or after restoring a database. With --due, "
        "refresh only the entries an expiry or a start date has made out of date (the scheduled task's job)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--due", action="store_true", help="Only the entries whose counts change today or earlier."
        )

    def handle(self, *args, due, **options):
        if not search_index_available():
            self.stdout.write(
                "Nothing to do: the search index is PostgreSQL's; this database searches directly."
            )
            return
        started = time.monotonic()
        written = partner_search_refresh_due() if due else partner_search_refresh()
        self.stdout.write(
            self.style.SUCCESS(f"Refreshed {written:,} search entries in {time.monotonic() - started:.1f} s.")
        )
