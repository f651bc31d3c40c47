#!/usr/bin/env bash
# Prints the path of a suitable Python interpreter, or explains what to install.
#   scripts/find-python.sh rasa      Python 3.10 exactly (Rasa 3.6 runs on nothing newer)
#   scripts/find-python.sh gateway   Python 3.11 or newer
# Looks at $PYTHON310 / $PYTHON311, then the PATH, then pyenv, then common install locations.
set -u
role=${1:?usage: find-python.sh rasa|gateway}
if [ "$role" = rasa ]; then
  want='sys.version_info[:2] == (3, 10)'; explicit=${PYTHON310:-}; names="python3.10"; label="Python 3.10"
else
  want='sys.version_info[:2] >= (3, 11)'; explicit=${PYTHON311:-}; names="python3 python3.13 python3.12 python3.11"; label="Python 3.11 or newer"
fi
ok() { [ -x "$1" ] && "$1" -c "import sys; sys.exit(0 if $want else 1)" 2>/dev/null; }
candidates=()
[ -n "$explicit" ] && candidates+=("$explicit")
for n in $names; do command -v "$n" >/dev/null 2>&1 && candidates+=("$(command -v "$n")"); done
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for d in $(ls -d "$root"/versions/3.* 2>/dev/null | sort -V -r); do candidates+=("$d/bin/python3"); done
for d in /usr/local/bin /usr/bin; do for n in $names; do candidates+=("$d/$n"); done; done
for c in "${candidates[@]}"; do
  # pyenv shims may answer for a version that is not selected: print the real interpreter.
  if ok "$c"; then "$c" -c 'import sys; print(sys.executable)'; exit 0; fi
done
{
  echo "Concilia needs $label and could not find it."
  if [ "$role" = rasa ]; then
    echo "Rasa 3.6 (the last open-source Rasa) does not run on Python 3.11 or newer."
    echo "Install it with:  pyenv install 3.10   or   apt-get install python3.10 python3.10-venv"
    echo "or name one:      make run PYTHON310=/path/to/python3.10"
  else
    echo "Install it with:  pyenv install 3.11   or   apt-get install python3.11 python3.11-venv"
    echo "or name one:      make run PYTHON311=/path/to/python3.11"
  fi
} >&2
exit 1
