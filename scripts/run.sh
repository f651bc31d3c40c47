#!/usr/bin/env bash
# Starts the action server, the Rasa server and the gateway; Ctrl-C stops all three.
# Called by `make run` once the environments exist and the model is trained.
# Ports and addresses can be changed with ACTION_PORT, RASA_PORT, WEB_HOST, WEB_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

ACTION_PORT=${ACTION_PORT:-5055}
RASA_PORT=${RASA_PORT:-5005}
export WEB_HOST=${WEB_HOST:-127.0.0.1}
export WEB_PORT=${WEB_PORT:-8080}
mkdir -p var/log

# Rasa's HTTP API (which can load models) needs a token; it is made once and kept in var/.
if [ -z "${RASA_TOKEN:-}" ]; then
  [ -s var/rasa_token ] || { umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' > var/rasa_token; }
  RASA_TOKEN=$(cat var/rasa_token)
fi
export RASA_TOKEN
export RASA_URL=${RASA_URL:-http://127.0.0.1:$RASA_PORT}

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping Concilia..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Stopped."
}
trap stop INT TERM EXIT

echo "==> Starting the action server on 127.0.0.1:$ACTION_PORT (log: var/log/actions.log)"
SANIC_HOST=127.0.0.1 PYTHONPATH=$PWD .venv-rasa/bin/rasa run actions --actions actions --port "$ACTION_PORT" \
  > var/log/actions.log 2>&1 &
pids+=($!)

echo "==> Starting Rasa on 127.0.0.1:$RASA_PORT (log: var/log/rasa.log)"
# scripts/rasa_server.py is the `rasa` command with the action answers' validator built once (3x less CPU)
.venv-rasa/bin/python scripts/rasa_server.py run --enable-api --auth-token="$RASA_TOKEN" -i 127.0.0.1 -p "$RASA_PORT" \
  --model models/concilia.tar.gz --endpoints endpoints.yml --credentials credentials.yml \
  > var/log/rasa.log 2>&1 &
pids+=($!)

printf "==> Loading the model"
for _ in $(seq 1 240); do
  if curl -fs "http://127.0.0.1:$RASA_PORT/status?token=$RASA_TOKEN" 2>/dev/null | grep -q '"model_file"'; then break; fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then echo; echo "Rasa stopped while starting: see var/log/rasa.log"; tail -n 20 var/log/rasa.log; exit 1; fi
  printf "."; sleep 1
done
echo " ready."

if [ -f bot/app.py ]; then
  echo "==> Starting the gateway (log: var/log/gateway.log)"
  .venv/bin/concilia run > var/log/gateway.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 60); do
    curl -fs "http://$WEB_HOST:$WEB_PORT/healthz" >/dev/null 2>&1 && break
    if ! kill -0 "${pids[2]}" 2>/dev/null; then echo "The gateway stopped while starting:"; tail -n 20 var/log/gateway.log; exit 1; fi
    sleep 0.5
  done
  echo
  echo "Concilia is running."
  echo "  Web chat:  http://$WEB_HOST:$WEB_PORT/"
  [ -n "${TELEGRAM_BOT_TOKEN:-}" ] && echo "  Telegram:  the bot answers on Telegram too."
else
  echo
  echo "Concilia is running (Rasa REST channel):"
  echo "  curl -s -XPOST http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook -d '{\"sender\":\"me\",\"message\":\"ciao\"}'"
fi
echo "Press Ctrl-C to stop."
wait -n "${pids[@]}" || true
echo "A process stopped: see var/log/."
