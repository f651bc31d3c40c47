"""Measure the trained model on data it never saw in training.

Run with the Rasa environment (Python 3.10):
    .venv-rasa/bin/python scripts/eval_nlu.py [--model models/concilia.tar.gz] [--out results/nlu.json]

Reports intent accuracy and macro F1 on tests/nlu/heldout.yml, topic accuracy, town and territory
resolution (the actions' own resolver on the model's entities), false offers of a person, and the
share of the xSID Italian utterances (all out of scope) that the assistant rejects.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REJECTED = {"out_of_scope", "nlu_fallback"}


def read_xsid(path: Path) -> list[str]:
    return [
        line[len("# text =") :].strip()
        for line in path.read_text("utf-8").splitlines()
        if line.startswith("# text =")
    ]


def read_heldout(path: Path) -> list[dict]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    out = []
    for ex in data.intent_examples:
        out.append({"text": ex.get("text"), "intent": ex.get("intent"), "entities": ex.get("entities") or []})
    return out


def training_texts() -> set[str]:
    """Plain texts of every training example, lower case, to tell seen from unseen held-out examples."""
    from rasa.shared.nlu.training_data.loading import load_data

    texts: set[str] = set()
    for path in sorted((ROOT / "nlu" / "data").glob("*.yml")):
        if "\nnlu:" not in "\n" + path.read_text("utf-8"):
            continue  # rules, not NLU data
        texts |= {(ex.get("text") or "").lower().strip() for ex in load_data(str(path)).intent_examples}
    return texts


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    labels = sorted({gold for gold, _ in pairs})
    scores = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def top_real_intent(parsed: dict) -> tuple[str, float]:
    """The best intent other than nlu_fallback, with its confidence, to replay other fallback thresholds."""
    for item in parsed.get("intent_ranking") or [parsed["intent"]]:
        if item["name"] != "nlu_fallback":
            return item["name"], float(item["confidence"])
    return "nlu_fallback", 0.0


def sweep(raw: list[tuple[str, str, float]], xsid_raw: list[tuple[str, float]]) -> list[dict]:
    """Accuracy and out-of-scope rejection if the FallbackClassifier threshold were each of these."""
    rows = []
    for t in (0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8):
        ok = 0
        for gold, name, conf in raw:
            predicted = "nlu_fallback" if conf < t else name
            ok += predicted == gold or (gold == "out_of_scope" and predicted in REJECTED)
        rejected = sum(1 for name, conf in xsid_raw if conf < t or name in REJECTED)
        rows.append(
            {
                "threshold": t,
                "intent_accuracy": round(ok / len(raw), 4),
                "xsid_rejection": round(rejected / len(xsid_raw), 4),
            }
        )
    return rows


async def evaluate(model: str, heldout: Path, xsid: Path) -> dict:
    from rasa.core.agent import Agent

    from actions.context import INTENT_TOPICS, parse_place
    from knowledge import load, normalise

    kb = load()
    t0 = time.perf_counter()
    agent = Agent.load(model)
    load_seconds = time.perf_counter() - t0

    examples = read_heldout(heldout)
    seen_in_training = training_texts()
    unseen_ok = unseen_n = 0
    raw: list[tuple[str, str, float]] = []  # (gold, top real intent, its confidence) for the sweep
    pairs: list[tuple[str, str]] = []
    errors = []
    topic_ok = topic_n = 0
    town_ok = town_n = terr_ok = terr_n = 0
    false_handoff = in_scope = 0
    t0 = time.perf_counter()
    for ex in examples:
        parsed = await agent.parse_message(ex["text"])
        predicted = parsed["intent"]["name"]
        gold = ex["intent"]
        raw.append((gold, *top_real_intent(parsed)))
        correct = predicted == gold or (gold == "out_of_scope" and predicted in REJECTED)
        pairs.append((gold, gold if correct else predicted))
        if ex["text"].lower().strip() not in seen_in_training:
            unseen_n += 1
            unseen_ok += correct
        if not correct:
            errors.append(
                {
                    "text": ex["text"],
                    "gold": gold,
                    "predicted": predicted,
                    "confidence": round(parsed["intent"]["confidence"], 3),
                }
            )
        if gold in INTENT_TOPICS:
            topic_n += 1
            topic_ok += INTENT_TOPICS.get(predicted, (None,))[0] == INTENT_TOPICS[gold][0]
        if gold not in ("request_human", "out_of_scope"):
            in_scope += 1
            false_handoff += predicted == "request_human"
        gold_towns = [e["value"] for e in ex["entities"] if e["entity"] == "town"]
        gold_terr = [e["value"] for e in ex["entities"] if e["entity"] == "territory"]
        if gold_towns or gold_terr:
            comune, territory, _ = parse_place(kb, normalise(ex["text"]), parsed.get("entities") or [])
            if gold_towns:
                town_n += 1
                town_ok += comune == gold_towns[0]
                expected_terr = kb.towns[gold_towns[0]].territory if gold_towns[0] in kb.towns else None
            else:
                expected_terr = gold_terr[0]
            terr_n += 1
            terr_ok += territory == expected_terr
    parse_seconds = (time.perf_counter() - t0) / max(1, len(examples))

    xsid_texts = read_xsid(xsid)
    rejected = 0
    xsid_misses = []
    xsid_raw: list[tuple[str, float]] = []
    for text in xsid_texts:
        parsed = await agent.parse_message(text)
        xsid_raw.append(top_real_intent(parsed))
        if parsed["intent"]["name"] in REJECTED:
            rejected += 1
        else:
            xsid_misses.append({"text": text, "predicted": parsed["intent"]["name"]})

    accuracy = sum(1 for g, p in pairs if g == p) / len(pairs)
    return {
        "model": model,
        "heldout_examples": len(examples),
        "intent_accuracy": round(accuracy, 4),
        "intent_macro_f1": round(macro_f1(pairs), 4),
        "unseen_examples": unseen_n,
        "intent_accuracy_unseen": round(unseen_ok / unseen_n, 4) if unseen_n else None,
        "topic_accuracy": round(topic_ok / topic_n, 4) if topic_n else None,
        "town_accuracy": round(town_ok / town_n, 4) if town_n else None,
        "territory_accuracy": round(terr_ok / terr_n, 4) if terr_n else None,
        "false_handoff_rate": round(false_handoff / in_scope, 4) if in_scope else None,
        "xsid_examples": len(xsid_texts),
        "xsid_rejection": round(rejected / len(xsid_texts), 4),
        "model_load_seconds": round(load_seconds, 2),
        "threshold_sweep": sweep(raw, xsid_raw),
        "parse_ms_mean": round(parse_seconds * 1000, 1),
        "errors_by_gold": dict(Counter(e["gold"] for e in errors)),
        "pairs": pairs,
        "errors": errors,
        "xsid_misses": xsid_misses,
    }


def main() -> int:
    logging.disable(logging.WARNING)
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models" / "concilia.tar.gz"))
    ap.add_argument("--heldout", default=str(ROOT / "tests" / "nlu" / "heldout.yml"))
    ap.add_argument("--xsid", default=str(ROOT.parent / "shared" / "external" / "xsid-0.7-it.valid.conll"))
    ap.add_argument("--out", default=str(ROOT / "results" / "nlu.json"))
    args = ap.parse_args()
    report = asyncio.run(evaluate(args.model, Path(args.heldout), Path(args.xsid)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")
    for key in (
        "heldout_examples",
        "intent_accuracy",
        "intent_macro_f1",
        "unseen_examples",
        "intent_accuracy_unseen",
        "topic_accuracy",
        "town_accuracy",
        "territory_accuracy",
        "false_handoff_rate",
        "xsid_examples",
        "xsid_rejection",
        "model_load_seconds",
        "parse_ms_mean",
    ):
        print(f"{key:22} {report[key]}")
    print(f"errors by gold intent:  {report['errors_by_gold']}")
    print("fallback threshold sweep (threshold: intent accuracy / xSID rejection):")
    print(
        "  "
        + "  ".join(
            f"{r['threshold']}: {r['intent_accuracy']}/{r['xsid_rejection']}"
            for r in report["threshold_sweep"]
        )
    )
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
