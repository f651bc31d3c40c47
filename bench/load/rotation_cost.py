"""What a new Rasa conversation costs Rasa (bot/conversation/conversations.py): the three calls of the tracker
API the gateway makes when it gives a person a new Rasa id (her slots read, set on the new id, the old one
erased), each timed by Rasa's CPU time, against an ordinary message.

Start Rasa and the action server as `make run` does, on ports of your choice, then (the secret in a file):

    .venv-rasa/bin/rasa run actions --port 5199 &
    RASA_TOKEN=$(cat /tmp/tok) .venv-rasa/bin/python scripts/rasa_server.py run --enable-api \
        --model models/concilia.tar.gz --endpoints <endpoints with action server :5199> --port 5198 &
    .venv/bin/python bench/load/rotation_cost.py --pid <Rasa's pid> --token-file /tmp/tok

Prints Rasa's CPU ms per call for each, over 30 conversations of 30 messages each.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx

from bench.load.machine import cpu_seconds
from bot.assistant.rasa import rasa_jwt

MESSAGES = [
    "ciao",
    "centri estivi a Magenta per luglio",
    "e quanto costa?",
    "mio figlio ha 7 anni",
    "grazie",
    "nido aperto il sabato a Legnano",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pid", type=int, required=True, help="the Rasa server's process")
    ap.add_argument("--token-file", type=Path, required=True, help="a file holding its RASA_TOKEN")
    ap.add_argument("--url", default="http://127.0.0.1:5198")
    ap.add_argument("--conversations", type=int, default=30)
    args = ap.parse_args()
    headers = {"Authorization": f"Bearer {rasa_jwt(args.token_file.read_text().strip())}"}
    base, n = args.url, args.conversations
    client = httpx.Client(timeout=30, headers=headers)
    senders = [f"rot{i}-{time.time_ns()}" for i in range(n)]
    for sender in senders:
        for k in range(30):
            client.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": MESSAGES[k % 6]})
    slots: dict[str, dict] = {}

    def read(sender: str) -> None:
        got = client.get(f"{base}/conversations/{sender}/tracker", params={"include_events": "NONE"}).json()
        slots[sender] = {
            k: v for k, v in got["slots"].items() if v is not None and k != "session_started_metadata"
        }

    def carry(sender: str) -> None:
        events = [{"event": "slot", "name": k, "value": v} for k, v in slots[sender].items()]
        client.post(f"{base}/conversations/new-{sender}/tracker/events", json=events).raise_for_status()

    def erase(sender: str) -> None:
        client.put(f"{base}/conversations/{sender}/tracker/events", json=[]).raise_for_status()

    def message(sender: str) -> None:
        client.post(
            f"{base}/webhooks/rest/webhook", json={"sender": f"new-{sender}", "message": "e quanto costa?"}
        )

    for name, call in (
        ("her slots read (GET tracker, no events)", read),
        ("set on the new id (POST events)", carry),
        ("the old one erased (PUT no events)", erase),
        ("an ordinary message, for reference", message),
    ):
        start = cpu_seconds(args.pid) or 0.0
        for sender in senders:
            call(sender)
        spent = (cpu_seconds(args.pid) or 0.0) - start
        print(f"{name}: {spent / n * 1000:.1f} ms of Rasa's CPU a call", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
