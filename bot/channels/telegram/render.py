"""How a channel-neutral :class:`~bot.messages.Reply` looks on Telegram: escaped HTML parts and button rows.

Pure functions, no ``telegram`` import, so they are easy to test on their own. The assistant's text is
plain text: every part is escaped with :func:`html.escape` before it is sent with ``parse_mode=HTML``, so a
``<`` or ``&`` in an answer (or in the person's own words echoed back) never breaks the message.

Telegram accepts at most 4,096 characters per message. Long answers are split on paragraph, then line,
then word boundaries (a word is cut only when it alone is longer than the limit). The text is split
*before* it is escaped, so no part can end in the middle of an entity such as ``&amp;``, and the length
of each part is measured on its escaped form in UTF-16 code units (what Telegram counts), which is never
less than what Telegram will count after parsing the entities: a part that passes here passes there.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.messages import Button, Reply

MAX_MESSAGE_LENGTH = 4096
SHORT_BUTTON_TITLE = 20  # titles up to this many characters go two per row
EMPTY_TEXT_WITH_BUTTONS = "Scegli una delle opzioni:"

_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}  # zero-width joiner and variation selectors


@dataclass(frozen=True)
class RenderedMessage:
    """One Telegram message: HTML text and the inline keyboard as rows of (title, callback_data)."""

    html: str
    rows: tuple[tuple[tuple[str, str], ...], ...] = ()


def escape(text: str) -> str:
    """Text made safe for ``parse_mode=HTML``."""
    return html.escape(text, quote=False)


def utf16_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _char_cost(char: str) -> int:
    return utf16_length(escape(char))


def _is_space(char: str) -> bool:
    return char.isspace()


def _safe_hard_cut(text: str, start: int, end: int) -> int:
    """Move a forced cut back so it does not separate a character from its combining marks or joiners."""
    cut = end
    while (
        cut - 1 > start
        and cut < len(text)
        and (unicodedata.combining(text[cut]) or text[cut] in _JOINERS or text[cut - 1] in _JOINERS)
    ):
        cut -= 1
    return cut


def split_text(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Split plain ``text`` into HTML-escaped parts, each at most ``limit`` UTF-16 units once escaped.

    Boundaries, in order of preference: an empty line (paragraph) in the second half of the window, a line
    break in the second half, any whitespace; only a single word longer than the limit is cut inside.
    Whitespace at the cut is dropped; every other character is kept, in order.
    """
    if limit < 8:
        raise ValueError("limit too small")
    text = text.strip()
    if not text:
        return []
    costs = [_char_cost(c) for c in text]
    parts: list[str] = []
    start = 0
    n = len(text)
    while start < n:
        # the longest window text[start:end] that fits once escaped
        end = start
        used = 0
        while end < n and used + costs[end] <= limit:
            used += costs[end]
            end += 1
        if end >= n:
            parts.append(text[start:].rstrip())
            break
        window = text[start:end]
        half = len(window) // 2
        cut = -1
        para = window.rfind("\n\n")
        if para >= half:
            cut = para
        else:
            line = window.rfind("\n")
            if line >= half:
                cut = line
            elif _is_space(text[end]):  # the window ends exactly at a word boundary
                cut = len(window)
            else:
                for i in range(len(window) - 1, 0, -1):
                    if _is_space(window[i]):
                        cut = i
                        break
        cut_abs = _safe_hard_cut(text, start, end) if cut <= 0 else start + cut
        piece = text[start:cut_abs].rstrip()
        if piece:
            parts.append(piece)
        start = cut_abs
        while start < n and _is_space(text[start]):
            start += 1
    return [escape(p) for p in parts if p]


def keyboard_rows(
    buttons: Sequence[Button], encode: Callable[[str], str]
) -> tuple[tuple[tuple[str, str], ...], ...]:
    """Buttons as rows of (title, callback_data): two per row when every title is short, else one.

    ``encode`` turns a payload into callback data that fits Telegram's 64 bytes (see CallbackStore).
    """
    items = [((b.title or b.payload).strip() or b.payload, encode(b.payload)) for b in buttons if b.payload]
    if not items:
        return ()
    if len(items) > 1 and all(len(title) <= SHORT_BUTTON_TITLE for title, _ in items):
        return tuple(tuple(items[i : i + 2]) for i in range(0, len(items), 2))
    return tuple((item,) for item in items)


def render_reply(
    reply: Reply, encode: Callable[[str], str], limit: int = MAX_MESSAGE_LENGTH
) -> list[RenderedMessage]:
    """A reply as one or more Telegram messages; the buttons go with the last part."""
    rows = keyboard_rows(reply.buttons, encode)
    parts = split_text(reply.text, limit)
    if not parts:
        if not rows:
            return []
        parts = [escape(EMPTY_TEXT_WITH_BUTTONS)]
    out = [RenderedMessage(html=p) for p in parts[:-1]]
    out.append(RenderedMessage(html=parts[-1], rows=rows))
    return out
