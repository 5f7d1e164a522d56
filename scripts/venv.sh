#!/usr/bin/env bash
# Create .venv if it is missing and install the project into it (editable), with optional extras:
#   bash scripts/venv.sh          the portal itself
#   bash scripts/venv.sh dev      plus the test and lint tools
#   bash scripts/venv.sh --reinstall dev   install even when nothing changed (CI)
# An install is skipped when pyproject.toml has not changed since the last one with the same extras.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

reinstall=0
extras=""
for arg in "$@"; do
  case "$arg" in
    --reinstall) reinstall=1 ;;
    *) extras="$arg" ;;
  esac
done

python_is_311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; }

if [[ ! -x .venv/bin/python ]]; then
  python="${PYTHON:-}"
  if [[ -z "$python" ]]; then
    for candidate in python3.11 python3; do
      if command -v "$candidate" >/dev/null 2>&1 && python_is_311 "$candidate"; then python="$candidate"; break; fi
    done
  fi
  if [[ -z "$python" ]]; then
    echo "The portal needs Python 3.11: install it (Debian 12: apt-get install python3 python3-venv)," >&2
    echo "or name it with PYTHON=/path/to/python3.11." >&2
    exit 1
  fi
  echo "Creating .venv with $python" >&2
  if ! "$python" -m venv .venv; then
    echo "Could not create .venv: on Debian, install python3-venv (apt-get install python3-venv)." >&2
    rm -rf .venv
    exit 1
  fi
fi

target="."
[[ -n "$extras" ]] && target=".[$extras]"
stamp=".venv/.apn-installed-${extras:-base}"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if ((reinstall)) || [[ ! -f "$stamp" ]] || [[ "$(cat "$stamp")" != "$wanted" ]]; then
  echo "Installing $target into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target" >&2
  echo "$wanted" >"$stamp"
fi
