"""Personal data masked in text: phone numbers (as ``phonenumbers`` finds them, Italian by default: a
Telegram chat id or a date is not one), e-mail addresses, codici fiscali and IBANs, and (where the labels
ask for it: what staff see) street addresses with a house number. The log filter
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
    if len(_DIGITS.findall(text)) < 6:  # the shortest Italian number has six digits
        return text
    found = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    spans = [(m.start, m.end) for m in found]
    for start, end in reversed(spans):
        text = text[:start] + labels["phone"] + text[end:]
    return text
