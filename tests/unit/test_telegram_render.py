"""Rendering for Telegram: escaping, splitting long answers, button rows, the 64-byte callback mapping."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.telegram.callbacks import KEY_PREFIX, CallbackStore
from bot.channels.telegram.render import (
    EMPTY_TEXT_WITH_BUTTONS,
    escape,
    keyboard_rows,
    render_reply,
    split_text,
    utf16_length,
)
from bot.core.messages import Button, Reply

ENTITY = re.compile(r"&(lt|gt|amp);")


def visible(part: str) -> str:
    return html.unescape(part)


def test_short_text_is_one_escaped_part() -> None:
    assert split_text("Ciao <Giulia> & co") == ["Ciao &lt;Giulia&gt; &amp; co"]
    assert split_text("   \n ") == []


def test_paragraphs_are_preferred_to_lines_and_words() -> None:
    text = ("a" * 30 + " ") * 2 + "\n\n" + "b" * 20 + "\n" + "c" * 10
    parts = split_text(text, limit=70)
    assert len(parts) == 2
    assert parts[0] == ("a" * 30 + " " + "a" * 30)
    assert parts[1] == "b" * 20 + "\n" + "c" * 10


def test_a_line_break_is_used_when_there_is_no_paragraph_in_reach() -> None:
    text = "uno due tre quattro\ncinque sei sette otto nove"
    parts = split_text(text, limit=30)
    assert parts[0] == "uno due tre quattro"


def test_words_are_never_cut_unless_longer_than_the_limit() -> None:
    text = "parola " * 50 + "x" * 45 + " fine"
    parts = split_text(text, limit=40)
    for part in parts:
        assert utf16_length(part) <= 40
        for word in part.split():
            assert word in ("parola", "fine") or set(word) == {"x"}
    xs = [w for p in parts for w in p.split() if set(w) == {"x"}]
    assert "".join(xs) == "x" * 45 and len(xs) == 2  # the only cut word is the one that cannot fit


def test_an_entity_is_never_broken_and_limits_count_the_escaped_text() -> None:
    text = "&" * 50  # 250 characters once escaped
    parts = split_text(text, limit=64)
    assert all(len(p) <= 64 for p in parts)
    assert all(ENTITY.sub("", p) == "" for p in parts)  # only whole entities
    assert "".join(visible(p) for p in parts) == text


def test_emoji_count_as_two_utf16_units() -> None:
    text = "😀" * 40
    parts = split_text(text, limit=20)
    assert all(utf16_length(p) <= 20 for p in parts)
    assert "".join(parts) == text
    assert len(parts) == 4


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab c\n<&>èé😀")), max_size=400),
    st.integers(min_value=8, max_value=80),
)
def test_splitting_keeps_every_character_and_respects_the_limit(text: str, limit: int) -> None:
    parts = split_text(text, limit=limit)
    assert all(0 < utf16_length(p) <= limit for p in parts)
    assert all(escape(visible(p)) == p for p in parts)  # each part is well-formed escaped text
    squash = re.compile(r"\s+")
    assert squash.sub("", "".join(visible(p) for p in parts)) == squash.sub("", text)


def test_two_buttons_per_row_only_when_all_titles_are_short() -> None:
    short = [Button("Sì", "/affirm"), Button("No", "/deny"), Button("Forse", "/maybe")]
    assert keyboard_rows(short, str) == ((("Sì", "/affirm"), ("No", "/deny")), (("Forse", "/maybe"),))
    mixed = [*short, Button("Voglio parlare con una persona", "/request_human")]
    assert all(len(row) == 1 for row in keyboard_rows(mixed, str))
    assert keyboard_rows([Button("Solo", "/one")], str) == ((("Solo", "/one"),),)


def test_a_reply_with_only_buttons_gets_a_short_text() -> None:
    [msg] = render_reply(Reply("", (Button("Menu", "/menu"),)), str)
    assert msg.html == EMPTY_TEXT_WITH_BUTTONS and msg.rows == ((("Menu", "/menu"),),)
    assert render_reply(Reply("  "), str) == []


async def test_callback_data_always_fits_64_bytes() -> None:
    store = CallbackStore()
    fits = "/inform" + "x" * 57
    assert len(fits.encode()) == 64 and store.encode(fits) == fits
    accented = "/città" + "è" * 30  # 30 characters but more than 64 bytes
    key = store.encode(accented)
    assert key.startswith(KEY_PREFIX) and len(key.encode()) <= 64
    assert await store.resolve(key) == accented
    assert store.encode(accented) == key  # stable
    sneaky = "p:looks-like-a-key"
    assert await store.resolve(store.encode(sneaky)) == sneaky
    assert len(store) == 2


async def test_the_mapping_is_bounded_and_forgets_the_least_recently_used() -> None:
    store = CallbackStore(max_entries=2)
    keys = [store.encode(f"/long_payload_{i}" + "y" * 70) for i in range(3)]
    assert await store.resolve(keys[0]) is None  # pushed out
    assert await store.resolve(keys[1]) is not None
    store.encode("/another" + "z" * 70)  # keys[2] is now the least recently used
    assert await store.resolve(keys[2]) is None and await store.resolve(keys[1]) is not None
    assert len(store) == 2
