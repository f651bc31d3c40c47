"""The web chat API's requests and answers: validation of ``POST /api/chat`` bodies (each problem said in
Italian) and the JSON shape of a turn. See :mod:`bot.channels.web.chat` for the endpoints."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.core import commands
from bot.core.messages import MAX_TEXT_CHARS, Inbound, Turn

MAX_BODY_BYTES = 64 * 1024
MAX_PAYLOAD_CHARS = 1024
MAX_NAMED_USER_CHARS = 120
NAMED_USER = re.compile(r"[A-Za-z0-9._:-]{1,120}")
NAMED_PREFIX = "k:"  # the store's key of a person named by a server-side client (never a session's)


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ChatRequest:
    text: str | None
    payload: str | None
    user: str | None = None  # only from a server-side client with the API key

    def to_inbound(self, user_key: str, address: str | None) -> Inbound:
        if self.text is not None:
            stripped = self.text.strip()
            if stripped.startswith("/") and stripped[1:].lower() in commands.NAMES:
                return Inbound("web", user_key, command=stripped[1:].lower(), address=address)
        return Inbound("web", user_key, text=self.text, payload=self.payload, address=address)


def _valid_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from "\\ud800"-style escapes
        return False
    return True


def named_user(user: object, where: str = "Il campo user", missing: str = "Manca il campo user.") -> str:
    """The person a server-side client names (``user``): 1 to 120 letters, digits, ``. _ : -``."""
    if user is None:
        raise BadRequest(422, missing)
    if not isinstance(user, str):
        raise BadRequest(422, f"{where} deve essere una stringa.")
    if not user:
        raise BadRequest(422, f"{where} è vuoto.")
    if len(user) > MAX_NAMED_USER_CHARS:
        raise BadRequest(422, f"{where} è troppo lungo: al massimo {MAX_NAMED_USER_CHARS} caratteri.")
    if not NAMED_USER.fullmatch(user):
        raise BadRequest(422, f"{where} può contenere solo lettere, cifre e i segni . _ : -")
    return user


def parse_chat_request(content_type: str, body: bytes, *, named: bool = False) -> ChatRequest:
    """Validate a ``POST /api/chat`` request; raise :class:`BadRequest` saying what is wrong. ``user`` is
    read only when ``named`` (a server-side client with the API key); from a browser it is ignored."""
    if content_type != "application/json":
        raise BadRequest(415, "Content-Type deve essere application/json.")
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(413, f"La richiesta è troppo grande: al massimo {MAX_BODY_BYTES} byte.")
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "Il corpo della richiesta non è testo UTF-8 valido.") from None
    try:
        data = json.loads(decoded)
    except RecursionError:
        raise BadRequest(400, "JSON non valido: troppi livelli annidati.") from None
    except ValueError as exc:
        raise BadRequest(400, f"JSON non valido: {exc}.") from None
    if not isinstance(data, dict):
        raise BadRequest(422, "Il corpo deve essere un oggetto JSON con il campo text.")
    user = named_user(data.get("user")) if named else None

    text = data.get("text")
    payload = data.get("payload")
    if text is None and payload is None:
        raise BadRequest(422, "Manca il campo text (oppure payload, per un pulsante).")
    if text is not None and payload is not None:
        raise BadRequest(422, "Manda text oppure payload, non tutti e due.")
    if text is not None:
        if not isinstance(text, str):
            raise BadRequest(422, "Il campo text deve essere una stringa.")
        if len(text) > MAX_TEXT_CHARS:
            raise BadRequest(422, f"Il testo è troppo lungo: al massimo {MAX_TEXT_CHARS} caratteri.")
        if not text.strip():
            raise BadRequest(422, "Il campo text è vuoto.")
        if not _valid_unicode(text):
            raise BadRequest(422, "Il campo text contiene caratteri non validi.")
    if payload is not None:
        if not isinstance(payload, str):
            raise BadRequest(422, "Il campo payload deve essere una stringa.")
        if len(payload) > MAX_PAYLOAD_CHARS:
            raise BadRequest(
                422, f"Il campo payload è troppo lungo: al massimo {MAX_PAYLOAD_CHARS} caratteri."
            )
        if not payload.strip():
            raise BadRequest(422, "Il campo payload è vuoto.")
        if not _valid_unicode(payload):
            raise BadRequest(422, "Il campo payload contiene caratteri non validi.")
    return ChatRequest(text=text, payload=payload, user=user)


def turn_to_json(turn: Turn, notice: str | None = None) -> dict[str, Any]:
    """A turn as the API answers it; ``notice`` (a session that expired) comes first, without buttons."""
    replies = [
        {"text": r.text, "buttons": [{"title": b.title, "payload": b.payload} for b in r.buttons]}
        for r in turn.replies
    ]
    if notice:
        replies.insert(0, {"text": notice, "buttons": []})
    return {"replies": replies, "meta": turn.meta}
