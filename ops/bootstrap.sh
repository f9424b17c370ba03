#!/usr/bin/env bash
# Sets up the project's Python environment: idempotent, and quick when nothing changed.
# The Kafka and registry jars are resolved by `govbus stack up` into the state folder.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: govbus needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
for tool in java mvn; do
  command -v "$tool" >/dev/null || { echo "error: $tool is needed for the local stack (OpenJDK 17+, Maven)" >&2; exit 1; }
done

[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.govbus-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing Python packages (once; a few minutes on a fresh clone)..."
  # The build backend's warnings are noise here; the log is shown only when the install fails.
  if ! { .venv/bin/pip install --quiet --upgrade pip && .venv/bin/pip install --quiet -e '.[dev]'; } \
      > .venv/pip.log 2>&1; then
    cat .venv/pip.log >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

# promtool checks and unit-tests the alert rules (ops/prometheus/), and the integration tests
# run a throwaway Prometheus server; both come with Debian's prometheus package. Its server
# must not start as a service: a policy-rc.d that denies service starts is in place during
# the install (the one found, if any, is put back), and the unit is disabled afterwards.
if ! command -v promtool >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's prometheus package (promtool, prometheus) ..."
  policy=/usr/sbin/policy-rc.d
  saved=""
  if [ -e "$policy" ]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
  restore_policy() {
    if [ -n "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
  }
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
  if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
         --no-install-recommends prometheus; } >/dev/null; then
    if [ -d /run/systemd/system ]; then
      systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    else
      update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
  else
    echo "warning: could not install prometheus; promtool tests will be skipped" >&2
  fi
  restore_policy
fi
