"""Personal data masked in text: phone numbers (as ``phonenumbers`` finds them, Italian by default: a
Telegram chat id or a date is not one), e-mail addresses, codici fiscali and IBANs, and (where the labels
ask for it: what staff see) street addresses: with a house number, or without one when the street has a
name written as a name ("via Roma", "piazza della Libertà") or follows "abito in", "vivo in"... ("abito in
via roma a magenta"). The log filter
(:mod:`bot.logs`) and the partners' console (:mod:`bot.console`) both mask with :func:`mask`, each with
its own labels."""

from __future__ import annotations

import re
from collections.abc import Mapping

import phonenumbers

# Codice fiscale: 6 letters (surname, name), year, month letter, day, place, check letter; the digits may be
# replaced by letters (omocodia).
_DIGITISH = "[0-9LMNPQRSTUV]"
_TAX_CODE = re.compile(
    rf"\b[A-Z]{{6}}{_DIGITISH}{{2}}[ABCDEHLMPRST]{_DIGITISH}{{2}}[A-Z]{_DIGITISH}{{3}}[A-Z]\b", re.IGNORECASE
)
# IBAN: country, two check digits, then 11-30 letters or digits, written in groups of four or not at all.
# The check digits are not verified: a mistyped IBAN is still somebody's.
_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DIGITS = re.compile(r"\d")
# A street address: a kind of street, one to five words of its name, a house number ("via Roma 3",
# "piazza della Libertà, 12/a"). Without a number it is not masked ("in via di definizione"), nor when the
# words are not a name ("in piazza alle 10") or the number counts something ("il corso dura 2 settimane").
_STREET = r"(?:via|viale|v\.le|piazza|p\.zza|piazzale|corso|c\.so|largo|vicolo|strada|località|loc\.)"
_NOT_NAME = r"(?!(?:alle|alla|al|ai|dalle|dura|durano|per|tra|fra|ogni|circa|entro|verso|ore|costa)\b)"
_WORD = rf"{_NOT_NAME}[^\W\d][\w'’.]*"
_COUNTED = r"(?!\s*(?:volte|settimane|giorni|mesi|anni|ore|minuti|euro|€|%|posti|bambini|persone)\b)"
_ADDRESS = re.compile(
    rf"\b{_STREET}\s+(?:{_WORD}\s+){{0,4}}{_WORD}\s*,?\s*\d{{1,4}}(?:\s*/\s*\w|[a-z])?\b{_COUNTED}",
    re.IGNORECASE,
)

# Without a house number: the street's name in capitals (particles between), or in lower case right after
# words that say where she lives. Ordinary words stay: "via mail", "corso di nuoto", "strada facendo".
_KIND = re.compile(rf"(?<![\w.]){_STREET}(?=\s)", re.IGNORECASE)
_NEXT = re.compile(r"\s+([^\W\d][\w'’.]*)")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PARTICLES = _words("di de del della dello dell dei degli delle d san santa sant santo s.")
_LIVES = re.compile(
    r"\b(?:abito|abitiamo|abita|vivo|viviamo|vive|risiedo|risiede|residente|residenti|domiciliat[oa]|"
    r"sto|stiamo|indirizzo|domicilio|casa(?: mia)?(?: è)?)\s*(?:è\s+)?(?:in|a|al|alla|nella|:)?\s*$",
    re.IGNORECASE,
)
# words that end a street's name written in lower case: prepositions, articles, verbs, times, channels
_NOT_STREET_NAME = _words(
    "a ad al alla alle ai in e ed con da dalle vicino presso dove che ma o per tra fra numero n civico "
    "angolo dietro davanti accanto sono è ho non mi ci ti si la il lo le gli i un una uno mail email "
    "telefono whatsapp sms posta ore oggi domani stasera adesso ora ogni circa entro verso dura costa"
)
_NAME_WORDS = 5
# "in via di definizione / guarigione / completamento / sviluppo": an idiom, not a street
_IN_VIA_DI = re.compile(r"\s+di\s+[a-zà-ù]+(?:zione|ione|mento|ppo)\b")


def _unnumbered(text: str, label: str) -> str:
    out, done = [], 0
    for kind in _KIND.finditer(text):
        if kind.start() < done:
            continue
        lives = bool(_LIVES.search(text[max(0, kind.start() - 40) : kind.start()]))
        if kind.group().lower() == "via" and _IN_VIA_DI.match(text, kind.end()):
            continue
        end, named, at = None, 0, kind.end()
        for _ in range(_NAME_WORDS):
            word = _NEXT.match(text, at)
            if word is None:
                break
            w = word.group(1)
            head, _, tail = w.replace("’", "'").partition("'")
            if head.lower() in _PARTICLES and tail:  # "dell'Arte": the name after the particle
                w = tail
            elif w.lower() in _PARTICLES:
                at = word.end()
                continue
            if not (w[0].isupper() or (lives and named < 3 and w.lower() not in _NOT_STREET_NAME)):
                break
            named, at = named + 1, word.end()
            end = at
        if end is not None:
            out.append(text[done : kind.start()] + label)
            done = end
    return "".join(out) + text[done:]


LOG_LABELS = {"phone": "<phone>", "email": "<email>", "tax_code": "<tax-code>", "iban": "<iban>"}
ITALIAN_LABELS = {
    "phone": "[telefono]",
    "email": "[e-mail]",
    "tax_code": "[codice fiscale]",
    "iban": "[IBAN]",
    "address": "[indirizzo]",
}


def mask(text: str, labels: Mapping[str, str] = LOG_LABELS, region: str = "IT") -> str:
    text = _EMAIL.sub(labels["email"], text)
    text = _IBAN.sub(labels["iban"], text)
    text = _TAX_CODE.sub(labels["tax_code"], text)
    if "address" in labels:  # staff's views only: the log filter keeps street names
        text = _ADDRESS.sub(labels["address"], text)
        text = _unnumbered(text, labels["address"])
    if len(_DIGITS.findall(text)) < 6:  # the shortest Italian number has six digits
        return text
    found = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    spans = [(m.start, m.end) for m in found]
    for start, end in reversed(spans):
        text = text[:start] + labels["phone"] + text[end:]
    return text
