"""The review queue's labels as Rasa training data (``version: "3.1"``): one ``nlu:`` block per message,
its intent the label (a topic intent or ``out_of_scope``; a "new need" is no intent to train), one
example, the text masked (:func:`bot.insights.masking.mask`, with labels Rasa reads as plain words: the
square brackets of the console's would be entity markup) on one line, and the review id and date as the
example's metadata. Never an id of the person."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from bot.handoff.office_hours import ROME
from bot.insights.masking import mask
from bot.insights.review import NEW_NEED, choices
from bot.store.review import ReviewStore, ToExport

TRAINING_LABELS = {
    "phone": "<telefono>",
    "email": "<email>",
    "tax_code": "<codice-fiscale>",
    "iban": "<iban>",
    "address": "<indirizzo>",
}
_MARKUP = str.maketrans({"[": "(", "]": ")", "{": "(", "}": ")"})


@dataclass(frozen=True)
class Exported:
    path: Path | None  # None: nothing to write
    counts: dict[str, int]


def _day(moment: datetime) -> str:
    return moment.astimezone(ROME).date().isoformat()


def example_text(text: str) -> str:
    return " ".join(mask(text, TRAINING_LABELS).translate(_MARKUP).split())


def training_yaml(rows: list[ToExport]) -> str:
    blocks = [
        {
            "intent": r.label,
            "examples": [
                {
                    "text": example_text(r.text),
                    "metadata": {"review": r.review_id, "date": _day(r.labelled_at)},
                }
            ],
        }
        for r in rows
        if example_text(r.text)
    ]
    head = "# Written by `concilia review export` from the console's review queue: masked, no person's id.\n"
    return head + yaml.safe_dump(
        {"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False, width=1000
    )


def default_path(folder: Path, now: datetime) -> Path:
    """``review_<date>.yml`` in ``folder``, or ``review_<date>_2.yml``... when an export of the day exists."""
    stem = f"review_{now.astimezone(ROME).date().isoformat()}"
    path, n = folder / f"{stem}.yml", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}_{n}.yml"
    return path


async def export(store: ReviewStore, out: Path, now: datetime) -> Exported:
    """Write the labels not exported yet to ``out`` (which must not exist) and mark them exported."""
    rows = await store.to_export(tuple(c for c in choices() if c != NEW_NEED))
    rows = [r for r in rows if example_text(r.text)]
    if not rows:
        return Exported(None, {})
    if out.exists():
        raise FileExistsError(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(training_yaml(rows), encoding="utf-8")
    partial.replace(out)
    await store.mark_exported([r.review_id for r in rows], now)
    return Exported(out, dict(sorted(Counter(r.label for r in rows).items())))
