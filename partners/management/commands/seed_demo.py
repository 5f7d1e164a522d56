import random

from django.core.management.base import BaseCommand, CommandError

from engagements.demo import DEMO_LOGINS as ENGAGEMENT_LOGINS
from engagements.demo import seed_engagements
from partners.demo.seeding import DEFAULT_CHUNK_SIZE, DEFAULT_PARTNERS, DEMO_USERS, seed_demo_network
from support.demo import DEMO_LOGINS as SUPPORT_LOGINS
from support.demo import seed_support


class Command(BaseCommand):
    help = (
        "Load a realistic demo partner network (300 partners by default; --partners 100000 for the "
        "benchmark data set). Deterministic and idempotent: partners already present are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--partners",
            type=int,
            default=DEFAULT_PARTNERS,
            help=f"How many partners (default {DEFAULT_PARTNERS}).",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=DEFAULT_CHUNK_SIZE,
            help=f"Partners written per transaction (default {DEFAULT_CHUNK_SIZE}).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")

    def handle(self, *args, partners, chunk_size, no_progress, verbosity, **options):
        if partners < 0:
            raise CommandError("--partners cannot be negative.")
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        report = seed_demo_network(
            partners=partners, chunk_size=chunk_size, progress=not no_progress and verbosity > 0
        )
        if report.created:
            created = ", ".join(f"{count:,} {name}" for name, count in report.created.items() if count)
            self.stdout.write(self.style.SUCCESS(f"Created {created} in {report.seconds:.1f} s."))
        else:
            self.stdout.write(f"Nothing to do: the {partners:,} demo partners are already there.")
        if report.partners_skipped and report.created:
            self.stdout.write(
                f"{report.partners_skipped:,} demo partners were already there and were left alone."
            )
        # The customers, their accounts, engagements and support sit on top of the partner network.
        rng = random.Random(2026)
        for name, seed in (("customers and engagements", seed_engagements), ("support", seed_support)):
            counts = seed(rng)
            if counts:
                made = ", ".join(f"{count:,} {what}" for what, count in counts.items() if count)
                self.stdout.write(self.style.SUCCESS(f"Demo {name}: {made}."))
        self.stdout.write("\nDemo sign-ins (the admin is at /admin/):")
        for user in (*DEMO_USERS, *ENGAGEMENT_LOGINS, *SUPPORT_LOGINS):
            self.stdout.write(f"  {user.username:<8} / {user.password:<24} {user.description}")
