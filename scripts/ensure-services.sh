#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379) answer.
# Start installed-but-stopped servers; install them with apt when root and missing;
# otherwise stop with a clear message. Used by `make test`.
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}

is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  is_root || return 1
  if [ -z "${_APT_UPDATED:-}" ]; then apt-get update -qq; _APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
pg_ok() { command -v pg_isready >/dev/null && pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }
redis_ok() { command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

start_pg_cluster() {
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || return 1
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || pg_ctlcluster "$version" main start 2>/dev/null || true
  wait_for pg_ok
}

if ! pg_ok; then
  echo "PostgreSQL is not answering on $PG_HOST:$PG_PORT; trying to start it..."
  if ! start_pg_cluster; then
    if apt_install postgresql; then
      version=$(ls /etc/postgresql | sort -V | tail -n 1)
      hba=/etc/postgresql/$version/main/pg_hba.conf
      # A fresh test machine: let the local superuser in over loopback without a password.
      if ! grep -q "messenger-test" "$hba"; then
        sed -i '1i host all postgres 127.0.0.1/32 trust # messenger-test\nhost all postgres ::1/128 trust # messenger-test' "$hba"
      fi
      start_pg_cluster || { echo "PostgreSQL was installed but does not start." >&2; exit 1; }
      pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
    else
      echo "PostgreSQL is not running on $PG_HOST:$PG_PORT and cannot be installed here" \
           "(not root, or apt failed). Start it, or point MESSENGER_TEST_DATABASE_URL at one." >&2
      exit 1
    fi
  fi
fi
echo "PostgreSQL answers on $PG_HOST:$PG_PORT."

if ! redis_ok; then
  echo "Redis is not answering on 127.0.0.1:$REDIS_PORT; trying to start it..."
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server redis-tools || {
      echo "Redis is not running and cannot be installed here (not root, or apt failed)." >&2
      exit 1
    }
  fi
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no
  wait_for redis_ok || { echo "Redis does not start." >&2; exit 1; }
fi
echo "Redis answers on 127.0.0.1:$REDIS_PORT."
