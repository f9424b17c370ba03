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
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[dev]'
  echo "$want" > "$stamp"
fi
