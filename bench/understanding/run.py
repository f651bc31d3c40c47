"""bench/understanding: how well Concilia understands Italian, for the current pipeline and variants.

    .venv-rasa/bin/python bench/understanding/run.py            # trains each variant (NLU only) and measures
    .venv-rasa/bin/python bench/understanding/run.py --reuse    # reuses models already in bench/out/models

For config.yml and every file in bench/understanding/variants/: training time, then on the held-out set
(tests/nlu/heldout.yml, never used for training) intent accuracy, macro F1, topic accuracy, town and
territory resolution, false offers of a person, and the share of the xSID Italian set rejected as out of
scope. Writes bench/out/understanding.md and .json, and a confusion matrix (PNG) per variant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

OUT = ROOT / "bench" / "out"
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
KEYS = (
    "intent_accuracy",
    "intent_macro_f1",
    "topic_accuracy",
    "town_accuracy",
    "territory_accuracy",
    "false_handoff_rate",
    "xsid_rejection",
    "model_load_seconds",
    "parse_ms_mean",
)


def variants() -> dict[str, Path]:
    found = {"current (config.yml)": ROOT / "config.yml"}
    for path in sorted((ROOT / "bench" / "understanding" / "variants").glob("*.yml")):
        found[path.stem] = path
    return found


def train(name: str, config: Path, reuse: bool) -> tuple[Path, float | None]:
    slug = name.split(" ")[0]
    model = OUT / "models" / f"{slug}.tar.gz"
    if reuse and model.exists():
        return model, None
    subprocess.run(
        [str(ROOT / "scripts" / "generate-lookups.sh")], cwd=ROOT, check=False, capture_output=True
    )
    t0 = time.perf_counter()
    subprocess.run(
        [
            str(RASA),
            "train",
            "nlu",
            "--config",
            str(config),
            "--nlu",
            "nlu/data",
            "--domain",
            "nlu/domain.yml",
            "--out",
            str(OUT / "models"),
            "--fixed-model-name",
            slug,
            "--num-threads",
            "2",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return model, time.perf_counter() - t0


def confusion_png(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = report["pairs"]
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    index = {label: i for i, label in enumerate(labels)}
    grid = [[0] * len(labels) for _ in labels]
    for gold, predicted in pairs:
        grid[index[gold]][index[predicted]] += 1
    fig, ax = plt.subplots(figsize=(11, 10))
    ax.imshow(grid, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i, row in enumerate(grid):
        for j, n in enumerate(row):
            if n:
                ax.text(
                    j, i, str(n), ha="center", va="center", fontsize=6, color="white" if i == j else "red"
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(f"held-out intents — accuracy {report['intent_accuracy']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    import eval_nlu

    ap = argparse.ArgumentParser()
    ap.add_argument("--reuse", action="store_true", help="reuse trained variant models")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    heldout = ROOT / "tests" / "nlu" / "heldout.yml"
    xsid = ROOT.parent / "shared" / "external" / "xsid-0.7-it.valid.conll"
    rows = []
    for name, config in variants().items():
        print(f"==> {name}: training", flush=True)
        model, seconds = train(name, config, args.reuse)
        print(f"    measuring {model.name}", flush=True)
        report = asyncio.run(eval_nlu.evaluate(str(model), heldout, xsid))
        report["train_seconds"] = round(seconds, 1) if seconds is not None else None
        slug = name.split(" ")[0]
        confusion_png(report, OUT / f"confusion-{slug}.png")
        rows.append(
            {
                "variant": name,
                "config": str(config.relative_to(ROOT)),
                "train_seconds": report["train_seconds"],
                **{k: report[k] for k in KEYS},
                "threshold_sweep": report["threshold_sweep"],
            }
        )
        print("    " + ", ".join(f"{k}={report[k]}" for k in ("train_seconds",) + KEYS), flush=True)
    (OUT / "understanding.json").write_text(json.dumps(rows, indent=2), "utf-8")
    head = "| variant | train s | " + " | ".join(KEYS) + " |"
    lines = [head, "|" + "---|" * (len(KEYS) + 2)]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['train_seconds']} | " + " | ".join(str(r[k]) for k in KEYS) + " |"
        )
    table = "\n".join(lines)
    (OUT / "understanding.md").write_text(
        f"# Understanding benchmark\n\nMachine: {os.cpu_count()} cores. Date: {time.strftime('%Y-%m-%d')}.\n"
        f"Command: `.venv-rasa/bin/python bench/understanding/run.py`\n\n{table}\n",
        "utf-8",
    )
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
