"""The training data never holds what the assistant is measured with (tests/nlu/real.yml, heldout.yml).

Two checks, on every training file under nlu/data: no training example shares eight consecutive words with a
measuring message, and no training example quotes a page the real measuring set was copied from.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
WINDOW = 8
_WORD = re.compile(r"\w+", re.UNICODE)


_ANNOTATION = re.compile(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})")


def _words(text: str) -> list[str]:
    """The words of a message, with Rasa's entity markup ("[Magenta](town)") reduced to its text."""
    return _WORD.findall(_ANNOTATION.sub(r"\1", text).lower())


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + WINDOW]) for i in range(len(words) - WINDOW + 1)}


def _page(url: str) -> str:
    """A page's address without scheme, "www.", "amp." or fragment: copies of one page compare equal."""
    parts = urlsplit(url.strip())
    host = re.sub(r"^(www\.|amp\.|m\.)", "", parts.netloc.lower())
    return host + parts.path.rstrip("/").lower() + (f"?{parts.query}" if parts.query else "")


def _training_examples() -> list[tuple[str, str, str]]:
    """(file, text, source or '') of every training example."""
    found = []
    for path in sorted((ROOT / "nlu" / "data").glob("*.yml")):
        doc = yaml.safe_load(path.read_text("utf-8")) or {}
        for block in doc.get("nlu") or []:
            examples = block.get("examples")
            if isinstance(examples, list):
                for ex in examples:
                    source = ((ex.get("metadata") or {}).get("source")) or ""
                    found.append((path.name, str(ex["text"]), str(source)))
            elif isinstance(examples, str):
                for line in examples.splitlines():
                    if line.strip().startswith("- "):
                        found.append((path.name, line.strip()[2:], ""))
    return found


def _real_messages() -> list[dict]:
    return yaml.safe_load((ROOT / "tests" / "nlu" / "real.yml").read_text("utf-8"))["messages"]


def _heldout_texts() -> list[str]:
    doc = yaml.safe_load((ROOT / "tests" / "nlu" / "heldout.yml").read_text("utf-8")) or {}
    texts = []
    for block in doc.get("nlu") or []:
        examples = block.get("examples") or ""
        for line in examples.splitlines() if isinstance(examples, str) else []:
            if line.strip().startswith("- "):
                texts.append(line.strip()[2:])
    return texts


def test_the_training_data_can_be_read() -> None:
    # Guards the two checks below against passing on nothing.
    examples = _training_examples()
    assert len(examples) > 1000
    assert sum(1 for _, _, source in examples if source) > 100
    assert len(_real_messages()) >= 150


def test_no_training_example_shares_eight_words_with_a_measuring_message() -> None:
    measured = [m["text"] for m in _real_messages()] + _heldout_texts()
    shingles = {s: text for text in measured for s in _shingles(text)}
    clashes = [
        f"{name}: {text[:70]!r} ~ {shingles[s][:70]!r}"
        for name, text, _ in _training_examples()
        for s in _shingles(text)
        if s in shingles
    ]
    assert not clashes, "\n".join(sorted(set(clashes)))


def test_no_training_example_comes_from_a_page_of_the_real_measuring_set() -> None:
    measured_pages = {_page(m["source"]) for m in _real_messages() if m.get("source")}
    shared = [
        f"{name}: {source}"
        for name, _, source in _training_examples()
        if source and _page(source) in measured_pages
    ]
    assert not shared, "\n".join(sorted(set(shared)))
