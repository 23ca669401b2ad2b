#!/usr/bin/env bash
# Debian packages the test suite drives: chromium (Playwright tests; Playwright cannot
# download browsers here), docker-compose (validates docker/compose.yaml) and nginx
# (`nginx -t` on docker/nginx.conf, and the three processes behind it), pgbouncer (the app
# through transaction pooling) and redis-sentinel (failover of the primary).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v docker-compose >/dev/null || missing+=(docker-compose)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "Installing ${missing[*]} with apt..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "Missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})." >&2
  exit 1
fi
