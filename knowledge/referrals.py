"""Referrals: requests that belong to another public office (INPS, the CAF, the town's registry or
school office, ...), from ``knowledge/data/referrals.yml``. Checked by :mod:`knowledge.validate.referrals`.

    kb.find_referral("come faccio il bonus nido?")            # -> Referral(id="bonus_nido", ...)
    kb.find_referral(text, exclusive_only=True)                # only phrases that beat a topic
    kb.find_referral(text, loose=True)  # "i congedi parentali" finds "congedo parentale" (ask_referral)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from knowledge.text import normalise

FILE = "referrals.yml"


@dataclass(frozen=True)
class Referral:
    id: str
    name: str  # "Bonus asilo nido dell'INPS"
    office: str  # with its preposition: "all'INPS, anche con l'aiuto di un patronato"
    how: str  # one to three plain sentences
    source: str  # the official page that says so
    keywords: tuple[str, ...]  # normalised phrases
    exclusive: tuple[str, ...] = ()  # normalised phrases that win even over a topic
    sample: bool = False
    verify: bool = False


@lru_cache(maxsize=8)
def _phrases(referrals: tuple[Referral, ...], exclusive_only: bool) -> tuple[tuple[str, Referral], ...]:
    """(padded phrase, referral), longest phrase first (more words, then more letters), file order on ties."""
    found = [
        (f" {phrase} ", ref)
        for ref in referrals
        for phrase in (ref.exclusive if exclusive_only else ref.keywords)
    ]
    found.sort(key=lambda item: (-item[0].count(" "), -len(item[0])))
    return tuple(found)


def find_referral(
    referrals: tuple[Referral, ...], text: str, exclusive_only: bool = False, loose: bool = False
) -> Referral | None:
    """The referral with the longest keyword phrase contained in ``text`` (normalised), or None.

    ``loose``: when no phrase is contained as written, the longest phrase whose every word is in
    the text in some form (:func:`loose_words`), a few words apart at most: inflected, in another
    order, with a word between, or with one letter wrong in a long word. For a message already
    judged to be another office's business (ask_referral), where no exact wording is needed."""
    padded = f" {normalise(text)} "
    if padded == "  ":
        return None
    phrases = _phrases(referrals, exclusive_only)
    for phrase, ref in phrases:
        if phrase in padded:
            return ref
    if not loose:
        return None
    stems = [_stem(word) for word in padded.split()]
    for phrase, ref in phrases:
        wanted = loose_words(phrase)
        if wanted and _near(stems, wanted):
            return ref
    return None


def _near(stems: list[str], wanted: frozenset[str]) -> bool:
    """Every wanted word within a few words of the others: "prima" at the start of a letter and
    "elementare" at its end are not "prima elementare"."""
    span = len(wanted) + 3
    if len(wanted) == 1:
        return _has(frozenset(stems), next(iter(wanted)))
    for start in range(max(1, len(stems) - span + 1)):
        window = frozenset(stems[start : start + span])
        if all(_has(window, word) for word in wanted):
            return True
    return False


# Words that carry no meaning of their own in a keyword phrase ("orari dei treni": "orari", "treni").
_GLUE = frozenset(
    (
        "a",
        "ad",
        "al",
        "allo",
        "alla",
        "ai",
        "agli",
        "alle",
        "con",
        "da",
        "dal",
        "dalla",
        "dei",
        "degli",
        "delle",
        "del",
        "della",
        "di",
        "e",
        "il",
        "in",
        "la",
        "le",
        "lo",
        "gli",
        "i",
        "per",
        "su",
        "un",
        "una",
        "uno",
    )
)


def loose_words(text: str) -> frozenset[str]:
    """The text's meaningful words, each without its last vowel ("congedi", "congedo" -> "conged")."""
    return frozenset(_stem(word) for word in text.split() if word not in _GLUE)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word[-1] in "aeiou" else word


def _has(words: frozenset[str], wanted: str) -> bool:
    if wanted in words:
        return True
    if len(wanted) < 6:  # short words must be spelt right: "asl" is not "ask"
        return False
    return any(abs(len(word) - len(wanted)) <= 1 and _one_edit(word, wanted) for word in words)


def _one_edit(a: str, b: str) -> bool:
    """``a`` and ``b`` differ by one letter changed, added or removed ("pulman", "pullman")."""
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]
