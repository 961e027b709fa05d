#!/usr/bin/env bash
# Runs the bot: installs what it needs into .venv on first use, then `python main.py`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python main.py "$@"
