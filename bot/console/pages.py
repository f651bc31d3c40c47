"""The console's HTML, rendered on the server (Italian, no script, no external assets). Every value is
escaped here; the handlers (:mod:`bot.console.web`) pass data only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from bot.console.charts import bar_chart
from bot.handoff.office_hours import ROME
from bot.insights.aggregates import MIN_PEOPLE, Table

DASHBOARD_ROLES = ("manager", "alliance")
ROLE_NAMES = {"operator": "operatore", "manager": "responsabile", "alliance": "alleanza"}


@dataclass(frozen=True)
class Viewer:
    """Who the page is for: her name, role and partner, and the form token of her session."""

    name: str
    role: str
    partner: str
    csrf: str


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">'


def layout(title: str, body: str, viewer: Viewer | None = None, *, script: str | None = None) -> str:
    head_script = f'<script src="{_e(script)}" defer></script>' if script else ""
    nav = ""
    if viewer is not None:
        nav = (
            '<nav aria-label="Console"><a href="/console/">Coda</a>'
            + (
                ' · <a href="/console/cruscotto">Cruscotto</a> · <a href="/console/revisione">Revisione</a>'
                if viewer.role in DASHBOARD_ROLES
                else ""
            )
            + "</nav>"
            f'<span class="who">{_e(viewer.name)} · {_e(ROLE_NAMES.get(viewer.role, viewer.role))} · '
            f"{_e(viewer.partner)}</span>"
            f'<form method="post" action="/console/logout">{hidden("csrf", viewer.csrf)}'
            '<button type="submit" class="secondary">Esci</button></form>'
        )
    return (
        '<!doctype html><html lang="it"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{head_script}<title>{_e(title)} · Concilia</title>"
        '<link rel="stylesheet" href="/console/static/console.css"></head><body>'
        '<a class="skip" href="#main">Vai al contenuto</a>'
        f"<header><span><strong>Concilia</strong> · console degli enti</span>{nav}</header>"
        f'<main id="main"><h1>{_e(title)}</h1>{body}</main></body></html>'
    )


def message(text: str | None, *, error: bool = False) -> str:
    if not text:
        return ""
    role = "alert" if error else "status"
    return f'<p class="{"error" if error else "notice"}" role="{role}">{_e(text)}</p>'


def login_page(csrf: str, error: str | None = None, info: str | None = None) -> str:
    body = (
        message(error, error=True)
        + message(info)
        + '<form method="post" action="/console/login">'
        + hidden("csrf", csrf)
        + '<label for="login">Nome utente</label>'
        '<input type="text" id="login" name="login" autocomplete="username" required autofocus>'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" autocomplete="current-password" required>'
        '<button type="submit">Entra</button></form>'
    )
    return layout("Accedi", body)


def invite_page(csrf: str, token: str, login: str, error: str | None = None) -> str:
    body = (
        message(error, error=True)
        + f"<p>Scegli la password per l'utente <strong>{_e(login)}</strong>. Il link vale una volta sola.</p>"
        + '<form method="post" action="/console/invito">'
        + hidden("csrf", csrf)
        + hidden("token", token)
        + '<label for="password">Nuova password (almeno 10 caratteri)</label>'
        '<input type="password" id="password" name="password" autocomplete="new-password" '
        'minlength="10" required>'
        '<label for="again">Ripeti la password</label>'
        '<input type="password" id="again" name="again" autocomplete="new-password" minlength="10" required>'
        '<button type="submit">Salva la password</button></form>'
    )
    return layout("Scegli la password", body)


def simple_page(title: str, text: str, viewer: Viewer | None = None, *, link: str = "/console/") -> str:
    return layout(title, f'<p>{_e(text)}</p><p><a href="{_e(link)}">Torna alla console</a></p>', viewer)


@dataclass(frozen=True)
class QueueRow:
    ticket_id: int
    partner: str
    name: str
    about: str | None
    state: str
    assigned: str | None
    waiting: str


@dataclass(frozen=True)
class Live:
    """Where the queue's script asks for the queue's version, and the version the page was drawn at."""

    url: str
    version: str


def queue_page(
    viewer: Viewer, rows: Sequence[QueueRow], info: str | None = None, *, live: Live | None = None
) -> str:
    if not rows:
        table = "<p>Nessuna richiesta aperta in questo momento.</p>"
    else:
        cells = "".join(
            f'<tr><td><a href="/console/ticket/{r.ticket_id}">n. {r.ticket_id}</a></td><td>{_e(r.name)}</td>'
            f"<td>{_e(r.about or '—')}</td><td>{_e(r.partner)}</td><td>{_e(r.state)}</td>"
            f"<td>{_e(r.assigned or '—')}</td><td>{_e(r.waiting)}</td></tr>"
            for r in rows
        )
        table = (
            '<table><caption class="muted">Richieste aperte, dalla più vecchia</caption><thead><tr>'
            '<th scope="col">Richiesta</th><th scope="col">Persona</th><th scope="col">Argomento e luogo</th>'
            '<th scope="col">Ente</th><th scope="col">Stato</th><th scope="col">Chi la segue</th>'
            f'<th scope="col">Da</th></tr></thead><tbody>{cells}</tbody></table>'
        )
    count = "Una richiesta aperta." if len(rows) == 1 else f"{len(rows)} richieste aperte."
    body = (
        message(info)
        + f'<p id="count" role="status" aria-live="polite">{count}</p>'
        + '<p class="muted"><span id="live">Per vedere le richieste nuove ricarica la pagina.</span> '
        '<button type="button" id="pause" class="secondary" aria-pressed="false" hidden>'
        "Sospendi l'aggiornamento</button></p>"
        + (
            f'<div id="queue" data-poll="{_e(live.url)}" data-version="{_e(live.version)}">'
            if live
            else '<div id="queue">'
        )
        + f"{table}</div>"
    )
    return layout("Coda delle richieste", body, viewer, script="/console/static/queue.js")


@dataclass(frozen=True)
class TicketPage:
    ticket_id: int
    title: str
    facts: Sequence[tuple[str, str]]
    transcript: Sequence[tuple[str, str, str]]  # (who, when, text)
    notes: Sequence[tuple[str, str, str]]  # (author, when, text)
    actions: Sequence[tuple[str, str]]  # (action, label)
    can_reply: bool
    can_reveal: bool
    revealed: bool
    # replies ready from the knowledge base: ("service", id, title) of a card, ("rule", id, title) of a
    # company-welfare rule
    prepared: Sequence[tuple[str, str, str]] = ()
    draft: str = ""  # the reply box's text (a service's card or a rule inserted)


def _form(ticket_id: int, path: str, csrf: str, inner: str) -> str:
    action = f"/console/ticket/{ticket_id}/{path}"
    return f'<form method="post" action="{action}">{hidden("csrf", csrf)}{inner}</form>'


def ticket_page(viewer: Viewer, t: TicketPage, info: str | None = None, error: str | None = None) -> str:
    facts = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in t.facts)
    lines = (
        "".join(
            f'<li><span class="who">{_e(who)}</span> <span class="muted">{_e(when)}</span><br>{_e(text)}</li>'
            for who, when, text in t.transcript
        )
        or "<li>Nessun messaggio.</li>"
    )
    buttons = "".join(
        _form(
            t.ticket_id,
            "azione",
            viewer.csrf,
            hidden("action", a) + f'<button type="submit">{_e(label)}</button>',
        )
        for a, label in t.actions
    )
    body = message(info) + message(error, error=True) + f"<dl>{facts}</dl>"
    if buttons:
        body += f'<div class="actions">{buttons}</div>'
    masked = "testo completo, la visione è registrata" if t.revealed else "dati personali mascherati"
    body += f'<h2 id="chat">La conversazione <span class="muted">({masked})</span></h2>'
    body += f'<ol class="transcript">{lines}</ol>'
    if t.can_reveal and not t.revealed:
        body += _form(
            t.ticket_id,
            "mostra",
            viewer.csrf,
            '<button type="submit" class="secondary">Mostra il testo completo (viene registrato)</button>',
        )
    if t.can_reply:
        body += '<h2 id="rispondi">Rispondi alla persona</h2>' + _form(
            t.ticket_id,
            "risposta",
            viewer.csrf,
            '<label for="reply">Messaggio</label>'
            f'<textarea id="reply" name="text" maxlength="4000" required>{_e(t.draft)}</textarea>'
            '<button type="submit">Invia</button>',
        )
        if t.prepared:
            items = "".join(
                "<li>"
                + _form(
                    t.ticket_id,
                    "prepara",
                    viewer.csrf,
                    hidden(field, key)
                    + f'<button type="submit" class="secondary">Inserisci: {_e(title)}</button>',
                )
                + "</li>"
                for field, key, title in t.prepared
            )
            body += (
                '<h3 id="pronte">Risposte pronte dalla base di conoscenza</h3>'
                '<p class="muted">Inserisci nel messaggio la scheda di un servizio o una regola del welfare '
                "aziendale, poi controllala e inviala.</p>"
                f"<ul>{items}</ul>"
            )
    notes = (
        "".join(
            f'<li><span class="who">{_e(a)}</span> <span class="muted">{_e(w)}</span><br>{_e(x)}</li>'
            for a, w, x in t.notes
        )
        or "<li>Nessuna nota.</li>"
    )
    body += '<h2 id="note">Note interne</h2><p class="muted">Le vede solo il personale dell\'ente.</p>'
    body += f'<ul class="transcript">{notes}</ul>'
    if t.can_reply:
        body += _form(
            t.ticket_id,
            "nota",
            viewer.csrf,
            '<label for="note-text">Nuova nota</label>'
            '<textarea id="note-text" name="text" maxlength="2000" required></textarea>'
            '<button type="submit" class="secondary">Aggiungi la nota</button>',
        )
    return layout(t.title, body, viewer)


def dashboard_page(viewer: Viewer, tables: Sequence[Table], weeks: int, waiting: int | None = None) -> str:
    """The needs dashboard: one table per figure, with its CSV link and how many rows were hidden, and how
    many messages of the review queue wait for a label."""
    nav = "".join(f'<li><a href="#{_e(t.name)}">{_e(t.title)}</a></li>' for t in tables)
    body = (
        f"<p>Ultime {weeks} settimane. Solo conteggi: le righe con meno di {MIN_PEOPLE} persone non vengono "
        f'mostrate.</p><nav aria-label="Tabelle"><ul>{nav}</ul></nav>'
    )
    if waiting is not None:
        what = "Un messaggio aspetta" if waiting == 1 else f"{waiting} messaggi aspettano"
        body += (
            f'<p id="in-revisione">{what} un\'etichetta nella '
            '<a href="/console/revisione">coda di revisione</a>.</p>'
        )
    for t in tables:
        head = "".join(f'<th scope="col">{_e(c)}</th>' for c in t.columns)
        rows = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in t.rows)
        table = (
            f'<table aria-labelledby="{_e(t.name)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>"
            if t.rows
            else "<p>Nessuna riga da mostrare.</p>"
        )
        hidden_rows = f" Righe nascoste (meno di {MIN_PEOPLE} persone): {t.hidden}." if t.hidden else ""
        chart = ""
        if "persone" in t.columns:
            at = t.columns.index("persone")
            bars = [
                (" · ".join(str(v) for v in r[:at]), int(r[at])) for r in t.rows if isinstance(r[at], int)
            ]
            chart = bar_chart(f"{t.name}-chart", t.title, bars)
        body += (
            f'<h2 id="{_e(t.name)}">{_e(t.title)}</h2>{chart}{table}<p class="muted">{hidden_rows.strip()} '
            f'<a href="/console/cruscotto/{_e(t.name)}.csv">Scarica in CSV</a></p>'
        )
    return layout("Cruscotto dei bisogni", body, viewer)


@dataclass(frozen=True)
class ReviewRow:
    message_id: int
    at: datetime
    text: str  # masked
    reason: str
    intent: str  # what the assistant understood
    label: str | None
    labelled_by: str | None
    exported: bool


def review_page(
    viewer: Viewer,
    rows: Sequence[ReviewRow],
    choices: Sequence[str],
    editable: bool,
    waiting: int,
    info: str | None = None,
    error: str | None = None,
) -> str:
    """The review queue: each message (masked) with why it is here, what the assistant understood and its
    label; a manager's form to label it (not once exported). ``waiting``: how many have no label."""
    body = (
        message(info)
        + message(error, error=True)
        + f'<p id="waiting" role="status">Da etichettare: {waiting}. Dati personali mascherati.</p>'
        + "<p class=\"muted\">Scegli l'intento giusto, «new_need» (un bisogno che l'assistente non conosce) "
        "o «out_of_scope» (fuori tema). Le etichette vanno nei dati di addestramento con "
        "<code>concilia review export</code>.</p>"
    )
    if not rows:
        return layout("Coda di revisione", body + "<p>Nessun messaggio da rivedere.</p>", viewer)
    lines = []
    for r in rows:
        current = _e(r.label) + (f" ({_e(r.labelled_by)})" if r.labelled_by else "") if r.label else "—"
        if editable and not r.exported:
            options = ("" if r.label else '<option value="" selected>scegli…</option>') + "".join(
                f'<option value="{_e(c)}"{" selected" if c == r.label else ""}>{_e(c)}</option>'
                for c in choices
            )
            field = f"label-{r.message_id}"
            cell = (
                f'<form method="post" action="/console/revisione/{r.message_id}">'
                + hidden("csrf", viewer.csrf)
                + f'<label for="{field}" class="muted">Etichetta</label>'
                f'<select id="{field}" name="label">{options}</select>'
                '<button type="submit" class="secondary">Salva</button></form>'
            )
        else:
            cell = "esportata" if r.exported else "—"
        lines.append(
            f"<tr><td>{_e(r.at.astimezone(ROME).strftime('%d/%m %H:%M'))}</td><td>{_e(r.text)}</td>"
            f"<td>{_e(r.reason)}</td><td>{_e(r.intent)}</td><td>{current}</td><td>{cell}</td></tr>"
        )
    body += (
        '<table><caption class="muted">Messaggi da rivedere, dal più recente</caption><thead><tr>'
        '<th scope="col">Quando</th><th scope="col">Messaggio</th><th scope="col">Perché</th>'
        '<th scope="col">Capito come</th><th scope="col">Etichetta</th><th scope="col">Azione</th>'
        f"</tr></thead><tbody>{''.join(lines)}</tbody></table>"
    )
    return layout("Coda di revisione", body, viewer)
