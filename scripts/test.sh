#!/usr/bin/env bash
# Run the test suite on a private PostgreSQL and Redis (started, and installed when root, by
# scripts/services.sh), with Debian's chromium for the browser tests (installed when root and missing).
# Arguments go to pytest, e.g. `bash scripts/test.sh -x partners/tests` (or `-n 0 -x ...` for one process).
# TEST_DB_SUFFIX gives concurrent runs on the same server their own test databases.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

bash scripts/venv.sh dev

# The browser tests drive Debian's chromium (Playwright's own browser download is never used).
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else
    echo "The browser tests need chromium at $chromium: sudo apt-get install chromium" >&2
  fi
fi

services_env="$(bash scripts/services.sh --redis)"
while IFS= read -r line; do
  if [[ "$line" == *=* ]]; then export "$line"; fi
done <<<"$services_env"

# One pytest-xdist worker per core, up to four (TEST_WORKERS sets it; 0 runs in this process, as does
# `-n 0` among the arguments). loadfile: a module's tests run in turn on one worker, so what a module
# builds once for its tests is built once. (loadgroup's xdist_group marks do nothing with pytest 9.)
cores="$(nproc 2>/dev/null || echo 1)"
workers="${TEST_WORKERS:-$((cores < 4 ? cores : 4))}"
exec .venv/bin/pytest -n "$workers" --dist loadfile "$@"
