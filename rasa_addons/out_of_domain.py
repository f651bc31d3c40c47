"""A separate out-of-domain classifier for Rasa 3.6: is this message about Concilia at all?

DIET learns Concilia's intents from a few thousand hand-written examples, with a small hand-written
``out_of_scope`` intent. Teaching DIET "everything else" would need thousands of general sentences in its
training data, making it slower to train and to run. This component learns that boundary on its own,
with a linear model on TF-IDF n-grams (words 1-2, characters 2-5 inside word boundaries, on the
normalised text: no accents, lower case), trained in seconds:

- in domain: every NLU training example whose intent is not ``out_of_scope``;
- out of domain: the ``out_of_scope`` examples plus the general Italian sentences in the ``negatives``
  file (``nlu/negatives/train.txt``, one sentence per line, ``#`` lines are comments).

At inference it runs after DIET and before the FallbackClassifier. For a typed message (not a button
payload, which starts with "/") it adds ``out_of_domain``: P(out of domain) to the parse data, and when
P >= ``threshold`` it makes ``out_of_scope`` the intent, with confidence P, first in ``intent_ranking``
and DIET's ranking after it (same order, confidences times 1 - P). Messages of at most ``short_words``
words ("luogo?", "non ora", "grz") carry little evidence and are mostly replies and follow-ups: they
need ``short_threshold``. Messages of more than ``long_words`` words (a story, then the question) need
``long_threshold``: most of their words are general ones even when they are about Concilia.

Rasa's training cache only knows the pipeline's config and the training data, so the component adds
the negatives file's SHA-256 to its fingerprint (``fingerprint_addon``): editing the file retrains it.

The model is stored as plain arrays and a JSON vocabulary (no pickle). Config: see
``get_default_config``; the threshold comes from ``nlu/negatives/threshold.py`` (a validation split of
the training data only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from knowledge.text import normalise

log = logging.getLogger(__name__)

OUT_OF_DOMAIN_KEY = "out_of_domain"
_MODEL_FILE = "out_of_domain.npz"
_VOCAB_FILE = "out_of_domain_vocabulary.json"


def read_negatives(path: Path) -> list[str]:
    """The sentences of a negatives file: one a line, blank lines and ``#`` comments skipped."""
    lines = path.read_text("utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _vectorizers(config: dict[str, Any]) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    word = TfidfVectorizer(
        analyzer="word",
        ngram_range=tuple(config["word_ngrams"]),
        token_pattern=r"(?u)\b\w+\b",
        sublinear_tf=True,
        dtype=np.float32,
    )
    char = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=tuple(config["char_ngrams"]),
        min_df=config["char_min_df"],
        sublinear_tf=True,
        dtype=np.float32,
    )
    return word, char


def _weights(vectorizer: TfidfVectorizer, coef: np.ndarray) -> dict[str, tuple[float, float]]:
    """Each n-gram's idf and coefficient."""
    idf = vectorizer.idf_
    return {term: (float(idf[i]), float(coef[i])) for term, i in vectorizer.vocabulary_.items()}


class OutOfDomainModel:
    """The fitted vectorizers and linear model; P(out of domain) for texts."""

    def __init__(self, word: TfidfVectorizer, char: TfidfVectorizer, coef: np.ndarray, bias: float) -> None:
        self.word, self.char, self.coef, self.bias = word, char, coef, bias
        n_word = len(word.vocabulary_)  # the features are [word n-grams, character n-grams]
        # sklearn's transform costs about 1 ms a call; scoring one message by hand costs a tenth of that
        self._parts = [
            (word.build_analyzer(), _weights(word, coef[:n_word])),
            (char.build_analyzer(), _weights(char, coef[n_word:])),
        ]

    @classmethod
    def fit(cls, in_domain: list[str], out_of_domain: list[str], config: dict[str, Any]) -> OutOfDomainModel:
        texts = [normalise(t) for t in in_domain + out_of_domain]
        labels = np.array([0] * len(in_domain) + [1] * len(out_of_domain))
        word, char = _vectorizers(config)
        features = sp.hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
        clf = LogisticRegression(
            C=config["C"], class_weight="balanced", solver="liblinear", max_iter=1000, random_state=0
        )
        clf.fit(features, labels)
        return cls(word, char, clf.coef_[0].astype(np.float32), float(clf.intercept_[0]))

    def probability(self, texts: list[str]) -> np.ndarray:
        return np.array([1.0 / (1.0 + math.exp(-self._score(normalise(t)))) for t in texts])

    def probability_sklearn(self, texts: list[str]) -> np.ndarray:
        """The same, through sklearn's transform (the reference for the hand-written scoring)."""
        norm = [normalise(t) for t in texts]
        n_word = len(self.word.vocabulary_)
        score = self.word.transform(norm) @ self.coef[:n_word]
        score += self.char.transform(norm) @ self.coef[n_word:]
        return 1.0 / (1.0 + np.exp(-(score + self.bias)))

    def _score(self, text: str) -> float:
        """bias + coef . x, x the L2-normalised sublinear TF-IDF vector of each n-gram kind, as sklearn."""
        total = self.bias
        for analyze, weights in self._parts:
            counts = Counter(gram for gram in analyze(text) if gram in weights)
            values = [((1.0 + math.log(n)) * weights[g][0], weights[g][1]) for g, n in counts.items()]
            norm = math.sqrt(sum(v * v for v, _ in values))
            if norm:
                total += sum(v * c for v, c in values) / norm
        return total

    def save(self, folder: Path) -> None:
        np.savez_compressed(
            folder / _MODEL_FILE,
            word_idf=self.word.idf_,
            char_idf=self.char.idf_,
            coef=self.coef,
            bias=np.array([self.bias]),
        )
        vocab = {
            "word": sorted(self.word.vocabulary_, key=self.word.vocabulary_.get),
            "char": sorted(self.char.vocabulary_, key=self.char.vocabulary_.get),
        }
        (folder / _VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path, config: dict[str, Any]) -> OutOfDomainModel:
        arrays = np.load(folder / _MODEL_FILE, allow_pickle=False)
        vocab = json.loads((folder / _VOCAB_FILE).read_text("utf-8"))
        word, char = _vectorizers(config)
        for vectorizer, terms, idf in (
            (word, vocab["word"], arrays["word_idf"]),
            (char, vocab["char"], arrays["char_idf"]),
        ):
            vectorizer.vocabulary = {term: i for i, term in enumerate(terms)}
            vectorizer._validate_vocabulary()
            vectorizer.idf_ = idf
        return cls(word, char, arrays["coef"], float(arrays["bias"][0]))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class OutOfDomainClassifier(GraphComponent):
    """Turns messages that are not about Concilia into ``out_of_scope``, after DIET."""

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
            "word_ngrams": [1, 2],
            "char_ngrams": [2, 5],
            "char_min_df": 2,
            "C": 4.0,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: OutOfDomainModel | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> OutOfDomainClassifier:
        return cls(config, model_storage, resource)

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
            self.model = OutOfDomainModel.fit(in_domain, out_of_domain, self.config)
            log.debug("out-of-domain classifier: %d in domain, %d out", len(in_domain), len(out_of_domain))
            with self._model_storage.write_to(self._resource) as folder:
                self.model.save(folder)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> OutOfDomainClassifier:
        merged = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as folder:
                model = OutOfDomainModel.load(folder, merged)
        except (ValueError, FileNotFoundError):
            log.warning(
                "out-of-domain classifier: no trained model in %s, messages pass unchanged", resource.name
            )
            model = None
        return cls(config, model_storage, resource, model)

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
                # DIET's ranking follows, in its order, scaled by 1 - P: the ranking stays sorted, so the
                # FallbackClassifier's ambiguity check does not turn the answer into nlu_fallback.
                rest = [
                    {**r, "confidence": r.get("confidence", 0.0) * (1.0 - p)}
                    for r in message.get(INTENT_RANKING_KEY) or []
                    if r.get("name") != oos
                ]
                message.set(INTENT, intent, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [intent, *rest], add_to_output=True)
        return messages
