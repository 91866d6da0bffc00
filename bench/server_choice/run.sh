#!/usr/bin/env bash
# Server-choice benchmark: see bench/SERVER_CHOICE.md.
#
#   bash bench/server_choice/run.sh                 # full run: pinned + unpinned, 3 rounds, 10 s
#   bash bench/server_choice/run.sh --setups pinned # headline setup only (~6.5 min)
#   bash bench/server_choice/run.sh --probe         # protocol/robustness probe only (~2 min)
#
# Candidates run from a throwaway venv ($SC_VENV, default /tmp/sc-venv) with the pinned
# versions in requirements.txt, so the project's own environment is not touched.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${SC_VENV:-/tmp/sc-venv}"
py="${SC_PYTHON:-python3.11}"

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null
fi
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q -r "$here/requirements.txt"

if [ "${1:-}" = "--probe" ]; then
  shift
  exec "$venv/bin/python" "$here/probe.py" "$@"
fi
exec "$venv/bin/python" "$here/run.py" "$@"
