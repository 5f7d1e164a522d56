import time

from django.core.management.base import BaseCommand, CommandError

from apn_portal.checks.models import CheckRunStatus, CheckTrigger
from apn_portal.checks.registry import get_check, registered_checks
from apn_portal.checks.services import check_run


class Command(BaseCommand):
    help = (
        "Run scheduled checks now, the same code as the Celery tasks, and print what each changed. "
        "With no names, runs every check in order. Emails go to the outbox; the worker sends them."
    )

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", metavar="NAME", help="Checks to run (default: all).")
        parser.add_argument("--list", action="store_true", help="List the checks and exit.")

    def handle(self, *names, **options):
        names = options["names"]
        if options["list"]:
            for check in registered_checks():
                self.stdout.write(f"{check.name}: {check.description}")
            return
        try:
            checks = [get_check(name) for name in names] if names else registered_checks()
        except KeyError as exc:
            raise CommandError(exc.args[0]) from None
        failed = []
        for check in checks:
            started = time.perf_counter()
            try:
                run = check_run(check.name, trigger=CheckTrigger.COMMAND)
            except Exception as exc:
                failed.append(check.name)
                self.stderr.write(self.style.ERROR(f"{check.name}: failed: {type(exc).__name__}: {exc}"))
                continue
            seconds = time.perf_counter() - started
            style = self.style.SUCCESS if run.status == CheckRunStatus.SUCCEEDED else self.style.WARNING
            self.stdout.write(style(f"{check.name}: {run.get_status_display().lower()} in {seconds:.1f} s"))
            for line in run.summary.splitlines():
                self.stdout.write(f"  {line}")
            counts = ", ".join(f"{kind}={count}" for kind, count in run.changed.items() if count)
            if counts:
                self.stdout.write(f"  changed: {counts}")
        if failed:
            raise CommandError(f"Failed: {', '.join(failed)} (see the check runs in the admin).")
