"""Finding towns, ambiti and areas in what people write.

People write town names in lower case, without accents, misspelt ("abbiategrsso"), shortened
("castano", "s. vittore") or name a whole area ("nell'abbiatense", "zona legnano", "Alto Milanese").
:class:`PlaceIndex` is built once per knowledge base (``kb.resolve_town``, ``kb.find_place`` and
``kb.nearest_town`` use it) from the names and aliases in ``territories.yml``.

Exact matches come first. Typos are matched with :mod:`difflib`, more strictly when scanning a whole
message than when reading one name, and never on ordinary Italian words (a built-in list plus every
word the knowledge base itself uses in its texts), so "ci sono centri estivi per luglio?" finds nothing.
Names that are also ordinary words ("abbiate", "zelo") need a capital letter or a preposition.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher, get_close_matches

from knowledge.common_words import AMBIGUOUS_NAMES, FUNCTION_WORDS, NEAR_NAMES
from knowledge.records import Place, Territory, Town
from knowledge.text import cased_words, normalise

MAX_WORDS = 4  # longest name looked for, in words
NAME_CUTOFF = 0.8  # difflib ratio for one name (resolve_town)
SCAN_CUTOFF = 0.85  # difflib ratio inside a whole message (find_place)
MIN_FUZZY_CHARS = 5  # shorter words are never matched approximately
MAX_SCAN_WORDS = 80  # approximate matching looks at the start of long messages only

PLACE_PREPOSITIONS = frozenset({"a", "ad", "di", "da", "in", "zona", "comune", "paese"})

AREA = "area"
TERRITORY = "territory"
TOWN = "town"
_RANK = {TOWN: 0, TERRITORY: 1, AREA: 2}


@dataclass(frozen=True)
class _Target:
    kind: str  # town | territory | area
    town: Town | None = None
    territories: tuple[str, ...] = ()

    def place(self) -> Place:
        if self.town is not None:
            return Place(town=self.town, territory=self.town.territory, territories=(self.town.territory,))
        if self.kind == TERRITORY:
            return Place(town=None, territory=self.territories[0], territories=self.territories)
        return Place(town=None, territory=None, territories=self.territories)


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    target: _Target
    exact: bool


def saint_variants(key: str) -> Iterator[str]:
    """ "san vittore olona" -> "s vittore olona" (people abbreviate San, Santo, Santa)."""
    first, _, rest = key.partition(" ")
    if rest and first in ("san", "santo", "santa", "sant"):
        yield f"s {rest}"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    rlat1, rlat2 = math.radians(lat1), math.radians(lat2)
    dlat = rlat2 - rlat1
    dlon = math.radians(lon2 - lon1)
    h = math.sin(dlat / 2) ** 2 + math.cos(rlat1) * math.cos(rlat2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


class PlaceIndex:
    """Names of towns, ambiti and areas, normalised, for one knowledge base."""

    def __init__(self, towns: Iterable[Town], territories: Iterable[Territory], texts: Iterable[str]) -> None:
        """Built from the towns and territories, and from ``texts``: the knowledge base's ordinary
        vocabulary (its other texts), whose words are never matched approximately."""
        self.towns = list(towns)
        exact: dict[tuple[str, ...], _Target] = {}

        def add(key: str, target: _Target) -> None:
            words = tuple(normalise(key).split())
            if not words:
                return
            current = exact.get(words)
            if current is None or _RANK[target.kind] < _RANK[current.kind]:
                exact[words] = target

        areas: dict[str, list[str]] = {}
        for territory in territories:
            target = _Target(TERRITORY, territories=(territory.id,))
            for key in (territory.id, territory.name, *territory.aliases):
                add(key, target)
            if territory.area:
                areas.setdefault(territory.area, []).append(territory.id)
        for area, ids in areas.items():
            target = _Target(AREA, territories=tuple(ids))
            add(area, target)
        self.town_keys: dict[str, Town] = {}
        for town in self.towns:
            target = _Target(TOWN, town=town)
            for key in (town.name, *town.aliases):
                norm = normalise(key)
                for variant in (norm, *saint_variants(norm)):
                    add(variant, target)
                    self.town_keys.setdefault(variant, town)
        for words, target in list(exact.items()):
            if len(words) > 1:  # "sangiorgio", "castanoprimo": people also run the words together
                exact.setdefault(("".join(words),), target)
        self.exact = exact
        self.by_words: dict[int, list[tuple[str, _Target]]] = {}
        for words, target in exact.items():
            self.by_words.setdefault(len(words), []).append((" ".join(words), target))
        place_words = {word for words in exact for word in words}
        vocabulary = {word for text in texts for word in normalise(text).split()}
        self.common = (FUNCTION_WORDS | NEAR_NAMES | vocabulary) - place_words

    # -- one name ---------------------------------------------------------------------------------

    def resolve_town(self, text: str) -> Town | None:
        norm = normalise(text)
        if not norm:
            return None
        town = self.town_keys.get(norm)
        if town is not None:
            return town
        if len(norm) >= MIN_FUZZY_CHARS - 1 and norm not in self.common:
            close = get_close_matches(norm, list(self.town_keys), n=1, cutoff=NAME_CUTOFF)
            if close:
                return self.town_keys[close[0]]
        place = self.find_place(text)
        return place.town if place is not None else None

    # -- a whole message --------------------------------------------------------------------------

    def find_place(self, text: str) -> Place | None:
        words = normalise(text).split()
        if not words:
            return None
        exact = self._exact_matches(words, cased_words(text))
        covered = {i for m in exact for i in range(m.start, m.end)}
        fuzzy = self._fuzzy_matches(words[:MAX_SCAN_WORDS], covered)
        best = self._choose(exact, fuzzy)
        return best.target.place() if best is not None else None

    def _exact_matches(self, words: list[str], cased: list[str]) -> list[_Match]:
        found: list[_Match] = []
        i = 0
        while i < len(words):
            for n in range(min(MAX_WORDS, len(words) - i), 0, -1):
                target = self.exact.get(tuple(words[i : i + n]))
                if target is None:
                    continue
                if n == 1 and words[i] in AMBIGUOUS_NAMES and len(words) > 1:
                    capital = len(cased) == len(words) and cased[i][:1].isupper()
                    after_preposition = i > 0 and words[i - 1] in PLACE_PREPOSITIONS
                    if not (capital or after_preposition):
                        continue
                found.append(_Match(i, i + n, target, exact=True))
                i += n
                break
            else:
                i += 1
        return found

    def _fuzzy_matches(self, words: list[str], covered: set[int]) -> list[_Match]:
        found: list[_Match] = []
        taken: set[int] = set(covered)
        for n in range(min(MAX_WORDS, len(words)), 0, -1):
            candidates = self.by_words.get(n, ())
            if not candidates:
                continue
            for i in range(len(words) - n + 1):
                span = range(i, i + n)
                if any(j in taken for j in span):
                    continue
                gram = words[i : i + n]
                if tuple(gram) in self.exact or not self._worth_matching(gram):  # exact: left out on purpose
                    continue
                target = self._closest(" ".join(gram), candidates, SCAN_CUTOFF)
                if target is not None:
                    found.append(_Match(i, i + n, target, exact=False))
                    taken.update(span)
        return found

    def _worth_matching(self, gram: list[str]) -> bool:
        """Only words that could be a misspelt name: not common words, not too short."""
        distinctive = [w for w in gram if w not in self.common and not w.isdigit()]
        return bool(distinctive) and len(max(distinctive, key=len)) >= MIN_FUZZY_CHARS

    @staticmethod
    def _closest(text: str, candidates: Iterable[tuple[str, _Target]], cutoff: float) -> _Target | None:
        best: tuple[float, _Target] | None = None
        length = len(text)
        matcher = SequenceMatcher(autojunk=False)
        matcher.set_seq2(text)
        for key, target in candidates:
            if key[0] != text[0] or 2 * min(length, len(key)) / (length + len(key)) < cutoff:
                continue
            matcher.set_seq1(key)
            if matcher.real_quick_ratio() < cutoff or matcher.quick_ratio() < cutoff:
                continue
            ratio = matcher.ratio()
            if ratio >= cutoff and (best is None or ratio > best[0]):
                best = (ratio, target)
        return best[1] if best is not None else None

    @staticmethod
    def _choose(exact: list[_Match], fuzzy: list[_Match]) -> _Match | None:
        """A town beats an area; an exact match beats a typo, unless the typo is a town of the named area."""
        exact_areas = {t for m in exact if m.target.kind != TOWN for t in m.target.territories}

        def rank(m: _Match) -> tuple[int, int, int]:
            town = m.target.town
            if m.exact:
                tier = 0 if town is not None else 2 + _RANK[m.target.kind]
            elif town is not None and town.territory in exact_areas:
                tier = 1
            else:
                tier = 5 + _RANK[m.target.kind]
            return (tier, m.start, -(m.end - m.start))

        matches = exact + fuzzy
        return min(matches, key=rank) if matches else None

    # -- coordinates ------------------------------------------------------------------------------

    def nearest_town(self, lat: float, lon: float, max_km: float = 10) -> Town | None:
        best: tuple[float, Town] | None = None
        for town in self.towns:
            if town.lat is None or town.lon is None:
                continue
            km = haversine_km(lat, lon, town.lat, town.lon)
            if km <= max_km and (best is None or km < best[0]):
                best = (km, town)
        return best[1] if best is not None else None
