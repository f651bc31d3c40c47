"""A small, valid knowledge base tree for the knowledge tests, and helpers to break it on purpose."""

from __future__ import annotations

from datetime import date
from pathlib import Path

TODAY = date(2026, 11, 26)

TERRITORIES = """\
territories:
  - id: magentino
    name: Magentino
    area: null
    aliases: [magentino, zona magenta]
    towns:
      - name: Corbetta
        aliases: []
        rite: ambrosian
        verify: false
        lat: 45.468
        lon: 8.919
      - name: Magenta
        rite: ambrosian
        lat: 45.465
        lon: 8.884
  - id: castanese
    name: Castanese
    area: Alto Milanese
    aliases: [castanese]
    towns:
      - name: Castano Primo
        aliases: [castano]
        rite: ambrosian
      - name: Robecchetto con Induno
        aliases: [robecchetto]
        rite: ambrosian
  - id: legnanese
    name: Legnanese
    area: Alto Milanese
    aliases: [legnanese, zona legnano]
    towns:
      - name: Legnano
        rite: ambrosian
        lat: 45.596
        lon: 8.918
      - name: San Vittore Olona
        aliases: [san vittore, s. vittore olona]
        rite: ambrosian
  - id: abbiatense
    name: Abbiatense
    area: null
    aliases: [abbiatense]
    towns:
      - name: Abbiategrasso
        aliases: [abbiate]
        rite: ambrosian
      - name: Vermezzo con Zelo
        aliases: [vermezzo, zelo]
        rite: roman
        verify: true
"""

TOPICS = """\
topics:
  - id: school_closure
    name: Scuole chiuse e centri estivi
    keywords: [scuole chiuse]
    kinds:
      - id: summer_camp
        name: Centri estivi
        keywords: [centro estivo, centri estivi, grest]
      - id: after_school
        name: Doposcuola
  - id: evening_nursery
    name: Nidi serali e al sabato
    kinds:
      - id: evening_nursery
        name: Nido serale
"""

PARTNERS = """\
partners:
  - id: alleanza
    name: Alleanza per la conciliazione (esempio)
    kind: public_body
    role: Coordina l'alleanza e risponde a tutti.
    territories: [magentino, castanese, legnanese, abbiatense]
    topics: [school_closure, evening_nursery]
    default: true
    contacts:
      email: info@example.org
      phone: "000 000 0100"
      web: https://alleanza.example.org
    office_hours:
      mon: ["09:00-13:00", "14:00-17:00"]
      fri: ["09:00-13:00"]
    holidays: [2026-12-24, 2026-12-31]
    away_message: Ti risponderemo appena riapre l'ufficio.
    sample: true
    last_reviewed: 2026-11-20
  - id: coop-magentino
    name: Cooperativa del Magentino (esempio)
    kind: cooperative
    role: Gestisce i centri estivi del Magentino.
    territories: [magentino]
    topics: [school_closure]
    default: false
    contacts:
      phone: "000 000 0101"
    sample: true
    last_reviewed: 2026-11-20
"""

SCHOOL_CLOSURE = """\
services:
  - id: cre-corbetta-2027
    title: Centro estivo di Corbetta
    topic: school_closure
    kind: summer_camp
    provider: coop-magentino
    territories: [magentino]
    towns: [Corbetta]
    open_to_non_residents: true
    ages: {min: 6, max: 11}
    period:
      label: estate 2027
      start: 2027-06-14
      end: 2027-07-30
      closed_on: [2027-06-29]
    schedule:
      days: [mon, tue, wed, thu, fri]
      hours: ["08:30-16:30"]
      notes: pre dalle 7:30 su richiesta
    cost: 85 € a settimana, pasto incluso
    cost_eur: {amount: 85, per: week}
    enrolment:
      how: Iscrizione online con SPID.
      opens: 2027-04-01
      deadline: 2027-05-15
    contacts:
      email: estate.corbetta@example.org
    description: Giochi, laboratori e gite.
    sample: true
    verify: false
    last_reviewed: 2026-11-20
  - id: campus-magentino-agosto-2027
    title: Campus d'agosto del Magentino
    topic: school_closure
    kind: summer_camp
    provider: coop-magentino
    territories: [magentino]
    towns: []
    ages: {min: 3, max: 6}
    period: {label: agosto 2027, start: 2027-08-02, end: 2027-08-27}
    schedule: {days: [mon, tue, wed, thu, fri], hours: ["08:00-12:30"]}
    cost: gratuito
    cost_eur: {amount: 0, per: period}
    enrolment: {how: In Comune.}
    contacts: {web: https://magentino.example.org/agosto}
    sample: true
    last_reviewed: 2026-11-20
  - id: doposcuola-legnano-2026
    title: Doposcuola di Legnano
    topic: school_closure
    kind: after_school
    provider: alleanza
    territories: [legnanese]
    towns: [Legnano]
    ages: {min: 6, max: 13}
    period: {label: anno scolastico 2026/27, start: 2026-09-14, end: 2027-06-08}
    schedule: {days: [mon, wed], hours: ["14:00-18:00"]}
    cost: 30 € al mese
    enrolment: {how: Online.}
    contacts: {email: doposcuola@example.org}
    sample: true
    last_reviewed: 2026-11-20
"""

EVENING_NURSERY = """\
services:
  - id: nido-sera-magenta
    title: Nido serale di Magenta
    topic: evening_nursery
    kind: evening_nursery
    provider: alleanza
    territories: [magentino]
    towns: [Magenta]
    ages: {min: 0, max: 3}
    period: {start: 2026-09-07, end: 2027-07-30}
    schedule: {days: [mon, tue, wed, thu, fri, sat], hours: ["18:00-22:00"]}
    cost: 5 € l'ora
    cost_eur: {amount: 5, per: hour}
    enrolment: {how: Telefona al nido.}
    contacts: {phone: "000 000 0102"}
    sample: true
    last_reviewed: 2026-11-20
"""

CALENDAR = """\
school_year:
  id: 2026-27
  region: Lombardia
  source: DGR IX/3318 del 2012
  start: 2026-09-14
  start_infanzia: 2026-09-07
  end: 2027-06-08
  end_infanzia: 2027-06-30
  verify: true
closures:
  - id: natale-2026
    name: Vacanze di Natale
    kind: christmas
    start: 2026-12-23
    end: 2027-01-06
    rite: all
  - id: carnevale-romano-2027
    name: Carnevale (rito romano)
    kind: carnival
    start: 2027-02-08
    end: 2027-02-09
    rite: roman
    verify: true
  - id: carnevale-ambrosiano-2027
    name: Carnevale (rito ambrosiano)
    kind: carnival
    start: 2027-02-12
    end: 2027-02-13
    rite: ambrosian
    notes: Vale per i comuni di rito ambrosiano.
    verify: true
"""

WELFARE = """\
welfare:
  verify_note: Chiedi sempre conferma al consulente del lavoro.
  thresholds:
    - id: fringe-benefit
      title: Fringe benefit esenti
      amount_eur: 1000
      amount_with_children_eur: 2000
      years: [2025, 2026, 2027]
  benefits:
    - id: istruzione-figli
      title: Istruzione e servizi per i figli
      covers: [nido, centri estivi]
      reimbursable: true
  territorial_agreement:
    title: Accordo territoriale di welfare
    steps: [Contatta il partner, Firma l'adesione]
    contact_partner: alleanza
  faqs:
    - q: Posso rimborsare la retta del nido?
      a: Sì, come servizio di istruzione per i figli.
      keywords: [nido, rimborso]
"""

FILES = {
    "territories.yml": TERRITORIES,
    "topics.yml": TOPICS,
    "partners.yml": PARTNERS,
    "services/school_closure.yml": SCHOOL_CLOSURE,
    "services/evening_nursery.yml": EVENING_NURSERY,
    "calendar.yml": CALENDAR,
    "welfare.yml": WELFARE,
}


def write_tree(root: Path) -> Path:
    """Write the sample tree under ``root`` and return it."""
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def edit(path: Path, old: str, new: str, after: str | None = None) -> str:
    """Replace the first ``old`` (after the text ``after``, if given) in the file; returns the new text."""
    text = path.read_text(encoding="utf-8")
    begin = 0
    if after is not None:
        assert after in text, f"{after!r} not in {path.name}"
        begin = text.index(after)
    at = text.find(old, begin)
    assert at >= 0, f"{old!r} not in {path.name}"
    text = text[:at] + new + text[at + len(old) :]
    path.write_text(text, encoding="utf-8")
    return text


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """1-based line of the first ``needle`` (after the text ``after``, if given)."""
    begin = text.index(after) if after is not None else 0
    at = text.index(needle, begin)
    return text.count("\n", 0, at) + 1
