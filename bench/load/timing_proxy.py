"""A timing HTTP proxy for the load benchmark: it forwards every request to its target and records when
it started and ended, so the time of each Rasa call (gateway -> Rasa) and of each custom action call
(Rasa -> action server) is known per message without touching the code of either side.

    .venv/bin/python bench/load/timing_proxy.py --route rasa=5105:http://127.0.0.1:5005 \
        --route actions=5155:http://127.0.0.1:5055

``GET /_proxy/records`` (on any of its ports) returns the records:
``[{route, path, sender, action, start, end, status, req_bytes, resp_bytes}]`` with ``start``/``end`` from
``time.time()``; ``POST /_proxy/reset`` forgets them. The sender is read from the JSON body (``sender`` for
Rasa's REST channel, ``sender_id`` and ``next_action`` for the action server) with a regular expression,
to keep the proxy cheap. The proxy adds a loopback hop to each call (well under a millisecond when the
machine is idle); the benchmark reports it as part of the gateway's share, not of Rasa's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import time
from typing import Any

import aiohttp
from aiohttp import web

_SENDER = re.compile(rb'"sender(?:_id)?"\s*:\s*"([^"]{1,128})"')
_ACTION = re.compile(rb'"next_action"\s*:\s*"([^"]{1,128})"')
_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class Proxy:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.session: aiohttp.ClientSession | None = None

    def handler(self, route: str, target: str):  # noqa: ANN201
        async def forward(request: web.Request) -> web.StreamResponse:
            if request.path == "/_proxy/records":
                return web.json_response(self.records)
            if request.path == "/_proxy/reset":
                self.records.clear()
                return web.json_response({"ok": True})
            assert self.session is not None
            body = await request.read()
            start = time.time()
            sender = _SENDER.search(body[:4096]) if body else None
            action = _ACTION.search(body[:4096]) if body else None
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
            record: dict[str, Any] = {
                "route": route,
                "path": request.path,
                "sender": sender.group(1).decode() if sender else None,
                "action": action.group(1).decode() if action else None,
                "start": start,
                "req_bytes": len(body),
            }
            try:
                async with self.session.request(
                    request.method,
                    target + request.path_qs,
                    data=body or None,
                    headers=headers,
                    allow_redirects=False,
                ) as resp:
                    data = await resp.read()
                    status = resp.status
                    ctype = resp.headers.get("Content-Type", "application/octet-stream")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                record.update(end=time.time(), status=599, error=type(exc).__name__, resp_bytes=0)
                self.records.append(record)
                return web.Response(status=502, text="proxy: target unreachable")
            record.update(end=time.time(), status=status, resp_bytes=len(data))
            self.records.append(record)
            response = web.Response(status=status, body=data)
            response.headers["Content-Type"] = ctype
            return response

        return forward


async def serve(routes: list[tuple[str, int, str]]) -> None:
    proxy = Proxy()
    proxy.session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=200, limit_per_host=200),
        timeout=aiohttp.ClientTimeout(total=120),
    )
    runners = []
    for name, port, target in routes:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", proxy.handler(name, target.rstrip("/")))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        print(f"{name}: 127.0.0.1:{port} -> {target}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()
        await proxy.session.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--route", action="append", required=True, help="NAME=PORT:TARGET_URL")
    args = ap.parse_args()
    routes = []
    for spec in args.route:
        name, rest = spec.split("=", 1)
        port, target = rest.split(":", 1)
        routes.append((name, int(port), target))
    asyncio.run(serve(routes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
