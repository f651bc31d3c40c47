"""Personal data masked in text: phone numbers (as ``phonenumbers`` finds them, Italian by default: a
Telegram chat id or a date is not one), e-mail addresses, codici fiscali and IBANs. The log filter
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

LOG_LABELS = {"phone": "<phone>", "email": "<email>", "tax_code": "<tax-code>", "iban": "<iban>"}
ITALIAN_LABELS = {
    "phone": "[telefono]",
    "email": "[e-mail]",
    "tax_code": "[codice fiscale]",
    "iban": "[IBAN]",
}


def mask(text: str, labels: Mapping[str, str] = LOG_LABELS, region: str = "IT") -> str:
    text = _EMAIL.sub(labels["email"], text)
    text = _IBAN.sub(labels["iban"], text)
    text = _TAX_CODE.sub(labels["tax_code"], text)
    if len(_DIGITS.findall(text)) < 6:  # the shortest Italian number has six digits
        return text
    found = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    spans = [(m.start, m.end) for m in found]
    for start, end in reversed(spans):
        text = text[:start] + labels["phone"] + text[end:]
    return text
