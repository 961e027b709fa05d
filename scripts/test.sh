#!/usr/bin/env bash
# Runs every check: ruff, mypy and the whole test suite (installs what they need first).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh dev
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy .
echo "== chromium (for the sandbox's browser tests)"
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    # Debian's chromium; Playwright's own browser download is never used.
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
  else
    echo "chromium is not installed and this is not root: run 'sudo apt-get install chromium'" \
      "(the browser tests skip without it, and fail in CI)" >&2
  fi
fi
echo "== pytest"
# Two worker processes (pytest-xdist), one per core; TEST_WORKERS=0 runs in this process.
# Arguments after the command come later and win (e.g. -n 0). A worker takes the next
# test whenever it is free, so the long ones do not pile up on one of them.
.venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist worksteal "$@"
