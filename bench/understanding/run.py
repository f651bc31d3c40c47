"""bench/understanding: config.yml and its variants, each trained and measured through the whole assistant.

    .venv-rasa/bin/python bench/understanding/run.py              # train every variant, then measure
    .venv-rasa/bin/python bench/understanding/run.py --reuse      # reuse models already in bench/out/models
    .venv-rasa/bin/python bench/understanding/run.py --only current no-ood

Each variant is config.yml with one change (bench/understanding/variants.py), so they never drift from
it. For each: the full training time (``rasa train``: NLU and rules, 2 threads), then
scripts/eval_assistant.py's measures — topic accuracy, confidently wrong, clarified, out-of-scope
rejection, referrals, by length band — on the held-out file, the real development set, xSID and the kept
negative pool, and the median time per message (Rasa and the action server). Writes
bench/out/understanding.md and .json.
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
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import eval_assistant  # noqa: E402
import variants  # noqa: E402

OUT = ROOT / "bench" / "out"
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
COLUMNS = (
    ("real", "topic_accuracy"),
    ("real", "confidently_wrong"),
    ("real", "clarified"),
    ("heldout", "topic_accuracy"),
    ("heldout", "confidently_wrong"),
    ("xsid", "rejection"),
    ("negatives", "rejection"),
)


def train(slug: str, config: Path, reuse: bool) -> tuple[Path, float | None]:
    model = OUT / "models" / f"{slug}.tar.gz"
    if reuse and model.exists():
        return model, None
    t0 = time.perf_counter()
    subprocess.run(
        [
            str(RASA),
            "train",
            "--config",
            str(config),
            "--data",
            "nlu/data",
            "--domain",
            "nlu/domain.yml",
            "--out",
            str(OUT / "models"),
            "--fixed-model-name",
            slug,
            "--num-threads",
            "2",
            "--force",
            "--quiet",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return model, time.perf_counter() - t0


def cell(report: dict, name: str, key: str, band: str | None = None) -> str:
    s = report["sets"].get(name)
    if s is None:
        return "–"
    value = (s["by_length"][band] if band else s)[key]
    return "–" if value is None else f"{value:.3f}"


def table(rows: list[dict]) -> str:
    head = ["variant", "train s", "median ms"] + [f"{n} {k}" for n, k in COLUMNS] + ["heldout >15 topic"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        rep = r["report"]
        cells = [r["variant"], str(r["train_seconds"]), str(rep["median_ms"])]
        cells += [cell(rep, n, k) for n, k in COLUMNS]
        cells.append(cell(rep, "heldout", "topic_accuracy", ">15"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reuse", action="store_true", help="reuse trained variant models")
    ap.add_argument("--only", nargs="*", help="variant slugs to run (default: all)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many messages per data set")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    defaults = eval_assistant.argparse.Namespace(
        heldout=ROOT / "tests" / "nlu" / "heldout.yml",
        real=ROOT / "tests" / "nlu" / "real.yml",
        xsid=ROOT.parent / "shared" / "external" / "xsid-0.7-it.valid.conll",
        negatives=ROOT / "tests" / "nlu" / "negatives_kept.txt",
        limit=args.limit,
    )
    sets = eval_assistant.datasets(defaults)
    rows = []
    for slug, (what, config) in variants.write_all(OUT / "configs").items():
        if args.only and slug not in args.only:
            continue
        print(f"==> {slug}: {what}; training", flush=True)
        model, seconds = train(slug, config, args.reuse)
        print("    measuring", flush=True)
        report = asyncio.run(eval_assistant.evaluate(str(model), ROOT, sets, OUT))
        rows.append(
            {
                "variant": slug,
                "what": what,
                "train_seconds": round(seconds, 1) if seconds is not None else None,
                "report": report,
            }
        )
        print(eval_assistant.markdown(report, f"{slug}: {what}"), flush=True)
    (OUT / "understanding.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2), "utf-8")
    text = table(rows)
    details = "\n\n".join(eval_assistant.markdown(r["report"], f"{r['variant']}: {r['what']}") for r in rows)
    when = time.strftime("%Y-%m-%d %H:%M")
    (OUT / "understanding.md").write_text(
        f"# Understanding benchmark\n\nMachine: {os.cpu_count()} cores. Date: {when}.\n"
        f"Command: `.venv-rasa/bin/python bench/understanding/run.py`\n\n{text}\n\n{details}\n",
        "utf-8",
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
