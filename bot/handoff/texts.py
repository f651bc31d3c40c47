"""What the handoff says, to the person and to the operators: plain Italian, "tu" form, at most one emoji.

Plain text only (channels escape it). Dates as "lunedì 14 settembre", times as "9:00".
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.core.messages import Button
from bot.handoff.model import PartnerQueue
from bot.handoff.office_hours import ROME
from knowledge.italian import MONTHS, WEEKDAYS

# Payloads of the buttons the router answers itself (never sent to Rasa).
LEAVE = "concilia:handoff:leave"
RATE_PREFIX = "concilia:rate:"
LEAVE_BUTTON = Button("Torna all'assistente", LEAVE)
LEAVE_WORDS = {"/assistente", "assistente", "/esci", "esci", "torna all'assistente"}
CANCEL_WORDS = {"annulla", "no", "niente", "lascia stare", "no grazie", "non importa", "/annulla"}


def rate_buttons(ticket_id: int) -> tuple[Button, ...]:
    return tuple(Button(str(n), f"{RATE_PREFIX}{ticket_id}:{n}") for n in range(1, 6))


def day(d: date) -> str:
    """'lunedì 14 settembre' ('1°' for the first of the month)."""
    return f"{WEEKDAYS[d.weekday()]} {'1°' if d.day == 1 else d.day} {MONTHS[d.month - 1]}"


def clock(t: datetime) -> str:
    return f"{t.hour}:{t.minute:02d}"


def when(moment: datetime, now: datetime) -> str:
    """'oggi alle 14:00', 'domani alle 9:00', 'lunedì 14 settembre alle 9:00' (Rome time)."""
    local, today = moment.astimezone(ROME), now.astimezone(ROME).date()
    if local.date() == today:
        return f"oggi alle {clock(local)}"
    if local.date() == today + timedelta(days=1):
        return f"domani alle {clock(local)}"
    return f"{day(local.date())} alle {clock(local)}"


def duration(seconds: float) -> str:
    """'10 minuti', '1 ora', '24 ore', '30 secondi'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return "1 secondo" if seconds == 1 else f"{seconds} secondi"
    minutes = round(seconds / 60)
    if minutes < 60:
        return "1 minuto" if minutes == 1 else f"{minutes} minuti"
    hours = round(minutes / 60)
    if hours < 48:
        return "1 ora" if hours == 1 else f"{hours} ore"
    days = round(hours / 24)
    return f"{days} giorni"


def place_in_queue(position: int) -> str:
    if position <= 1:
        return "Sei la prima persona in coda."
    if position == 2:
        return "C'è una persona prima di te."
    return f"Ci sono {position - 1} persone prima di te."


# --- to the person --------------------------------------------------------------------------------------


def handed_over(
    partner: str, open_now: bool, next_open: datetime | None, away: str | None, position: int, now: datetime
) -> str:
    lines = [f"Ti metto in contatto con un operatore di {partner}."]
    if open_now:
        lines.append("Gli operatori sono al lavoro adesso: ti rispondono qui appena si liberano.")
    else:
        lines.append(away or "Adesso l'ufficio è chiuso.")
        if next_open is not None:
            lines.append(f"Ti rispondono da {when(next_open, now)}.")
    lines.append(place_in_queue(position))
    lines.append("Intanto puoi continuare a scrivere: i tuoi messaggi arrivano a loro.")
    return " ".join(lines)


ASK_TOWN = (
    "Per passarti alle persone giuste mi serve il comune: in quale comune abiti o cerchi il servizio? "
    "Se hai cambiato idea, scrivi «annulla»."
)
ASK_TOWN_AGAIN = (
    "Non ho trovato questo comune tra quelli che seguo (Castanese, Legnanese, Abbiatense e Magentino). "
    "Scrivimi solo il nome del comune, per esempio «Magenta»."
)
ASK_TOWN_PRECISE = "In quale comune, di preciso? Scrivimi il nome, per esempio «Legnano»."
HANDOFF_CANCELLED = "Va bene, niente operatore per ora. Continua pure a scrivermi."


def no_operators(partner: str, contacts: str | None) -> str:
    text = "Mi dispiace: in questo momento non riesco a passarti a un operatore."
    if contacts:
        text += f" Puoi contattare {partner} direttamente: {contacts}."
    return text + " Intanto puoi continuare a scrivermi."


def too_many_open(partner: str, contacts: str | None, cap: int) -> str:
    already = "c'è già una richiesta aperta" if cap == 1 else f"ci sono già {cap} richieste aperte"
    text = f"Da questa connessione {already} per parlare con un operatore: per ora non posso aprirne altre."
    if contacts:
        text += f" Puoi contattare {partner} direttamente: {contacts}."
    return text + " Intanto puoi continuare a scrivermi."


HANDOFF_UNAVAILABLE = (
    "Mi dispiace: in questo momento non riesco a passarti a un operatore. Riprova tra qualche minuto."
)


def queue_full(partner: str, contacts: str | None) -> str:
    text = (
        f"Mi dispiace: in questo momento gli operatori di {partner} hanno già molte richieste in attesa "
        "e non riesco ad aggiungere la tua."
    )
    if contacts:
        text += f" Puoi contattarli direttamente: {contacts}."
    return text + " Puoi riprovare più tardi, e intanto continuare a scrivermi."


def unclaimed_expired(partner: str, contacts: str | None, after: str) -> str:
    text = (
        f"Mi dispiace: in {after} di orario d'ufficio nessun operatore di {partner} è riuscito "
        "a prendere la tua richiesta, "
        "quindi l'ho chiusa."
    )
    if contacts:
        text += f" Puoi contattarli direttamente: {contacts}."
    return text + " Sei di nuovo con l'assistente: chiedimi pure quello che vuoi."


def still_in_queue(partner: str, position: int) -> str:
    return (
        f"Gli operatori di {partner} sono ancora tutti occupati: nessuno ha ancora preso la tua richiesta. "
        f"Resti in coda e ti rispondono appena possibile. {place_in_queue(position)} "
        "Puoi continuare a scrivere."
    )


def in_handoff(partner: str, assigned: str | None) -> str:
    who = f"{assigned} di {partner}" if assigned else f"gli operatori di {partner}"
    return (
        f"Adesso stai scrivendo a {who}: quello che scrivi arriva a loro. "
        "Per tornare all'assistente scrivi /assistente."
    )


def joined(operator: str, partner: str) -> str:
    return f"{operator} di {partner} ha preso la tua richiesta e ti risponde qui. Scrivi pure."


def released(partner: str) -> str:
    return (
        "L'operatore ha dovuto lasciare la tua richiesta. Resti in coda: "
        f"ti risponde il primo operatore libero di {partner}."
    )


def closed_by_operator(operator: str | None, hand_back: bool) -> str:
    who = operator or "L'operatore"
    if hand_back:
        return f"{who} ti ripassa all'assistente. Sei di nuovo con me: chiedimi pure quello che vuoi."
    return f"{who} ha chiuso la conversazione. Sei di nuovo con l'assistente: chiedimi pure quello che vuoi."


def closed_for_silence(after: str) -> str:
    return (
        f"La conversazione con l'operatore si è chiusa perché nessuno ha scritto per {after}. "
        "Sei di nuovo con l'assistente. Se ti serve ancora aiuto, chiedi di nuovo di parlare con una persona."
    )


LEFT = "Va bene, sei di nuovo con l'assistente. Gli operatori sanno che hai chiuso la richiesta."
ALREADY_WAITING = (
    "Sei già in coda: un operatore ti risponde qui appena si libera. Puoi continuare a scrivere."
)
RATE_QUESTION = (
    "Quanto ti è stato utile l'aiuto dell'operatore? Tocca un numero da 1 (per niente) a 5 (moltissimo)."
)
RATED = "Grazie! Il tuo voto ci aiuta a migliorare."
ALREADY_RATED = "Hai già dato il tuo voto, grazie."
RATE_UNKNOWN = "Questo voto non è più valido, ma grazie lo stesso."
PHOTO_FOR_WEB = (
    "[L'operatore ti ha mandato un file che qui non posso mostrarti. Chiedigli di scriverti il contenuto.]"
)


# --- to the operators -----------------------------------------------------------------------------------

CLAIM = "Prendo io"
CLOSE = "Chiudi"
RELEASE = "Lascia"
HAND_BACK = "Ridai all'assistente"

STATE_NAMES = {
    "waiting": "in attesa",
    "assigned": "presa",
    "closed": "chiusa",
    "expired": "chiusa per inattività",
}


def claimed_notice(operator: str) -> str:
    return f"{operator} ha preso la richiesta."


def claim_lost(holder: str | None) -> str:
    return f"L'ha già presa {holder}." if holder else "Questa richiesta non è più in attesa."


def released_notice(operator: str) -> str:
    return f"{operator} ha lasciato la richiesta: torna in coda."


def closed_notice(operator: str | None, hand_back: bool) -> str:
    who = operator or "Un operatore"
    return f"{who} ha ripassato la chat all'assistente." if hand_back else f"Richiesta chiusa da {who}."


def expired_notice(after: str) -> str:
    return f"Richiesta chiusa per inattività: nessun messaggio da {after}. Alla persona è stato detto."


def left_notice(name: str) -> str:
    return f"{name} ha chiuso la richiesta ed è di nuovo con l'assistente."


def reannounce(ticket_ids: list[int], waited: str) -> str:
    """One message for every ticket announced again in the same check."""
    if len(ticket_ids) == 1:
        return f"La richiesta n. {ticket_ids[0]} aspetta da {waited} in orario di ufficio: chi la prende?"
    numbers = ", ".join(f"n. {i}" for i in ticket_ids)
    return (
        f"{len(ticket_ids)} richieste aspettano da {waited} in orario di ufficio: {numbers}. Chi le prende?"
    )


UNCLAIMED_REASON = "unclaimed"
UNCLAIMED_STATE = "scaduta: nessuno l'ha presa"


def unclaimed_expired_notice(after: str) -> str:
    return (
        f"Richiesta chiusa: nessuno l'ha presa in {after} di orario d'ufficio. "
        "Alla persona è stato detto, con i vostri contatti."
    )


def blocked_notice(name: str) -> str:
    return f"{name} ha bloccato il bot: il messaggio non è arrivato."


def not_delivered_notice(name: str) -> str:
    return f"Non sono riuscito a consegnare il messaggio a {name}. Riprova tra poco."


def erased_title(ticket_id: int) -> str:
    """The title of a topic whose person erased her data: the number only."""
    return f"n. {ticket_id}"


def erased_notice(ticket_id: int) -> str:
    return (
        f"La persona della richiesta n. {ticket_id} ha cancellato i suoi dati: "
        "questa chat è stata cancellata e non si può più rispondere."
    )


def recreated_notice(ticket_id: int) -> str:
    return f"L'argomento della richiesta n. {ticket_id} era stato cancellato: l'ho ricreato."


def not_operator(partner: str) -> str:
    return f"Non sei registrato come operatore di {partner}: non puoi gestire questa richiesta."


NOT_LINKED = "Questo gruppo non è collegato a nessun ente. Un amministratore lo collega con /collega CODICE."


def taken_by_other(holder: str | None) -> str:
    who = holder or "un altro operatore"
    return (
        f"Questa richiesta l'ha presa {who}: può rispondere solo chi l'ha presa. "
        "Se serve, può lasciarla con /lascia."
    )


TICKET_ENDED = "Questa richiesta è chiusa: il messaggio non è stato inviato."
NOT_A_TICKET = "Scrivi dentro l'argomento di una richiesta: qui il messaggio non arriva a nessuno."
NOT_YOURS = "Solo chi ha preso la richiesta può lasciarla."
ALREADY_YOURS = "La richiesta è già tua."


def operator_registered(partner: str) -> str:
    return (
        f"Fatto: sei operatore di {partner}. Le richieste arrivano nel gruppo degli operatori, "
        "ognuna nel suo argomento. Premi «Prendo io» per rispondere, «Chiudi» quando hai finito. "
        "Con /coda vedi le richieste aperte."
    )


INVALID_CODE = "Questo codice non è valido o è scaduto. Chiedi un nuovo codice all'amministratore."
TOO_MANY_TRIES = "Troppi tentativi con codici sbagliati. Riprova tra un'ora."
CODE_MISSING = "Scrivi il comando seguito dal codice, per esempio: /operatore K7QX-M2PA"


def group_linked(partner: str) -> str:
    return (
        f"Fatto: questo gruppo riceve le richieste per {partner}. Ogni richiesta apre un argomento nuovo. "
        "Gli operatori si registrano scrivendo al bot in privato /operatore CODICE."
    )


GROUP_NOT_FORUM = (
    "Per ricevere le richieste questo gruppo deve avere gli argomenti attivi "
    "(Impostazioni del gruppo → Argomenti). Attivali e manda di nuovo il comando."
)


def queue_text(queues: tuple[PartnerQueue, ...]) -> str:
    """The queues of ``/coda`` as plain text, a block per partner."""
    blocks = []
    for queue in queues:
        if not queue.tickets:
            blocks.append(f"Nessuna richiesta aperta per {queue.partner}.")
            continue
        lines = [f"Richieste aperte per {queue.partner}:"]
        for t in queue.tickets:
            state = f"presa da {t.assigned}" if t.assigned else "in attesa"
            lines.append(
                f"• n. {t.ticket_id} {t.name}, {t.about or 'senza tema'}: {state} da {duration(t.seconds)}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
