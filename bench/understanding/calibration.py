"""How the linear intent classifier's temperature and actions/clarify.py's CONFIDENT were chosen: on the
TRAINING data only (nlu/data), never on tests/.

    .venv-rasa/bin/python bench/understanding/calibration.py [--folds 4]

The training examples are split into folds (stratified by intent); for each fold the classifier of
rasa_addons/linear_intents.py (same features, C and class weights as config.yml) is trained on the others
and scores the examples left out. Prints:
- for each temperature, the log-loss and the median top confidence of the left-out examples, all and
  over 15 words: the temperature with the lowest log-loss makes the confidences honest;
- at that temperature, for each value of CONFIDENT, the share of left-out examples answered with a topic
  (best topic's summed score at least CONFIDENT) and the share of those answers that are wrong.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from actions.context import INTENT_TOPICS  # noqa: E402
from rasa_addons.linear_intents import LinearIntentClassifier, LinearIntentModel, softmax  # noqa: E402

TEMPERATURES = (0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
CONFIDENTS = (0.5, 0.6, 0.7, 0.8, 0.9)


def linear_config() -> dict:
    config = yaml.safe_load((ROOT / "config.yml").read_text("utf-8"))
    own = next(c for c in config["pipeline"] if c["name"].endswith("LinearIntentClassifier"))
    return {**LinearIntentClassifier.get_default_config(), **own}


def left_out_scores(texts: np.ndarray, intents: np.ndarray, folds: int) -> tuple[np.ndarray, list[str]]:
    """Each example's intent scores from a model that did not see it; and the intents' order."""
    config = {**linear_config(), "temperature": 1.0}
    classes = sorted(set(intents))
    scores = np.zeros((len(texts), len(classes)))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(texts, intents):
        model = LinearIntentModel.fit(list(texts[train]), list(intents[train]), config)
        assert model.classes == classes
        scores[test] = model.scores(list(texts[test]))
    return scores, classes


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--folds", type=int, default=4)
    args = parser.parse_args()
    examples = []
    for path in sorted((ROOT / "nlu" / "data").glob("*.yml")):
        if "nlu" in (yaml.safe_load(path.read_text("utf-8")) or {}):  # not the rules
            examples += [e for e in load_data(str(path)).intent_examples if e.get("text") and e.get("intent")]
    texts = np.array([e.get("text") for e in examples], dtype=object)
    intents = np.array([e.get("intent") for e in examples], dtype=object)
    words = np.array([len(t.split()) for t in texts])
    scores, classes = left_out_scores(texts, intents, args.folds)
    gold = np.array([classes.index(i) for i in intents])
    print(f"{len(texts)} training examples, {args.folds} folds; temperature: log-loss, median top confidence")
    best_t, best_loss = 1.0, float("inf")
    for t in TEMPERATURES:
        p = softmax(scores, t)
        row = []
        for name, mask in (("all", words >= 0), ("over 15 words", words > 15)):
            loss = float(-np.log(p[mask, gold[mask]] + 1e-12).mean())
            row.append(f"{name} {loss:.3f} / {np.median(p[mask].max(axis=1)):.2f}")
            if name == "all" and loss < best_loss:
                best_t, best_loss = t, loss
        print(f"  T={t}: " + "; ".join(row))
    topics = sorted({topic for topic, _ in INTENT_TOPICS.values()})
    to_topic = np.zeros((len(classes), len(topics)))
    for i, intent in enumerate(classes):
        if intent in INTENT_TOPICS:
            to_topic[i, topics.index(INTENT_TOPICS[intent][0])] = 1.0
    topic_scores = softmax(scores, best_t) @ to_topic
    best, best_score = topic_scores.argmax(axis=1), topic_scores.max(axis=1)
    right = np.array([INTENT_TOPICS.get(i, ("",))[0] for i in intents]) == np.array(topics)[best]
    print(f"at T={best_t}: CONFIDENT -> answered with a topic, wrong among those answered")
    for c in CONFIDENTS:
        answered = best_score >= c
        wrong = float((answered & ~right).sum() / max(answered.sum(), 1))
        print(f"  {c}: answered {answered.mean():.3f}, wrong {wrong:.3f}")


if __name__ == "__main__":
    main()
