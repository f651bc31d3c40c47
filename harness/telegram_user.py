"""Driving the fake Telegram server as a person would."""

from __future__ import annotations

import time
from typing import Any

import httpx


class TelegramUser:
    def __init__(self, telegram_base: str, user_id: int, first_name: str = "Giulia") -> None:
        self.base = telegram_base
        self.user_id = user_id
        self.first_name = first_name
        self.client = httpx.Client(timeout=60)

    def _sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        r = self.client.get(f"{self.base}/_test/sent", params={"chat_id": self.user_id, "method": method})
        r.raise_for_status()
        return r.json()

    def send(self, timeout: float = 30, **body: Any) -> tuple[list[dict[str, Any]], float]:
        """Send an update and wait for the bot's next answer(s); returns (new sendMessage calls, seconds from
        the update being queued to the first answer reaching Telegram)."""
        before = len(self._sent())
        t0 = time.time()
        r = self.client.post(
            f"{self.base}/_test/user_message",
            json={"user_id": self.user_id, "first_name": self.first_name, **body},
        )
        r.raise_for_status()
        r = self.client.get(
            f"{self.base}/_test/wait_sent",
            params={
                "chat_id": self.user_id,
                "method": "sendMessage",
                "count": before + 1,
                "timeout": timeout,
            },
        )
        assert r.status_code == 200, r.text
        time.sleep(0.05)  # a split answer sends its parts back to back
        new = self._sent()[before:]
        return new, new[0]["time"] - t0

    def say(self, text: str, **kw: Any) -> list[dict[str, Any]]:
        return self.send(text=text, **kw)[0]

    def press(self, message: dict[str, Any], title_starts: str) -> list[dict[str, Any]]:
        markup = message["params"].get("reply_markup") or {}
        if isinstance(markup, str):
            import json

            markup = json.loads(markup)
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if button["text"].startswith(title_starts):
                    return self.send(
                        callback_data=button["callback_data"], message_id=message["result"]["message_id"]
                    )[0]
        raise AssertionError(f"no button starting with {title_starts!r} in {markup}")


def text_of(calls: list[dict[str, Any]]) -> str:
    return "\n".join(c["params"].get("text", "") for c in calls)


def buttons_of(call: dict[str, Any]) -> list[str]:
    import json

    markup = call["params"].get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
