"""Reading the data folder: which files are read, their digest, and each file parsed to a mapping with
its top-level keys checked."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import yaml

from knowledge.validate.context import Context
from knowledge.validate.fields import Source, describe
from knowledge.yamlio import LineDict, parse

DEFAULT_DATA_DIR = Path(__file__).parent.parent / "data"  # no I/O at import: __file__ is absolute
SERVICES_DIR = "services"
SERVICES_FILE_KEYS = ("services",)  # the top-level keys of each file in services/


def resolve_dir(path: str | Path | None) -> Path:
    return DEFAULT_DATA_DIR if path is None else Path(path)


def tree_files(root: Path) -> list[Path]:
    """Every YAML file under ``root`` (sorted), read or not."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def read_tree(
    ctx: Context, single_files: Mapping[str, tuple[str, ...]]
) -> tuple[dict[str, Source], list[Source]] | None:
    """Every file of the folder read and parsed: (the single files by name, the service files).

    ``single_files`` maps each file (relative to the data folder) to its top-level keys, all required.
    Every single file has a :class:`Source`, with no data when it is missing or unreadable. None when
    the folder itself is missing."""
    root = ctx.root
    if not root.is_dir():
        src = Source(".", str(root))
        ctx.report(src, 0, "path", "knowledge base folder not found")
        return None
    digest = hashlib.sha256()
    sources: dict[str, Source] = {}
    for path in tree_files(root):
        rel = path.relative_to(root).as_posix()
        src = Source(rel, str(path))
        in_services = rel.startswith(SERVICES_DIR + "/") and rel.count("/") == 1
        if path.suffix == ".yaml":
            ctx.report(src, 1, "file", "not read: knowledge files end in .yml", "warning")
            continue
        if rel not in single_files and not in_services:
            ctx.report(src, 1, "file", "not read: unexpected file", "warning")
            continue
        raw = path.read_bytes()
        digest.update(rel.encode() + b"\0" + raw + b"\0")
        sources[rel] = src
        _parse(ctx, src, raw, single_files.get(src.rel, SERVICES_FILE_KEYS))
    ctx.result.digest = digest.hexdigest()
    for rel in single_files:
        if rel not in sources:
            src = Source(rel, str(root / rel))
            ctx.report(src, 0, "file", "missing file")
            sources[rel] = src
    service_sources = [s for rel, s in sorted(sources.items()) if rel.startswith(SERVICES_DIR + "/")]
    if not service_sources:
        ctx.report(Source(SERVICES_DIR, str(root / SERVICES_DIR)), 0, "file", "no service files")
    return sources, service_sources


def _parse(ctx: Context, src: Source, raw: bytes, keys: tuple[str, ...]) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        ctx.report(src, line, "file", "not valid UTF-8 text")
        return
    try:
        data = parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = exc.problem or exc.context or "malformed"
        ctx.report(src, line, "yaml", f"invalid YAML: {what}")
        return
    except yaml.YAMLError as exc:
        ctx.report(src, 1, "yaml", f"invalid YAML: {exc}")
        return
    if data is None:
        ctx.report(src, 1, "file", "file is empty")
        return
    if not isinstance(data, LineDict):
        ctx.report(src, 1, "file", f"expected a mapping at the top level, got {describe(data)}")
        return
    for key, line in data.duplicate_keys:
        ctx.report(src, line, str(key), f"key '{key}' appears twice")
    for key in data:
        if key not in keys:
            expected = ", ".join(f"'{k}'" for k in keys)
            ctx.report(src, data.line_of(key), str(key), f"wrong top-level key '{key}' (expected {expected})")
    for key in keys:
        if key not in data:
            ctx.report(src, 1, key, "missing top-level key")
    src.data = data
