"""Logging set-up: one line per record on stderr, with secrets redacted and personal data masked.

The Telegram token travels in URLs (``/bot<token>/getUpdates``), so the HTTP libraries' request logs are
turned down to warnings, and a filter replaces any known secret that still reaches a handler with ``***``.
A second filter masks what would identify a person — phone numbers, e-mail addresses, codici fiscali and
IBANs — in the message, its arguments and the exception text of every record (an error can quote what a
person wrote).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from bot.insights.masking import LOG_LABELS, mask

NOISY = ("httpx", "httpcore", "aiohttp.access", "telegram.ext.Updater", "apscheduler")


class _Rewrite(logging.Filter):
    """Rewrites the text of each record (message with its arguments, exception, stack) with ``redact``."""

    def redact(self, text: str) -> str:
        raise NotImplementedError

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RedactSecrets(_Rewrite):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        return super().filter(record) if self._secrets else True


class MaskPersonalData(_Rewrite):
    """Phone numbers, e-mail addresses, codici fiscali and IBANs become ``<phone>``, ``<email>``,
    ``<tax-code>``, ``<iban>`` (:func:`bot.insights.masking.mask`)."""

    def __init__(self, region: str = "IT") -> None:
        super().__init__()
        self.region = region

    def redact(self, text: str) -> str:
        return mask(text, LOG_LABELS, self.region)


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(MaskPersonalData())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
