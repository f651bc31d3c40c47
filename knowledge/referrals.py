"""Referrals: requests that belong to another public office (INPS, the CAF, the town's registry or
school office, ...), from ``knowledge/data/referrals.yml``. Checked by :mod:`knowledge.validate.referrals`.

    kb.find_referral("come faccio il bonus nido?")            # -> Referral(id="bonus_nido", ...)
    kb.find_referral(text, exclusive_only=True)                # only phrases that beat a topic
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
    referrals: tuple[Referral, ...], text: str, exclusive_only: bool = False
) -> Referral | None:
    """The referral with the longest keyword phrase contained in ``text`` (normalised), or None."""
    padded = f" {normalise(text)} "
    if padded == "  ":
        return None
    for phrase, ref in _phrases(referrals, exclusive_only):
        if phrase in padded:
            return ref
    return None
