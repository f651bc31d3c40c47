"""State and methods of the fake Telegram Bot API, without the HTTP around it (see server.py).

What it models, as Telegram does it:

* updates: ids only grow (also across ``reset`` and, roughly, across restarts: the first id comes from the
  clock), ``getUpdates`` confirms every update below ``offset``, waits up to ``timeout`` seconds for a new
  one, and ends an older waiting ``getUpdates`` with 409 Conflict; with a webhook set, updates are POSTed
  to it with ``X-Telegram-Bot-Api-Secret-Token`` and ``getUpdates`` answers 409;
* chats: a private chat exists once its person has written to the bot; groups and forum supergroups are
  created by the test (``add_chat``); per-chat message ids; a person can block the bot (403);
* messages the bot sends are validated like Telegram does it: text 1–4,096 characters after entity
  parsing, strict HTML, inline buttons with 1–64 bytes of ``callback_data``, forum topics that exist;
* errors are ``ApiError(status, description, retry_after)``; the test can make the next N calls of a
  method fail with 429 (flood control, ``retry_after``) or 5xx (a gateway error page, as Telegram's nginx
  answers), or be slow; with ``group_messages_per_minute`` set, groups get Telegram's flood control
  (429 with ``retry_after`` past that many messages in ``group_window_seconds``, a minute by default);
* forum supergroups: createForumTopic / editForumTopic / closeForumTopic / reopenForumTopic /
  deleteForumTopic, messages with ``message_thread_id``, copyMessage between chats; deleteMessages.

Adding a Bot API method: write ``async def api_<methodname>(self, p)`` (``p`` has coerced parameters)
returning the ``result``; the name is matched case-insensitively, like Telegram does.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import re
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.fake_telegram.html_check import EntityParseError, parse_html, utf16_length

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
DEFAULT_TOPIC_COLOR = 7322096
TOPIC_COLORS = {7322096, 16766590, 13338331, 9367192, 16749490, 16478047}
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
UPDATE_TYPES = ("message", "edited_message", "callback_query", "my_chat_member", "chat_member")

# parameters that arrive JSON-encoded in form posts, and those that are numbers or booleans
JSON_FIELDS = {
    "reply_markup",
    "commands",
    "allowed_updates",
    "entities",
    "caption_entities",
    "scope",
    "link_preview_options",
    "reply_parameters",
    "media",
    "message_ids",
}
INT_FIELDS = {
    "message_id",
    "from_chat_id",
    "offset",
    "limit",
    "timeout",
    "message_thread_id",
    "user_id",
    "cache_time",
    "max_connections",
    "icon_color",
}
BOOL_FIELDS = {
    "drop_pending_updates",
    "show_alert",
    "disable_notification",
    "protect_content",
    "disable_web_page_preview",
    "allow_sending_without_reply",
}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            out["parameters"] = {"retry_after": self.retry_after}
        return out


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class Failure:
    status: int = 429
    times: int = 1
    retry_after: int = 1
    description: str | None = None
    delay: float = 0.0  # seconds to wait before answering (a slow Telegram)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    time: float
    ok: bool = True
    status: int = 200
    result: Any = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "params": self.params,
            "time": self.time,
            "ok": self.ok,
            "status": self.status,
            "result": self.result,
            "error": self.error,
        }


@dataclass
class Webhook:
    url: str
    secret: str | None
    allowed_updates: list[str] | None
    max_connections: int = 40
    last_error: str | None = None
    last_error_date: int | None = None


@dataclass
class Topic:
    message_thread_id: int
    name: str
    icon_color: int
    closed: bool = False


@dataclass
class ChatState:
    chat: dict[str, Any]
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_message_id: int = 1
    topics: dict[int, Topic] = field(default_factory=dict)
    blocked: bool = False  # the person blocked the bot (private chats)

    def new_message_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid


def _coerce_value(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError as exc:
            raise bad_request(f"can't parse {name} JSON object") from exc
    if name in BOOL_FIELDS:
        return value.lower() in ("true", "1")
    if name in INT_FIELDS or name == "chat_id":
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        if name != "chat_id":
            raise bad_request(f"invalid {name} specified")
    return value


def coerce_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Parameters as Telegram reads them, whatever the encoding (query, form, multipart, JSON)."""
    return {k: _coerce_value(k, v) for k, v in raw.items() if v is not None}


def _first_update_id() -> int:
    # grows with the clock, so a restarted fake server does not reuse ids a gateway already processed
    return max(1, (int(time.time()) - 1_700_000_000) * 10)


class FakeBotApi:
    """One bot's view of Telegram."""

    def __init__(
        self,
        token: str | None = None,
        first_update_id: int | None = None,
        group_messages_per_minute: int | None = None,
        group_window_seconds: float = 60.0,
    ) -> None:
        self.token = token  # when set, other tokens get 401
        # Telegram's flood control in groups (about 20 messages a minute): off unless asked for; tests may
        # shrink the window to keep fast
        self.group_messages_per_minute = group_messages_per_minute
        self.group_window_seconds = group_window_seconds
        bot_id = int(token.split(":")[0]) if token and token.split(":")[0].isdigit() else 7000000001
        self.me = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Concilia (test)",
            "username": "concilia_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._next_update_id = first_update_id or _first_update_id()
        self._ids = itertools.count(1)
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.allowed_updates: list[str] | None = None
        self.webhook: Webhook | None = None
        self._poll_generation = 0
        self._closing = False
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget chats, users, updates, calls and failures.

        The bot's configuration (webhook, allowed updates, commands) is kept, and update ids keep growing,
        so a gateway that is running across tests goes on working.
        """
        old = getattr(self, "_changed", None)
        if old is not None:
            old.set()  # wake any waiter: it will see the new state
        self.chats: dict[int, ChatState] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.pending: list[dict[str, Any]] = []
        self.deliveries: Counter[int] = Counter()
        self.calls: list[Call] = []
        self.failures: dict[str, deque[Failure]] = {}
        self._group_sends: dict[int, deque[float]] = {}
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        """Wake whoever waits for an update or a call (long polls, webhook sender, wait_sent)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, timeout: float) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def close(self) -> None:
        self._closing = True
        self._notify()

    # ------------------------------------------------------------------ chats and users

    def add_chat(
        self,
        chat_id: int,
        type: str = "supergroup",
        title: str | None = None,
        is_forum: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Create (or update) a group, supergroup or channel the bot is a member of."""
        chat: dict[str, Any] = {"id": chat_id, "type": type}
        if type == "private":
            chat["first_name"] = extra.pop("first_name", "Test")
        else:
            chat["title"] = title or f"Gruppo {chat_id}"
        if is_forum:
            chat["is_forum"] = True
        chat.update(extra)
        state = self.chats.get(chat_id)
        if state is None:
            self.chats[chat_id] = ChatState(chat=chat)
        else:
            state.chat.update(chat)
        return chat

    def _user(self, user_id: int, first_name: str | None, **extra: Any) -> dict[str, Any]:
        user = self.users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": first_name or "Test", "language_code": "it"}
            self.users[user_id] = user
        if first_name:
            user["first_name"] = first_name
        user.update({k: v for k, v in extra.items() if v is not None})
        return user

    def _chat(self, chat_id: Any) -> ChatState:
        state = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if state is None and isinstance(chat_id, str):
            state = next((c for c in self.chats.values() if c.chat.get("username") == chat_id[1:]), None)
        if state is None:
            raise bad_request("chat not found")
        return state

    def _writable_chat(self, chat_id: Any) -> ChatState:
        state = self._chat(chat_id)
        if state.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return state

    def block(self, chat_id: int, blocked: bool = True) -> None:
        self._chat(chat_id).blocked = blocked

    def delete_topic(self, chat_id: int, message_thread_id: int) -> None:
        """An operator deletes a forum topic (with its messages)."""
        state = self._chat(chat_id)
        state.topics.pop(message_thread_id, None)
        state.messages = {
            mid: m
            for mid, m in state.messages.items()
            if m.get("message_thread_id") != message_thread_id and mid != message_thread_id
        }

    # ------------------------------------------------------------------ updates

    def _push_update(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, kind: obj}
        self._next_update_id += 1
        if self.allowed_updates and kind not in self.allowed_updates:
            return update  # Telegram never produces it for this bot
        self.pending.append(update)
        self._notify()
        return update

    def _confirm_below(self, offset: int) -> None:
        self.pending = [u for u in self.pending if u["update_id"] >= offset]

    def user_message(
        self,
        *,
        user_id: int,
        first_name: str | None = "Test",
        chat_id: int | None = None,
        text: str | None = None,
        callback_data: str | None = None,
        button_text: str | None = None,
        message_id: int | None = None,
        location: dict[str, float] | tuple[float, float] | list[float] | None = None,
        caption: str | None = None,
        kind: str | None = None,
        message_thread_id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        **media: Any,
    ) -> dict[str, Any]:
        """Something a person does in a chat, turned into the update Telegram would send.

        Exactly one of: ``text``; a button press (``callback_data`` and/or ``button_text``, on
        ``message_id`` or on the latest bot message that has such a button); ``location``; or a
        content kind the bot cannot read (``kind="sticker"`` or ``sticker=True``, also photo, voice,
        video, video_note, audio, document, animation, contact). ``chat_id`` defaults to the private chat
        with the person; a group chat must have been created with :meth:`add_chat`.
        """
        user = self._user(user_id, first_name, last_name=last_name, username=username)
        if chat_id is None or chat_id == user_id:
            chat_id = user_id
            state = self.chats.get(chat_id)
            if state is None:
                state = self.chats[chat_id] = ChatState(
                    chat={"id": user_id, "type": "private", "first_name": user["first_name"]}
                )
        else:
            state = self._chat(chat_id)
        if callback_data is not None or button_text is not None:
            return self._press_button(state, user, callback_data, button_text, message_id)

        for name, value in media.items():
            if value:
                kind = name
        message: dict[str, Any] = {
            "message_id": state.new_message_id(),
            "from": user,
            "chat": state.chat,
            "date": int(time.time()),
        }
        if message_thread_id is not None:
            if message_thread_id not in state.topics:
                raise bad_request("message thread not found")
            message["message_thread_id"] = message_thread_id
            message["is_topic_message"] = True
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_length(command)}]
        elif location is not None:
            if isinstance(location, dict):
                lat, lon = location["latitude"], location["longitude"]
            else:
                lat, lon = location
            message["location"] = {"latitude": float(lat), "longitude": float(lon)}
        elif kind is not None:
            message.update(_media(kind, next(self._ids)))
            if caption:
                message["caption"] = caption
        else:
            raise ValueError("user_message needs text, a button, a location or a content kind")
        if state.chat["type"] == "private":
            state.blocked = False  # writing to a bot unblocks it
        state.messages[message["message_id"]] = message
        update = self._push_update("message", message)
        return {"update_id": update["update_id"], "message_id": message["message_id"]}

    def _press_button(
        self,
        state: ChatState,
        user: dict[str, Any],
        callback_data: str | None,
        button_text: str | None,
        message_id: int | None,
    ) -> dict[str, Any]:
        def matches(button: dict[str, Any]) -> bool:
            if "callback_data" not in button:
                return False
            if callback_data is not None and button["callback_data"] != callback_data:
                return False
            return button_text is None or button.get("text") == button_text

        candidates: Iterable[dict[str, Any]]
        if message_id is not None:
            if message_id not in state.messages:
                raise bad_request("message not found")
            candidates = [state.messages[message_id]]
        else:
            candidates = sorted(state.messages.values(), key=lambda m: -m["message_id"])
        for msg in candidates:
            if msg.get("from", {}).get("id") != self.me["id"]:
                continue
            rows = (msg.get("reply_markup") or {}).get("inline_keyboard", [])
            for row in rows:
                for button in row:
                    if matches(button):
                        query_id = str(next(self._ids) * 1_000_003)
                        query = {
                            "id": query_id,
                            "from": user,
                            "message": msg,
                            "chat_instance": str(-abs(state.chat["id"]) * 7),
                            "data": button["callback_data"],
                        }
                        self.callback_queries[query_id] = {"answered": False, "chat_id": state.chat["id"]}
                        update = self._push_update("callback_query", query)
                        return {
                            "update_id": update["update_id"],
                            "callback_query_id": query_id,
                            "message_id": msg["message_id"],
                            "data": button["callback_data"],
                        }
        raise bad_request("no bot message with such a button in this chat")

    # ------------------------------------------------------------------ calls and failures

    def fail(
        self,
        method: str,
        status: int = 429,
        times: int = 1,
        retry_after: int = 1,
        description: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" for any but getUpdates) fail or be slow."""
        self.failures.setdefault(method.lower(), deque()).append(
            Failure(status=status, times=times, retry_after=retry_after, description=description, delay=delay)
        )

    def _take_failure(self, method: str) -> Failure | None:
        for key in (method.lower(), "*"):
            if key == "*" and method.lower() == "getupdates":
                continue
            queue = self.failures.get(key)
            if queue:
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.popleft()
                return failure
        return None

    def sent(
        self, chat_id: int | None = None, method: str | None = None, include_failed: bool = False
    ) -> list[dict[str, Any]]:
        """What the bot called (getUpdates excluded), oldest first."""
        out = []
        for call in self.calls:
            if not include_failed and not call.ok:
                continue
            if method is not None and call.method.lower() != method.lower():
                continue
            if chat_id is not None and call.params.get("chat_id") != chat_id:
                continue
            out.append(call.as_dict())
        return out

    async def wait_sent(
        self,
        chat_id: int | None = None,
        method: str | None = "sendMessage",
        count: int = 1,
        timeout: float = 5,
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` matching successful calls were made; TimeoutError otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.sent(chat_id=chat_id, method=method)
            if len(found) >= count:
                return found
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{len(found)} of {count} {method} calls after {timeout} s")
            await self.wait_change(left)

    async def call(self, token: str, method: str, params: dict[str, Any]) -> Any:
        """One Bot API call: ``result`` on success, ApiError otherwise."""
        if self.token is not None and token != self.token:
            raise ApiError(401, "Unauthorized")
        handler = getattr(self, "api_" + method.lower(), None)
        if handler is None:
            raise ApiError(404, "Not Found")
        record = method.lower() != "getupdates"
        call = Call(method=method, params=params, time=time.time())
        try:
            failure = self._take_failure(method)
            if failure is not None:
                if failure.delay:
                    await asyncio.sleep(failure.delay)
                if failure.status == 429:
                    raise ApiError(
                        429, f"Too Many Requests: retry after {failure.retry_after}", failure.retry_after
                    )
                if failure.status >= 400:
                    raise ApiError(failure.status, failure.description or _status_text(failure.status))
            result = await handler(params)
        except ApiError as exc:
            call.ok, call.status, call.error = False, exc.status, exc.description
            if record:
                self.calls.append(call)
                self._notify()
            raise
        call.result = result
        if record:
            self.calls.append(call)
            self._notify()
        return result

    # ------------------------------------------------------------------ bot API: updates and webhook

    async def api_getme(self, p: dict[str, Any]) -> dict[str, Any]:
        return dict(self.me)

    async def api_logout(self, p: dict[str, Any]) -> bool:
        return True

    async def api_close(self, p: dict[str, Any]) -> bool:
        return True

    async def api_getupdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.get("offset")
        limit = max(1, min(100, p.get("limit") or 100))
        timeout = max(0, min(50, p.get("timeout") or 0))
        if "allowed_updates" in p:
            self.allowed_updates = list(p["allowed_updates"]) or None
        if isinstance(offset, int) and offset < 0:
            keep = self.pending[offset:]
            self.pending = keep
            offset = None
        elif isinstance(offset, int):
            self._confirm_below(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll still waiting ends with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot "
                    "instance is running",
                )
            ready = [u for u in self.pending if offset is None or u["update_id"] >= offset][:limit]
            if ready or self._closing:
                for u in ready:
                    self.deliveries[u["update_id"]] += 1
                return copy.deepcopy(ready)
            left = deadline - loop.time()
            if left <= 0:
                return []
            await self.wait_change(left)

    async def api_setwebhook(self, p: dict[str, Any]) -> bool:
        url = p.get("url") or ""
        if not url:
            self.webhook = None
            self._notify()
            return True
        if not re.match(r"https?://", url):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        if p.get("drop_pending_updates"):
            self.pending.clear()
        if "allowed_updates" in p:
            self.allowed_updates = list(p["allowed_updates"]) or None
        self.webhook = Webhook(
            url=url,
            secret=secret,
            allowed_updates=self.allowed_updates,
            max_connections=p.get("max_connections") or 40,
        )
        self._notify()
        return True

    async def api_deletewebhook(self, p: dict[str, Any]) -> bool:
        self.webhook = None
        if p.get("drop_pending_updates"):
            self.pending.clear()
        self._notify()
        return True

    async def api_getwebhookinfo(self, p: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }
        if self.webhook:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates:
                info["allowed_updates"] = self.webhook.allowed_updates
            if self.webhook.last_error:
                info["last_error_message"] = self.webhook.last_error
                info["last_error_date"] = self.webhook.last_error_date
        return info

    # ------------------------------------------------------------------ bot API: commands

    @staticmethod
    def _commands_key(p: dict[str, Any]) -> str:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps([scope, p.get("language_code") or ""], sort_keys=True)

    async def api_setmycommands(self, p: dict[str, Any]) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request('parameter "commands" is required')
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(p)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def api_getmycommands(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.commands.get(self._commands_key(p), []))

    async def api_deletemycommands(self, p: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(p), None)
        return True

    # ------------------------------------------------------------------ bot API: chats

    async def api_getchat(self, p: dict[str, Any]) -> dict[str, Any]:
        state = self._chat(p.get("chat_id"))
        info = dict(state.chat)
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return info

    async def api_sendchataction(self, p: dict[str, Any]) -> bool:
        state = self._writable_chat(p.get("chat_id"))
        if p.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._check_thread(state, p.get("message_thread_id"))
        return True

    async def api_answercallbackquery(self, p: dict[str, Any]) -> bool:
        query = self.callback_queries.get(str(p.get("callback_query_id")))
        if query is None or query["answered"]:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        if len(p.get("text") or "") > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query["answered"] = True
        return True

    # ------------------------------------------------------------------ bot API: messages

    def _check_thread(self, state: ChatState, thread_id: int | None) -> None:
        if thread_id is None or thread_id == 0:
            return
        if not state.chat.get("is_forum"):
            return  # Telegram ignores the thread outside forums (it is a reply chain there)
        topic = state.topics.get(thread_id)
        if topic is None:
            raise bad_request("message thread not found")
        if topic.closed:
            raise bad_request("TOPIC_CLOSED")

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup  # reply keyboards, force reply, remove keyboard: not checked
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request('field "inline_keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not str(button.get("text", "")).strip():
                    raise bad_request("BUTTON_TEXT_INVALID")
                actions = {"callback_data", "url", "web_app", "login_url", "switch_inline_query", "copy_text"}
                if not actions & set(button):
                    raise bad_request("text buttons are unallowed in the inline keyboard")
                if "callback_data" in button:
                    size = len(str(button["callback_data"]).encode("utf-8"))
                    if not 1 <= size <= MAX_CALLBACK_DATA:
                        raise bad_request("BUTTON_DATA_INVALID")
                if "url" in button and not re.match(r"(https?|tg)://", str(button["url"])):
                    raise bad_request("BUTTON_URL_INVALID")
        return markup

    @staticmethod
    def _visible_text(text: Any, parse_mode: str | None, limit: int, empty_error: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise bad_request(empty_error)
        visible = text
        if parse_mode and parse_mode.lower() == "html":
            try:
                visible = parse_html(text)
            except EntityParseError as exc:
                raise ApiError(400, str(exc)) from exc
        if not visible.strip():
            raise bad_request(empty_error)
        if utf16_length(visible) > limit:
            raise bad_request("message is too long" if limit == MAX_TEXT else "message caption is too long")
        return visible

    def _flood_control(self, state: ChatState) -> None:
        limit = self.group_messages_per_minute
        if not limit or state.chat["type"] == "private":
            return
        now = time.monotonic()
        window = self.group_window_seconds
        sends = self._group_sends.setdefault(state.chat["id"], deque())
        while sends and now - sends[0] >= window:
            sends.popleft()
        if len(sends) >= limit:
            wait = max(1, int(window - (now - sends[0])) + 1)
            raise ApiError(429, f"Too Many Requests: retry after {wait}", wait)
        sends.append(now)

    def _bot_message(
        self, state: ChatState, thread_id: int | None, flood: bool = True, **content: Any
    ) -> dict[str, Any]:
        if flood:
            self._flood_control(state)
        message: dict[str, Any] = {
            "message_id": state.new_message_id(),
            "from": self.me,
            "chat": state.chat,
            "date": int(time.time()),
        }
        if thread_id and state.chat.get("is_forum"):
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        message.update({k: v for k, v in content.items() if v is not None})
        state.messages[message["message_id"]] = message
        return message

    async def api_sendmessage(self, p: dict[str, Any]) -> dict[str, Any]:
        state = self._writable_chat(p.get("chat_id"))
        self._check_thread(state, p.get("message_thread_id"))
        visible = self._visible_text(p.get("text"), p.get("parse_mode"), MAX_TEXT, "message text is empty")
        markup = self._check_markup(p.get("reply_markup"))
        message = self._bot_message(state, p.get("message_thread_id"), text=visible, reply_markup=markup)
        return copy.deepcopy(message)

    def _own_message(self, p: dict[str, Any], missing: str) -> tuple[ChatState, dict[str, Any]]:
        if "inline_message_id" in p:
            raise bad_request("inline messages are not supported by the fake server")
        state = self._chat(p.get("chat_id"))
        message = state.messages.get(p.get("message_id"))  # type: ignore[arg-type]
        if message is None:
            raise bad_request(missing)
        if message.get("from", {}).get("id") != self.me["id"]:
            raise bad_request("message can't be edited")
        return state, message

    async def api_editmessagetext(self, p: dict[str, Any]) -> dict[str, Any]:
        _state, message = self._own_message(p, "message to edit not found")
        visible = self._visible_text(p.get("text"), p.get("parse_mode"), MAX_TEXT, "message text is empty")
        markup = self._check_markup(p.get("reply_markup"))
        if visible == message.get("text") and markup == message.get("reply_markup"):
            raise bad_request(NOT_MODIFIED[len("Bad Request: ") :])
        message["text"] = visible
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return copy.deepcopy(message)

    async def api_editmessagereplymarkup(self, p: dict[str, Any]) -> dict[str, Any]:
        _state, message = self._own_message(p, "message to edit not found")
        markup = self._check_markup(p.get("reply_markup"))
        if markup == message.get("reply_markup") or (
            markup == {"inline_keyboard": []} and not message.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED[len("Bad Request: ") :])
        if markup is None or markup == {"inline_keyboard": []}:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    async def api_deletemessage(self, p: dict[str, Any]) -> bool:
        state = self._chat(p.get("chat_id"))
        if state.messages.pop(p.get("message_id"), None) is None:  # type: ignore[arg-type]
            raise bad_request("message to delete not found")
        return True

    async def api_deletemessages(self, p: dict[str, Any]) -> bool:
        state = self._chat(p.get("chat_id"))
        ids = p.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be a list of 1-100 message identifiers")
        for mid in ids:
            state.messages.pop(int(mid), None)  # missing ones are skipped, as Telegram does
        return True

    async def api_copymessage(self, p: dict[str, Any]) -> dict[str, int]:
        source_chat = self._chat(p.get("from_chat_id"))
        source = source_chat.messages.get(p.get("message_id"))  # type: ignore[arg-type]
        if source is None:
            raise bad_request("message to copy not found")
        target = self._writable_chat(p.get("chat_id"))
        self._check_thread(target, p.get("message_thread_id"))
        content_keys = {
            "text",
            "entities",
            "caption",
            "caption_entities",
            "location",
            "contact",
            *MEDIA_KINDS,
        }
        content = {k: copy.deepcopy(v) for k, v in source.items() if k in content_keys}
        if not content:
            raise bad_request("message can't be copied")
        if "caption" in p:
            content["caption"] = self._visible_text(
                p["caption"], p.get("parse_mode"), MAX_CAPTION, "message caption is empty"
            )
        markup = self._check_markup(p.get("reply_markup"))
        message = self._bot_message(target, p.get("message_thread_id"), reply_markup=markup, **content)
        return {"message_id": message["message_id"]}

    # ------------------------------------------------------------------ bot API: forum topics

    def _forum(self, chat_id: Any) -> ChatState:
        state = self._writable_chat(chat_id)
        if state.chat.get("type") != "supergroup" or not state.chat.get("is_forum"):
            raise bad_request("the chat is not a forum")
        return state

    def _topic(self, p: dict[str, Any]) -> tuple[ChatState, Topic]:
        state = self._forum(p.get("chat_id"))
        topic = state.topics.get(p.get("message_thread_id"))  # type: ignore[arg-type]
        if topic is None:
            raise bad_request("message thread not found")
        return state, topic

    async def api_createforumtopic(self, p: dict[str, Any]) -> dict[str, Any]:
        state = self._forum(p.get("chat_id"))
        name = str(p.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_INVALID")
        color = p.get("icon_color") or DEFAULT_TOPIC_COLOR
        if color not in TOPIC_COLORS:
            raise bad_request("TOPIC_COLOR_INVALID")
        thread_id = state.next_message_id  # the topic's id is the id of its "topic created" message
        topic = Topic(message_thread_id=thread_id, name=name, icon_color=color)
        state.topics[thread_id] = topic
        self._bot_message(
            state, thread_id, flood=False, forum_topic_created={"name": name, "icon_color": color}
        )
        return {"message_thread_id": thread_id, "name": name, "icon_color": color}

    async def api_editforumtopic(self, p: dict[str, Any]) -> bool:
        _state, topic = self._topic(p)
        name = p.get("name")
        if name is not None:
            if not 1 <= len(name) <= 128:
                raise bad_request("TOPIC_TITLE_INVALID")
            if name == topic.name:
                raise bad_request("TOPIC_NOT_MODIFIED")
            topic.name = name
        return True

    async def api_closeforumtopic(self, p: dict[str, Any]) -> bool:
        _state, topic = self._topic(p)
        if topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    async def api_reopenforumtopic(self, p: dict[str, Any]) -> bool:
        _state, topic = self._topic(p)
        if not topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    async def api_deleteforumtopic(self, p: dict[str, Any]) -> bool:
        state, topic = self._topic(p)
        self.delete_topic(state.chat["id"], topic.message_thread_id)
        return True

    # ------------------------------------------------------------------ for assertions

    def state(self) -> dict[str, Any]:
        return {
            "pending_updates": [u["update_id"] for u in self.pending],
            "deliveries": {str(k): v for k, v in self.deliveries.items()},
            "allowed_updates": self.allowed_updates,
            "webhook": None
            if self.webhook is None
            else {"url": self.webhook.url, "has_secret": bool(self.webhook.secret)},
            "commands": {k: v for k, v in self.commands.items()},
            "chats": {
                str(cid): {
                    "chat": c.chat,
                    "blocked": c.blocked,
                    "topics": {
                        str(t.message_thread_id): {"name": t.name, "closed": t.closed}
                        for t in c.topics.values()
                    },
                }
                for cid, c in self.chats.items()
            },
        }

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages a chat holds now (after edits and deletions), oldest first."""
        state = self._chat(chat_id)
        return [copy.deepcopy(m) for _, m in sorted(state.messages.items())]


MEDIA_KINDS = (
    "sticker",
    "photo",
    "voice",
    "video",
    "video_note",
    "audio",
    "document",
    "animation",
    "contact",
)


def _media(kind: str, n: int) -> dict[str, Any]:
    """The content part of a message of a kind the bot cannot read, shaped like Telegram's."""
    fid = {"file_id": f"FAKE{kind.upper()}{n}", "file_unique_id": f"U{kind[:3]}{n}"}
    if kind == "sticker":
        return {
            "sticker": {
                **fid,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "👍",
            }
        }
    if kind == "photo":
        return {
            "photo": [
                {**fid, "width": 90, "height": 90, "file_size": 1200},
                {
                    "file_id": fid["file_id"] + "L",
                    "file_unique_id": fid["file_unique_id"] + "L",
                    "width": 800,
                    "height": 800,
                },
            ]
        }
    if kind == "voice":
        return {"voice": {**fid, "duration": 3, "mime_type": "audio/ogg", "file_size": 9000}}
    if kind == "video":
        return {"video": {**fid, "width": 640, "height": 360, "duration": 5}}
    if kind == "video_note":
        return {"video_note": {**fid, "length": 240, "duration": 4}}
    if kind == "audio":
        return {"audio": {**fid, "duration": 120, "title": "Audio"}}
    if kind == "document":
        return {"document": {**fid, "file_name": "documento.pdf", "mime_type": "application/pdf"}}
    if kind == "animation":
        gif = {**fid, "width": 320, "height": 240, "duration": 2}
        return {"animation": gif, "document": {**fid, "file_name": "anim.mp4", "mime_type": "video/mp4"}}
    if kind == "contact":
        return {"contact": {"phone_number": "+390000000000", "first_name": "Contatto"}}
    raise ValueError(f"unknown content kind {kind!r}")


def _status_text(status: int) -> str:
    texts = {
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    return texts.get(status, "Error")
