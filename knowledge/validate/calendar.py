"""Checking ``calendar.yml``: the regional school year and the closures."""

from __future__ import annotations

from knowledge.records import Closure, SchoolYear
from knowledge.validate.context import Context, name_of
from knowledge.validate.fields import DASHED_ID, Source, describe
from knowledge.yamlio import LineDict

CLOSURE_KINDS = ("holiday", "christmas", "easter", "carnival", "bridge", "summer")
CLOSURE_RITES = ("all", "ambrosian", "roman")


def check(ctx: Context, src: Source) -> None:
    if src.data is None:
        return
    data = src.data
    if "school_year" in data:
        value = data["school_year"]
        if not isinstance(value, LineDict):
            ctx.report(
                src,
                data.line_of("school_year"),
                "school_year",
                f"expected a mapping, got {describe(value)}",
            )
        else:
            _school_year(ctx, src, value)
    seen: dict[str, int] = {}
    for item, _line, index in ctx.top_list(src, "closures"):
        rec = ctx.record(
            src,
            f"closures[{name_of(item, 'id', index)}]",
            item,
            ("id", "name", "kind", "start", "end", "rite", "notes", "verify"),
        )
        before = ctx.error_count
        cid = rec.ident("id", DASHED_ID)
        if cid is not None:
            if cid in seen:
                rec.err("id", f"duplicate closure id '{cid}' (also at line {seen[cid]})")
            else:
                seen[cid] = rec.line("id")
        name = rec.text("name")
        kind = rec.enum("kind", CLOSURE_KINDS)
        start = rec.date_field("start")
        end = rec.date_field("end")
        if start is not None and end is not None and end < start:
            rec.err("end", f"end {end.isoformat()} is before start {start.isoformat()}")
        rite = rec.enum("rite", CLOSURE_RITES, required=False) or "all"
        notes = rec.text("notes", required=False)
        verify = rec.boolean("verify", default=False)
        if ctx.error_count == before and cid and name and kind and start and end:
            ctx.result.closures.append(
                Closure(
                    id=cid,
                    name=name,
                    kind=kind,
                    start=start,
                    end=end,
                    rite=rite,
                    notes=notes,
                    verify=bool(verify),
                )
            )


def _school_year(ctx: Context, src: Source, data: LineDict) -> None:
    rec = ctx.record(
        src,
        "school_year",
        data,
        ("id", "region", "source", "start", "start_infanzia", "end", "end_infanzia", "verify"),
    )
    before = ctx.error_count
    raw_id = data.get("id")
    sy_id = str(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else rec.text("id")
    region = rec.text("region")
    source = rec.text("source")
    start = rec.date_field("start")
    start_inf = rec.date_field("start_infanzia")
    end = rec.date_field("end")
    end_inf = rec.date_field("end_infanzia")
    verify = rec.boolean("verify", default=False)
    for first_key, first, last_key, last in (
        ("start", start, "end", end),
        ("start_infanzia", start_inf, "end_infanzia", end_inf),
    ):
        if first is not None and last is not None and last <= first:
            rec.err(last_key, f"{last_key} {last.isoformat()} is not after {first_key} {first.isoformat()}")
    if ctx.error_count == before and sy_id and region and source and start and start_inf and end and end_inf:
        ctx.result.school_year = SchoolYear(
            id=sy_id,
            region=region,
            source=source,
            start=start,
            start_infanzia=start_inf,
            end=end,
            end_infanzia=end_inf,
            verify=bool(verify),
        )
