#!/usr/bin/env bash
# Creates or reuses .venv and installs the project's dependencies from pyproject.toml.
# Re-installs only when pyproject.toml changed; rebuilds a half-made .venv (one without
# pip, e.g. after 'python3 -m venv' failed for lack of python3-venv), saying so.
# Usage: bash scripts/bootstrap.sh [dev]. BOOTSTRAP_PYTHON=/path/to/python3.X picks the
# interpreter (default: the newest python3.11+ on PATH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

too_old() {
  cat >&2 <<MSG
Python 3.11 or newer is required; found ${1:-none}.
  Ubuntu 22.04 (Python 3.10):  sudo add-apt-repository ppa:deadsnakes/ppa
                               sudo apt install python3.11 python3.11-venv
  Debian 12, Ubuntu 24.04:     sudo apt install python3 python3-venv
  Or run the bot with Docker:  docker compose up -d   (see docs/guide.en.md)
MSG
}

find_python() {
  local candidates=(python3.13 python3.12 python3.11 python3)
  if [ -n "${BOOTSTRAP_PYTHON:-}" ]; then candidates=("$BOOTSTRAP_PYTHON"); fi
  local found=""
  for candidate in "${candidates[@]}"; do
    if command -v "$candidate" >/dev/null 2>&1; then
      if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "$candidate"
        return 0
      fi
      found=$("$candidate" -c 'import sys; print("Python %d.%d" % sys.version_info[:2])' \
        2>/dev/null || echo "$candidate")
    fi
  done
  too_old "$found"
  return 1
}

make_venv() {
  local py version
  py=$(find_python)
  version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  rm -rf .venv
  if ! "$py" -m venv .venv >/tmp/bootstrap-venv.$$ 2>&1 || [ ! -x .venv/bin/python ] ||
    ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    sed 's/^/  /' /tmp/bootstrap-venv.$$ >&2 || true
    rm -f /tmp/bootstrap-venv.$$
    rm -rf .venv  # never leave a half-made one behind
    cat >&2 <<MSG
Could not create .venv with $py (Python $version): its venv/ensurepip module is missing.
  Debian/Ubuntu:  sudo apt install python$version-venv
  then run this command again.
MSG
    return 1
  fi
  rm -f /tmp/bootstrap-venv.$$
}

extras="${1:-}"
if [ ! -x .venv/bin/python ]; then
  make_venv
elif ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  echo ".venv is half-made (no pip in it, maybe python3-venv was missing): rebuilding it" >&2
  make_venv
elif ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo ".venv was made with a Python older than 3.11: rebuilding it" >&2
  make_venv
fi
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${extras:-base}"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # Dependencies are read from pyproject.toml (the one list of them).
  .venv/bin/python - "$extras" > .venv/requirements.txt <<'PY'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
deps = list(project["dependencies"])
if sys.argv[1]:
    deps += project["optional-dependencies"][sys.argv[1]]
print("\n".join(deps))
PY
  .venv/bin/python -m pip install --quiet -r .venv/requirements.txt
  rm -f .venv/.installed-*
  touch "$stamp"
fi
