"""Hostile text through the whole chain (fake Telegram -> gateway -> real Rasa NLU -> actions): each message
is answered with exactly one message Telegram accepts, nothing crashes, and the next normal question gets a
normal answer. (The many-examples hypothesis fuzz of the same channel and router, with a fake Rasa, is
tests/integration/test_telegram_fuzz.py; the web API's is tests/unit/test_web_fuzz.py.)
"""

from __future__ import annotations

import httpx
import pytest

from bot.conversation import texts
from harness.telegram_user import TelegramUser, text_of

HOSTILE = {
    "huge, just under the limit": ("centri estivi a Magenta " * 200)[:4000],
    "huge, over the limit": "é" * 5000,
    "emoji only": "👨‍👩‍👧‍👦🇮🇹👍🏽❤️",
    "zero-width only": "\u200b\u200c\u200d\u2060\ufeff",
    "control characters": "ciao\x01\x02\x07\x1b[31m\x7f nido\x0b\x0c sabato",
    "NUL characters": "nido\x00 serale\x00",
    "right to left": "\u202eolatipsa\u202c مرحبا עברית nido a Legnano",
    "HTML injection": '<b>nido</b> <a href="javascript:alert(1)">x</a></code><script>alert(1)</script> &amp;',
    "Markdown injection": "*centri* _estivi_ `a` [Magenta](http://example.com) ||x|| ~y~ ```z```",
    "combining marks": "n\u0303\u0304i\u0301\u0302d\u0300o\u0351\u0352 a\u0306 L\u0307egnano",
    "typed intent": '/inform{"town": "Magenta"}',
    "SQL": "'; DROP TABLE messages; --",
}
FAILURES = {texts.UNAVAILABLE, "Scusa, qualcosa non ha funzionato. Riprova tra qualche minuto."}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_text_gets_one_answer(gateway, name: str) -> None:
    user = TelegramUser(gateway.telegram, user_id=760000 + list(HOSTILE).index(name))
    calls, _ = user.send(text=HOSTILE[name])
    assert len(calls) == 1 and text_of(calls).strip()
    assert text_of(calls) not in FAILURES, text_of(calls)  # Rasa and the actions took it in their stride
    if name == "huge, over the limit":
        assert text_of(calls) == texts.TOO_LONG
    refused = [
        c
        for c in user.client.get(
            f"{gateway.telegram}/_test/sent", params={"chat_id": user.user_id, "all": "1"}
        ).json()
        if not c["ok"]
    ]
    assert not refused, refused
    # the same person goes on normally
    after = user.say("nido il sabato a Legnano")
    assert "Legnano" in text_of(after)
    assert httpx.get(f"{gateway.web_url}/healthz", timeout=5).status_code == 200
