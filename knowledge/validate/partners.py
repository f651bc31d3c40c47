"""Checking ``partners.yml``: the partner organisations, what they cover, their office hours, and
exactly one default partner."""

from __future__ import annotations

from knowledge.records import WEEKDAYS, Contacts, Hours, Partner
from knowledge.validate.context import Context, name_of
from knowledge.validate.fields import DASHED_ID, Source, read_contacts

PARTNER_KINDS = ("public_body", "social_agency", "cooperative", "association", "employers")


def check(ctx: Context, src: Source) -> None:
    if src.data is None:
        return
    ctx.partner_cover = {}
    seen: dict[str, int] = {}
    defaults: list[tuple[str, int]] = []
    allowed = (
        "id",
        "name",
        "kind",
        "role",
        "territories",
        "topics",
        "default",
        "contacts",
        "office_hours",
        "holidays",
        "away_message",
        "sample",
        "last_reviewed",
    )
    for item, _line, index in ctx.top_list(src, "partners"):
        rec = ctx.record(src, f"partners[{name_of(item, 'id', index)}]", item, allowed)
        before = ctx.error_count
        pid = rec.ident("id", DASHED_ID)
        if pid is not None:
            if pid in seen:
                rec.err("id", f"duplicate partner id '{pid}' (also at line {seen[pid]})")
                pid = None
            else:
                seen[pid] = rec.line("id")
        name = rec.text("name")
        kind = rec.enum("kind", PARTNER_KINDS)
        role = rec.text("role")
        territories = ctx.territory_refs(rec, "territories")
        topics = ctx.topic_refs(rec, "topics")
        default = rec.boolean("default", default=False)
        if default and pid is not None:
            defaults.append((pid, rec.line("default")))
        contacts = read_contacts(rec, "contacts")
        office_hours: dict[str, Hours] = {}
        hours_rec = rec.mapping("office_hours", required=False, allowed=WEEKDAYS, unknown="day")
        if hours_rec is not None:
            for day in WEEKDAYS:
                if day in hours_rec.data:
                    ranges = hours_rec.hours(day, required=False, non_empty=False)
                    if ranges:
                        office_hours[day] = ranges
        holidays = rec.dates("holidays", required=False)
        away = rec.text("away_message", required=False)
        sample = rec.boolean("sample", required=True)
        reviewed = rec.date_field("last_reviewed")
        if pid is not None:
            ctx.partner_cover[pid] = (set(topics or ()), set(territories or ()))
        if pid is not None and ctx.error_count == before:
            ctx.result.partners[pid] = Partner(
                id=pid,
                name=name or pid,
                kind=kind or "",
                role=role or "",
                territories=territories or (),
                topics=topics or (),
                default=bool(default),
                contacts=contacts or Contacts(),
                office_hours=office_hours,
                holidays=holidays or (),
                away_message=away,
                sample=bool(sample),
                last_reviewed=reviewed,
            )
    if src.data is not None and isinstance(src.data.get("partners"), list):
        if not defaults:
            ctx.report(
                src,
                src.data.line_of("partners"),
                "partners",
                "no default partner: exactly one partner needs 'default: true'",
            )
        for pid, line in defaults[1:]:
            ctx.report(
                src,
                line,
                f"partners[{pid}].default",
                f"more than one default partner ('{defaults[0][0]}' and '{pid}')",
            )
