"""The operators' side of the handoff on Telegram: a forum supergroup per partner, a topic per ticket.

What it does (the decisions are :class:`bot.handoff.HandoffService`'s; this module only speaks Telegram):

* **Registration.** ``/operatore CODICE`` in a private chat registers an operator; ``/collega CODICE`` in a
  forum supergroup links it to a partner. The codes come from ``concilia operators invite|group-code``; the
  message carrying a code is deleted when the bot may.
* **Topics.** Each ticket gets its own forum topic (never the General one) with a card: ticket number,
  first name, topic, place, what the person asked, her last messages, and buttons "Prendo io" / "Chiudi"
  (then "Lascia" / "Chiudi" / "Ridai all'assistente"). Everything that touches a ticket's topic runs in that
  ticket's own queue, one job at a time, so a burst of messages creates the topic once. A topic deleted by
  the operators ("message thread not found") is created again, with a fresh card, on the next message.
* **Relaying.** The person's messages are copied into the topic (``copyMessage``: text, photos, documents,
  no "forwarded from" header, so no Telegram id or phone shows); an operator's message in the topic is
  copied to the person (or stored for the web chat to fetch). If she has blocked the bot, the topic is told.
* **Commands in a topic:** ``/prendo``, ``/lascia``, ``/chiudi``, ``/restituisci``; ``/coda`` anywhere in the
  group (or in private) lists the partner's open tickets.
* **Rate limits.** Groups take about 20 messages a minute: PTB's ``AIORateLimiter`` paces the calls, and a
  429 that still comes back is waited out and retried here (per ticket, in order), so nothing is lost. On
  shutdown the queues are drained first.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import html
import logging
import re
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import handoff_texts as txt
from bot.channels.telegram_render import render_reply
from bot.handoff import Card, Delivery, HandoffService, OperatorContent, display_name
from bot.messages import Inbound, Reply
from bot.store.tickets import ErasedTicket, TicketView

log = logging.getLogger(__name__)
T = TypeVar("T")

HANDLER_GROUP = -1  # before the people's handlers of bot.channels.telegram
CALLBACK = re.compile(r"^h:(claim|release|close|back):(\d+)$")
TOPIC_COMMANDS = {"prendo": "claim", "lascia": "release", "chiudi": "close", "restituisci": "back"}
GROUP_COMMANDS = (
    ("coda", "Richieste aperte del tuo ente"),
    ("prendo", "Prendi la richiesta di questo argomento"),
    ("lascia", "Rimetti in coda la richiesta"),
    ("chiudi", "Chiudi la richiesta"),
    ("restituisci", "Ripassa la persona all'assistente"),
)
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)
NOTICE = "ℹ️ "  # noqa: RUF001
MAX_CARD = 4000
RETRY_AFTER_ATTEMPTS = 20


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(value)


def _thread_gone(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return "thread not found" in text or "topic_deleted" in text or "topic_id_invalid" in text


def _topic_closed(exc: BadRequest) -> bool:
    return "topic_closed" in exc.message.lower()


def _ignorable_edit(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return "not modified" in text or "to edit not found" in text


def _content_kind(message: Message) -> str | None:
    if message.text is not None:
        return None
    for kind in (
        "photo",
        "document",
        "video",
        "voice",
        "audio",
        "animation",
        "sticker",
        "location",
        "contact",
    ):
        if getattr(message, kind, None):
            return kind
    return "other"


class SerialJobs:
    """Jobs run one at a time per key, in the order they were submitted; different keys concurrently.
    A failing job is logged and the next one runs."""

    def __init__(self) -> None:
        self._queues: dict[Hashable, deque[Callable[[], Awaitable[Any]]]] = {}
        self._workers: dict[Hashable, asyncio.Task[None]] = {}

    def submit(self, key: Hashable, job: Callable[[], Awaitable[Any]]) -> None:
        self._queues.setdefault(key, deque()).append(job)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"topic-{key}")

    async def _work(self, key: Hashable) -> None:
        queue = self._queues[key]
        try:
            while queue:
                job = queue.popleft()
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("operators' job for %s failed", key)
        finally:
            self._workers.pop(key, None)
            self._queues.pop(key, None)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values()) + len(self._workers)

    async def drain(self, timeout: float) -> None:
        """Wait for the queued jobs (at most ``timeout`` seconds), then cancel what is left."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._workers:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.wait(list(self._workers.values()), timeout=left)
        for task in list(self._workers.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


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
    if card.state == "assigned" and card.assigned:
        state = f"presa da {card.assigned}"
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
    if card.state == "waiting":
        rows = [
            [
                InlineKeyboardButton(txt.CLAIM, callback_data=f"h:claim:{n}"),
                InlineKeyboardButton(txt.CLOSE, callback_data=f"h:close:{n}"),
            ]
        ]
    elif card.state == "assigned":
        rows = [
            [
                InlineKeyboardButton(txt.RELEASE, callback_data=f"h:release:{n}"),
                InlineKeyboardButton(txt.CLOSE, callback_data=f"h:close:{n}"),
            ],
            [InlineKeyboardButton(txt.HAND_BACK, callback_data=f"h:back:{n}")],
        ]
    else:
        return None
    return InlineKeyboardMarkup(rows)


class TelegramOperators:
    """The operators' desk and the Telegram person sender of the handoff service."""

    def __init__(
        self,
        application: Application,
        service: HandoffService,
        *,
        encode: Callable[[str], str] = lambda payload: payload,
        attempts: int = 5,
        backoff: float = 0.5,
        drain_timeout: float = 15.0,
    ) -> None:
        self.application = application
        self.service = service
        self.tickets = service.tickets
        self.encode = encode
        self.attempts = attempts
        self.backoff = backoff
        self.drain_timeout = drain_timeout
        self.jobs = SerialJobs()
        self._add_handlers()
        service.attach_desk(self)
        service.attach_sender("telegram", self)

    @property
    def bot(self) -> Any:
        return self.application.bot

    def _add_handlers(self) -> None:
        app, g = self.application, HANDLER_GROUP
        private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
        app.add_handler(CommandHandler("operatore", self._on_register, filters=private), group=g)
        app.add_handler(CommandHandler("collega", self._on_link, filters=groups), group=g)
        app.add_handler(CommandHandler("coda", self._on_queue, filters=private | groups), group=g)
        app.add_handler(CommandHandler(list(TOPIC_COMMANDS), self._on_topic_command, filters=groups), group=g)
        app.add_handler(
            MessageHandler(groups & ~filters.StatusUpdate.ALL & ~filters.COMMAND, self._on_group_message),
            group=g,
        )
        app.add_handler(CallbackQueryHandler(self._on_button, pattern=CALLBACK), group=g)

    async def start(self) -> None:
        """Show the operators' commands in groups (a convenience: failures are only logged)."""
        try:
            await self.bot.set_my_commands(
                [BotCommand(name, text) for name, text in GROUP_COMMANDS],
                scope=BotCommandScopeAllGroupChats(),
            )
        except TelegramError as exc:
            log.warning("setMyCommands for groups failed: %s", exc)

    async def stop(self) -> None:
        """Deliver what is queued before the application stops."""
        await self.jobs.drain(self.drain_timeout)

    # ------------------------------------------------------------------ calling Telegram

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """One Bot API call, waiting out flood control (429) and retrying network errors."""
        delay = self.backoff
        failures = 0
        for _ in range(RETRY_AFTER_ATTEMPTS):
            try:
                return await fn()
            except RetryAfter as exc:
                wait = _retry_after_seconds(exc)
                log.warning("Telegram flood control in the operators' group: waiting %.0f s", wait)
                await asyncio.sleep(wait + 0.1)
            except (BadRequest, Forbidden):
                raise
            except NetworkError as exc:
                failures += 1
                if failures >= self.attempts:
                    raise
                log.warning("Telegram network error (%s), retrying", exc)
                await asyncio.sleep(delay)
                delay *= 2
        raise RuntimeError("Telegram kept answering 429")

    async def _reply(self, message: Message, text: str) -> None:
        thread = message.message_thread_id if message.is_topic_message else None
        try:
            await self._call(
                lambda: self.bot.send_message(
                    message.chat_id,
                    text,
                    message_thread_id=thread,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
            )
        except TelegramError as exc:
            log.warning("cannot answer in chat: %s", exc)

    @staticmethod
    async def _delete_quietly(message: Message) -> None:
        with contextlib.suppress(TelegramError):
            await message.delete()

    # ------------------------------------------------------------------ handlers

    async def _on_register(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            raise ApplicationHandlerStop
        code = " ".join(context.args or [])
        outcome = await self.service.register_operator(code, user.id, user.first_name)
        if outcome.ok:
            await self._delete_quietly(message)  # the code is used: no need to keep it in the chat
        await self._reply(message, outcome.text)
        raise ApplicationHandlerStop  # never reaches the conversation router (nor its transcript)

    async def _on_link(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None:
            return
        code = " ".join(context.args or [])
        outcome = await self.service.link_group(code, chat.id, chat.title, bool(chat.is_forum), user.id)
        if outcome.ok:
            await self._delete_quietly(message)
        await self._reply(message, outcome.text)

    async def _on_queue(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None:
            return
        in_group = chat.type in GROUP_TYPES
        outcome = await self.service.queue(user.id, chat.id if in_group else None)
        if not outcome.ok and not in_group:
            return  # not an operator: "/coda" is just text for the assistant
        await self._reply(message, outcome.text)
        if not in_group:
            raise ApplicationHandlerStop

    async def _on_topic_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or not message.text:
            return
        name = message.text.split()[0].lstrip("/").split("@")[0].lower()
        ticket = None
        if message.is_topic_message and message.message_thread_id is not None:
            ticket = await self.tickets.by_topic(chat.id, message.message_thread_id)
        if ticket is None:
            await self._reply(message, txt.NOT_A_TICKET)
            return
        outcome = await self.service.act(TOPIC_COMMANDS[name], ticket.id, chat.id, user.id, user.first_name)
        if not outcome.ok:
            await self._reply(message, outcome.text)

    async def _on_group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or user.is_bot:
            return
        if not message.is_topic_message or message.message_thread_id is None:
            return  # the General topic: never a ticket's
        content = OperatorContent(message.message_id, message.text or message.caption, _content_kind(message))
        notice = await self.service.operator_message(
            chat.id, message.message_thread_id, user.id, user.first_name, content
        )
        if notice:
            await self._reply(message, NOTICE + notice)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None:
            return
        found = CALLBACK.match(query.data or "")
        if found is None:
            return
        action, ticket_id = found.group(1), int(found.group(2))
        user = query.from_user
        outcome = await self.service.act(action, ticket_id, query.message.chat.id, user.id, user.first_name)
        try:
            await query.answer(outcome.text[:200], show_alert=outcome.alert)
        except TelegramError as exc:
            log.debug("answerCallbackQuery failed: %s", exc)
        raise ApplicationHandlerStop

    # ------------------------------------------------------------------ the desk (called by the service)

    def announce(self, ticket: TicketView, card: Card) -> None:
        self.jobs.submit(ticket.id, partial(self._announce, ticket.id))

    def person_wrote(self, ticket: TicketView, msg: Inbound) -> None:
        self.jobs.submit(ticket.id, partial(self._relay_in, ticket.id, msg))

    def notice(self, ticket: TicketView, text: str, card: Card | None = None) -> None:
        self.jobs.submit(ticket.id, partial(self._notice, ticket.id, text, card, False))

    def ended(self, ticket: TicketView, text: str, card: Card) -> None:
        self.jobs.submit(ticket.id, partial(self._notice, ticket.id, text, card, True))

    def erased(self, tickets: list[ErasedTicket]) -> None:
        for erased in tickets:
            self.jobs.submit(erased.ticket.id, partial(self._erase, erased))

    async def _announce(self, ticket_id: int) -> None:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None or not ticket.is_open:
            return
        await self._thread_of(ticket)

    async def _relay_in(self, ticket_id: int, msg: Inbound) -> None:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            return
        if ticket.channel == "telegram" and msg.message_id is not None:

            async def send(chat_id: int, thread: int) -> int:
                copied = await self.bot.copy_message(
                    chat_id=chat_id,
                    from_chat_id=int(ticket.user_key),
                    message_id=msg.message_id,
                    message_thread_id=thread,
                )
                return int(copied.message_id)

        else:
            text = f"{display_name(ticket)}: {msg.text or '[contenuto che non posso mostrare]'}"

            async def send(chat_id: int, thread: int) -> int:
                sent = await self.bot.send_message(chat_id, text, message_thread_id=thread)
                return int(sent.message_id)

        placed = await self._to_topic(ticket, send)
        if placed is not None:
            await self.tickets.add_relay(
                ticket.id,
                "to_operators",
                person_message_id=msg.message_id,
                group_chat_id=placed[0],
                topic_message_id=placed[1],
                now=self.service.clock(),
            )

    async def _notice(self, ticket_id: int, text: str, card: Card | None, end: bool) -> None:
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            return
        if card is not None:
            await self._refresh_card(ticket, card)

        async def send(chat_id: int, thread: int) -> int:
            sent = await self.bot.send_message(chat_id, NOTICE + text, message_thread_id=thread)
            return int(sent.message_id)

        placed = await self._to_topic(ticket, send, create=not end)
        if end and placed is not None and ticket.thread_id is not None:
            with contextlib.suppress(TelegramError):
                await self._call(lambda: self.bot.close_forum_topic(placed[0], ticket.thread_id))

    async def _erase(self, erased: ErasedTicket) -> None:
        ticket = erased.ticket
        if ticket.group_chat_id is None or ticket.thread_id is None:
            return
        chat_id, thread = ticket.group_chat_id, ticket.thread_id
        ids = list(erased.topic_message_ids)
        if ticket.card_message_id is not None:
            ids.append(ticket.card_message_id)
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            try:
                await self._call(partial(self.bot.delete_messages, chat_id, chunk))
            except TelegramError as exc:
                log.warning("ticket %d: copies not deleted: %s", ticket.id, exc)
        if not ticket.is_open:  # its topic was closed with the ticket: open it to say so
            with contextlib.suppress(TelegramError):
                await self._call(lambda: self.bot.reopen_forum_topic(chat_id, thread))
        try:
            await self._call(
                lambda: self.bot.send_message(
                    chat_id, NOTICE + txt.erased_notice(ticket.id), message_thread_id=thread
                )
            )
            await self._call(lambda: self.bot.close_forum_topic(chat_id, thread))
        except TelegramError as exc:
            log.info("ticket %d: erased, topic not told (%s)", ticket.id, exc)

    # ------------------------------------------------------------------ topics

    async def _thread_of(self, ticket: TicketView, *, create: bool = True) -> tuple[int, int] | None:
        """(group chat id, thread id) of the ticket's topic, created if it has none yet."""
        group = await self.tickets.group_of(ticket.partner_id)
        if group is None:
            log.warning("ticket %d: partner %s has no operators' group", ticket.id, ticket.partner_id)
            return None
        if ticket.thread_id is not None and ticket.group_chat_id == group.chat_id:
            return group.chat_id, ticket.thread_id
        if not create:
            return None
        thread = await self._make_topic(ticket, group.chat_id, recreated=ticket.thread_id is not None)
        return None if thread is None else (group.chat_id, thread)

    async def _drop_extra_topic(self, ticket_id: int, chat_id: int, thread: int) -> int | None:
        """Another gateway linked a topic to the ticket while this one created its own: ours is deleted,
        theirs is used."""
        log.info("ticket %d: another gateway created its topic first; deleting ours", ticket_id)
        try:
            await self._call(lambda: self.bot.delete_forum_topic(chat_id, thread))
        except TelegramError as exc:
            log.warning("ticket %d: extra topic %d not deleted: %s", ticket_id, thread, exc)
        current = await self.tickets.get(ticket_id)
        if current is None or current.group_chat_id != chat_id:
            return None
        return current.thread_id

    async def _make_topic(self, ticket: TicketView, chat_id: int, *, recreated: bool) -> int | None:
        late = (self.service.clock() - ticket.created_at).total_seconds() > 30
        card = await self.service.card(ticket, with_handoff_messages=recreated or late)
        try:
            topic = await self._call(lambda: self.bot.create_forum_topic(chat_id, card.title))
        except TelegramError as exc:
            log.error("ticket %d: cannot create a topic in the operators' group: %s", ticket.id, exc)
            return None
        thread = int(topic.message_thread_id)
        now = self.service.clock()
        # at once: operators may write. Conditional: with several gateways, one topic per ticket
        old = ticket.thread_id
        linked = await self.tickets.set_topic(ticket.id, chat_id, thread, None, now, replacing=old)
        if not linked:
            return await self._drop_extra_topic(ticket.id, chat_id, thread)
        try:
            sent = await self._call(
                lambda: self.bot.send_message(
                    chat_id,
                    render_card(card),
                    parse_mode=ParseMode.HTML,
                    reply_markup=card_buttons(card),
                    message_thread_id=thread,
                )
            )
            await self.tickets.set_card(ticket.id, int(sent.message_id))
        except TelegramError as exc:
            log.error("ticket %d: card not posted: %s", ticket.id, exc)
        if recreated:
            log.info("ticket %d: topic deleted by the operators, created again", ticket.id)
            with contextlib.suppress(TelegramError):
                await self._call(
                    lambda: self.bot.send_message(
                        chat_id, NOTICE + txt.recreated_notice(ticket.id), message_thread_id=thread
                    )
                )
        return thread

    async def _to_topic(
        self, ticket: TicketView, send: Callable[[int, int], Awaitable[int]], *, create: bool = True
    ) -> tuple[int, int] | None:
        """Send into the ticket's topic (made, or made again, when needed); (chat id, message id)."""
        place = await self._thread_of(ticket, create=create)
        if place is None:
            return None
        chat_id, thread = place
        try:
            return chat_id, await self._call(lambda: send(chat_id, thread))
        except BadRequest as exc:
            if _topic_closed(exc):
                with contextlib.suppress(BadRequest):
                    await self._call(lambda: self.bot.reopen_forum_topic(chat_id, thread))
                return chat_id, await self._call(lambda: send(chat_id, thread))
            if not _thread_gone(exc):
                raise
            if not create:
                return None
        fresh = await self.tickets.get(ticket.id) or ticket
        new_thread = await self._make_topic(fresh, chat_id, recreated=True)
        if new_thread is None:
            return None
        return chat_id, await self._call(lambda: send(chat_id, new_thread))

    async def _refresh_card(self, ticket: TicketView, card: Card) -> None:
        if ticket.card_message_id is None or ticket.group_chat_id is None:
            return
        try:
            await self._call(
                lambda: self.bot.edit_message_text(
                    render_card(card),
                    chat_id=ticket.group_chat_id,
                    message_id=ticket.card_message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=card_buttons(card),
                )
            )
        except BadRequest as exc:
            if not _ignorable_edit(exc):
                log.warning("ticket %d: card not updated: %s", ticket.id, exc)
        except TelegramError as exc:
            log.warning("ticket %d: card not updated: %s", ticket.id, exc)

    # ------------------------------------------------------------------ the person (PersonSender)

    async def send(self, user_key: str, replies: list[Reply]) -> Delivery:
        for reply in replies:
            for part in render_reply(reply, self.encode):
                markup = (
                    InlineKeyboardMarkup(
                        [[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in part.rows]
                    )
                    if part.rows
                    else None
                )
                try:
                    await self._call(
                        partial(
                            self.bot.send_message,
                            int(user_key),
                            part.html,
                            parse_mode=ParseMode.HTML,
                            reply_markup=markup,
                            link_preview_options=LinkPreviewOptions(is_disabled=True),
                        )
                    )
                except Forbidden:
                    return Delivery.BLOCKED
                except TelegramError as exc:
                    log.warning("a handoff message did not reach the person: %s", exc)
                    return Delivery.FAILED
        return Delivery.OK

    async def copy(self, user_key: str, from_chat_id: int, message_id: int) -> tuple[Delivery, int | None]:
        try:
            copied = await self._call(
                lambda: self.bot.copy_message(
                    chat_id=int(user_key), from_chat_id=from_chat_id, message_id=message_id
                )
            )
        except Forbidden:
            return Delivery.BLOCKED, None
        except TelegramError as exc:
            log.warning("an operator's message did not reach the person: %s", exc)
            return Delivery.FAILED, None
        return Delivery.OK, int(copied.message_id)
