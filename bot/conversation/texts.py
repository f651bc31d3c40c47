"""Everything the gateway itself says to people, in plain Italian ("tu", short sentences, at most one emoji).

Answers about services come from the knowledge base through Rasa; these are the system messages.
"""

from __future__ import annotations

from bot.core.commands import REQUEST_HUMAN
from bot.core.messages import MAX_TEXT_CHARS, Button

__all__ = ["MAX_TEXT_CHARS"]  # the limit, re-exported for the texts that quote it

MENU_BUTTONS = (
    Button("Centri estivi e scuole chiuse", '/choose_topic{"topic": "school_closure"}'),
    Button("Nido serale e del sabato", '/choose_topic{"topic": "evening_nursery"}'),
    Button("Caregiver", '/choose_topic{"topic": "caregiver_support"}'),
    Button("Welfare aziendale", '/choose_topic{"topic": "company_welfare"}'),
    Button("Parla con una persona", REQUEST_HUMAN),
)

# Payloads of the buttons the router answers itself (they never go to Rasa).
ERASE_YES = "concilia:erase:yes"
ERASE_NO = "concilia:erase:no"
ERASE_BUTTONS = (Button("Sì", ERASE_YES), Button("No", ERASE_NO))


def welcome(first_name: str | None, retention_days: int) -> str:
    hello = f"Ciao {first_name}!" if first_name else "Ciao!"
    return (
        f"{hello} Sono Concilia, l'assistente per conciliare famiglia e lavoro "
        "nei comuni a ovest di Milano.\n"
        "Chiedimi di centri estivi, nidi serali e del sabato, aiuti per chi assiste un familiare "
        "e welfare aziendale.\n\n"
        f"Privacy: conservo i tuoi messaggi per {retention_days} giorni, solo per risponderti. "
        "Scrivi /privacy per sapere di più, /cancella per cancellare tutto."
    )


MENU = (
    "Di cosa hai bisogno? Scegli un argomento oppure scrivimi la tua domanda, "
    "per esempio: «centri estivi a Magenta a luglio»."
)


def privacy(retention_days: int) -> str:
    return (
        "Ecco cosa conservo e perché.\n"
        "• Cosa: i messaggi che mi scrivi e le mie risposte. Non ti chiedo documenti né il cognome.\n"
        f"• Per quanto: {retention_days} giorni. Dopo, il testo dei messaggi si cancella da solo. "
        f"Se non mi scrivi per {retention_days} giorni, cancello tutto quello che ti riguarda.\n"
        "• Chi li vede: solo chi gestisce il servizio per l'Alleanza per la conciliazione e, "
        "se chiedi di parlare con una persona, l'operatore che ti risponde.\n"
        "• Come cancellarli: scrivi /cancella e conferma. Cancello subito i tuoi messaggi, le tue "
        "richieste agli operatori e la cronologia dell'assistente. Nella chat degli operatori tolgo le "
        "copie dei tuoi messaggi e il tuo nome, e la chiudo. Per non ripescare i tuoi messaggi per errore, "
        f"tengo per {retention_days} giorni solo un codice ricavato dal tuo account, senza nome né messaggi. "
        "Le copie di sicurezza si cancellano da sole alla loro scadenza."
    )


ERASE_CONFIRM = "Vuoi cancellare tutti i tuoi messaggi e i tuoi dati? Non si può tornare indietro."
ERASED = (
    "Fatto: ho cancellato i tuoi messaggi e i tuoi dati, anche nella cronologia dell'assistente. "
    "Se mi riscrivi, ricominciamo da zero."
)
ERASE_KEPT = "Va bene, non ho cancellato niente."
ERASE_EXPIRED = "Questa richiesta è scaduta. Se vuoi cancellare i tuoi dati, scrivi di nuovo /cancella."
ERASE_FAILED = (
    "In questo momento non riesco a cancellare i tuoi dati, quindi non ho cancellato niente. "
    "Riprova tra qualche minuto con /cancella."
)

UNSUPPORTED = "Mi dispiace, posso leggere solo messaggi di testo. Scrivimi la tua domanda con parole tue."
TOO_LONG = (
    "Il messaggio è troppo lungo per me: scrivimi la domanda in poche righe (al massimo 4.096 caratteri)."
)
EMPTY = "Scrivimi pure la tua domanda."
RATE_LIMITED = (
    "Rallenta un attimo, per favore: mi stai mandando troppi messaggi. Aspetta un minuto e riscrivimi."
)
UNAVAILABLE = "L'assistente non è disponibile in questo momento. Riprova tra poco."

# A message left unanswered when the gateway stopped suddenly, answered after the restart.
RECOVERED_LOCATION = (
    "Scusa, mi sono interrotta mentre leggevo la tua posizione. Mandamela di nuovo, "
    "oppure scrivimi il nome del tuo comune."
)


def recovered(asked: str | None) -> str:
    """The line before a late answer: what it answers, when the person wrote words."""
    if asked and not asked.startswith(("/", "[")):
        short = asked if len(asked) <= 60 else asked[:59].rstrip() + "…"
        return f"Scusa, mi sono interrotta. Ecco la risposta a «{short}»:\n\n"
    return "Scusa, mi sono interrotta. Ecco la risposta:\n\n"


UNKNOWN_COMMAND = "Non conosco questo comando. " + MENU

LOCATION_FAR = (
    "Grazie per la posizione. Sei fuori dai comuni che conosco: seguo le famiglie del Castanese, "
    "del Legnanese, dell'Abbiatense e del Magentino. Scrivimi il nome del comune che ti interessa."
)
LOCATION_UNUSABLE = "Adesso non riesco a usare la posizione. Scrivimi il nome del tuo comune."
