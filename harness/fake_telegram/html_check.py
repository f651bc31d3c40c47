"""A strict reading of Telegram's ``parse_mode=HTML``: the tags and entities Telegram accepts.

Stricter than Telegram where Telegram is lenient (a bare ``&`` is refused here), so a bot that passes
the fake server escapes its text properly. Errors read like Telegram's ("can't parse entities: ...").
"""

from __future__ import annotations

import html
import re

ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
    "tg-time",
}

_ENTITY = re.compile(r"&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)\s*(/?)>")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; str() is Telegram's description."""


def _offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def parse_html(text: str) -> str:
    """The visible text of a Telegram HTML message (tags removed, entities decoded), or EntityParseError."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "<":
            m = _TAG.match(text, i)
            if m is None:
                raise EntityParseError(
                    "Bad Request: can't parse entities: Unsupported start tag at byte offset "
                    f"{_offset(text, i)}"
                )
            closing, name, _attrs, _selfclose = m.group(1), m.group(2).lower(), m.group(3), m.group(4)
            if name not in ALLOWED_TAGS:
                raise EntityParseError(
                    f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" at byte offset '
                    f"{_offset(text, i)}"
                )
            if closing:
                if not stack or stack[-1][0] != name:
                    expected = f'expected "</{stack[-1][0]}>", ' if stack else ""
                    raise EntityParseError(
                        f"Bad Request: can't parse entities: Unmatched end tag at byte offset "
                        f'{_offset(text, i)}, {expected}found "</{name}>"'
                    )
                stack.pop()
            else:
                stack.append((name, i))
            i = m.end()
        elif ch == "&":
            m = _ENTITY.match(text, i)
            if m is None:
                raise EntityParseError(
                    "Bad Request: can't parse entities: Unsupported HTML entity at byte offset "
                    f"{_offset(text, i)}"
                )
            out.append(html.unescape(m.group(0)))
            i = m.end()
        else:
            out.append(ch)
            i += 1
    if stack:
        name, pos = stack[-1]
        raise EntityParseError(
            f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{name}\" "
            f"at byte offset {_offset(text, pos)}"
        )
    return "".join(out)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
