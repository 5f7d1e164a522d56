"""REST API benchmark on the 100,000-partner data set.

1. `/api/v1/partners/` with Find-a-Partner's filters, 50 a page: median and 95th percentile server
   time, SQL time, the ratio of the two, and the query count (the same on every request).
   Targets: median under 40 ms, and no more than twice the time of its SQL.
2. A full cursor walk of every certification (`/api/v1/certifications/?page_size=1000`, following
   `next` to the end) as a superuser, by id and again by updated_at (the order a sync reads in): rows
   per second. Target: 20,000 rows/s or more.

Requests run in-process through DRF's test client (no network, no web server), the way the other
benchmarks measure server time. Nothing is written to the database.

    DATABASE_URL=postgres://apn@127.0.0.1:54329/apn_bench .venv/bin/python benchmarks/api.py

Options: --requests N (per variant, default 30), --warmup N, --skip-walk, --walk-page-size N,
--json FILE. Exits with status 1 when a target is missed or a query count varies.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apn_portal.settings")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# One client sends thousands of requests here: no rate limit should answer for the API.
for name in ("API_THROTTLE_ANON", "API_THROTTLE_TOKEN"):
    os.environ.setdefault(name, "100000000/min")
warnings.filterwarnings("ignore", message="No directory at")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from apn_portal.accounts.models import User  # noqa: E402
from benchmarks.sql_timer import SqlTimer  # noqa: E402
from partners.models import Certification, Industry, Partner  # noqa: E402

TARGET_MEDIAN_MS = 40.0
TARGET_OVER_SQL = 2.0
TARGET_ROWS_PER_SECOND = 20_000


@dataclass
class ListResult:
    variant: str
    url: str
    rows: int
    count: int
    median_ms: float
    p95_ms: float
    sql_median_ms: float
    over_sql: float
    queries_min: int
    queries_max: int

    @property
    def ok(self) -> bool:
        return (
            self.median_ms < TARGET_MEDIAN_MS
            and self.over_sql <= TARGET_OVER_SQL
            and self.queries_min == self.queries_max
        )


@dataclass
class WalkResult:
    rows: int
    pages: int
    seconds: float
    sql_seconds: float
    cpu_seconds: float
    page_size: int
    ordering: str = "id"

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def ok(self) -> bool:
        return self.rows_per_second >= TARGET_ROWS_PER_SECOND


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def variants() -> list[tuple[str, str]]:
    industry = Industry.objects.order_by("pk").values_list("slug", flat=True).first() or "healthcare"
    return [
        ("no filter", "page_size=50"),
        ("type + tier", "type=consulting&tier=advanced&page_size=50"),
        ("country + industry", f"country=DE&industry={industry}&page_size=50"),
        ("words", "q=cloud+migration&page_size=50"),
        ("ordering=-name", "ordering=-name&page_size=50"),
        ("updated_since + type", "updated_since=2020-01-01T00:00:00Z&type=technology&page_size=50"),
        ("page 20", "tier=select&page=20&page_size=50"),
    ]


def measure_list(client, name: str, query: str, requests: int, warmup: int) -> ListResult:
    url = f"/api/v1/partners/?{query}"
    timings, sql, counts, body = [], [], [], {}
    for i in range(warmup + requests):
        timer = SqlTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
        if i >= warmup:
            timings.append(elapsed)
            sql.append(timer.seconds)
            counts.append(timer.count)
            body = response.json()
    median, sql_median = statistics.median(timings), statistics.median(sql)
    return ListResult(
        variant=name,
        url=url,
        rows=len(body["results"]),
        count=body["count"],
        median_ms=median * 1000,
        p95_ms=percentile(timings, 0.95) * 1000,
        sql_median_ms=sql_median * 1000,
        over_sql=median / sql_median,
        queries_min=min(counts),
        queries_max=max(counts),
    )


def walk_certifications(client, page_size: int, ordering: str = "id") -> WalkResult:
    url = f"/api/v1/certifications/?page_size={page_size}&ordering={ordering}"
    rows = pages = 0
    timer = SqlTimer()
    started, cpu_started = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(timer):
        while url:
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
            body = response.json()
            rows += len(body["results"])
            pages += 1
            url = body["next"]
    return WalkResult(
        rows=rows,
        pages=pages,
        seconds=time.perf_counter() - started,
        sql_seconds=timer.seconds,
        cpu_seconds=time.process_time() - cpu_started,
        page_size=page_size,
        ordering=ordering,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="Measured requests per variant.")
    parser.add_argument("--warmup", type=int, default=3, help="Unmeasured requests first.")
    parser.add_argument("--skip-walk", action="store_true", help="Only the partners list.")
    parser.add_argument("--walk-page-size", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="Also write the results to this JSON file.")
    args = parser.parse_args()

    superuser = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    partners = Partner.objects.count()
    if superuser is None or not partners:
        print("Seed the database first: manage.py seed_demo --partners 100000", file=sys.stderr)
        return 2
    print(
        f"{connection.vendor}, {partners:,} partners; {args.requests} requests a variant after {args.warmup}"
    )

    anonymous = APIClient()
    results = [measure_list(anonymous, name, query, args.requests, args.warmup) for name, query in variants()]
    header = (
        f"{'GET /api/v1/partners/ (anonymous)':<34} {'rows':>5} {'count':>7} {'median':>8} {'p95':>8} "
        f"{'SQL':>8} {'x SQL':>6} {'queries':>8}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    failed = False
    for r in results:
        queries = str(r.queries_min) if r.queries_min == r.queries_max else f"{r.queries_min}-{r.queries_max}"
        failed |= not r.ok
        verdict = "" if r.ok else "  <-- misses the target"
        print(
            f"{r.variant:<34} {r.rows:>5} {r.count:>7} {r.median_ms:>6.1f}ms {r.p95_ms:>6.1f}ms "
            f"{r.sql_median_ms:>6.1f}ms {r.over_sql:>6.2f} {queries:>8}{verdict}"
        )
    print(
        f"Target: median under {TARGET_MEDIAN_MS:.0f} ms, at most {TARGET_OVER_SQL:.0f}x its SQL time, "
        "the same query count on every request."
    )

    walks = []
    if not args.skip_walk:
        walker = APIClient()
        walker.force_authenticate(superuser)
        expected = Certification.objects.count()
        # By id, as a full copy reads the table; by updated_at, as a sync reads it (rows changed in one
        # bulk update share an updated_at, so its pages rely on the (updated_at, id) index).
        for ordering in ("id", "updated_at"):
            print(
                f"\nCursor walk of {expected:,} certifications by {ordering}, {args.walk_page_size} a page, "
                f"as {superuser}..."
            )
            walk = walk_certifications(walker, args.walk_page_size, ordering)
            walks.append(walk)
            failed |= not walk.ok or walk.rows != expected
            print(
                f"{walk.rows:,} rows in {walk.pages:,} pages, {walk.seconds:.1f} s "
                f"({walk.sql_seconds:.1f} s of it SQL, {walk.cpu_seconds:.1f} s of this process's CPU): "
                f"{walk.rows_per_second:,.0f} rows/s"
                f"{'' if walk.ok else '  <-- misses the target'}"
            )
            if walk.rows != expected:
                print(f"The walk saw {walk.rows:,} rows, but the table has {expected:,}.")
        print(f"Target: {TARGET_ROWS_PER_SECOND:,} rows/s or more, every row once.")

    if hasattr(os, "getloadavg"):
        print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        data = {
            "partners_list": [asdict(r) for r in results],
            "certification_walks": [asdict(walk) for walk in walks],
        }
        args.json.write_text(json.dumps(data, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
