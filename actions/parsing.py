"""Readers of the words of one message: age, period, place, the kinds of service its keywords name,
what it asks about a service (cost, hours, ...) and whether it is a short follow-up ("e a Pasqua?").

Every reader works on the normalised text (lower case, no accents, no punctuation: see
knowledge.normalise), except where a name's capital letter helps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from knowledge import KnowledgeBase, normalise
from knowledge.common_words import FUNCTION_WORDS

MONTHS = {
    "gennaio": 1,
    "febbraio": 2,
    "marzo": 3,
    "aprile": 4,
    "maggio": 5,
    "giugno": 6,
    "luglio": 7,
    "agosto": 8,
    "settembre": 9,
    "ottobre": 10,
    "novembre": 11,
    "dicembre": 12,
}
# period words -> closure kind in the school calendar
HOLIDAY_WORDS = {
    "natale": "christmas",
    "natalizie": "christmas",
    "natalizio": "christmas",
    "capodanno": "christmas",
    "pasqua": "easter",
    "pasquali": "easter",
    "pasquale": "easter",
    "carnevale": "carnival",
    "ponte": "bridge",
    "ponti": "bridge",
}
SUMMER_WORDS = ("estate", "estivo", "estivi", "estiva", "estive")

NUMBER_WORDS = {
    "un": 1,
    "uno": 1,
    "una": 1,
    "due": 2,
    "tre": 3,
    "quattro": 4,
    "cinque": 5,
    "sei": 6,
    "sette": 7,
    "otto": 8,
    "nove": 9,
    "dieci": 10,
    "undici": 11,
    "dodici": 12,
    "tredici": 13,
    "quattordici": 14,
}
AGE_RE = re.compile(r"\b(\d{1,2}|" + "|".join(NUMBER_WORDS) + r")\s*(anni|anno|mesi|mese)\b")

# Words for the two kinds of nursery opening, refining the ask_nursery intent.
EVENING_WORDS = ("sera", "serale", "serali", "sere", "cena", "tardi", "notte")
SATURDAY_WORDS = ("sabato", "sabati", "weekend", "fine settimana")

# A keyword made only of these words names a period, not a service ("vacanze di natale", "luglio",
# "scuole chiuse"): in a follow-up it changes the period of the question, not its kind.
PERIOD_ONLY_WORDS = (
    set(MONTHS)
    | set(HOLIDAY_WORDS)
    | set(SUMMER_WORDS)
    | {"vacanze", "vacanza", "befana", "di", "giorni", "giorno", "giornata", "scuola", "scuole"}
    | {"chiusa", "chiuse", "chiusura"}
)

# Short messages that start like this continue the question before ("e a Pasqua?", "invece a Magenta?").
FOLLOW_UP_STARTS = ("e", "ed", "invece", "anche", "pure", "mentre", "e se", "e invece")
FOLLOW_UP_MAX_WORDS = 8

# What a message asks about a service, one lexicon for the whole assistant. An entry is a phrase of
# normalised words; a word ending in "*" matches every word that starts with it ("iscriv*": iscrivere,
# iscriverlo, iscrivermi). NOT_ASKING phrases are removed first: they use the same words without
# asking for that attribute ("orari di lavoro", "fine settimana", "ho una domanda").
ATTRIBUTE_WORDS: dict[str, tuple[str, ...]] = {
    "cost": (
        "quanto costa", "quanto costano", "costa", "costano", "costo", "costi", "prezz*", "retta",
        "rette", "gratis", "gratuit*", "si paga", "si pagano", "pagare", "pagamento", "tariff*",
        "quanto si spende", "quanto spendo", "quanto viene",
    ),
    "hours": (
        "orari", "orario", "a che ora", "fino a che ora", "da che ora", "che ore", "fino alle", "apre alle",
        "chiude alle",
    ),
    "dates": (
        "quando inizi*", "quando comincia*", "quando finisc*", "quando termin*", "quando parte",
        "quando partono", "da quando", "fino a quando", "le date", "che date", "quali date", "in che date",
        "data di inizio", "settimane",
        "quando c e", "quando ci sono",
    ),
    "enrolment": (
        "iscriv*", "iscrizion*", "fare domanda", "fare la domanda", "presentare domanda",
        "presentare la domanda", "come faccio ad accedere", "come si accede", "come accedere", "prenot*",
        "come partecipare", "come si partecipa",
    ),
    "ages": (
        "che eta", "da che eta", "fino a che eta", "quale eta", "per che eta", "eta minima", "eta massima",
        "limite di eta", "limiti di eta", "quanti anni deve", "quanti anni devono",
    ),
    "contacts": (
        "numero", "numeri", "telefono", "telefonare", "telefonico", "cellulare", "contatti", "contatto",
        "email", "e mail", "mail", "chi devo chiamare", "chi chiamo", "a chi mi rivolgo", "a chi rivolgermi",
        "a chi posso rivolgermi", "recapit*",
    ),
    "where": (
        "dove si trova", "dove si trovano", "dove si svolge", "dove si svolgono", "dove si fa",
        "dove si fanno", "dove si tiene", "dove e", "dov e", "dove sta", "indirizz*", "in che via",
        "in quale via", "che via",
    ),
}
NOT_ASKING = (
    "orari* di lavoro", "orari* lavorativ*", "orario prolungato", "orari prolungati", "orari della citta",
    "orari degli uffici", "piano degli orari", "piano orari", "miei orari", "fine settimana",
    "ho una domanda", "una domanda", "numero di settimane", "numero di posti", "numero di bambini",
    "numero di dipendenti",
)


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date
    closure_kind: str | None = None  # christmas, easter, carnival, bridge, summer

    def encode(self) -> str:
        return f"{self.label}|{self.start.isoformat()}|{self.end.isoformat()}|{self.closure_kind or ''}"

    @classmethod
    def decode(cls, value: str | None) -> Period | None:
        if not value:
            return None
        try:
            label, start, end, kind = value.split("|")
            return cls(label, date.fromisoformat(start), date.fromisoformat(end), kind or None)
        except ValueError:
            return None


def has_word(text: str, words: tuple[str, ...] | list[str]) -> bool:
    padded = f" {text} "
    return any(f" {w} " in padded for w in words)


def _phrase_re(phrase: str) -> str:
    parts = [re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w) for w in phrase.split()]
    return r"\b" + r" ".join(parts) + r"\b"


_ATTRIBUTE_RES = {
    attr: re.compile("|".join(_phrase_re(p) for p in phrases)) for attr, phrases in ATTRIBUTE_WORDS.items()
}
# "lavoro fino alle 20" says when the person is busy, it does not ask an opening time
NOT_ASKING_RES = (r"\b(?:lavor\w*|esco|stacco|finisco|rientro|torno|turn[oi])\b(?: \w+){0,3} fino alle\b",)
_NOT_ASKING_RE = re.compile("|".join([_phrase_re(p) for p in NOT_ASKING] + list(NOT_ASKING_RES)))


def asked_attributes(text: str) -> set[str]:
    """Every attribute the normalised text asks about."""
    cleaned = _NOT_ASKING_RE.sub(" ", text)
    return {attr for attr, pattern in _ATTRIBUTE_RES.items() if pattern.search(cleaned)}


def detect_attribute(text: str) -> str | None:
    """The one attribute the text asks about; None when it asks none, or several (then a list answers)."""
    found = asked_attributes(text)
    return found.pop() if len(found) == 1 else None


def is_follow_up(text: str) -> bool:
    """A short message continuing the previous question: "e a Pasqua?", "e per la piccola di 4 anni?"."""
    words = text.split()
    return 0 < len(words) <= FOLLOW_UP_MAX_WORDS and any(
        text == s or text.startswith(s + " ") for s in FOLLOW_UP_STARTS
    )


@dataclass(frozen=True)
class KeywordHit:
    topic: str
    kind: str
    strong: bool  # False when the keyword only names a period ("natale", "vacanze di pasqua")


@lru_cache(maxsize=4)
def _kind_keywords(kb: KnowledgeBase) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(topic, kind, normalised keywords) of one knowledge base, computed once."""
    return tuple(
        (topic.id, kind.id, tuple(normalise(k) for k in kind.keywords))
        for topic in kb.topics.values()
        for kind in topic.kinds.values()
    )


def keyword_hits(kb: KnowledgeBase, text: str) -> list[KeywordHit]:
    """The kinds of service whose keywords (topics.yml) appear in the normalised text, in file order."""
    hits: list[KeywordHit] = []
    padded = f" {text} "
    for topic_id, kind_id, keywords in _kind_keywords(kb):
        matched = [k for k in keywords if f" {k} " in padded]
        if matched:
            strong = any(not set(k.split()) <= PERIOD_ONLY_WORDS for k in matched)
            hits.append(KeywordHit(topic_id, kind_id, strong))
    return hits


def first_topic(hits: list[KeywordHit]) -> tuple[str | None, tuple[str, ...]]:
    """The first topic named, with all its kinds named."""
    if not hits:
        return None, ()
    topic = hits[0].topic
    return topic, tuple(h.kind for h in hits if h.topic == topic)


def detect_kinds(kb: KnowledgeBase, text: str) -> tuple[str | None, tuple[str, ...]]:
    """Topic and kinds named by keywords in the text (normalised), or (None, ())."""
    return first_topic(keyword_hits(kb, text))


def parse_age(text: str, entities: list[dict[str, Any]]) -> float | None:
    for ent in entities:
        if ent.get("entity") == "age":
            try:
                value = float(str(ent.get("value")).strip())
            except ValueError:
                continue
            if 0 <= value <= 17:
                return value
    m = AGE_RE.search(text)
    if not m:
        return None
    raw, unit = m.groups()
    n = int(raw) if raw.isdigit() else NUMBER_WORDS[raw]
    years = n // 12 if unit.startswith("mes") else n
    return float(years) if 0 <= years <= 17 else None


def next_month_range(month: int, today: date) -> tuple[date, date]:
    year = today.year if month >= today.month else today.year + 1
    start = date(year, month, 1)
    end = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
    return start, end


def parse_period(kb: KnowledgeBase, text: str, entities: list[dict[str, Any]], today: date) -> Period | None:
    words = " ".join(
        [text] + [normalise(str(e.get("value", ""))) for e in entities if e.get("entity") == "period"]
    )
    for name, month in MONTHS.items():
        if has_word(words, [name]):
            start, end = next_month_range(month, today)
            return Period(f"{'ad' if name.startswith('a') else 'a'} {name}", start, end)
    for word, kind in HOLIDAY_WORDS.items():
        if has_word(words, [word]):
            closures = [c for c in kb.closures if c.kind == kind and c.end >= today]
            if closures:
                first = min(closures, key=lambda c: c.start)
                last = max(
                    (c for c in closures if c.start <= first.start + timedelta(days=20)), key=lambda c: c.end
                )
                return Period(
                    f"per {word.capitalize() if kind != 'bridge' else 'i ponti'}", first.start, last.end, kind
                )
    if has_word(words, list(SUMMER_WORDS)):
        year = kb.school_year.end.year
        return Period("in estate", kb.school_year.end + timedelta(days=1), date(year, 9, 11), "summer")
    return None


@lru_cache(maxsize=256)
def _find_place(kb: KnowledgeBase, text: str):
    """kb.find_place, once per message: the action and send() both read the place."""
    return kb.find_place(text)


def parse_place(kb: KnowledgeBase, text: str, entities: list[dict[str, Any]]):
    """(comune, territory, territories) named in the message, or Nones.

    The knowledge base's own finder reads the whole message first (it knows typos, short forms and
    which town names are also ordinary words); the model's entities are the fallback."""
    place = _find_place(kb, text) if text else None
    if place is not None:
        if place.town is not None:
            return place.town.name, place.town.territory, (place.town.territory,)
        territories = tuple(place.territories) or ((place.territory,) if place.territory else ())
        return None, place.territory, territories
    for ent in entities:
        if ent.get("entity") == "town":
            town = kb.resolve_town(str(ent.get("value", "")))
            if town is not None:
                return town.name, town.territory, (town.territory,)
        if ent.get("entity") == "territory":
            place = kb.find_place(str(ent.get("value", "")))
            if place is not None and (place.territory or place.territories):
                territories = tuple(place.territories) or (place.territory,)
                return None, place.territory, territories
    return None, None, ()


# "per chi abita a Milano", "sono di Novara": the words after these name where the person lives.
RESIDENCE_CUES = re.compile(
    r"\b(?:abit\w*|viv[oeia]\w*|resident[ei]|residenza)\s+(?:a|ad|in|di|da|nel|nella)\s+", re.IGNORECASE
)
CAPITAL_CUES = re.compile(
    r"\b(?:sono|siamo|sta|sto|stiamo|lavor\w+|vale anche|anche|comune)\s+(?:a|ad|in|di|da|per)\s+",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"[A-Za-zÀ-ÿ]+")
NAME_STARTS = {"busto", "san", "sant", "santa", "santo", "villa", "cerro", "borgo", "castel", "cassano"}
NOT_PLACE_WORDS = FUNCTION_WORDS | {"chi", "casa", "tutti", "tutta", "tutto", "noi", "voi", "me", "te"}


def named_place(raw: str) -> str | None:
    """A place name written after "abita a", "vivo a", "sono di" …, as written, whether the knowledge base
    knows it or not (to say plainly that a town outside the four ambiti is not covered). After "abito a"
    a name may be written in lower case; after other cues it needs its capital letter."""
    for cues, lower_ok in ((RESIDENCE_CUES, True), (CAPITAL_CUES, False)):
        for m in cues.finditer(raw):
            words = _NAME_WORD.findall(raw[m.end() : m.end() + 40])[:3]
            if not words:
                continue
            first = words[0]
            if normalise(first) in NOT_PLACE_WORDS and normalise(first) not in NAME_STARTS:
                continue
            if first[0].isupper():
                name = [first] + list(_capitalised_run(words[1:]))
            elif lower_ok and normalise(first) in NAME_STARTS and len(words) > 1:
                name = words[:2]  # "busto arsizio", "san donato"
            elif lower_ok and len(first) >= 3 and normalise(first) not in NOT_PLACE_WORDS:
                name = [first]
            else:
                continue
            return " ".join(w[:1].upper() + w[1:] for w in name)
    return None


def _capitalised_run(words: list[str]):
    for w in words:
        if not w[0].isupper():
            return
        yield w
