#!/usr/bin/env bash
# Prints the path of a suitable Python interpreter, or explains what to install.
#   scripts/find-python.sh rasa      Python 3.10 exactly (Rasa 3.6 runs on nothing newer)
#   scripts/find-python.sh gateway   Python 3.11 or newer
# Looks at $PYTHON310 / $PYTHON311, then the PATH, then pyenv, then Pythons installed by uv, then common
# install locations.
#
# Where no Python 3.10 is found (a fresh Ubuntu 24.04, Debian 13 or macOS), it says which ways work and
# takes the uv way when asked: PYTHON310=uv or CONCILIA_USE_UV=1 (or "y" at the question, asked only on a
# terminal and never in CI). uv is the one on PATH, else the gateway environment's (installed there from
# PyPI with pip when missing); `uv python install 3.10` puts Python 3.10 in uv's own folder, and the next
# run finds it there.
set -u
role=${1:?usage: find-python.sh rasa|gateway}
here=$(cd "$(dirname "$0")/.." && pwd)
gateway_venv=${CONCILIA_GATEWAY_VENV:-$here/.venv}
use_uv=${CONCILIA_USE_UV:-0}
if [ "$role" = rasa ]; then
  want='sys.version_info[:2] == (3, 10)'; explicit=${PYTHON310:-}; names="python3.10"; label="Python 3.10"
  if [ "$explicit" = uv ]; then use_uv=1; explicit=; fi
else
  want='sys.version_info[:2] >= (3, 11)'; explicit=${PYTHON311:-}; names="python3 python3.13 python3.12 python3.11"; label="Python 3.11 or newer"
fi
ok() { [ -x "$1" ] && "$1" -c "import sys; sys.exit(0 if $want else 1)" 2>/dev/null; }

uv_bin() {  # the uv to use, if there is one already
  if command -v uv >/dev/null 2>&1; then command -v uv
  elif [ -x "$gateway_venv/bin/uv" ]; then echo "$gateway_venv/bin/uv"
  else return 1; fi
}

candidates=()
[ -n "$explicit" ] && candidates+=("$explicit")
for n in $names; do command -v "$n" >/dev/null 2>&1 && candidates+=("$(command -v "$n")"); done
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for d in $(ls -d "$root"/versions/3.* 2>/dev/null | sort -V -r); do candidates+=("$d/bin/python3"); done
if [ "$role" = rasa ]; then
  uv_dir=${UV_PYTHON_INSTALL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/uv/python}
  for d in $(ls -d "$uv_dir"/cpython-3.10* 2>/dev/null | sort -V -r); do candidates+=("$d/bin/python3.10"); done
  if uv=$(uv_bin); then
    found=$("$uv" python find 3.10 2>/dev/null) && candidates+=("$found")
  fi
fi
for d in /usr/local/bin /usr/bin; do for n in $names; do candidates+=("$d/$n"); done; done
for c in "${candidates[@]}"; do
  # pyenv shims may answer for a version that is not selected: print the real interpreter.
  if ok "$c"; then "$c" -c 'import sys; print(sys.executable)'; exit 0; fi
done

install_with_uv() {  # uv python install 3.10, then print the interpreter
  local uv
  if ! uv=$(uv_bin); then
    if [ ! -x "$gateway_venv/bin/python" ]; then
      echo "uv is not on PATH and the gateway environment ($gateway_venv) does not exist yet: run \`make setup\` first." >&2
      return 1
    fi
    echo "==> Installing uv from PyPI into the gateway environment ($gateway_venv)" >&2
    "$gateway_venv/bin/python" -m pip install --disable-pip-version-check -q uv >&2 || return 1
    uv="$gateway_venv/bin/uv"
  fi
  echo "==> Installing Python 3.10 with uv ($uv python install 3.10)" >&2
  "$uv" python install 3.10 >&2 || return 1
  local py
  py=$("$uv" python find 3.10) || return 1
  if ok "$py"; then "$py" -c 'import sys; print(sys.executable)'; return 0; fi
  echo "uv installed Python 3.10 but $py does not run as Python 3.10." >&2
  return 1
}

if [ "$role" = rasa ]; then
  if [ "$use_uv" != 1 ] && [ -t 0 ] && [ -t 2 ] && [ -z "${CI:-}" ]; then
    printf 'No Python 3.10 found. Install it now with uv (uv python install 3.10)? [y/N] ' >&2
    read -r answer && case "$answer" in [yY]*) use_uv=1 ;; esac
  fi
  if [ "$use_uv" = 1 ]; then install_with_uv; exit $?; fi
fi
{
  echo "Concilia needs $label and could not find it."
  if [ "$role" = rasa ]; then
    echo "Rasa 3.6 (the last open-source Rasa) does not run on Python 3.11 or newer. Ways that work:"
    echo "  uv (any Linux or macOS; uv comes from PyPI into the gateway environment when it is not on PATH):"
    echo "      make setup PYTHON310=uv          (or CONCILIA_USE_UV=1 make setup)"
    echo "  Docker, Rasa and everything else in containers (docs/deploy.md):"
    echo "      docker compose -f deploy/docker-compose.yml up -d --build"
    echo "  or install it yourself:  pyenv install 3.10   or   apt-get install python3.10 python3.10-venv"
    echo "  and name one:            make run PYTHON310=/path/to/python3.10"
  else
    echo "Install it with:  pyenv install 3.11   or   apt-get install python3.11 python3.11-venv"
    echo "or name one:      make run PYTHON311=/path/to/python3.11"
  fi
} >&2
exit 1
