"""The operators' handlers on Telegram: what operators type and press, turned into the handoff service's
actions (see :mod:`bot.channels.telegram.desk` for what the service tells them).

* **Registration.** ``/operatore CODICE`` in a private chat registers an operator; ``/collega CODICE`` in a
  forum supergroup links it to a partner. The codes come from ``concilia operators invite|group-code``; the
  message carrying a code is deleted when the bot may.
* **Commands in a topic:** ``/prendo``, ``/lascia``, ``/chiudi``, ``/restituisci``; ``/coda`` anywhere in the
  group (or in private) lists the partner's open tickets. The buttons of a card do the same.
* An operator's message in a ticket's topic goes to the person.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from telegram import BotCommand, BotCommandScopeAllGroupChats, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.telegram.cards import CALLBACK
from bot.channels.telegram.desk import NOTICE, TelegramDesk
from bot.channels.telegram.send import TelegramSend
from bot.core import commands
from bot.core.outbox import OutboxWorker
from bot.handoff import texts as txt
from bot.handoff.model import OperatorContent
from bot.handoff.service import HandoffService

log = logging.getLogger(__name__)

HANDLER_GROUP = -1  # before the people's handlers of bot.channels.telegram.people
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)
CONTENT_KINDS = (
    "photo",
    "document",
    "video",
    "voice",
    "audio",
    "animation",
    "sticker",
    "location",
    "contact",
)


def _content_kind(message: Message) -> str | None:
    if message.text is not None:
        return None
    for kind in CONTENT_KINDS:
        if getattr(message, kind, None):
            return kind
    return "other"


class TelegramOperators:
    """The operators' handlers, and the desk they share the service with."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        service: HandoffService,
        send: TelegramSend,
        *,
        encode: Callable[[str], str] = lambda payload: payload,
        drain_timeout: float = 15.0,
        outbox: OutboxWorker | None = None,
    ) -> None:
        self.application = application
        self.service = service
        self.telegram = send
        self.desk = TelegramDesk(service, send, encode=encode, drain_timeout=drain_timeout, outbox=outbox)
        self._add_handlers()

    def _add_handlers(self) -> None:
        app, g = self.application, HANDLER_GROUP
        private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
        topic_commands = list(commands.TOPIC_COMMANDS)
        app.add_handler(CommandHandler(commands.REGISTER.name, self._on_register, filters=private), group=g)
        app.add_handler(CommandHandler(commands.LINK_GROUP.name, self._on_link, filters=groups), group=g)
        app.add_handler(
            CommandHandler(commands.QUEUE.name, self._on_queue, filters=private | groups), group=g
        )
        app.add_handler(CommandHandler(topic_commands, self._on_topic_command, filters=groups), group=g)
        app.add_handler(
            MessageHandler(groups & ~filters.StatusUpdate.ALL & ~filters.COMMAND, self._on_group_message),
            group=g,
        )
        app.add_handler(CallbackQueryHandler(self._on_button, pattern=CALLBACK), group=g)

    async def start(self) -> None:
        """Show the operators' commands in groups (a convenience: failures are only logged)."""
        try:
            await self.application.bot.set_my_commands(
                [BotCommand(c.name, c.description or c.name) for c in commands.GROUP_MENU],
                scope=BotCommandScopeAllGroupChats(),
            )
        except TelegramError as exc:
            log.warning("setMyCommands for groups failed: %s", exc)

    async def stop(self) -> None:
        await self.desk.stop()

    async def _reply(self, message: Message, text: str) -> None:
        thread = message.message_thread_id if message.is_topic_message else None
        try:
            await self.telegram.text(message.chat_id, text, thread_id=thread)
        except TelegramError as exc:
            log.warning("cannot answer in chat: %s", exc)

    @staticmethod
    async def _delete_quietly(message: Message) -> None:
        with contextlib.suppress(TelegramError):
            await message.delete()

    async def _ticket_here(self, message: Message) -> int | None:
        if not message.is_topic_message or message.message_thread_id is None:
            return None  # the General topic: never a ticket's
        return await self.service.desk_places.ticket_at(message.chat_id, message.message_thread_id)

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
        await self._reply(message, txt.queue_text(outcome.queues) if outcome.ok else outcome.text)
        if not in_group:
            raise ApplicationHandlerStop

    async def _on_topic_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or not message.text:
            return
        ticket_id = await self._ticket_here(message)
        if ticket_id is None:
            await self._reply(message, txt.NOT_A_TICKET)
            return
        action = commands.TOPIC_COMMANDS[commands.command_name(message.text)]
        outcome = await self.service.act(action, ticket_id, chat.id, user.id, user.first_name)
        if not outcome.ok:
            await self._reply(message, outcome.text)

    async def _on_group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or user.is_bot:
            return
        ticket_id = await self._ticket_here(message)
        if ticket_id is None:
            return  # a topic that is not a ticket's: the operators' own business
        content = OperatorContent(message.message_id, message.text or message.caption, _content_kind(message))
        notice = await self.service.operator_message(ticket_id, chat.id, user.id, user.first_name, content)
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
