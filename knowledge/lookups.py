"""Rasa lookup tables generated from the knowledge base (never written by hand)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from knowledge.model import KnowledgeBase
from knowledge.places import saint_variants
from knowledge.text import normalise

HEADER = (
    "# Generated from knowledge/data by `concilia kb lookups`: do not edit by hand.\n"
    "# Only towns and areas go in: other changes to the knowledge base do not require retraining.\n"
)


def _variants(names: Iterable[str]) -> Iterator[str]:
    """Each name as written, in lower case, and normalised (no accents or punctuation)."""
    for name in names:
        name = " ".join(name.split())
        norm = normalise(name)
        yield name
        yield name.lower()
        yield norm
        yield from saint_variants(norm)


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value and value not in seen:
            seen[value] = None
    return list(seen)


def town_examples(kb: KnowledgeBase) -> list[str]:
    return _unique(_variants(name for town in kb.towns.values() for name in (town.name, *town.aliases)))


def territory_examples(kb: KnowledgeBase) -> list[str]:
    names: list[str] = []
    for territory in kb.territories.values():
        names += [territory.name, territory.id, *territory.aliases]
    areas = _unique(t.area for t in kb.territories.values() if t.area)
    names += areas + [normalise(a).replace(" ", "") for a in areas]
    return _unique(_variants(names))


def render(kb: KnowledgeBase) -> str:
    """The lookup tables as a Rasa 3.x NLU YAML document."""
    lines = [HEADER, 'version: "3.1"', "nlu:"]
    for name, examples in (("town", town_examples(kb)), ("territory", territory_examples(kb))):
        lines += [f"- lookup: {name}", "  examples: |"]
        lines += [f"    - {example}" for example in examples]
    return "\n".join(lines) + "\n"


def write_lookups(kb: KnowledgeBase, out_path: str | Path) -> Path:
    """Write the lookup tables to ``out_path`` (folders created as needed); returns the path."""
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(kb)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return path  # unchanged: keep the file's date, so that the model is not retrained for nothing
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
