"""``concilia kb check`` and ``concilia kb lookups``: each returns the process exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from knowledge import lookups
from knowledge.loader import load
from knowledge.records import KnowledgeBaseInvalid, Problem
from knowledge.validate import analyse


def _shown(problem: Problem) -> str:
    """``file:line: field: message`` with the file relative to the current folder when it is inside it."""
    file = problem.file
    try:
        rel = os.path.relpath(file)
        if not rel.startswith(".."):
            file = rel
    except ValueError:  # another drive on Windows
        pass
    return f"{file}:{problem.line}: {problem.field}: {problem.message}"


def check(path: str | Path | None = None, out: TextIO | None = None) -> int:
    """Print every problem and a summary; 1 when there are errors, else 0."""
    out = out or sys.stdout
    result = analyse(path)
    for problem in result.problems:  # errors first
        suffix = " (warning)" if problem.severity == "warning" else ""
        print(_shown(problem) + suffix, file=out)
    errors, warnings = len(result.errors), len(result.warnings)
    if errors:
        print(f"{errors} errors, {warnings} warnings", file=out)
        return 1
    print(
        f"knowledge base OK: {len(result.services)} services, {len(result.partners)} partners, "
        f"{len(result.towns)} towns ({warnings} warnings)",
        file=out,
    )
    return 0


def write_lookups(out_path: str | Path, path: str | Path | None = None, out: TextIO | None = None) -> int:
    """Write the Rasa lookup tables generated from the knowledge base; 1 when it does not load."""
    out = out or sys.stdout
    try:
        kb = load(path)
    except KnowledgeBaseInvalid as exc:
        for problem in exc.errors:
            print(_shown(problem), file=out)
        print(f"{len(exc.errors)} errors: lookup tables not written", file=out)
        return 1
    written = lookups.write_lookups(kb, out_path)
    print(f"lookup tables written to {written}", file=out)
    return 0
