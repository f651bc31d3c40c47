"""The privacy answer: what is kept, who sees it, whether the phone number is seen, how to erase it
all, how to stop messages. It answers what the message asks; a request to erase (or to stop) gets a
button whose payload is the gateway's ``/cancella`` command, which asks for confirmation and erases
(bot/conversation.py)."""

from __future__ import annotations

import os

from actions.reply import Answer
from knowledge import normalise

ERASE_BUTTON = {"title": "Cancella i miei dati", "payload": "/cancella"}

ERASE_WORDS = (
    "cancella", "cancellate", "cancellare", "cancellami", "cancellatemi", "cancelli", "cancellerete",
    "elimina", "eliminate", "eliminare", "eliminami", "eliminatemi", "rimuovete", "rimuovere",
    "togliete i miei dati", "dimenticate", "dimenticatemi", "dimenticami", "oblio",
    "delete", "erase", "remove my data",
)  # fmt: skip
STOP_WORDS = (
    "non scrivetemi", "non scrivermi", "non mi scrivete", "non mi scrivere", "smettete di scrivermi",
    "smetti di scrivermi", "basta messaggi", "non voglio piu messaggi", "non voglio ricevere",
    "non contattatemi", "non contattarmi", "non mandatemi", "non mandarmi", "lasciatemi in pace",
    "disiscrivi", "disiscrivimi", "disiscrivetemi", "disiscrivermi", "stop", "unsubscribe",
    "stop messages", "don t write",
)  # fmt: skip
NUMBER_WORDS = ("numero", "telefono", "cellulare", "phone", "number")
WHO_WORDS = (
    "chi vede", "chi legge", "chi li legge", "chi puo leggere", "chi puo vedere", "vedete", "vedi",
    "leggete", "chi ha accesso", "condividete", "passate i miei dati", "date i miei dati", "terzi",
    "who can see", "who reads", "who sees",
)  # fmt: skip
KEPT_WORDS = (
    "conservate", "conservi", "conservare", "salvate", "salvi", "registrate", "registri", "tenete",
    "memorizzate", "quanto tempo", "cosa sapete", "che dati", "quali dati", "dati personali",
    "store", "keep",
)  # fmt: skip


def has(text: str, words: tuple[str, ...]) -> bool:
    padded = f" {text} "
    return any(f" {w} " in padded for w in words)


def retention_days() -> str:
    return os.environ.get("RETENTION_DAYS", "180")


def kept() -> str:
    return (
        "Conservo i messaggi che mi scrivi e le mie risposte, solo per risponderti. "
        f"Dopo {retention_days()} giorni il testo dei messaggi si cancella da solo. "
        "Non ti chiedo documenti né il cognome."
    )


WHO = (
    "Li vede solo chi gestisce il servizio per l'Alleanza per la conciliazione e, se chiedi di parlare "
    "con una persona, l'operatore dell'ente che ti risponde. Non li do a nessun altro."
)
NUMBER = (
    "Il tuo numero di telefono non lo vedo: Telegram non lo passa all'assistente e nella chat del sito "
    "non te lo chiedo. Di te conosco solo il nome del profilo Telegram, se usi Telegram."
)
ERASE = (
    "Per cancellare tutto quello che mi hai scritto premi «Cancella i miei dati» oppure scrivi /cancella, "
    "poi conferma: cancello subito messaggi e dati, anche nella cronologia dell'assistente."
)
ERASE_HINT = "Puoi cancellare tutto quando vuoi con /cancella."
STOP = (
    "Non ti scrivo mai per primo: ti rispondo solo quando mi scrivi tu, e un operatore ti scrive solo "
    "se hai chiesto di parlare con una persona. Se non mi scrivi più, non ricevi più niente."
)


def privacy_answer(message: str) -> Answer:
    """The answer to what ``message`` asks about privacy (the whole summary when it is not clear)."""
    text = normalise(message)
    wants_erase, wants_stop = has(text, ERASE_WORDS), has(text, STOP_WORDS)
    parts: list[str] = []
    if has(text, KEPT_WORDS):
        parts.append(kept())
    if has(text, NUMBER_WORDS):
        parts.append(NUMBER)
    elif has(text, WHO_WORDS):
        parts.append(WHO)
    if wants_stop:
        parts.append(STOP)
    if wants_erase or wants_stop:
        parts.append(ERASE)
    if not parts:
        parts = [kept(), WHO, ERASE]
    if ERASE not in parts:
        parts.append(ERASE_HINT)
    return Answer(text="\n\n".join(parts), buttons=[dict(ERASE_BUTTON)] if ERASE in parts else [])
