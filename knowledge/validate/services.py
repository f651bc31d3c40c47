"""Checking ``services/*.yml``: every service, its references to topics, partners, territories and
towns, and its period, schedule, cost and enrolment."""

from __future__ import annotations

from datetime import date

from knowledge.records import WEEKDAYS, Ages, Contacts, Cost, Enrolment, Period, Schedule, Service
from knowledge.text import normalise
from knowledge.validate.context import Context, name_of
from knowledge.validate.fields import DASHED_ID, Record, Source, read_contacts
from knowledge.yamlio import LineDict

COST_PER = ("week", "month", "hour", "day", "period", "year", "once")

SERVICE_KEYS = (
    "id",
    "title",
    "topic",
    "kind",
    "provider",
    "territories",
    "towns",
    "open_to_non_residents",
    "ages",
    "period",
    "schedule",
    "cost",
    "cost_eur",
    "enrolment",
    "contacts",
    "description",
    "sample",
    "verify",
    "last_reviewed",
)


def check(ctx: Context, src: Source) -> None:
    for item, _line, index in ctx.top_list(src, "services"):
        service = _service(ctx, src, item, index)
        if service is not None:
            ctx.result.services.append(service)


def _service(ctx: Context, src: Source, item: LineDict, index: int) -> Service | None:
    rec = ctx.record(src, f"services[{name_of(item, 'id', index)}]", item, SERVICE_KEYS)
    before = ctx.error_count
    sid = rec.ident("id", DASHED_ID)
    if sid is not None:
        if sid in ctx.service_ids:
            rec.err("id", f"duplicate service id '{sid}' (also at {ctx.service_ids[sid]})")
        else:
            ctx.service_ids[sid] = f"{src.rel}:{rec.line('id')}"
    title = rec.text("title")
    topic = rec.text("topic")
    if topic is not None and ctx.topic_kinds is not None and topic not in ctx.topic_kinds:
        rec.err("topic", f"unknown topic '{topic}'")
    kind = rec.text("kind")
    if (
        kind is not None
        and topic is not None
        and ctx.topic_kinds is not None
        and topic in ctx.topic_kinds
        and kind not in ctx.topic_kinds[topic]
    ):
        rec.err("kind", f"unknown kind '{kind}' for topic '{topic}'")
    provider = ctx.partner_ref(rec, "provider")
    territories = ctx.territory_refs(rec, "territories") or ()
    towns = _town_refs(ctx, rec, territories)
    open_to = rec.boolean("open_to_non_residents", required=False, default=None)
    ages = _ages(rec)
    period = _period(rec)
    schedule = _schedule(rec)
    cost = rec.text("cost")
    cost_eur = _cost(rec)
    enrolment = _enrolment(rec)
    contacts = read_contacts(rec, "contacts")
    description = rec.text("description", required=False)
    sample = rec.boolean("sample", required=True)
    verify = rec.boolean("verify", default=False)
    reviewed = rec.date_field("last_reviewed")

    if provider is not None and ctx.partner_cover is not None and provider in ctx.partner_cover:
        covered_topics, covered_territories = ctx.partner_cover[provider]
        if topic is not None and topic not in covered_topics:
            rec.warn("provider", f"provider '{provider}' does not cover topic '{topic}'")
        for territory in territories:
            if territory not in covered_territories:
                rec.warn("provider", f"provider '{provider}' does not cover territory '{territory}'")
    if period is not None and period.end < ctx.today:
        rec.warn("period", f"expired: the period ended on {period.end.isoformat()}", rec.line("period"))

    if ctx.error_count > before or sid is None or period is None or schedule is None or enrolment is None:
        return None
    return Service(
        id=sid,
        title=title or "",
        topic=topic or "",
        kind=kind or "",
        provider=provider or "",
        territories=territories,
        towns=towns,
        ages=ages,
        period=period,
        schedule=schedule,
        cost=cost or "",
        cost_eur=cost_eur,
        enrolment=enrolment,
        contacts=contacts or Contacts(),
        description=description or "",
        open_to_non_residents=open_to,
        sample=bool(sample),
        verify=bool(verify),
        last_reviewed=reviewed,
    )


def _town_refs(ctx: Context, rec: Record, territories: tuple[str, ...]) -> tuple[str, ...]:
    items = rec.text_items("towns", required=False)
    names = []
    for value, line in items:
        names.append(value)
        if ctx.town_names is None:
            continue
        if value not in ctx.town_names:
            canonical = ctx.town_keys.get(normalise(value))
            hint = f" (did you mean '{canonical}'?)" if canonical else ""
            rec.err("towns", f"unknown town '{value}'{hint}", line)
        elif territories and ctx.town_names[value] not in territories:
            listed = ", ".join(territories)
            home = ctx.town_names[value]
            rec.err(
                "towns", f"town '{value}' is in territory '{home}', not in the service's ({listed})", line
            )
    return tuple(names)


def _ages(rec: Record) -> Ages | None:
    arec = rec.mapping("ages", required=False, allowed=("min", "max"))
    if arec is None:
        return None
    low = arec.integer("min")
    high = arec.integer("max")
    for key, value in (("min", low), ("max", high)):
        if value is not None and value < 0:
            arec.err(key, f"{key} {value} is negative")
    if low is not None and high is not None and low > high:
        arec.err("min", f"min {low} is greater than max {high}")
    if low is None or high is None:
        return None
    return Ages(low, high)


def _period(rec: Record) -> Period | None:
    prec = rec.mapping("period", required=True, allowed=("label", "start", "end", "closed_on"))
    if prec is None:
        return None
    label = prec.text("label", required=False)
    start = prec.date_field("start")
    end = prec.date_field("end")
    if start is not None and end is not None and end < start:
        prec.err("end", f"end {end.isoformat()} is before start {start.isoformat()}")
    closed: list[date] = []
    for day, line in prec.date_items("closed_on"):
        if start is not None and end is not None and not start <= day <= end:
            prec.err(
                "closed_on",
                f"{day.isoformat()} is outside the period ({start.isoformat()} to {end.isoformat()})",
                line,
            )
        closed.append(day)
    if start is None or end is None:
        return None
    return Period(label=label or "", start=start, end=end, closed_on=tuple(sorted(closed)))


def _schedule(rec: Record) -> Schedule | None:
    srec = rec.mapping("schedule", required=True, allowed=("days", "hours", "notes"))
    if srec is None:
        return None
    days = []
    for value, line in srec.text_items("days", required=True, non_empty=True):
        if value not in WEEKDAYS:
            srec.err("days", f"'{value}' is not a day (use {', '.join(WEEKDAYS)})", line)
        elif value in days:
            srec.warn("days", f"'{value}' is listed twice", line)
        else:
            days.append(value)
    hours = srec.hours("hours", required=True, non_empty=True)
    notes = srec.text("notes", required=False)
    if hours is None:
        return None
    return Schedule(days=tuple(sorted(days, key=WEEKDAYS.index)), hours=hours, notes=notes)


def _cost(rec: Record) -> Cost | None:
    crec = rec.mapping("cost_eur", required=False, allowed=("amount", "per"))
    if crec is None:
        return None
    amount = crec.number("amount", required=True, low=0)
    per = crec.enum("per", COST_PER)
    if amount is None or per is None:
        return None
    return Cost(amount=amount, per=per)


def _enrolment(rec: Record) -> Enrolment | None:
    erec = rec.mapping("enrolment", required=True, allowed=("how", "opens", "deadline"))
    if erec is None:
        return None
    how = erec.text("how")
    opens = erec.date_field("opens", required=False)
    deadline = erec.date_field("deadline", required=False)
    if opens is not None and deadline is not None and opens > deadline:
        erec.err("opens", f"opens {opens.isoformat()} is after deadline {deadline.isoformat()}")
    return Enrolment(how=how or "", opens=opens, deadline=deadline)
