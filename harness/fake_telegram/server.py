"""A fake Telegram Bot API server that speaks the real HTTP protocol (aiohttp).

Bot API: ``GET|POST /bot<token>/<method>`` with query, form-encoded, multipart or JSON parameters;
answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description", "parameters"}``
(5xx answers are an HTML error page, as Telegram's front servers give). See bot_api.py for what is
modelled.

Test control API (JSON):

* ``POST /_test/user_message`` ``{user_id, first_name, chat_id?, text | callback_data | button_text
  (+ message_id?) | location {latitude, longitude} | kind | sticker/photo/voice/...: true,
  message_thread_id?}`` → ``{update_id, message_id | callback_query_id}``
* ``GET /_test/sent?chat_id=&method=&all=1`` → every call the bot made (getUpdates excluded):
  ``[{method, params, time, ok, status, result, error}]`` (failed ones only with ``all=1``)
* ``GET /_test/wait_sent?chat_id=&method=sendMessage&count=1&timeout=5`` → waits for them (408 if not)
* ``POST /_test/fail`` ``{method, status: 429|5xx|4xx, times, retry_after, description, delay}``
* ``POST /_test/reset``; ``GET /_test/state``; ``GET /_test/messages?chat_id=``
* ``POST /_test/chat`` ``{chat_id, type, title, is_forum}`` (groups, forum supergroups)
* ``POST /_test/block`` ``{chat_id, blocked}``; ``POST /_test/delete_topic`` ``{chat_id, message_thread_id}``
* ``POST /_test/flood`` ``{per_window, window_seconds}``: groups' flood control (``per_window`` null: off)

An operator in a forum topic is a ``user_message`` with the group's ``chat_id`` and the topic's
``message_thread_id``; ``GET /_test/state`` lists each chat's topics.

In process::

    async with FakeTelegramServer() as tg:          # free port on 127.0.0.1
        settings.telegram_api_base = tg.api_base    # "http://127.0.0.1:PORT/bot"
        tg.user_message(user_id=42, text="/start")
        sent = await tg.wait_sent(chat_id=42)

Standalone: ``python -m harness.fake_telegram --port 8081``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from typing import Any

import aiohttp
from aiohttp import web

from harness.fake_telegram.bot_api import ApiError, FakeBotApi, coerce_params

log = logging.getLogger(__name__)

_ERROR_PAGE = (
    "<html>\r\n<head><title>{code} {text}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {text}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


class FakeTelegramServer:
    """The fake server: ``await start()`` on a free port, ``await stop()``; or ``async with``."""

    def __init__(
        self,
        token: str | None = None,
        first_update_id: int | None = None,
        group_messages_per_minute: int | None = None,
        group_window_seconds: float = 60.0,
    ) -> None:
        self.api = FakeBotApi(
            token=token,
            first_update_id=first_update_id,
            group_messages_per_minute=group_messages_per_minute,
            group_window_seconds=group_window_seconds,
        )
        self._runner: web.AppRunner | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._stopping = False
        self.base_url = ""

    # ------------------------------------------------------------------ life cycle

    @property
    def api_base(self) -> str:
        """What to give PTB as ``base_url`` (the token is appended to it)."""
        return self.base_url + "/bot"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._bot_api)
        app.router.add_post("/_test/user_message", self._t_user_message)
        app.router.add_get("/_test/sent", self._t_sent)
        app.router.add_get("/_test/wait_sent", self._t_wait_sent)
        app.router.add_post("/_test/fail", self._t_fail)
        app.router.add_post("/_test/reset", self._t_reset)
        app.router.add_get("/_test/state", self._t_state)
        app.router.add_get("/_test/messages", self._t_messages)
        app.router.add_post("/_test/chat", self._t_chat)
        app.router.add_post("/_test/block", self._t_block)
        app.router.add_post("/_test/delete_topic", self._t_delete_topic)
        app.router.add_post("/_test/flood", self._t_flood)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 = a free port) and return the base URL, e.g. http://127.0.0.1:8081."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://{host}:{sock.getsockname()[1]}"
        self._stopping = False
        self.api._closing = False
        self._session = aiohttp.ClientSession()
        self._webhook_task = asyncio.create_task(self._deliver_to_webhook())
        return self.base_url

    async def stop(self) -> None:
        self._stopping = True
        self.api.close()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ in-process helpers

    def user_message(self, **kwargs: Any) -> dict[str, Any]:
        return self.api.user_message(**kwargs)

    def sent(
        self, chat_id: int | None = None, method: str | None = None, include_failed: bool = False
    ) -> list[dict[str, Any]]:
        return self.api.sent(chat_id=chat_id, method=method, include_failed=include_failed)

    async def wait_sent(
        self,
        chat_id: int | None = None,
        method: str | None = "sendMessage",
        count: int = 1,
        timeout: float = 5,
    ) -> list[dict[str, Any]]:
        return await self.api.wait_sent(chat_id=chat_id, method=method, count=count, timeout=timeout)

    def fail(
        self,
        method: str,
        status: int = 429,
        times: int = 1,
        retry_after: int = 1,
        description: str | None = None,
        delay: float = 0.0,
    ) -> None:
        self.api.fail(
            method, status=status, times=times, retry_after=retry_after, description=description, delay=delay
        )

    def reset(self) -> None:
        self.api.reset()

    def add_chat(
        self, chat_id: int, type: str = "supergroup", title: str | None = None, is_forum: bool = False
    ) -> dict[str, Any]:
        return self.api.add_chat(chat_id, type=type, title=title, is_forum=is_forum)

    def state(self) -> dict[str, Any]:
        return self.api.state()

    # ------------------------------------------------------------------ Bot API over HTTP

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: invalid JSON body")
                params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        params[key] = {"file_name": value.filename, "size": len(value.file.read())}
                    else:
                        params[key] = value
        return coerce_params(params)

    async def _bot_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        try:
            params = await self._params(request)
            result = await self.api.call(token, method, params)
        except ApiError as exc:
            if exc.status >= 500:
                text = exc.description
                return web.Response(
                    status=exc.status,
                    text=_ERROR_PAGE.format(code=exc.status, text=text),
                    content_type="text/html",
                )
            return _json(exc.body(), status=exc.status)
        return _json({"ok": True, "result": result})

    # ------------------------------------------------------------------ webhook delivery

    async def _deliver_to_webhook(self) -> None:
        backoff = 0.1
        while not self._stopping:
            hook = self.api.webhook
            if hook is None or not self.api.pending or self._session is None:
                await self.api.wait_change(1.0)
                continue
            update = self.api.pending[0]
            headers = {}
            if hook.secret:
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret
            error: str | None = None
            try:
                async with self._session.post(
                    hook.url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
                ) as resp:
                    if not 200 <= resp.status < 300:
                        error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"Connection failed: {exc.__class__.__name__}"
            if error is None:
                if self.api.pending and self.api.pending[0] is update:
                    self.api.pending.pop(0)
                self.api.deliveries[update["update_id"]] += 1
                backoff = 0.1
                continue
            hook.last_error, hook.last_error_date = error, int(time.time())
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    # ------------------------------------------------------------------ test control API

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if not request.body_exists:
            return {}
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return body

    async def _guarded(self, request: web.Request, action: Any) -> web.Response:
        try:
            body = await self._body(request)
            return _json(await action(body))
        except ApiError as exc:
            return _json({"ok": False, "description": exc.description}, status=400)
        except (ValueError, TypeError, KeyError) as exc:
            return _json({"ok": False, "description": f"{exc.__class__.__name__}: {exc}"}, status=400)

    async def _t_user_message(self, request: web.Request) -> web.Response:
        async def act(body: dict[str, Any]) -> Any:
            if "location" in body and isinstance(body["location"], dict):
                body["location"] = (body["location"]["latitude"], body["location"]["longitude"])
            return self.api.user_message(**body)

        return await self._guarded(request, act)

    async def _t_sent(self, request: web.Request) -> web.Response:
        q = request.query
        return _json(
            self.api.sent(
                chat_id=_int(q.get("chat_id")),
                method=q.get("method") or None,
                include_failed=q.get("all") in ("1", "true"),
            )
        )

    async def _t_wait_sent(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            found = await self.api.wait_sent(
                chat_id=_int(q.get("chat_id")),
                method=q.get("method", "sendMessage") or None,
                count=int(q.get("count", "1")),
                timeout=float(q.get("timeout", "5")),
            )
        except TimeoutError as exc:
            return _json({"ok": False, "description": str(exc)}, status=408)
        return _json(found)

    async def _t_fail(self, request: web.Request) -> web.Response:
        async def act(body: dict[str, Any]) -> Any:
            self.api.fail(
                str(body["method"]),
                status=int(body.get("status", 429)),
                times=int(body.get("times", 1)),
                retry_after=int(body.get("retry_after", 1)),
                description=body.get("description"),
                delay=float(body.get("delay", 0.0)),
            )
            return {"ok": True}

        return await self._guarded(request, act)

    async def _t_reset(self, request: web.Request) -> web.Response:
        self.api.reset()
        return _json({"ok": True})

    async def _t_state(self, request: web.Request) -> web.Response:
        return _json(self.api.state())

    async def _t_messages(self, request: web.Request) -> web.Response:
        async def act(_body: dict[str, Any]) -> Any:
            return self.api.messages(int(request.query["chat_id"]))

        return await self._guarded(request, act)

    async def _t_chat(self, request: web.Request) -> web.Response:
        async def act(body: dict[str, Any]) -> Any:
            return self.api.add_chat(
                int(body["chat_id"]),
                type=body.get("type", "supergroup"),
                title=body.get("title"),
                is_forum=bool(body.get("is_forum", False)),
            )

        return await self._guarded(request, act)

    async def _t_block(self, request: web.Request) -> web.Response:
        async def act(body: dict[str, Any]) -> Any:
            self.api.block(int(body["chat_id"]), bool(body.get("blocked", True)))
            return {"ok": True}

        return await self._guarded(request, act)

    async def _t_flood(self, request: web.Request) -> web.Response:
        async def act(body: dict[str, Any]) -> Any:
            per_window = body.get("per_window")
            self.api.group_messages_per_minute = int(per_window) if per_window else None
            self.api.group_window_seconds = float(body.get("window_seconds", 60.0))
            self.api._group_sends.clear()
            return {"ok": True}

        return await self._guarded(request, act)

    async def _t_delete_topic(self, request: web.Request) -> web.Response:
        async def act(body: dict[str, Any]) -> Any:
            self.api.delete_topic(int(body["chat_id"]), int(body["message_thread_id"]))
            return {"ok": True}

        return await self._guarded(request, act)
