"""From a shared location to a town of the knowledge base (the router's ``TownLocator``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge import KnowledgeBase

MAX_KM = 10.0


class KnowledgeTownLocator:
    """The nearest town within ``max_km`` of the place, or None when the place is outside the territories.
    ``knowledge`` gives the knowledge base in use (by default a holder of the bundled one, read on first
    use)."""

    def __init__(self, knowledge: Callable[[], KnowledgeBase] | None = None, max_km: float = MAX_KM) -> None:
        self._knowledge = knowledge
        self.max_km = max_km

    def __call__(self, lat: float, lon: float) -> str | None:
        if self._knowledge is None:
            from knowledge import KnowledgeHolder

            self._knowledge = KnowledgeHolder().get
        town = self._knowledge().nearest_town(lat, lon, self.max_km)
        return None if town is None else str(town.name)
