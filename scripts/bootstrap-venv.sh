#!/usr/bin/env bash
# Create .venv at the repo root with Python 3.10 and install the project (Rasa 3.6 needs < 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
  local candidates=()
  [[ -n "${PYTHON310:-}" ]] && candidates+=("$PYTHON310")
  command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
  local root
  root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
  for dir in "$root"/versions/3.10*; do
    [[ -x "$dir/bin/python3.10" ]] && candidates+=("$dir/bin/python3.10")
  done
  candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10)
  for py in "${candidates[@]}"; do
    if [[ -x "$py" ]] && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

if ! PY="$(find_python310)"; then
  cat >&2 <<'MSG'
error: Python 3.10 not found (Rasa 3.6 supports Python 3.8-3.10 only).
  Install one, e.g. `pyenv install 3.10.13`, or point PYTHON310 at a python3.10 binary:
  make run PYTHON310=/path/to/python3.10
MSG
  exit 1
fi

if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then
  echo "creating .venv with $PY"
  rm -rf .venv
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip wheel setuptools
echo "installing dependencies (first time: a few minutes)"
.venv/bin/python -m pip install --quiet -c constraints.txt -e '.[test]'
.venv/bin/python -m pip check

# The console's browser test drives Debian's chromium with Playwright (its own browser download
# cannot work offline). Install it when missing and we can; otherwise say what to do.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the console browser test"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
      || echo "warning: could not install chromium; the console browser test will fail" >&2
  else
    echo "warning: chromium not found; install it (apt-get install chromium) for the browser test" >&2
  fi
fi
