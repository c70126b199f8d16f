#!/usr/bin/env bash
# Creates .venv and installs the exact lock (requirements.lock) plus hwgen itself.
# Skips everything when .venv/.stamp already holds the hash of the lock and pyproject.toml,
# so `make demo` / `make test` start in seconds on an installed machine.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$want" ]; then
  exit 0
fi
python=${PYTHON:-python3}
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), "hwgen needs Python 3.11, found %s" % sys.version.split()[0]'
echo "bootstrap: installing the locked toolchain into $venv (first run takes a few minutes)"
rm -f "$venv/.stamp"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first and alone, so it is always the CPU wheel named in the lock.
"$venv/bin/pip" install --no-deps "$(grep '^torch==' requirements.lock)"
"$venv/bin/pip" install --no-deps -r requirements.lock
"$venv/bin/pip" install --no-deps --no-build-isolation -e .
"$venv/bin/python" - <<'PY'
import torch
assert torch.__version__ == "2.13.0+cpu", f"expected the CPU torch 2.13.0, got {torch.__version__}"
PY
echo "$want" > "$venv/.stamp"
echo "bootstrap: done"
