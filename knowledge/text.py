"""Text normalisation shared by the knowledge base, the place finder and the lookup tables."""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[\W_]+")


def strip_accents(text: str) -> str:
    """``"perché è già"`` -> ``"perche e gia"`` (Unicode NFKD, combining marks dropped)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise(text: str) -> str:
    """Lower case, accents stripped, apostrophes and punctuation turned into spaces, spaces collapsed.

    >>> normalise("  Nell'Abbiatense, S. Vittore   Olona! ")
    'nell abbiatense s vittore olona'
    """
    return " ".join(_NOT_WORD.sub(" ", strip_accents(text).casefold()).split())


def cased_words(text: str) -> list[str]:
    """The words of ``text`` as :func:`normalise` splits them, keeping their upper-case letters."""
    return _NOT_WORD.sub(" ", strip_accents(text)).split()
