"""Run the fake Telegram Bot API server: ``python -m harness.fake_telegram --port 8081``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from harness.fake_telegram.server import FakeTelegramServer


async def _serve(
    host: str, port: int, token: str | None, first_update_id: int | None, group_limit: int | None
) -> None:
    server = FakeTelegramServer(
        token=token, first_update_id=first_update_id, group_messages_per_minute=group_limit
    )
    base = await server.start(host, port)
    print(f"fake Telegram Bot API on {base} (PTB base_url: {server.api_base})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.fake_telegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="accept only this bot token (default: any)")
    parser.add_argument("--first-update-id", type=int, default=None, help="default: grows with the clock")
    parser.add_argument(
        "--group-limit", type=int, default=None, help="flood control: messages a minute per group (e.g. 20)"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    asyncio.run(_serve(args.host, args.port, args.token, args.first_update_id, args.group_limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
