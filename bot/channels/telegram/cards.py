"""A ticket's card in the operators' topic: Telegram HTML and its buttons."""

from __future__ import annotations

import html
import re
from functools import partial

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.handoff import texts as txt
from bot.handoff.model import Action, Card, TicketState

MAX_CARD = 4000
CALLBACK = re.compile(r"^h:(claim|release|close|back):(\d+)$")


def button(title: str, action: Action, ticket_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(title, callback_data=f"h:{action}:{ticket_id}")


def render_card(card: Card) -> str:
    """The card as Telegram HTML."""
    esc = partial(html.escape, quote=False)
    head = f"<b>Richiesta n. {card.ticket_id}</b> · {esc(card.name)}"
    if card.channel == "web":
        head += " (chat dal sito)"
    lines = [head, f"Ente: {esc(card.partner)}"]
    if card.topic:
        lines.append(f"Tema: {esc(card.topic)}")
    if card.place:
        lines.append(f"Zona: {esc(card.place)}")
    if card.question:
        lines.append(f"Ha chiesto: «{esc(card.question)}»")
    state = txt.STATE_NAMES.get(card.state, card.state)
    if card.state == TicketState.ASSIGNED and card.assigned:
        state = f"presa da {card.assigned}"
    elif card.state == TicketState.EXPIRED and card.close_reason == txt.UNCLAIMED_REASON:
        state = txt.UNCLAIMED_STATE
    tail = [f"Stato: <b>{esc(state)}</b>"]
    if card.office:
        tail.insert(0, esc(card.office))
    messages = [f"<i>{esc(who)}</i>: {esc(text)}" for who, text in card.last_messages]
    while True:
        body = lines + ([""] + ["<b>Ultimi messaggi</b>"] + messages if messages else []) + [""] + tail
        text = "\n".join(body)
        if len(text) <= MAX_CARD or not messages:
            return text[:MAX_CARD]
        messages.pop(0)


def card_buttons(card: Card) -> InlineKeyboardMarkup | None:
    n = card.ticket_id
    if card.state == TicketState.WAITING:
        rows = [[button(txt.CLAIM, Action.CLAIM, n), button(txt.CLOSE, Action.CLOSE, n)]]
    elif card.state == TicketState.ASSIGNED:
        rows = [
            [button(txt.RELEASE, Action.RELEASE, n), button(txt.CLOSE, Action.CLOSE, n)],
            [button(txt.HAND_BACK, Action.BACK, n)],
        ]
    else:
        return None
    return InlineKeyboardMarkup(rows)
