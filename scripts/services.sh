#!/usr/bin/env bash
# Start a private PostgreSQL (and, with --redis, a private Redis) for tests and benchmarks, idempotently.
# Installs Debian's packages when they are missing and we are root. Prints the DATABASE_URL (and
# REDIS_URL) to export. `--stop` stops both servers instead.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
var="${APN_VAR_DIR:-$here/var}"
pg_port="${APN_PG_PORT:-54329}"
redis_port="${APN_REDIS_PORT:-63799}"
mkdir -p "$var"

need_apt=()
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql postgresql-contrib)
if [[ " $* " == *" --redis "* ]] && ! command -v redis-server >/dev/null 2>&1; then need_apt+=(redis-server); fi
if ((${#need_apt[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq "${need_apt[@]}" >&2
  else
    echo "Please install: ${need_apt[*]} (sudo apt-get install ${need_apt[*]})" >&2; exit 1
  fi
fi
pg_bin="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")"

# PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres user.
run_pg() { if [[ $(id -u) -eq 0 ]]; then su postgres -s /bin/bash -c "$(printf '%q ' "$@")"; else "$@"; fi; }
pgdata="$var/pgdata"
# A checkout under a private home (e.g. /root) is out of the postgres user's reach: keep its cluster elsewhere.
if [[ $(id -u) -eq 0 ]] && ! run_pg test -x "$var"; then
  pgdata="/var/lib/apn-portal/pgdata-$pg_port"
  mkdir -p "$pgdata"
fi

if [[ " $* " == *" --stop "* ]]; then
  if command -v redis-cli >/dev/null 2>&1; then redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true; fi
  if run_pg "$pg_bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    run_pg "$pg_bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
  fi
  exit 0
fi
if [[ ! -s "$pgdata/PG_VERSION" ]]; then
  mkdir -p "$pgdata"; [[ $(id -u) -eq 0 ]] && chown -R postgres "$pgdata"
  run_pg "$pg_bin/initdb" -D "$pgdata" -U apn --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pgdata'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 512MB
max_connections = 200
CONF
fi
[[ $(id -u) -eq 0 ]] && chown -R postgres "$pgdata"
if ! run_pg "$pg_bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
  run_pg "$pg_bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w start >/dev/null
fi
"$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U apn -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='apn'" | grep -q 1 \
  || "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U apn apn
echo "DATABASE_URL=postgres://apn@127.0.0.1:$pg_port/apn"

if [[ " $* " == *" --redis "* ]]; then
  if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
      --dir "$var" --logfile "$var/redis.log" >/dev/null
    for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "REDIS_URL=redis://127.0.0.1:$redis_port/0"
fi
