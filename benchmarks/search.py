"""Find-a-Partner search benchmark: five kinds of search on the 100,000-partner data set.

For each kind it requests whole pages in-process with Django's test Client (facets, count, results and
template included) and reports the median and 95th percentile of the server time and of the SQL time,
the number of queries, and how the page's time compares with its SQL.

    DATABASE_URL=postgres://apn@127.0.0.1:54329/apn_bench .venv/bin/python -m benchmarks.search

The database must have the benchmark data (`manage.py seed_demo --partners 100000`) and its search
entries (`manage.py search_reindex`, which seed_demo runs at its end). Options: `--rounds N` (requests
per variant, default 25) and `--warmup N` (unmeasured rounds first, default 3). The results are printed
as a Markdown table; nothing is written to a file.
"""

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

# Plain static storage: the benchmark renders templates without a collected manifest.
os.environ.setdefault("STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apn_portal.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from benchmarks.sql_timer import SqlTimer  # noqa: E402
from partners.models import Partner, PartnerSearchEntry  # noqa: E402

TARGET_MEDIAN_MS = 50
TARGET_P95_MS = 100
TARGET_PAGE_OVER_SQL = 2.0


def _swap_two_letters(name: str) -> str:
    """A customer's typo: two adjacent letters of the name's second word swapped."""
    words = name.split()
    word = words[1]
    middle = len(word) // 2
    words[1] = word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]
    return " ".join(words[:2])


def scenarios() -> dict[str, list[dict]]:
    """Each kind of search with a few variants, requested in turn so no single plan is flattered."""
    typo_names = list(
        Partner.objects.filter(is_published=True).order_by("pk").values_list("name", flat=True)[:4000:1000]
    )
    return {
        "words": [
            {"q": "machine learning"},
            {"q": "serverless applications"},
            {"q": "disaster recovery"},
            {"q": "kubernetes"},
        ],
        "words + two filters": [
            {"q": "migration", "industry": "financial-services", "country": "US"},
            {"q": "data analytics", "tier": "advanced", "type": "consulting"},
            {"q": "security", "program": "security", "country": "GB"},
            {"q": "sap", "industry": "manufacturing-industrial", "tier": "premier"},
        ],
        "filters only": [
            {"type": "consulting", "tier": "advanced", "industry": "healthcare-life-sciences"},
            {"program": "migration", "country": "DE"},
            {"use_case": ["serverless", "containers"], "industry": "retail-consumer-goods", "tier": "select"},
            {"country": "IN", "type": "technology"},
        ],
        "near": [
            {"lat": 51.5074, "lng": -0.1278, "radius": 50},
            {"lat": 40.7128, "lng": -74.006, "radius": 100},
            {"lat": 1.3521, "lng": 103.8198, "radius": 100},
            {"lat": 52.52, "lng": 13.405, "radius": 300},
        ],
        "typo": [{"q": _swap_two_letters(name)} for name in typo_names],
    }


@dataclass
class Sample:
    page_ms: float
    sql_ms: float
    queries: int
    total: int
    # CPU actually used, by this process and by the database's backend: what a page costs, whatever else
    # the machine is running at the time (wall-clock times grow with the machine's load; these do not).
    page_cpu_ms: float | None = None
    sql_cpu_ms: float | None = None


@dataclass
class Result:
    name: str
    samples: list[Sample] = field(default_factory=list)

    def _percentile(self, values, share):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    @property
    def page_median(self):
        return statistics.median(s.page_ms for s in self.samples)

    @property
    def page_p95(self):
        return self._percentile([s.page_ms for s in self.samples], 0.95)

    @property
    def sql_median(self):
        return statistics.median(s.sql_ms for s in self.samples)

    @property
    def sql_p95(self):
        return self._percentile([s.sql_ms for s in self.samples], 0.95)

    def _cpu(self, attribute, share):
        values = [getattr(s, attribute) for s in self.samples]
        if any(value is None for value in values):
            return None
        return self._percentile(values, share)

    @property
    def page_cpu_median(self):
        return self._cpu("page_cpu_ms", 0.5)

    @property
    def page_cpu_p95(self):
        return self._cpu("page_cpu_ms", 0.95)

    @property
    def sql_cpu_median(self):
        return self._cpu("sql_cpu_ms", 0.5)

    @property
    def queries(self):
        return max(s.queries for s in self.samples)

    @property
    def results(self):
        return statistics.median(s.total for s in self.samples)

    @property
    def page_over_sql(self):
        return self.page_median / self.sql_median if self.sql_median else float("inf")

    def meets_targets(self) -> bool:
        return (
            self.page_median < TARGET_MEDIAN_MS
            and self.page_p95 < TARGET_P95_MS
            and self.page_over_sql <= TARGET_PAGE_OVER_SQL
        )


class BackendCpu:
    """CPU time of this connection's PostgreSQL backend, from /proc (the server runs on this machine)."""

    def __init__(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.path = f"/proc/{cursor.fetchone()[0]}/schedstat"
        try:
            self.nanoseconds()
        except OSError:
            self.path = None

    def nanoseconds(self) -> int | None:
        if self.path is None:
            return None
        with open(self.path) as schedstat:
            return int(schedstat.read().split()[0])


def measure(client: Client, params: dict, backend: BackendCpu) -> Sample:
    url = "/partners/?" + urlencode(params, doseq=True)
    timer = SqlTimer()
    with connection.execute_wrapper(timer):
        backend_before, cpu_before = backend.nanoseconds(), time.thread_time_ns()
        started = time.perf_counter()
        response = client.get(url, secure=True)
        elapsed = time.perf_counter() - started
        cpu_after, backend_after = time.thread_time_ns(), backend.nanoseconds()
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    sample = Sample(elapsed * 1000, timer.seconds * 1000, timer.count, response.context["page"].total)
    if backend_before is not None:
        sample.sql_cpu_ms = (backend_after - backend_before) / 1e6
        sample.page_cpu_ms = (cpu_after - cpu_before) / 1e6 + sample.sql_cpu_ms
    return sample


def run(rounds: int, warmup: int) -> list[Result]:
    client = Client()
    backend = BackendCpu()
    results = []
    for name, variants in scenarios().items():
        for params in variants * warmup:
            measure(client, params, backend)
        result = Result(name)
        for _ in range(rounds):
            for params in variants:
                result.samples.append(measure(client, params, backend))
        results.append(result)
    return results


def report(results: list[Result]) -> str:
    lines = [
        "| search | results (median) | page median | page p95 | SQL median | SQL p95 | queries | page / SQL "
        "| page CPU median | page CPU p95 | SQL CPU median |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def ms(value):
        return "n/a" if value is None else f"{value:.1f} ms"

    for r in results:
        lines.append(
            f"| {r.name} | {r.results:,.0f} | {ms(r.page_median)} | {ms(r.page_p95)} | {ms(r.sql_median)} | "
            f"{ms(r.sql_p95)} | {r.queries} | {r.page_over_sql:.2f} | {ms(r.page_cpu_median)} | "
            f"{ms(r.page_cpu_p95)} | {ms(r.sql_cpu_median)} |"
        )
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25, help="Requests per variant (default 25).")
    parser.add_argument("--warmup", type=int, default=3, help="Unmeasured requests per variant first.")
    args = parser.parse_args(argv)
    setup_test_environment()  # so responses carry their template context (the result count)
    if connection.vendor != "postgresql":
        raise SystemExit("The search benchmark runs on PostgreSQL: set DATABASE_URL.")
    published = Partner.objects.filter(is_published=True).count()
    entries = PartnerSearchEntry.objects.count()
    if entries < Partner.objects.count():
        raise SystemExit(f"Only {entries:,} search entries: run `manage.py search_reindex` first.")
    print(f"{Partner.objects.count():,} partners ({published:,} published), {entries:,} search entries.")
    print(f"Load average before: {_load()} on {os.cpu_count()} CPUs.")
    results = run(args.rounds, args.warmup)
    print(report(results))
    print(f"Load average after: {_load()}.")
    failing = [r.name for r in results if not r.meets_targets()]
    print(
        f"Targets: median < {TARGET_MEDIAN_MS} ms, p95 < {TARGET_P95_MS} ms, page <= "
        f"{TARGET_PAGE_OVER_SQL:g} x SQL. " + (f"Missed by: {', '.join(failing)}." if failing else "All met.")
    )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
