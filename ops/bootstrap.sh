#!/usr/bin/env bash
# Sets up the project's Python environment from the lock: idempotent, quick when nothing changed.
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

# The Python environment is exactly the committed lock (uv.lock, every package with its
# hashes): two clones of one commit get the same bytes. uv itself is pinned in that lock; it
# is installed, hash-checked, into the state folder and then installs the rest.
export UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=.venv
stamp=.venv/.govbus-installed
want=$(cat uv.lock pyproject.toml ops/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  uv_pin=$("$python" - <<'PY'
import tomllib
lock = tomllib.load(open("uv.lock", "rb"))
(uv,) = [p for p in lock["package"] if p["name"] == "uv"]
hashes = " ".join(f"--hash={w['hash']}" for w in uv.get("wheels", []))
print(f"uv=={uv['version']} {hashes}")
PY
)
  uv_dir=.state/tools/uv-$(echo "$uv_pin" | sha256sum | cut -c1-12)
  if [ ! -x "$uv_dir/bin/uv" ]; then
    echo "installing ${uv_pin%% *} from the lock ..."
    mkdir -p .state/tools
    echo "$uv_pin" > .state/tools/uv-requirement.txt
    rm -rf "$uv_dir.part"
    if ! "$python" -m pip install --quiet --disable-pip-version-check --require-hashes \
        --no-deps --target "$uv_dir.part" -r .state/tools/uv-requirement.txt \
        > .state/tools/pip.log 2>&1; then
      cat .state/tools/pip.log >&2
      echo "error: could not install uv from the lock (hash mismatch or no network)" >&2
      exit 1
    fi
    mv "$uv_dir.part" "$uv_dir"
  fi
  echo "installing the locked Python packages (once; a minute on a fresh clone) ..."
  # --locked: a pyproject.toml changed without `make lock` is an error, not a silent re-resolve.
  # --compile-bytecode: every process starts from compiled modules, also where the environment
  # says not to write bytecode (PYTHONDONTWRITEBYTECODE) and so every import would compile
  # again (jieba's tagger imported in 1.55 s, compiled in 0.33 s; README, Faults).
  if ! PYTHONPATH="$uv_dir" "$uv_dir/bin/uv" sync --quiet --locked --compile-bytecode \
      --extra dev --extra faust --python "$python" > .state/tools/sync.log 2>&1; then
    cat .state/tools/sync.log >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

# Debian packages the stack uses, installed as root with apt when missing: promtool checks and
# unit-tests the alert rules (ops/prometheus/), and the integration tests run a throwaway
# Prometheus server; PostgreSQL stands in for a department's database (change data capture),
# run from the state folder by `govbus stack up --cdc`. Their servers must not start as
# services: a policy-rc.d that denies service starts is in place during the install (the one
# found, if any, is put back), and the units are disabled afterwards.
install_debian_package() {  # <package> <what it is for>
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || {
    echo "warning: $1 is missing and cannot be installed here (not root with apt); $2" >&2
    return 0
  }
  echo "installing Debian's $1 package ..."
  policy=/usr/sbin/policy-rc.d
  saved=""
  if [ -e "$policy" ]; then saved=$(mktemp); cp -p "$policy" "$saved"; fi
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
  if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
         --no-install-recommends "$1"; } >/dev/null; then
    if [ -d /run/systemd/system ]; then
      systemctl disable --now "$1.service" >/dev/null 2>&1 || true
    else
      update-rc.d "$1" disable >/dev/null 2>&1 || true
    fi
  else
    echo "warning: could not install $1; $2" >&2
  fi
  if [ -n "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
}

command -v promtool >/dev/null \
  || install_debian_package prometheus "promtool tests will be skipped"
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null \
  || install_debian_package postgresql "change data capture (govbus stack up --cdc) needs it"
