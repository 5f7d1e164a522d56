"""The admin's partner list at benchmark scale: server time, SQL time and query count per request.

Each variant of /admin/partners/partner/ (default, a search, filters, a sort, a deep page, a PDM's
scoped list) is requested N times in-process through Django's test client, signed in with
force_login; the first requests of each variant only warm up. Run it against a database seeded with
`manage.py seed_demo --partners 100000` (see benchmarks/README.md):

    DATABASE_URL=postgres://apn@127.0.0.1:54329/apn_bench .venv/bin/python benchmarks/admin_changelist.py

Exits with status 1 when a variant misses the target (median server time) or its query count varies.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apn_portal.settings")
# No collectstatic manifest is needed to render the admin here; production serves the hashed names.
os.environ.setdefault("STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

# Whitenoise warns that collectstatic has not run; the admin's pages render without it.
warnings.filterwarnings("ignore", message="No directory at")

import django  # noqa: E402

django.setup()

from django.contrib.admin import site  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from apn_portal.accounts.models import User  # noqa: E402
from partners.models import Office, Partner, Tier  # noqa: E402

CHANGELIST = "/admin/partners/partner/"
TARGET_MEDIAN_MS = 300.0


@dataclass
class Variant:
    name: str
    query: str
    username: str = ""  # blank: the superuser


@dataclass
class Result:
    variant: str
    url: str
    user: str
    status: int
    requests: int
    median_ms: float
    p95_ms: float
    sql_median_ms: float
    queries_min: int
    queries_max: int
    slowest_sql_ms: float
    slowest_sql: str = field(repr=False)


class QueryTimer:
    """An execute wrapper that times every SQL statement the request runs."""

    def __init__(self):
        self.statements: list[tuple[float, str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append((time.perf_counter() - started, sql, params))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def variants() -> list[Variant]:
    tier = Tier.objects.filter(partner_type="consulting", slug="advanced").first() or Tier.objects.first()
    country = (
        Office.objects.filter(is_headquarters=True, country="DE").values_list("country", flat=True).first()
        or "US"
    )
    # Page 50 (rows 4,901 to 5,000) where the data set has that many, else the last full page.
    deep_page = min(50, max(1, Partner.objects.count() // site._registry[Partner].list_per_page))
    return [
        Variant("default", ""),
        Variant("search 'harbor'", "q=harbor"),
        Variant(
            "search one slug", f"q={Partner.objects.order_by('pk').values_list('slug', flat=True).first()}"
        ),
        Variant(f"filter tier={tier.name} ({tier.partner_type})", f"tier__id__exact={tier.pk}"),
        Variant(f"filter country={country}", f"country={country}"),
        Variant("sorted by name, descending", "o=-1"),
        Variant(f"page {deep_page}", f"p={deep_page}"),
        Variant("PDM's own list", "", username="pdm"),
    ]


def measure(
    client: Client, url: str, requests: int, warmup: int
) -> tuple[int, list[float], list[QueryTimer]]:
    timings, timers, status = [], [], 0
    for i in range(warmup + requests):
        timer = QueryTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
        status = response.status_code
        if status != 200:
            raise SystemExit(f"{url} answered {status}; is the admin registered and the data seeded?")
        if i >= warmup:
            timings.append(elapsed)
            timers.append(timer)
    return status, timings, timers


def explain(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=30, help="Measured requests per variant (default 30)."
    )
    parser.add_argument("--warmup", type=int, default=3, help="Unmeasured requests first (default 3).")
    parser.add_argument("--json", type=Path, help="Also write the results to this JSON file.")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE each variant's slowest query."
    )
    args = parser.parse_args()

    partners = Partner.objects.count()
    superuser = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if superuser is None or not partners:
        print("Seed the database first: manage.py seed_demo --partners 100000", file=sys.stderr)
        return 2
    print(
        f"{connection.vendor}, {partners:,} partners, {args.requests} requests a variant after {args.warmup}"
    )

    results = []
    for variant in variants():
        user = User.objects.get(username=variant.username) if variant.username else superuser
        client = Client()
        client.force_login(user)
        url = f"{CHANGELIST}?{variant.query}" if variant.query else CHANGELIST
        status, timings, timers = measure(client, url, args.requests, args.warmup)
        sql_totals = [sum(s[0] for s in t.statements) for t in timers]
        counts = [len(t.statements) for t in timers]
        slowest = max(timers[-1].statements, key=lambda s: s[0])
        results.append(
            Result(
                variant=variant.name,
                url=url,
                user=user.username,
                status=status,
                requests=len(timings),
                median_ms=statistics.median(timings) * 1000,
                p95_ms=percentile(timings, 0.95) * 1000,
                sql_median_ms=statistics.median(sql_totals) * 1000,
                queries_min=min(counts),
                queries_max=max(counts),
                slowest_sql_ms=slowest[0] * 1000,
                slowest_sql=slowest[1],
            )
        )
        if args.explain:
            print(f"\n== {variant.name}: slowest query, {slowest[0] * 1000:.1f} ms\n{slowest[1]}\n")
            print(explain(slowest[1], slowest[2]))
        client.logout()

    header = f"{'variant':<36} {'median':>8} {'p95':>8} {'SQL':>8} {'queries':>8} {'slowest':>8}"
    print("\n" + header + "\n" + "-" * len(header))
    failed = False
    for r in results:
        queries = str(r.queries_min) if r.queries_min == r.queries_max else f"{r.queries_min}-{r.queries_max}"
        ok = r.median_ms < TARGET_MEDIAN_MS and r.queries_min == r.queries_max
        failed |= not ok
        print(
            f"{r.variant:<36} {r.median_ms:>6.1f}ms {r.p95_ms:>6.1f}ms {r.sql_median_ms:>6.1f}ms "
            f"{queries:>8} {r.slowest_sql_ms:>6.1f}ms{'' if ok else '  <-- misses the target'}"
        )
    print(f"\nTarget: median under {TARGET_MEDIAN_MS:.0f} ms and the same query count on every request.")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
