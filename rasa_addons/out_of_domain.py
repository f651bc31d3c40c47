"""A separate out-of-domain classifier for Rasa 3.6: is this message about Concilia at all?

The intent classifier learns Concilia's intents from a few thousand examples, with a small hand-written
``out_of_scope`` intent. Teaching it "everything else" would need thousands of general sentences among
its intents, drowning the small ones. This component learns that boundary on its own,
with a linear model on TF-IDF n-grams (rasa_addons/tfidf.py: words 1-2, characters 2-5 inside word
boundaries, on the normalised text: no accents, lower case), trained in seconds:

- in domain: every NLU training example whose intent is not ``out_of_scope``;
- out of domain: the ``out_of_scope`` examples plus the general Italian sentences in the ``negatives``
  file (``nlu/negatives/train.txt``, one sentence per line, ``#`` lines are comments).

At inference it runs after the intent classifier and before the FallbackClassifier. For a typed message
(not a button payload, which starts with "/") it adds ``out_of_domain``: P(out of domain) to the parse
data, and when P >= ``threshold`` it makes ``out_of_scope`` the intent, with confidence P, first in
``intent_ranking`` and the intent classifier's ranking after it (same order, confidences times 1 - P).
Messages of at most ``short_words`` words ("luogo?", "non ora", "grz") carry little evidence and are
mostly replies and follow-ups: they need ``short_threshold``. Messages of more than ``long_words`` words
(a story, then the question) need ``long_threshold``: most of their words are general ones even when they
are about Concilia.

Rasa's training cache only knows the pipeline's config and the training data, so the component adds
the negatives file's SHA-256 to its fingerprint (``fingerprint_addon``): editing the file retrains it.

The model is stored as plain arrays and a JSON vocabulary (no pickle). Config: see
``get_default_config``; the threshold comes from ``nlu/negatives/threshold.py`` (a validation split of
the training data only).
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression

from rasa_addons.stored import StoredModelComponent
from rasa_addons.tfidf import DEFAULTS as FEATURE_DEFAULTS
from rasa_addons.tfidf import Features

log = logging.getLogger(__name__)

OUT_OF_DOMAIN_KEY = "out_of_domain"
_MODEL_FILE = "out_of_domain.npz"
_PREFIX = "out_of_domain"  # its vocabulary: out_of_domain_vocabulary.json


def read_negatives(path: Path) -> list[str]:
    """The sentences of a negatives file: one a line, blank lines and ``#`` comments skipped."""
    lines = path.read_text("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class OutOfDomainModel:
    """The fitted features and linear model; P(out of domain) for texts."""

    def __init__(self, features: Features, coef: np.ndarray, bias: float) -> None:
        self.features, self.coef, self.bias = features, coef, bias

    @classmethod
    def fit(cls, in_domain: list[str], out_of_domain: list[str], config: dict[str, Any]) -> OutOfDomainModel:
        features, matrix = Features.fit(in_domain + out_of_domain, config)
        labels = np.array([0] * len(in_domain) + [1] * len(out_of_domain))
        clf = LogisticRegression(
            C=config["C"], class_weight="balanced", solver="liblinear", max_iter=1000, random_state=0
        )
        clf.fit(matrix, labels)
        return cls(features, clf.coef_[0].astype(np.float32), float(clf.intercept_[0]))

    def probability(self, texts: list[str]) -> np.ndarray:
        return np.array([1.0 / (1.0 + math.exp(-self._score(t))) for t in texts])

    def probability_sklearn(self, texts: list[str]) -> np.ndarray:
        """The same, through sklearn's transform (the reference for the hand-written scoring)."""
        score = self.features.matrix(texts) @ self.coef
        return 1.0 / (1.0 + np.exp(-(score + self.bias)))

    def _score(self, text: str) -> float:
        indices, values = self.features.vector(text)
        return self.bias + float(values @ self.coef[indices])

    def save(self, folder: Path) -> None:
        idf = self.features.save(folder, _PREFIX)
        np.savez_compressed(folder / _MODEL_FILE, coef=self.coef, bias=np.array([self.bias]), **idf)

    @classmethod
    def load(cls, folder: Path, config: dict[str, Any]) -> OutOfDomainModel:
        arrays = np.load(folder / _MODEL_FILE, allow_pickle=False)
        features = Features.load(folder, _PREFIX, arrays, config)
        return cls(features, arrays["coef"], float(arrays["bias"][0]))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class OutOfDomainClassifier(StoredModelComponent):
    """Turns messages that are not about Concilia into ``out_of_scope``, after the intent classifier."""

    model_class = OutOfDomainModel

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "negatives": "nlu/negatives/train.txt",  # relative to the directory Rasa is started in
            "threshold": 0.55,
            "out_of_scope_intent": "out_of_scope",
            # Messages of at most short_words words carry little evidence ("luogo?", "non ora"): most are
            # replies and follow-ups, so they need a higher probability.
            "short_words": 3,
            "short_threshold": 0.8,
            # Messages of more than long_words words (a story, then the question) are mostly general
            # words even when they are about Concilia, so P rises with length: only a high one flips.
            "long_words": 10_000,
            "long_threshold": 0.9,
            **FEATURE_DEFAULTS,
            "C": 4.0,
        }

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The negatives file's content, so that changing it retrains the component."""
        path = Path(config.get("negatives") or cls.get_default_config()["negatives"])
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None

    def train(self, training_data: TrainingData) -> Resource:
        oos = self.config["out_of_scope_intent"]
        path = Path(self.config["negatives"])
        if not path.is_file():
            raise FileNotFoundError(
                f"OutOfDomainClassifier: negatives file {path} not found (cwd {Path.cwd()})"
            )
        in_domain, out_of_domain = [], read_negatives(path)
        for example in training_data.intent_examples:
            text = example.get(TEXT)
            if text:
                (out_of_domain if example.get(INTENT) == oos else in_domain).append(text)
        if in_domain and out_of_domain:
            log.debug("out-of-domain classifier: %d in domain, %d out", len(in_domain), len(out_of_domain))
            return self._store(OutOfDomainModel.fit(in_domain, out_of_domain, self.config))
        return self._resource

    def _threshold(self, text: str) -> float:
        words = len(text.split())
        if words <= self.config["short_words"]:
            return self.config["short_threshold"]
        if words > self.config["long_words"]:
            return self.config["long_threshold"]
        return self.config["threshold"]

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        typed = [
            m for m in messages if (m.get(TEXT) or "").strip() and not m.get(TEXT).lstrip().startswith("/")
        ]
        if not typed:
            return messages
        oos = self.config["out_of_scope_intent"]
        for message, p in zip(typed, self.model.probability([m.get(TEXT) for m in typed]), strict=True):
            p = round(float(p), 4)
            message.set(OUT_OF_DOMAIN_KEY, p, add_to_output=True)
            if p >= self._threshold(message.get(TEXT)):
                intent = {"name": oos, "confidence": p}
                # the intent ranking follows, in its order, scaled by 1 - P: the ranking stays sorted, so the
                # FallbackClassifier's ambiguity check does not turn the answer into nlu_fallback.
                rest = [
                    {**r, "confidence": r.get("confidence", 0.0) * (1.0 - p)}
                    for r in message.get(INTENT_RANKING_KEY) or []
                    if r.get("name") != oos
                ]
                message.set(INTENT, intent, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [intent, *rest], add_to_output=True)
        return messages
