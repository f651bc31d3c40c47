"""A fake Telegram Bot API server for the tests (see server.py)."""

from harness.fake_telegram.bot_api import ApiError, FakeBotApi
from harness.fake_telegram.server import FakeTelegramServer

__all__ = ["ApiError", "FakeBotApi", "FakeTelegramServer"]
