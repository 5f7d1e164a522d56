#!/usr/bin/env bash
# Build the benchmark data set (100,000 partners) in its own database and run every benchmark on it.
#
#   bash benchmarks/run_all.sh            # seed if needed (idempotent), then the benchmarks
#   bash benchmarks/run_all.sh --fresh    # drop and recreate the database first, timing the seed
#
# DATABASE_URL defaults to the private test server's `apn_bench` database (scripts/services.sh starts it);
# PARTNERS (default 100000) and REQUESTS (default 30) change the scale and the samples per variant.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
python=".venv/bin/python"
export DATABASE_URL="${DATABASE_URL:-postgres://apn@127.0.0.1:54329/apn_bench}"
partners="${PARTNERS:-100000}"
requests="${REQUESTS:-30}"
results="$here/var/benchmarks"
mkdir -p "$results"

if [[ "$DATABASE_URL" == *"127.0.0.1:54329"* ]]; then
  bash scripts/services.sh >/dev/null
fi

# Create (or, with --fresh, recreate) the benchmark database on the server DATABASE_URL names.
"$python" - "$DATABASE_URL" "${1:-}" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg

url, fresh = sys.argv[1], sys.argv[2] == "--fresh"
parts = urlsplit(url)
name = parts.path.lstrip("/")
with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if exists and fresh:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        exists = None
    if not exists:
        conn.execute(f'CREATE DATABASE "{name}"')
        print(f"Created database {name}.")
PY

"$python" manage.py migrate --no-input -v0

echo "== seed_demo --partners $partners"
command -v /usr/bin/time >/dev/null || { echo "Install Debian's 'time' package for the memory figure." >&2; exit 1; }
/usr/bin/time -v -o "$results/seed-time.txt" "$python" manage.py seed_demo --partners "$partners" --no-progress
grep -E "Elapsed|Maximum resident" "$results/seed-time.txt"

# Every benchmark runs even if an earlier one misses its target; the exit status says whether all passed.
status=0
run() {
  echo; echo "== $1"; shift
  "$@" || { status=1; echo "(missed a target or failed)"; }
}
run "admin partner changelist" \
  "$python" benchmarks/admin_changelist.py --requests "$requests" --json "$results/admin_changelist.json"
[[ -f benchmarks/search.py ]] && run "Find-a-Partner search" "$python" -m benchmarks.search
[[ -f benchmarks/api.py ]] && run "REST API" "$python" benchmarks/api.py --requests "$requests" --json "$results/api.json"
[[ -f benchmarks/checks.py ]] && run "scheduled checks" "$python" benchmarks/checks.py --json "$results/checks.json"
exit $status
