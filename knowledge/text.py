"""Text normalisation shared by the knowledge base, the place finder and the lookup tables."""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Lower case, accents stripped, apostrophes and punctuation turned into spaces, spaces collapsed.

    >>> normalise("  Nell'Abbiatense, S. Vittore   Olona! ")
    'nell abbiatense s vittore olona'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", stripped.casefold()).split())
