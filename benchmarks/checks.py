"""The scheduled checks at benchmark scale (100,000 partners, about 1,000,000 certifications, 10% of them
expiring within 90 days): time per run, the rerun with nothing to do, peak memory, and the ratio against
a naive per-row loop. Run it against a database seeded with `manage.py seed_demo --partners 100000`
(see benchmarks/README.md):

    DATABASE_URL=postgres://apn@127.0.0.1:54329/apn_bench .venv/bin/python benchmarks/checks.py

Everything runs inside one transaction that is rolled back at the end, so the data set is left exactly
as it was (no reminder marked, no email queued, no partner in grace). Emails are stored in the outbox as
in production; they are not sent (the transaction never commits). certification_expiry's reminders are
stored with their context and rendered when sent, so the script also times rendering a sample of them,
the part of the work the delivery tasks do. Exits with status 1 when a target is missed.
"""

import argparse
import datetime
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apn_portal.settings")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from apn_portal.checks.services import check_run  # noqa: E402
from apn_portal.outbox.models import OutboxMessage  # noqa: E402
from apn_portal.outbox.services import outbox_email_enqueue, outbox_message_bodies  # noqa: E402
from partners.checks.certification_expiry import REMINDER_DAYS  # noqa: E402
from partners.checks.contacts import partner_contacts  # noqa: E402
from partners.choices import CertificationLevel  # noqa: E402
from partners.models import Certification, Partner  # noqa: E402
from partners.selectors import tier_evaluate  # noqa: E402

TARGETS = {
    "certification_expiry": 10.0,  # seconds
    "tier_health": 60.0,
    "rerun": 5.0,
    "peak_memory_mb": 500.0,
}


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


def vacuum() -> None:
    """Clear the dead rows a rolled-back phase leaves, so the next phase does not pay for them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM (ANALYZE) partners_certification, partners_partner, partners_programenrollment, "
            "outbox_outboxmessage, checks_checkrun"
        )


def timed(name: str, today: datetime.date, results: list, label: str | None = None) -> dict:
    started = time.perf_counter()
    run = check_run(name, today=today)
    seconds = time.perf_counter() - started
    row = {
        "run": label or name,
        "check": name,
        "seconds": round(seconds, 2),
        "changed": {kind: count for kind, count in run.changed.items() if count},
        "peak_memory_mb": round(peak_memory_mb(), 1),
    }
    results.append(row)
    changed = ", ".join(f"{kind}={count:,}" for kind, count in row["changed"].items()) or "nothing"
    print(
        f"{row['run']:<44} {seconds:7.2f} s   peak RSS {row['peak_memory_mb']:6.1f} MB   {changed}",
        flush=True,
    )
    return row


def reminder_rendering_when_sent(results: list, sample_size: int = 2000) -> dict:
    """What certification_expiry leaves to delivery: rendering each reminder's text and HTML."""
    sample = list(
        OutboxMessage.objects.filter(dedupe_key__startswith="cert-expiry:").exclude(template="")[:sample_size]
    )
    started = time.perf_counter()
    for message in sample:
        outbox_message_bodies(message)
    seconds = time.perf_counter() - started
    row = {
        "run": "(rendering a reminder when it is sent)",
        "sample": len(sample),
        "microseconds_per_email": round(seconds / max(len(sample), 1) * 1e6),
    }
    results.append(row)
    print(
        f"{row['run']:<44} {row['microseconds_per_email']:7d} µs per email, text and HTML "
        f"({len(sample):,} rendered; paid by the delivery tasks, one email at a time)",
        flush=True,
    )
    return row


# The naive per-row versions, for the ratio only -----------------------------------------------------------


def naive_certification_expiry(today: datetime.date, certification_ids: list[int]) -> int:
    """One certification at a time: load it, work out its reminder, email its partner, save it."""
    sent = 0
    for pk in certification_ids:
        cert = Certification.objects.select_related("staff_member__partner").get(pk=pk)
        days_left = (cert.expires_on - today).days
        if cert.earned_on > today or days_left < 0 or days_left > max(REMINDER_DAYS):
            continue
        due = min(days for days in REMINDER_DAYS if days_left <= days)
        if cert.last_reminder_days is not None and cert.last_reminder_days <= due:
            continue
        partner = cert.staff_member.partner
        contacts = partner_contacts([partner.pk])[partner.pk]
        message = outbox_email_enqueue(
            dedupe_key=f"naive-cert-expiry:{cert.pk}:{due}",
            to=contacts.staff_or_pdm,
            subject=f"{partner.name}: a certification expires on {cert.expires_on:%d %b %Y}",
            template="emails/checks/certification_expiry",
            context={
                "partner": contacts,
                "today": today,
                "certifications": [
                    {
                        "person": cert.staff_member.full_name,
                        "name": cert.name,
                        "level": CertificationLevel(cert.level).label,
                        "expires_on": cert.expires_on,
                        "days_left": days_left,
                        "threshold": due,
                    }
                ],
                "scorecard_path": "/my/",
            },
        )
        sent += message is not None
        cert.last_reminder_days = due
        cert.save(update_fields=["last_reminder_days", "updated_at"])
    return sent


def naive_tier_health(today: datetime.date, partner_ids: list[int]) -> int:
    """One partner at a time: evaluate it, then evaluate it again on each day its evidence lapses until it
    falls below its tier, and save what changed."""
    changed = 0
    for pk in partner_ids:
        partner = Partner.objects.select_related("tier").get(pk=pk)
        evaluation = tier_evaluate(partner, on=today)
        at_risk = None
        if evaluation.meets_current_tier:
            lapses = sorted(
                {
                    day + datetime.timedelta(days=1)
                    for day in Certification.objects.filter(
                        staff_member__partner=partner, earned_on__lte=today, expires_on__gte=today
                    ).values_list("expires_on", flat=True)
                }
                | {
                    day + datetime.timedelta(days=1)
                    for day in partner.enrollments.filter(
                        status="approved", approved_on__lte=today, expires_on__gte=today
                    ).values_list("expires_on", flat=True)
                }
            )
            for day in lapses:
                if not tier_evaluate(partner, on=day).meets_current_tier:
                    at_risk = day
                    break
        if partner.at_risk_from != at_risk:
            partner.at_risk_from = at_risk
            partner.save(update_fields=["at_risk_from", "updated_at"])
            changed += 1
    return changed


def naive_sample(name, function, today, ids, total, set_based_seconds, results):
    started = time.perf_counter()
    function(today, ids)
    seconds = time.perf_counter() - started
    extrapolated = seconds / len(ids) * total
    row = {
        "run": f"naive {name} ({len(ids):,} of {total:,}, extrapolated)",
        "check": name,
        "sample": len(ids),
        "total": total,
        "sample_seconds": round(seconds, 2),
        "seconds": round(extrapolated, 1),
        "ratio": round(extrapolated / set_based_seconds, 1),
    }
    results.append(row)
    print(
        f"{row['run']:<44} {extrapolated:7.1f} s   ({seconds:.1f} s for the sample; "
        f"{row['ratio']}x the set-based run)",
        flush=True,
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="Write the results to this file.")
    parser.add_argument("--naive-certifications", type=int, default=20_000, help="Sample for the naive loop.")
    parser.add_argument("--naive-partners", type=int, default=500, help="Sample for the naive loop.")
    args = parser.parse_args()

    if connection.vendor != "postgresql":
        print("Run this on PostgreSQL (DATABASE_URL=postgres://...apn_bench).", file=sys.stderr)
        return 2
    today = timezone.localdate()
    partners = Partner.objects.count()
    certifications = Certification.objects.count()
    expiring = Certification.objects.filter(
        earned_on__lte=today, expires_on__gte=today, expires_on__lte=today + datetime.timedelta(days=90)
    ).count()
    print(
        f"Data: {partners:,} partners, {certifications:,} certifications, {expiring:,} "
        f"({expiring / max(certifications, 1):.1%}) expiring within 90 days of {today}.\n",
        flush=True,
    )
    results: list[dict] = []
    try:
        vacuum()
        with transaction.atomic():
            # The catch-up: the first run ever reminds every certification within 90 days at once.
            cert_first = timed("certification_expiry", today, results, "certification_expiry, first run ever")
            rendering = reminder_rendering_when_sent(results)
            transaction.set_rollback(True)
        vacuum()
        with transaction.atomic():
            # Yesterday's run first, so that today's is the daily one: reminders crossing a threshold today.
            timed(
                "certification_expiry",
                today - datetime.timedelta(days=1),
                results,
                "(certification_expiry, yesterday)",
            )
            cert_daily = timed("certification_expiry", today, results, "certification_expiry, daily run")
            cert_rerun = timed("certification_expiry", today, results, "certification_expiry, rerun")
            tier_first = timed("tier_health", today, results, "tier_health, first run (every partner)")
            tier_rerun = timed("tier_health", today, results, "tier_health, rerun")
            tier_next_day = timed(
                "tier_health",
                today + datetime.timedelta(days=1),
                results,
                "tier_health, next day (every partner)",
            )
            renewal = timed("program_renewal", today, results, "program_renewal, first run")
            renewal_rerun = timed("program_renewal", today, results, "program_renewal, rerun")
            grants_rerun = timed("access_grant_expiry", today, results, "access_grant_expiry")
            print()
            transaction.set_rollback(True)
        vacuum()
        with transaction.atomic():
            sample = list(
                Certification.objects.filter(Q(expires_on__gte=today - datetime.timedelta(days=30)))
                .order_by("?")
                .values_list("pk", flat=True)[: args.naive_certifications]
            )
            naive_cert = naive_sample(
                "certification_expiry", naive_certification_expiry, today, sample, certifications,
                cert_first["seconds"], results,
            )  # fmt: skip
            partner_sample = list(
                Partner.objects.order_by("?").values_list("pk", flat=True)[: args.naive_partners]
            )
            naive_tier = naive_sample(
                "tier_health",
                naive_tier_health,
                today,
                partner_sample,
                partners,
                tier_first["seconds"],
                results,
            )
            transaction.set_rollback(True)
    finally:
        left = OutboxMessage.objects.filter(dedupe_key__startswith="naive-").count()
        assert left == 0, "the benchmark's transaction was not rolled back"
        vacuum()

    peak = peak_memory_mb()
    checks = {
        "certification_expiry first run < 10 s": cert_first["seconds"] < TARGETS["certification_expiry"],
        "certification_expiry daily run < 10 s": cert_daily["seconds"] < TARGETS["certification_expiry"],
        "tier_health over all partners < 60 s": tier_first["seconds"] < TARGETS["tier_health"],
        "tier_health next day over all partners < 60 s": tier_next_day["seconds"] < TARGETS["tier_health"],
        "certification_expiry rerun < 5 s": cert_rerun["seconds"] < TARGETS["rerun"],
        "tier_health rerun < 5 s": tier_rerun["seconds"] < TARGETS["rerun"],
        "program_renewal rerun < 5 s": renewal_rerun["seconds"] < TARGETS["rerun"],
        "access_grant_expiry rerun < 5 s": grants_rerun["seconds"] < TARGETS["rerun"],
        "peak memory < 500 MB": peak < TARGETS["peak_memory_mb"],
    }
    print(f"Peak memory (RSS) of the whole benchmark: {peak:.0f} MB")
    for target, met in checks.items():
        print(f"  {'met ' if met else 'MISSED'}  {target}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "today": today.isoformat(),
                    "partners": partners,
                    "certifications": certifications,
                    "expiring_within_90_days": expiring,
                    "runs": results,
                    "peak_memory_mb": round(peak, 1),
                    "targets": checks,
                    "naive_ratio": {
                        "certification_expiry": naive_cert["ratio"],
                        "tier_health": naive_tier["ratio"],
                    },
                    "program_renewal_first_run_seconds": renewal["seconds"],
                    "reminder_rendering_when_sent_microseconds": rendering["microseconds_per_email"],
                },
                indent=2,
            )
        )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
