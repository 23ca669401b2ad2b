#!/usr/bin/env bash
# Node.js and npm install the browser assets (htmx) and ESLint.
set -euo pipefail
if command -v npm >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
else
  echo "npm is missing: install Node.js 18+ and npm." >&2
  exit 1
fi
