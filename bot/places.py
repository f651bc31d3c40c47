"""From a shared location to a town of the knowledge base (the router's ``TownLocator``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge import KnowledgeHolder

MAX_KM = 10.0


class KnowledgeTownLocator:
    """The nearest town within ``max_km`` of the place, or None when the place is outside the territories.
    The knowledge base is read on first use (and reloaded by the holder when its files change)."""

    def __init__(self, holder: KnowledgeHolder | None = None, max_km: float = MAX_KM) -> None:
        self._holder = holder
        self.max_km = max_km

    def __call__(self, lat: float, lon: float) -> str | None:
        if self._holder is None:
            from knowledge import KnowledgeHolder

            self._holder = KnowledgeHolder()
        town = self._holder.get().nearest_town(lat, lon, self.max_km)
        return None if town is None else str(town.name)
