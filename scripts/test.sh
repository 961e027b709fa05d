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
.venv/bin/python -m pytest "$@"
