#!/usr/bin/env bash
# Make sure Debian's chromium is installed for tests/workflow/test_report.py; print its path.
# Installs it with apt when missing (root; about 20 s). Exit 3 when apt cannot install it.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian package)..." >&2
  log=$(mktemp)
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; } \
    >"$log" 2>&1 || { echo "apt-get install chromium failed, see $log" >&2; tail -3 "$log" >&2; exit 3; }
fi
command -v chromium
