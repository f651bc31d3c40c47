"""Checking the knowledge base files, and building the model from them when they are valid.

:func:`check` reads every file of a data folder and returns every problem found, each with its file,
line and field; errors stop the knowledge base from loading, warnings do not. :func:`analyse` does the
same and also returns the model pieces, which :func:`knowledge.loader.load` assembles when there is no
error. The schema is the one in ``knowledge/README.md``.

One module per data file (``territories``, ``topics``, ``partners``, ``services``, ``calendar``,
``welfare``), each a ``check(ctx, src)`` written with the shared field readers of ``fields``;
``referrals`` checks the optional ``referrals.yml`` on its own. To add
a data file: name it in :data:`SINGLE_FILES` and call its check in :func:`_check_files` (or, for a
file read on its own, call it in :func:`analyse` where the comment says).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from knowledge.records import Problem
from knowledge.validate import calendar, partners, services, territories, topics, welfare
from knowledge.validate.context import Analysis, Context
from knowledge.validate.fields import Source, parse_range
from knowledge.validate.files import DEFAULT_DATA_DIR, SERVICES_DIR, read_tree, resolve_dir, tree_files
from knowledge.validate.referrals import add_referrals

__all__ = [
    "DEFAULT_DATA_DIR",
    "SERVICES_DIR",
    "SINGLE_FILES",
    "Analysis",
    "analyse",
    "check",
    "parse_range",
    "resolve_dir",
    "tree_files",
]

# file (relative to the data folder) -> its top-level keys, all required
SINGLE_FILES: dict[str, tuple[str, ...]] = {
    "territories.yml": ("territories",),
    "topics.yml": ("topics",),
    "partners.yml": ("partners",),
    "calendar.yml": ("school_year", "closures"),
    "welfare.yml": ("welfare",),
}


def check(path: str | Path | None = None, today: date | None = None) -> list[Problem]:
    """Every problem in the knowledge base at ``path`` (default: the bundled data), errors first."""
    return analyse(path, today).problems


def analyse(path: str | Path | None = None, today: date | None = None) -> Analysis:
    """Read and check every file; build the model pieces along the way."""
    ctx = Context(resolve_dir(path), today or date.today())
    tree = read_tree(ctx, SINGLE_FILES)
    if tree is not None:
        _check_files(ctx, *tree)
    result = ctx.result
    # files read on their own (optional ones) are checked here
    add_referrals(result)  # referrals.yml
    result.problems.sort(key=lambda p: (p.severity != "error", p.file, p.line))
    return result


def _check_files(ctx: Context, sources: dict[str, Source], service_sources: list[Source]) -> None:
    """Each file's check, in this order: a file may refer only to what the files before it define."""
    territories.check(ctx, sources["territories.yml"])
    topics.check(ctx, sources["topics.yml"])
    partners.check(ctx, sources["partners.yml"])
    for src in service_sources:
        services.check(ctx, src)
    calendar.check(ctx, sources["calendar.yml"])
    welfare.check(ctx, sources["welfare.yml"])
