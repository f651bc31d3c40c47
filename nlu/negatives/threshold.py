"""Choose the out-of-domain classifier's threshold on a validation split of the TRAINING data only.

    .venv-rasa/bin/python nlu/negatives/threshold.py [--nlu nlu/data] [--out nlu/negatives/threshold.md]

For each of three seeds: one fifth of nlu/data's in-domain examples (per intent), of its out_of_scope
examples and of nlu/negatives/train.txt is held out, the classifier (rasa_addons/out_of_domain.py, same
features and model, the intent classifier not involved) is trained on the rest, and the held-out part is
scored. Prints, and writes, for each threshold and separately for short messages (at most `short_words`
words) and the others: the share of in-domain examples wrongly rejected and of negatives rejected,
averaged over the seeds; then the result of the configured pair (short_threshold, threshold). Never reads
tests/. """

from __future__ import annotations

import argparse
import logging
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rasa_addons.out_of_domain import OutOfDomainClassifier, OutOfDomainModel, read_negatives  # noqa: E402

THRESHOLDS = [round(0.3 + 0.05 * i, 2) for i in range(14)]
SEEDS = (1, 2, 3)


def nlu_examples(folder: Path) -> list[tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    out = []
    for path in sorted(folder.glob("*.yml")):
        if "\nnlu:" in "\n" + path.read_text("utf-8"):
            out += [(ex.get("intent"), ex.get("text")) for ex in load_data(str(path)).intent_examples]
    return out


def split(items: list, rng: random.Random, share: float = 0.2) -> tuple[list, list]:
    items = items[:]
    rng.shuffle(items)
    cut = max(1, round(len(items) * share))
    return items[cut:], items[:cut]


def rate(values: list[float], threshold: float) -> float:
    return sum(v >= threshold for v in values) / len(values) if values else 0.0


def main() -> int:
    logging.disable(logging.WARNING)
    ap = argparse.ArgumentParser()
    ap.add_argument("--nlu", type=Path, default=ROOT / "nlu" / "data")
    ap.add_argument("--negatives", type=Path, default=ROOT / "nlu" / "negatives" / "train.txt")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    config = OutOfDomainClassifier.get_default_config()
    by_intent: dict[str, list[str]] = defaultdict(list)
    for intent, text in nlu_examples(args.nlu):
        by_intent[intent].append(text)
    oos = by_intent.pop(config["out_of_scope_intent"], [])
    negatives = read_negatives(args.negatives)
    short = config["short_words"]
    # (set name, band) -> per seed, the probabilities of the held-out texts
    scores: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    for seed in SEEDS:
        rng = random.Random(seed)
        train_in, val_in = [], []
        for intent in sorted(by_intent):
            fit_part, val_part = split(by_intent[intent], rng)
            train_in += fit_part
            val_in += val_part
        train_oos, val_oos = split(oos, rng)
        train_neg, val_neg = split(negatives, rng)
        model = OutOfDomainModel.fit(train_in, train_oos + train_neg, config)
        for name, texts in (("in-domain", val_in), ("negatives", val_neg), ("out_of_scope", val_oos)):
            probs = model.probability(texts)
            for band in (f"<= {short} words", f"> {short} words"):
                keep = [len(t.split()) <= short for t in texts]
                if band.startswith(">"):
                    keep = [not k for k in keep]
                scores[(name, band)].append([float(p) for p, k in zip(probs, keep, strict=True) if k])
    columns = [key for key in scores if key[0] != "out_of_scope"]
    n = {key: len(scores[key][0]) for key in scores}
    lines = [
        f"# Out-of-domain threshold curve (validation split of the training data, mean of seeds {SEEDS})",
        "",
        f"Trained on four fifths of: {sum(len(v) for v in by_intent.values())} in-domain examples, "
        f"{len(oos)} out_of_scope examples, {len(negatives)} negatives; the other fifth is scored.",
        "The classifier alone: the intent classifier's own rejections (FallbackClassifier) come on top.",
        "Command: `.venv-rasa/bin/python nlu/negatives/threshold.py --out nlu/negatives/threshold.md`",
        "",
        "| threshold | "
        + " | ".join(
            f"{'in-domain wrongly' if k[0] == 'in-domain' else 'negatives'} rejected, {k[1]} (n={n[k]})"
            for k in columns
        )
        + " |",
        "|---|" + "---|" * len(columns),
    ]
    for t in THRESHOLDS:
        cells = [f"{sum(rate(v, t) for v in scores[k]) / len(SEEDS):.3f}" for k in columns]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    pair = {f"<= {short} words": config["short_threshold"], f"> {short} words": config["threshold"]}
    lines += [
        "",
        f"Configured: short_threshold {config['short_threshold']}, threshold {config['threshold']}:",
    ]
    for name in ("in-domain", "negatives", "out_of_scope"):
        hit = total = 0.0
        for band, t in pair.items():
            for values in scores[(name, band)]:
                hit += sum(v >= t for v in values)
                total += len(values)
        verb = "wrongly rejected" if name == "in-domain" else "rejected"
        lines.append(f"- {name} {verb}: {hit / total:.3f} (n={int(total / len(SEEDS))} a seed)")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
