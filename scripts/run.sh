#!/usr/bin/env bash
# Starts the action server, the Rasa server and the gateway under a supervisor (scripts/supervise.py) that
# starts again, with backoff, whichever of them stops; Ctrl-C stops all three.
# Called by `make run` once the environments exist and the model is trained.
# Ports and addresses can be changed with ACTION_PORT, RASA_PORT, WEB_HOST, WEB_PORT; the folder for logs and
# the Rasa secret with CONCILIA_VAR (default var).
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077  # what is written here (database, logs, secret) is this user's alone

export ACTION_PORT=${ACTION_PORT:-5055}
export RASA_PORT=${RASA_PORT:-5005}
export WEB_HOST=${WEB_HOST:-127.0.0.1}
export WEB_PORT=${WEB_PORT:-8080}
export CONCILIA_VAR=${CONCILIA_VAR:-var}
mkdir -p "$CONCILIA_VAR/log"
chmod 700 "$CONCILIA_VAR"

# Rasa's HTTP API (which can load models) needs a secret; it is made once and kept in $CONCILIA_VAR, mode 600.
# It reaches Rasa and the gateway through the environment, never a command line (`ps` shows those to everyone).
if [ -z "${RASA_TOKEN:-}" ]; then
  [ -s "$CONCILIA_VAR/rasa_token" ] || .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' > "$CONCILIA_VAR/rasa_token"
  chmod 600 "$CONCILIA_VAR/rasa_token"
  RASA_TOKEN=$(cat "$CONCILIA_VAR/rasa_token")
fi
export RASA_TOKEN
export RASA_URL=${RASA_URL:-http://127.0.0.1:$RASA_PORT}

exec .venv/bin/python scripts/supervise.py
