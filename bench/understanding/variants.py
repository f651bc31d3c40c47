"""The pipeline variants bench/understanding compares: each is config.yml with one change, written out
at run time, so a variant never drifts from the pipeline it is compared with."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
Config = dict[str, Any]


def _pipeline(config: Config) -> list[dict[str, Any]]:
    return config["pipeline"]


def current(config: Config) -> Config:
    return config


def no_out_of_domain(config: Config) -> Config:
    config["pipeline"] = [c for c in _pipeline(config) if "out_of_domain" not in c["name"]]
    return config


_COUNT_VECTORS = [
    {"name": "RegexFeaturizer", "case_sensitive": False, "use_word_boundaries": True},
    {"name": "CountVectorsFeaturizer", "analyzer": "word", "min_ngram": 1, "max_ngram": 2},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
]
_DIET = {
    "name": "DIETClassifier",
    "epochs": 25,
    "number_of_transformer_layers": 0,
    "hidden_layers_sizes": {"text": [256, 128]},
    "entity_recognition": False,
    "constrain_similarities": True,
    "model_confidence": "softmax",
    "random_seed": 7,
}


def _replace_linear(config: Config, *components: dict[str, Any]) -> Config:
    """The linear intent classifier's place taken by Rasa's count features and ``components``."""
    pipeline = _pipeline(config)
    i = next(k for k, c in enumerate(pipeline) if c["name"].endswith("LinearIntentClassifier"))
    pipeline[i : i + 1] = [*copy.deepcopy(_COUNT_VECTORS), *components]
    return config


def diet(config: Config) -> Config:
    """The pipeline before the linear classifier (config.yml until 2026-12-01)."""
    return _replace_linear(config, dict(_DIET))


def diet_transformer(config: Config) -> Config:
    return _replace_linear(config, {**_DIET, "number_of_transformer_layers": 2, "transformer_size": 128})


def rasa_logistic_regression(config: Config) -> Config:
    return _replace_linear(config, {"name": "LogisticRegressionClassifier", "max_iter": 200})


def _linear(config: Config) -> dict[str, Any]:
    return next(c for c in _pipeline(config) if c["name"].endswith("LinearIntentClassifier"))


def words_only(config: Config) -> Config:
    _linear(config)["char_ngrams"] = [1, 1]  # single characters: next to nothing
    return config


def linear_c3(config: Config) -> Config:
    _linear(config)["C"] = 3.0
    return config


VARIANTS: dict[str, tuple[str, Callable[[Config], Config]]] = {
    "current": ("config.yml as it is", current),
    "no-ood": ("without the out-of-domain classifier", no_out_of_domain),
    "diet": ("DIET (25 epochs, no transformer) on count features, as before", diet),
    "diet-transformer": ("DIET with 2 transformer layers", diet_transformer),
    "rasa-logreg": ("Rasa's LogisticRegressionClassifier on count features", rasa_logistic_regression),
    "words-only": ("the linear classifier without character n-grams", words_only),
    "linear-c3": ("the linear classifier, C = 3 instead of 10", linear_c3),
}


def write_all(out: Path) -> dict[str, tuple[str, Path]]:
    """Write each variant's config to ``out``; returns slug -> (what it changes, path)."""
    base = yaml.safe_load((ROOT / "config.yml").read_text("utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for slug, (what, change) in VARIANTS.items():
        path = out / f"{slug}.yml"
        path.write_text(
            yaml.safe_dump(change(copy.deepcopy(base)), allow_unicode=True, sort_keys=False), "utf-8"
        )
        written[slug] = (what, path)
    return written
