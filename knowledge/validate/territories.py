"""Checking ``territories.yml``: the territories (ambiti) and their towns, each name and alias
naming one place only."""

from __future__ import annotations

from knowledge.records import Territory, Town
from knowledge.text import normalise
from knowledge.validate.context import Context, name_of
from knowledge.validate.fields import SNAKE_ID, Record, Source
from knowledge.yamlio import LineDict

RITES = ("ambrosian", "roman")


def check(ctx: Context, src: Source) -> None:
    if src.data is None:
        return
    ctx.territory_ids = set()
    ctx.town_names = {}
    seen_ids: dict[str, int] = {}
    town_lines: dict[str, tuple[str, int]] = {}  # normalised canonical name -> (territory, line)
    key_owner: dict[str, tuple[str, int]] = {}  # normalised name/alias -> (town, line)
    territory_keys: dict[str, tuple[str, int]] = {}  # normalised territory name/alias -> (id, line)
    for item, _line, index in ctx.top_list(src, "territories"):
        rec = ctx.record(
            src,
            f"territories[{name_of(item, 'id', index)}]",
            item,
            ("id", "name", "area", "aliases", "towns"),
        )
        before = ctx.error_count
        tid = rec.ident("id", SNAKE_ID)
        if tid is not None:
            if tid in seen_ids:
                rec.err("id", f"duplicate territory id '{tid}' (also at line {seen_ids[tid]})")
            else:
                seen_ids[tid] = rec.line("id")
                ctx.territory_ids.add(tid)
        name = rec.text("name")
        area = rec.text("area", required=False)
        alias_items = rec.text_items("aliases")
        aliases = tuple(a for a, _ in alias_items)
        for key, line in [(name, rec.line("name")), *alias_items]:
            if key is None or tid is None:
                continue
            norm = normalise(key)
            other = territory_keys.get(norm)
            if other is not None and other[0] != tid:
                rec.err("aliases", f"'{key}' also names territory '{other[0]}' (line {other[1]})", line)
            territory_keys.setdefault(norm, (tid, line))
        towns: list[str] = []
        for town_item, _town_line, town_index in rec.maps("towns", required=True, non_empty=True):
            town_name, town = _town(ctx, src, rec, town_item, town_index, tid, town_lines, key_owner)
            if town_name is not None and tid is not None:
                ctx.town_names.setdefault(town_name, tid)  # known even when the entry has errors
            if town is not None:
                towns.append(town.name)
                ctx.result.towns[town.name] = town
        if tid is not None and ctx.error_count == before:
            ctx.result.territories[tid] = Territory(
                id=tid, name=name or tid, area=area, aliases=aliases, towns=tuple(towns)
            )
    for norm, (town_name, _line) in key_owner.items():
        ctx.town_keys[norm] = town_name


def _town(
    ctx: Context,
    src: Source,
    parent: Record,
    item: LineDict,
    index: int,
    tid: str | None,
    town_lines: dict[str, tuple[str, int]],
    key_owner: dict[str, tuple[str, int]],
) -> tuple[str | None, Town | None]:
    rec = ctx.record(
        src,
        f"{parent.where}.towns[{name_of(item, 'name', index)}]",
        item,
        ("name", "aliases", "rite", "verify", "lat", "lon"),
    )
    before = ctx.error_count
    name = rec.text("name")
    alias_items = rec.text_items("aliases")
    aliases = tuple(a for a, _ in alias_items)
    rite = rec.enum("rite", RITES)
    verify = rec.boolean("verify", default=False)
    lat = rec.number("lat", required=False, low=-90, high=90)
    lon = rec.number("lon", required=False, low=-180, high=180)
    if ("lat" in item) != ("lon" in item):
        missing = "lon" if "lat" in item else "lat"
        rec.err(missing, "lat and lon go together: give both or neither")
    if name is not None:
        norm = normalise(name)
        if norm in town_lines:
            other_territory, other_line = town_lines[norm]
            where = "" if other_territory == tid else f" in territory '{other_territory}'"
            rec.err("name", f"duplicate town '{name}' (also at line {other_line}{where})")
        else:
            town_lines[norm] = (tid or "?", rec.line("name"))
            keys = [(name, rec.line("name")), *alias_items]
            for key, line in keys:
                knorm = normalise(key)
                owner = key_owner.get(knorm)
                if owner is not None and owner[0] != name:
                    rec.err(
                        "aliases" if key != name else "name",
                        f"'{key}' also names town '{owner[0]}' (line {owner[1]})",
                        line,
                    )
                elif owner is None:
                    key_owner[knorm] = (name, line)
    if ctx.error_count > before or name is None or tid is None or rite is None:
        return name, None
    return name, Town(
        name=name,
        territory=tid,
        aliases=aliases,
        rite=rite,
        lat=float(lat) if lat is not None else None,
        lon=float(lon) if lon is not None else None,
        verify=bool(verify),
    )
