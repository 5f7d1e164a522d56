#!/usr/bin/env bash
# Set up and run the portal on the embedded default: SQLite, demo data, a Celery worker with embedded
# beat on a SQLite-file broker, and the web server on http://127.0.0.1:8000/ (PORT and HOST change it).
# Needs only Python 3.11. Ctrl-C stops the web server and the worker.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

port="${PORT:-8000}"
host="${HOST:-127.0.0.1}"
# A local run over plain HTTP, without the HTTPS redirect and secure-only cookies of production, but
# otherwise as in production: DEBUG off, so a mistyped address gets the portal's 404 page, not Django's
# debug page (which lists the settings), and a signing key of this checkout's own, not the code's default.
# A setting in the environment or in .env (which settings.py reads) is left as it is.
set_unless_given() {
  local name="$1" value="$2"
  if [[ -z "${!name:-}" ]] && ! grep -qE "^[[:space:]]*(export[[:space:]]+)?${name}=" .env 2>/dev/null; then
    export "$name=$value"
  fi
}
set_unless_given DEBUG 0
set_unless_given SECURE_SSL_REDIRECT 0
set_unless_given SECURE_HSTS_SECONDS 0
set_unless_given SESSION_COOKIE_SECURE 0
set_unless_given CSRF_COOKIE_SECURE 0
# Links in emails (a password reset, a new lead) point where this portal listens: on every address, at
# the first host name it answers to.
link_host="$host"
if [[ "$host" == "0.0.0.0" ]]; then
  link_host="${ALLOWED_HOSTS:-127.0.0.1}"
  link_host="${link_host%%,*}"
  link_host="${link_host// /}"
fi
set_unless_given PORTAL_URL "http://$link_host:$port"
# Webhooks to a receiver beside the portal, as you try them on your own machine: DEBUG is off, whose default
# allows no host. Not when it listens on the network, where anybody signed in could have it POST to the
# services on this machine.
case "$host" in
  127.0.0.1 | localhost | ::1) set_unless_given WEBHOOK_ALLOWED_HOSTS "localhost,127.0.0.1,[::1]" ;;
esac

bash scripts/venv.sh
py=.venv/bin/python
mkdir -p var
if [[ ! -s var/secret-key ]]; then
  (umask 077 && $py -c 'import secrets; print(secrets.token_urlsafe(50))' >var/secret-key)
fi
set_unless_given SECRET_KEY "$(cat var/secret-key)"

$py manage.py migrate --noinput
$py manage.py seed_demo
$py manage.py collectstatic --noinput --verbosity 0

pids=()
stop_all() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

worker_log="var/celery-worker.log"
: >"$worker_log"
.venv/bin/celery -A apn_portal worker -B --loglevel=INFO --concurrency=2 \
  --schedule-filename "$here/var/celerybeat-schedule" >>"$worker_log" 2>&1 &
worker_pid=$!
pids+=("$worker_pid")
# Fail now, with the reason, rather than serve a portal whose scheduled checks silently never run.
for _ in $(seq 120); do
  grep -q " ready\.$" "$worker_log" && break
  if ! kill -0 "$worker_pid" 2>/dev/null; then
    echo "The Celery worker stopped while starting; the end of $worker_log:" >&2
    tail -20 "$worker_log" >&2
    exit 1
  fi
  sleep 0.5
done
echo "Celery worker with embedded beat: pid $worker_pid, log in $worker_log" >&2

# The web server runs in the background of this script only so that a signal reaches the trap above,
# which stops both processes; it is still the command you are watching.
echo "Portal: http://$host:$port/   admin: http://$host:$port/admin/   (Ctrl-C stops it)" >&2
$py manage.py runserver --noreload "$host:$port" &
pids+=("$!")
wait "$!"
