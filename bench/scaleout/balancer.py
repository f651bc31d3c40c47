"""A small round-robin HTTP reverse proxy for the scale-out demo (bench/scaleout/run.py): it stands where
nginx, HAProxy or Traefik stand in production (docs/deploy.md), in front of several Rasa servers and in front
of several gateways' Telegram webhook listeners, and counts what each of them received.

    .venv/bin/python bench/scaleout/balancer.py --admin-port 7000 \
        --route rasa=5005:http://127.0.0.1:5105,http://127.0.0.1:5106 \
        --route telegram=8443:http://127.0.0.1:8451,http://127.0.0.1:8452 \
        --tls telegram=var/cert.pem:var/key.pem

Each ``--route NAME=PORT:URL[,URL...]`` listens on 127.0.0.1:PORT and hands each request to the next
upstream in turn (round robin), whatever the request. ``--tls NAME=CERT:KEY`` serves that route over
HTTPS (Telegram only calls https:// webhooks), as the TLS-terminating proxy of production does.

An upstream that refuses the connection is skipped for ``--fail-seconds`` and the request goes to the next
one (nothing reached the refused upstream, so retrying is safe); an upstream that accepted the request and
then failed or timed out is not retried (the request may have been processed): the client gets a 502.

The admin port (loopback only) answers ``GET /stats`` (per route and upstream: requests answered, by
status class, and connections refused), ``GET /log`` (one record per request: route, upstream, path, the
conversation key read from the body, start, and once answered end and status) and ``POST /reset``. The
conversation key is the ``sender`` of a Rasa REST call or the chat id of a Telegram update, found with a
regular expression in the first 4 KB of the body, so the benchmark can follow one person across processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

# the conversation a request belongs to: Rasa's REST channel sends {"sender": ...}; a Telegram update has
# "chat": {"id": ...} (a message) or "from": {"id": ...} (a button press)
_KEY = re.compile(rb'"(?:sender|chat"\s*:\s*\{\s*"id|from"\s*:\s*\{\s*"id)"\s*:\s*"?([-\w]{1,128})')
# hop-by-hop headers (RFC 9110, 7.6.1) and those aiohttp sets itself
_NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "upgrade", "te", "host", "content-length"}


@dataclass
class Upstream:
    url: str
    requests: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    down_until: float = 0.0

    def stats(self) -> dict[str, Any]:
        return {"requests": self.requests, "by_status": dict(self.by_status), "refused": self.refused}


@dataclass
class Route:
    name: str
    port: int
    upstreams: list[Upstream]
    tls: tuple[str, str] | None = None
    turn: int = 0

    def order(self, now: float) -> list[Upstream]:
        """The upstreams to try for one request: the next in turn first, those marked down last."""
        n = len(self.upstreams)
        first = self.turn % n
        self.turn += 1
        ring = [self.upstreams[(first + i) % n] for i in range(n)]
        return sorted(ring, key=lambda u: u.down_until > now)  # stable: keeps the round-robin order


class Balancer:
    """The routes, their counters and the forwarding handler; one shared client session."""

    def __init__(self, routes: list[Route], fail_seconds: float = 2.0, timeout: float = 120.0) -> None:
        self.routes = routes
        self.fail_seconds = fail_seconds
        self.timeout = timeout
        self.log: list[dict[str, Any]] = []
        self.session: aiohttp.ClientSession | None = None

    def handler(self, route: Route):  # noqa: ANN201 - an aiohttp handler
        async def forward(request: web.Request) -> web.StreamResponse:
            return await self.forward(route, request)

        return forward

    async def forward(self, route: Route, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        body = await request.read()
        key = _KEY.search(body[:4096]) if body else None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
        headers["X-Forwarded-For"] = request.remote or ""
        headers["X-Forwarded-Proto"] = "https" if route.tls else "http"
        record: dict[str, Any] = {
            "route": route.name,
            "path": request.path,
            "key": key.group(1).decode() if key else None,
            "start": time.time(),
        }
        self.log.append(record)
        for upstream in route.order(time.monotonic()):
            record["upstream"] = upstream.url  # while in flight too
            try:
                async with self.session.request(
                    request.method,
                    upstream.url + request.path_qs,
                    data=body or None,
                    headers=headers,
                    allow_redirects=False,
                ) as resp:
                    data = await resp.read()
                    answer = web.Response(status=resp.status, body=data)
                    for name, value in resp.headers.items():
                        if name.lower() not in _NOT_FORWARDED:
                            answer.headers[name] = value
            except aiohttp.ClientConnectorError:
                upstream.refused += 1
                upstream.down_until = time.monotonic() + self.fail_seconds
                continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                upstream.requests += 1
                upstream.by_status["error"] += 1
                record.update(upstream=upstream.url, end=time.time(), status=502, error=type(exc).__name__)
                return web.Response(status=502, text="balancer: the upstream failed")
            upstream.requests += 1
            upstream.by_status[f"{resp.status // 100}xx"] += 1
            record.update(upstream=upstream.url, end=time.time(), status=resp.status)
            return answer
        record.update(upstream=None, end=time.time(), status=503)
        return web.Response(status=503, text="balancer: no upstream answers")

    # ------------------------------------------------------------------ admin API

    def admin_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/stats", self._stats)
        app.router.add_get("/log", self._log)
        app.router.add_post("/reset", self._reset)
        return app

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({r.name: {u.url: u.stats() for u in r.upstreams} for r in self.routes})

    async def _log(self, request: web.Request) -> web.Response:
        since = float(request.query.get("since", "0"))
        return web.json_response([r for r in self.log if r["start"] >= since])

    async def _reset(self, request: web.Request) -> web.Response:
        self.log.clear()
        for route in self.routes:
            for u in route.upstreams:
                u.requests, u.refused = 0, 0
                u.by_status.clear()
        return web.json_response({"ok": True})


async def _site(app: web.Application, port: int, tls: tuple[str, str] | None = None) -> web.AppRunner:
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    return runner


async def serve(balancer: Balancer, admin_port: int) -> None:
    balancer.session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),  # no cap: the upstreams are what is being measured
        timeout=aiohttp.ClientTimeout(total=balancer.timeout, connect=2),
        auto_decompress=False,
    )
    runners = [await _site(balancer.admin_app(), admin_port)]
    for route in balancer.routes:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", balancer.handler(route))
        runners.append(await _site(app, route.port, route.tls))
        scheme = "https" if route.tls else "http"
        targets = ", ".join(u.url for u in route.upstreams)
        print(f"{route.name}: {scheme}://127.0.0.1:{route.port} -> {targets}", flush=True)
    print(f"admin: http://127.0.0.1:{admin_port}/stats", flush=True)
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
        await balancer.session.close()


def parse_route(spec: str) -> Route:
    """``NAME=PORT:URL[,URL...]`` -> Route."""
    name, _, rest = spec.partition("=")
    port, _, urls = rest.partition(":")
    if not name or not port.isdigit() or not urls:
        raise argparse.ArgumentTypeError(f"--route {spec!r}: write NAME=PORT:URL[,URL...]")
    return Route(name, int(port), [Upstream(u.rstrip("/")) for u in urls.split(",") if u])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--route", action="append", required=True, type=parse_route, help="NAME=PORT:URL[,URL...]"
    )
    ap.add_argument(
        "--tls", action="append", default=[], help="NAME=CERT_FILE:KEY_FILE (serve NAME over HTTPS)"
    )
    ap.add_argument("--admin-port", type=int, required=True, help="loopback port of /stats, /log, /reset")
    ap.add_argument("--fail-seconds", type=float, default=2.0, help="skip a refusing upstream this long")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds for one upstream answer")
    args = ap.parse_args(argv)
    routes: dict[str, Route] = {r.name: r for r in args.route}
    for spec in args.tls:
        name, _, files = spec.partition("=")
        cert, _, key = files.partition(":")
        if name not in routes or not cert or not key:
            ap.error(f"--tls {spec!r}: write NAME=CERT_FILE:KEY_FILE for a NAME given with --route")
        routes[name].tls = (cert, key)
    asyncio.run(serve(Balancer(list(routes.values()), args.fail_seconds, args.timeout), args.admin_port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
