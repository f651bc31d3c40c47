"""The gateway's commands, in one list: what people and operators can type, and which of them each channel
handles itself (everything else is text for the assistant)."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.contract import REQUEST_HUMAN_PAYLOAD


@dataclass(frozen=True)
class Command:
    name: str  # without the slash
    description: str | None = None  # shown in Telegram's menu (setMyCommands) when set


# The person's commands, in the order Telegram's menu shows them. "aiuto" is an alias of "help": not in
# the menu, and on Telegram it goes to the assistant as text.
START = Command("start", "Inizia e guarda il menu")
MENU = Command("menu", "Mostra il menu dei servizi")
HELP = Command("help", "Come posso aiutarti")
PRIVACY = Command("privacy", "Quali dati teniamo e per quanto tempo")
ERASE = Command("cancella", "Cancella tutti i tuoi dati")
HELP_ALIAS = Command("aiuto")
PERSON_COMMANDS = (START, MENU, HELP, PRIVACY, ERASE, HELP_ALIAS)

IN_MENU = tuple(c for c in PERSON_COMMANDS if c.description)  # Telegram handles these as commands
NAMES = frozenset(c.name for c in PERSON_COMMANDS)  # the web chat and the recovery handle all of them
SHOW_MENU = frozenset(c.name for c in (MENU, HELP, HELP_ALIAS))  # answered with the menu
PRIVACY_NAMES = frozenset(c.name for c in (PRIVACY, ERASE))  # answered even in a handoff

# The operators' commands on Telegram: in a private chat, in a group, in a ticket's topic.
REGISTER = Command("operatore")
LINK_GROUP = Command("collega")
QUEUE = Command("coda", "Richieste aperte del tuo ente")
TOPIC_COMMANDS = {  # name -> the handoff action (see bot.handoff.model.Action)
    "prendo": "claim",
    "lascia": "release",
    "chiudi": "close",
    "restituisci": "back",
}
GROUP_MENU = (
    QUEUE,
    Command("prendo", "Prendi la richiesta di questo argomento"),
    Command("lascia", "Rimetti in coda la richiesta"),
    Command("chiudi", "Chiudi la richiesta"),
    Command("restituisci", "Ripassa la persona all'assistente"),
)

# The payload of the assistant's "talk to a person" (its intent, from a button or the menu).
REQUEST_HUMAN = REQUEST_HUMAN_PAYLOAD


def command_name(text: str) -> str:
    """``/Start@ConciliaBot arg`` -> ``start``."""
    return text.split()[0].lstrip("/").split("@")[0].lower() if text.strip() else ""
