"""Benchmarks: scripts that start the real stack, print numbers and write a report in bench/out/.
They import the shared harness (harness/) and the project's packages, installed in the gateway
environment; run them from the project root, e.g. ``.venv/bin/python bench/load/run.py --quick``."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"  # every benchmark's report
