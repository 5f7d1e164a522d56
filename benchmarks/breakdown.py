"""Where a request's time goes, stage by stage: for a Find-a-Partner page and an API list.

Each stage's function is wrapped with a timer for the run, so the figures are wall-clock medians of the
stages as they nest (a stage includes the SQL it runs; the SQL column is every statement of the request).
It explains the gap between a page's time and its SQL when the SQL is quick.

    DATABASE_URL=postgres://apn@127.0.0.1:54329/apn_bench .venv/bin/python -m benchmarks.breakdown \\
        "/partners/?q=Cobalt+Falocn" "/api/v1/partners/?ordering=-name&page_size=50"

Options: --requests N (default 40).
"""

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

os.environ.setdefault("STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apn_portal.settings")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("API_THROTTLE_ANON", "100000000/min")

import django

django.setup()

import django_filters.filterset  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import query  # noqa: E402
from rest_framework import generics, renderers, serializers, views  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

import partners.search_results  # noqa: E402
import partners.views.search  # noqa: E402
from apn_portal.api.viewsets import PortalViewSetMixin  # noqa: E402
from benchmarks.sql_timer import SqlTimer  # noqa: E402

# (owner, attribute, label): the stages, in the order a request meets them. A function the view imported
# by name is replaced in the view's module.
STAGES = [
    (django_filters.filterset.BaseFilterSet, "__init__", "FilterSet: build the form"),
    (django_filters.filterset.BaseFilterSet, "is_valid", "FilterSet: validate"),
    (partners.search_results, "_search_entries", "search statement (build, compile, run)"),
    (partners.search_results, "result_cards", "result cards"),
    (partners.views.search, "facet_groups", "facet options"),
    (partners.views.search, "render", "template"),
    (views.APIView, "initial", "DRF: authenticate, permissions, throttle"),
    (generics.GenericAPIView, "paginate_queryset", "DRF: count and page"),
    (PortalViewSetMixin, "get_queryset", "API: build the page's queryset"),
    (query.QuerySet, "_fetch_all", "ORM: compile, run and convert a query"),
    (serializers.ListSerializer, "to_representation", "DRF: serialize the rows"),
    (renderers.JSONRenderer, "render", "DRF: render JSON"),
]


class Timers:
    def __init__(self):
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.current: dict[str, float] = defaultdict(float)

    def wrap(self, owner, attribute: str, label: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.current[label] += time.perf_counter() - started

        setattr(owner, attribute, timed)

    def end_request(self) -> None:
        for label, seconds in self.current.items():
            self.samples[label].append(seconds * 1000)
        self.current.clear()


def measure(url: str, requests: int, timers: Timers) -> None:
    client = APIClient()
    for _ in range(5):
        client.get(url, secure=True)
    timers.samples.clear()
    timers.current.clear()
    totals, sql = [], []
    for _ in range(requests):
        timer = SqlTimer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            response = client.get(url, secure=True)
            totals.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        sql.append(timer.seconds * 1000)
        timers.end_request()
    total, sql_median = statistics.median(totals), statistics.median(sql)
    print(f"\n{url}\n  whole request {total:.1f} ms, SQL {sql_median:.1f} ms ({total / sql_median:.2f}x)")
    for _, _, label in STAGES:
        if label in timers.samples:
            values = timers.samples[label]
            print(f"  {label:<42} {statistics.median(values):6.2f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args(argv)
    timers = Timers()
    for owner, attribute, label in STAGES:
        timers.wrap(owner, attribute, label)
    for url in args.urls:
        measure(url, args.requests, timers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
