"""The trained model on data it never saw: held-out Italian questions and the xSID out-of-scope set.

Runs scripts/eval_nlu.py's evaluation once and checks floors below the targets of the README, so
that a real regression fails while the exact figures are reported (results/nlu.json) for the notes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "concilia.tar.gz"
XSID = ROOT.parent / "shared" / "external" / "xsid-0.7-it.valid.conll"

sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="module")
def report() -> dict:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does it)")
    import eval_nlu

    result = asyncio.run(eval_nlu.evaluate(str(MODEL), ROOT / "tests" / "nlu" / "heldout.yml", XSID))
    out = ROOT / "results" / "nlu.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), "utf-8")
    return result


def test_heldout_intent_accuracy(report: dict) -> None:
    assert report["heldout_examples"] >= 300
    assert report["intent_accuracy"] >= 0.85, report["errors_by_gold"]


def test_topic_accuracy(report: dict) -> None:
    assert report["topic_accuracy"] >= 0.9


def test_town_and_territory_resolution(report: dict) -> None:
    assert report["territory_accuracy"] >= 0.9
    assert report["town_accuracy"] >= 0.85


def test_out_of_scope_rejection_on_xsid(report: dict) -> None:
    assert report["xsid_examples"] == 300
    assert report["xsid_rejection"] >= 0.9, report["xsid_misses"][:20]


def test_few_false_offers_of_a_person(report: dict) -> None:
    assert report["false_handoff_rate"] <= 0.02
