"""Concilia's intent classifier for Rasa 3.6: multinomial logistic regression on TF-IDF n-grams.

It takes DIET's place. Concilia's messages run from "grz" to an 80-word letter with a story before
the question; what tells the intents apart is their words and word pieces, not their order. A linear
model on sublinear TF-IDF (rasa_addons/tfidf.py: words 1-2, characters 2-5, normalised text) weighs a
long message's many general words down where DIET's count features add them up; it trains in seconds
instead of minutes, and answers in well under a millisecond.

Every NLU training example counts, each intent weighted as if the intents were equally large (the
long real messages are a few intents' examples). ``C`` was chosen by cross-validation on the training
data (4 folds), and a temperature that makes the probabilities of the examples left out of each fold
honest (the lowest log-loss): see config.yml. The model is stored as arrays and JSON (no pickle).

For a message it sets ``intent`` and ``intent_ranking`` (the ``ranking_length`` best), as DIET does, so
the out-of-domain classifier, the FallbackClassifier and the actions read it unchanged. A button's
payload ("/choose_topic{...}") is classified too, as DIET did; Rasa's RegexMessageHandler then puts the
payload's own intent in its place.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression

from rasa_addons.stored import StoredModelComponent
from rasa_addons.tfidf import DEFAULTS as FEATURE_DEFAULTS
from rasa_addons.tfidf import Features

log = logging.getLogger(__name__)

_PREFIX = "linear_intents"
_MODEL_FILE = "linear_intents.npz"
_CLASSES_FILE = "linear_intents_classes.json"


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities from scores (one row a text), sharpened by a temperature below 1."""
    scaled = scores / temperature
    p = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    return p / p.sum(axis=-1, keepdims=True)


class LinearIntentModel:
    """The fitted features and one row of weights an intent; probabilities for a text."""

    def __init__(
        self, features: Features, classes: list[str], coef: np.ndarray, bias: np.ndarray, temperature: float
    ) -> None:
        self.features, self.classes, self.bias = features, classes, bias
        self.coef_t = np.ascontiguousarray(coef.T)  # features x intents: a message picks its rows
        self.temperature = temperature

    @classmethod
    def fit(cls, texts: list[str], intents: list[str], config: dict[str, Any]) -> LinearIntentModel:
        features, matrix = Features.fit(texts, config)
        clf = LogisticRegression(
            C=config["C"], class_weight="balanced", max_iter=config["max_iter"], random_state=0
        )
        clf.fit(matrix, intents)
        coef, bias = clf.coef_.astype(np.float32), clf.intercept_.astype(np.float32)
        return cls(features, [str(c) for c in clf.classes_], coef, bias, config["temperature"])

    def probabilities(self, text: str) -> np.ndarray:
        indices, values = self.features.vector(text)
        return softmax(self.bias + values @ self.coef_t[indices], self.temperature)

    def scores(self, texts: list[str]) -> np.ndarray:
        """Each text's score for each intent, before the temperature, through sklearn's transform."""
        return self.features.matrix(texts) @ self.coef_t + self.bias

    def probabilities_sklearn(self, texts: list[str]) -> np.ndarray:
        """The same as ``probabilities`` through sklearn (the reference for the hand-built features)."""
        return softmax(self.scores(texts), self.temperature)

    def save(self, folder: Path) -> None:
        idf = self.features.save(folder, _PREFIX)
        np.savez_compressed(folder / _MODEL_FILE, coef=self.coef_t.T, bias=self.bias, **idf)
        (folder / _CLASSES_FILE).write_text(json.dumps(self.classes, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path, config: dict[str, Any]) -> LinearIntentModel:
        arrays = np.load(folder / _MODEL_FILE, allow_pickle=False)
        classes = json.loads((folder / _CLASSES_FILE).read_text("utf-8"))
        features = Features.load(folder, _PREFIX, arrays, config)
        return cls(features, classes, arrays["coef"], arrays["bias"], config["temperature"])


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(IntentClassifier, StoredModelComponent):
    """Sets each typed message's intent and intent ranking from the linear model."""

    model_class = LinearIntentModel

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # temperature < 1 sharpens the probabilities: logistic regression with class weights is
        # under-confident on examples it did not see (config.yml says how it was chosen)
        return {**FEATURE_DEFAULTS, "C": 10.0, "temperature": 1.0, "max_iter": 3000, "ranking_length": 10}

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            log.warning("linear intent classifier: fewer than two intents, not trained")
            return self._resource
        texts = [e.get(TEXT) for e in examples]
        model = LinearIntentModel.fit(texts, [e.get(INTENT) for e in examples], self.config)
        log.debug("linear intent classifier: %d examples, %d intents", len(texts), len(model.classes))
        return self._store(model)

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        for message in messages:
            text = (message.get(TEXT) or "").strip()
            if not text:  # as DIET: no intent, an empty ranking
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
                continue
            p = self.model.probabilities(text)
            order = np.argsort(-p)[: self.config["ranking_length"]]
            ranking = [{"name": self.model.classes[i], "confidence": round(float(p[i]), 4)} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
