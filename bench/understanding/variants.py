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


def diet_transformer(config: Config) -> Config:
    for c in _pipeline(config):
        if c["name"] == "DIETClassifier":
            c["number_of_transformer_layers"] = 2
            c["transformer_size"] = 128
    return config


def logistic_regression(config: Config) -> Config:
    for i, c in enumerate(_pipeline(config)):
        if c["name"] == "DIETClassifier":
            _pipeline(config)[i] = {"name": "LogisticRegressionClassifier", "max_iter": 200}
    return config


def words_only(config: Config) -> Config:
    config["pipeline"] = [
        c
        for c in _pipeline(config)
        if not (c["name"] == "CountVectorsFeaturizer" and c.get("analyzer") == "char_wb")
    ]
    return config


VARIANTS: dict[str, tuple[str, Callable[[Config], Config]]] = {
    "current": ("config.yml as it is", current),
    "no-ood": ("without the out-of-domain classifier", no_out_of_domain),
    "diet-transformer": ("DIET with 2 transformer layers", diet_transformer),
    "logreg": ("logistic regression instead of DIET", logistic_regression),
    "words-only": ("no character n-grams", words_only),
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
