"""A Rasa server that answers at once, for timing the gateway alone (bench/gateway/web.py).

It speaks the parts of Rasa's HTTP API the gateway uses: ``GET /`` (health), ``POST
/webhooks/rest/webhook`` (a realistic answer: one text with two buttons, then the meta as a ``custom``
item, the same bytes every time), ``GET /conversations/<id>/tracker`` (a few slots) and ``PUT``/``POST
/conversations/<id>/tracker/events`` (accepted). No token is checked. ``--delay`` makes each answer wait, as
a real Rasa's does, so that the gateway works at the pace of the chain rather than flat out. It runs in its
own process, so its CPU is not the gateway's::

    .venv/bin/python bench/gateway/fake_rasa.py --port 5005 [--delay 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

META = {
    "intent": "ask_holiday_camp",
    "confidence": 0.97,
    "topic": "summer_camp",
    "territory": "magentino",
    "comune": "Corbetta",
    "service_ids": ["estate-insieme-corbetta", "campus-ticino"],
    "handoff": False,
    "fallback": False,
    "referral": None,
    "clarify": None,
}
TEXT = (
    "A Corbetta per luglio ci sono due centri estivi per bambini di 7 anni:\n"
    "• Estate insieme — Cooperativa Esempio (dati di esempio), 29 giugno - 31 luglio, lun-ven 8-17, 60 € a "
    "settimana. Iscrizioni entro il 15 maggio.\n"
    "• Campus Ticino — Associazione Esempio (dati di esempio), 6 - 31 luglio, lun-ven 8.30-16.30, 55 € a "
    "settimana."
)
DELAY = web.AppKey("delay", float)
BUTTONS = [
    {"title": "Dettagli", "payload": "/show_service"},
    {"title": "Altro", "payload": "/show_more"},
]


def answer(sender: str) -> list[dict[str, object]]:
    return [
        {"recipient_id": sender, "text": TEXT, "buttons": BUTTONS},
        {"recipient_id": sender, "custom": {"meta": META}},
    ]


async def webhook(request: web.Request) -> web.Response:
    body = await request.json()
    delay = request.app[DELAY]
    if delay:
        await asyncio.sleep(delay)
    return web.json_response(answer(str(body.get("sender", ""))))


async def tracker(request: web.Request) -> web.Response:
    slots = {"comune": "Corbetta", "territory": "magentino", "topic": "summer_camp"}
    return web.json_response({"sender_id": request.match_info["sender"], "slots": slots, "events": []})


async def events(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"sender_id": request.match_info["sender"], "events": []})


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello from Rasa: 3.6.21 (a fake, answering at once)")


def make_app(delay: float = 0.0) -> web.Application:
    app = web.Application()
    app[DELAY] = delay
    app.router.add_get("/", hello)
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_get("/conversations/{sender}/tracker", tracker)
    app.router.add_put("/conversations/{sender}/tracker/events", events)
    app.router.add_post("/conversations/{sender}/tracker/events", events)
    return app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before each answer (default: none)")
    args = ap.parse_args(argv)
    print(json.dumps({"listening": f"http://{args.host}:{args.port}"}), flush=True)
    web.run_app(make_app(args.delay), host=args.host, port=args.port, access_log=None, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
