"""Checking the knowledge base files, and building the model from them when they are valid.

:func:`check` reads every file of a data folder and returns every problem found, each with its file,
line and field; errors stop the knowledge base from loading, warnings do not. :func:`analyse` does the
same and also returns the model pieces, which :func:`knowledge.loader.load` assembles when there is no
error. The schema is the one in ``knowledge/README.md``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import yaml

from knowledge.model import (
    WEEKDAYS,
    Ages,
    Closure,
    Contacts,
    Cost,
    Enrolment,
    Hours,
    Kind,
    Partner,
    Period,
    Problem,
    Schedule,
    SchoolYear,
    Service,
    Severity,
    Territory,
    Topic,
    Town,
)
from knowledge.text import normalise
from knowledge.validate_referrals import add_referrals
from knowledge.yamlio import InvalidDate, LineDict, LineList, parse, plain

DEFAULT_DATA_DIR = Path(__file__).parent / "data"  # no I/O at import: __file__ is absolute

# file (relative to the data folder) -> its top-level keys, all required
SINGLE_FILES: dict[str, tuple[str, ...]] = {
    "territories.yml": ("territories",),
    "topics.yml": ("topics",),
    "partners.yml": ("partners",),
    "calendar.yml": ("school_year", "closures"),
    "welfare.yml": ("welfare",),
}
SERVICES_DIR = "services"

DASHED_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # partners, services, closures
SNAKE_ID = re.compile(r"^[a-z][a-z0-9_]*$")  # territories, topics, kinds
HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WEB_RE = re.compile(r"^https?://[^\s/]+\.[^\s]+$")

RITES = ("ambrosian", "roman")
PARTNER_KINDS = ("public_body", "social_agency", "cooperative", "association", "employers")
CLOSURE_KINDS = ("holiday", "christmas", "easter", "carnival", "bridge", "summer")
CLOSURE_RITES = ("all", "ambrosian", "roman")
COST_PER = ("week", "month", "hour", "day", "period", "year", "once")
CONTACT_KEYS = ("email", "phone", "web")


@dataclass
class Source:
    """One YAML file of the tree."""

    rel: str  # relative to the data folder, with forward slashes
    display: str  # how problems name it
    data: Any = None  # the parsed document when it is a well-formed mapping


@dataclass
class Analysis:
    """Everything :func:`analyse` found: the problems, and the model pieces built from the files."""

    root: Path
    problems: list[Problem] = field(default_factory=list)
    digest: str = ""
    territories: dict[str, Territory] = field(default_factory=dict)
    towns: dict[str, Town] = field(default_factory=dict)
    topics: dict[str, Topic] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    school_year: SchoolYear | None = None
    closures: list[Closure] = field(default_factory=list)
    welfare: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def resolve_dir(path: str | Path | None) -> Path:
    return DEFAULT_DATA_DIR if path is None else Path(path)


def tree_files(root: Path) -> list[Path]:
    """Every YAML file under ``root`` (sorted), read or not."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def check(path: str | Path | None = None, today: date | None = None) -> list[Problem]:
    """Every problem in the knowledge base at ``path`` (default: the bundled data), errors first."""
    return analyse(path, today).problems


def analyse(path: str | Path | None = None, today: date | None = None) -> Analysis:
    """Read and check every file; build the model pieces along the way."""
    checker = _Checker(resolve_dir(path), today or date.today())
    checker.run()
    result = checker.result
    add_referrals(result)  # referrals.yml (knowledge/validate_referrals.py)
    result.problems.sort(key=lambda p: (p.severity != "error", p.file, p.line))
    return result


# -- helpers -------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, datetime):
        return f"the date and time {value.isoformat(sep=' ')}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def parse_time(hour: str, minute: str) -> time | None:
    h, m = int(hour), int(minute)
    if h > 23 or m > 59:
        return None
    return time(h, m)


def parse_range(text: str) -> tuple[time, time] | str:
    """``"08:30-16:30"`` -> (08:30, 16:30), or the reason it is not a valid range."""
    match = HOURS_RE.match(text)
    if not match:
        return f"'{text}' is not a time range (use \"HH:MM-HH:MM\")"
    start = parse_time(match[1], match[2])
    end = parse_time(match[3], match[4])
    for part, value in ((f"{match[1]}:{match[2]}", start), (f"{match[3]}:{match[4]}", end)):
        if value is None:
            return f"'{text}': {part} is not a valid time"
    assert start is not None and end is not None
    if start >= end:
        return f"'{text}': start {start:%H:%M} is not before end {end:%H:%M}"
    return (start, end)


class _Checker:
    def __init__(self, root: Path, today: date) -> None:
        self.root = root
        self.today = today
        self.result = Analysis(root=root)
        self.error_count = 0
        # what later files may refer to; None when the defining file could not be read
        self.territory_ids: set[str] | None = None
        self.town_names: dict[str, str] | None = None  # canonical name -> territory
        self.town_keys: dict[str, str] = {}  # normalised name or alias -> canonical name
        self.topic_kinds: dict[str, set[str]] | None = None
        self.partner_cover: dict[str, tuple[set[str], set[str]]] | None = None  # id -> (topics, territories)
        self.service_ids: dict[str, str] = {}  # id -> "file:line" of its first definition

    # -- reporting ----------------------------------------------------------------------------

    def report(self, src: Source, line: int, where: str, message: str, severity: Severity = "error") -> None:
        if severity == "error":
            self.error_count += 1
        self.result.problems.append(Problem(src.display, line, where, message, severity))

    # -- reading ------------------------------------------------------------------------------

    def run(self) -> None:
        root = self.root
        if not root.is_dir():
            src = Source(".", str(root))
            self.report(src, 0, "path", "knowledge base folder not found")
            return
        digest = hashlib.sha256()
        sources: dict[str, Source] = {}
        expected = set(SINGLE_FILES)
        for path in tree_files(root):
            rel = path.relative_to(root).as_posix()
            src = Source(rel, str(path))
            in_services = rel.startswith(SERVICES_DIR + "/") and rel.count("/") == 1
            if path.suffix == ".yaml":
                self.report(src, 1, "file", "not read: knowledge files end in .yml", "warning")
                continue
            if rel not in expected and not in_services:
                self.report(src, 1, "file", "not read: unexpected file", "warning")
                continue
            raw = path.read_bytes()
            digest.update(rel.encode() + b"\0" + raw + b"\0")
            sources[rel] = src
            self._parse(src, raw)
        self.result.digest = digest.hexdigest()
        for rel in SINGLE_FILES:
            if rel not in sources:
                src = Source(rel, str(root / rel))
                self.report(src, 0, "file", "missing file")
                sources[rel] = src
        service_sources = [s for rel, s in sorted(sources.items()) if rel.startswith(SERVICES_DIR + "/")]
        if not service_sources:
            self.report(Source(SERVICES_DIR, str(root / SERVICES_DIR)), 0, "file", "no service files")

        self._territories(sources["territories.yml"])
        self._topics(sources["topics.yml"])
        self._partners(sources["partners.yml"])
        for src in service_sources:
            self._services(src)
        self._calendar(sources["calendar.yml"])
        self._welfare(sources["welfare.yml"])

    def _parse(self, src: Source, raw: bytes) -> None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.report(src, line, "file", "not valid UTF-8 text")
            return
        try:
            data = parse(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            what = exc.problem or exc.context or "malformed"
            self.report(src, line, "yaml", f"invalid YAML: {what}")
            return
        except yaml.YAMLError as exc:
            self.report(src, 1, "yaml", f"invalid YAML: {exc}")
            return
        if data is None:
            self.report(src, 1, "file", "file is empty")
            return
        if not isinstance(data, LineDict):
            self.report(src, 1, "file", f"expected a mapping at the top level, got {_describe(data)}")
            return
        keys = SINGLE_FILES.get(src.rel, ("services",))
        for key, line in data.duplicate_keys:
            self.report(src, line, str(key), f"key '{key}' appears twice")
        for key in data:
            if key not in keys:
                expected = ", ".join(f"'{k}'" for k in keys)
                self.report(
                    src, data.line_of(key), str(key), f"wrong top-level key '{key}' (expected {expected})"
                )
        for key in keys:
            if key not in data:
                self.report(src, 1, key, "missing top-level key")
        src.data = data

    def _top_list(self, src: Source, key: str) -> Iterator[tuple[LineDict, int, int]]:
        """(item, line, index) for each mapping in the top-level list ``key``."""
        if src.data is None or key not in src.data:
            return
        items = src.data[key]
        if not isinstance(items, LineList):
            self.report(src, src.data.line_of(key), key, f"expected a list, got {_describe(items)}")
            return
        for index, item in enumerate(items):
            line = items.line_of(index)
            if not isinstance(item, LineDict):
                self.report(src, line, f"{key}[{index}]", f"expected a mapping, got {_describe(item)}")
                continue
            yield item, line, index

    def _record(self, src: Source, where: str, data: LineDict, allowed: Collection[str] | None) -> _Rec:
        return _Rec(self, src, where, data, allowed)

    @staticmethod
    def _name(item: LineDict, key: str, index: int) -> str:
        value = item.get(key)
        return str(value) if isinstance(value, str) and value.strip() else str(index)

    # -- territories.yml ----------------------------------------------------------------------

    def _territories(self, src: Source) -> None:
        if src.data is None:
            return
        self.territory_ids = set()
        self.town_names = {}
        seen_ids: dict[str, int] = {}
        town_lines: dict[str, tuple[str, int]] = {}  # normalised canonical name -> (territory, line)
        key_owner: dict[str, tuple[str, int]] = {}  # normalised name/alias -> (town, line)
        territory_keys: dict[str, tuple[str, int]] = {}  # normalised territory name/alias -> (id, line)
        for item, _line, index in self._top_list(src, "territories"):
            rec = self._record(
                src,
                f"territories[{self._name(item, 'id', index)}]",
                item,
                ("id", "name", "area", "aliases", "towns"),
            )
            before = self.error_count
            tid = rec.ident("id", SNAKE_ID)
            if tid is not None:
                if tid in seen_ids:
                    rec.err("id", f"duplicate territory id '{tid}' (also at line {seen_ids[tid]})")
                else:
                    seen_ids[tid] = rec.line("id")
                    self.territory_ids.add(tid)
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
                town_name, town = self._town(src, rec, town_item, town_index, tid, town_lines, key_owner)
                if town_name is not None and tid is not None:
                    self.town_names.setdefault(town_name, tid)  # known even when the entry has errors
                if town is not None:
                    towns.append(town.name)
                    self.result.towns[town.name] = town
            if tid is not None and self.error_count == before:
                self.result.territories[tid] = Territory(
                    id=tid, name=name or tid, area=area, aliases=aliases, towns=tuple(towns)
                )
        for norm, (town_name, _line) in key_owner.items():
            self.town_keys[norm] = town_name

    def _town(
        self,
        src: Source,
        parent: _Rec,
        item: LineDict,
        index: int,
        tid: str | None,
        town_lines: dict[str, tuple[str, int]],
        key_owner: dict[str, tuple[str, int]],
    ) -> tuple[str | None, Town | None]:
        rec = self._record(
            src,
            f"{parent.where}.towns[{self._name(item, 'name', index)}]",
            item,
            ("name", "aliases", "rite", "verify", "lat", "lon"),
        )
        before = self.error_count
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
        if self.error_count > before or name is None or tid is None or rite is None:
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

    # -- topics.yml ---------------------------------------------------------------------------

    def _topics(self, src: Source) -> None:
        if src.data is None:
            return
        self.topic_kinds = {}
        kind_lines: dict[str, tuple[str, int]] = {}
        topic_lines: dict[str, int] = {}
        for item, _line, index in self._top_list(src, "topics"):
            rec = self._record(
                src, f"topics[{self._name(item, 'id', index)}]", item, ("id", "name", "keywords", "kinds")
            )
            before = self.error_count
            tid = rec.ident("id", SNAKE_ID)
            if tid is not None:
                if tid in topic_lines:
                    rec.err("id", f"duplicate topic id '{tid}' (also at line {topic_lines[tid]})")
                    tid = None
                else:
                    topic_lines[tid] = rec.line("id")
                    self.topic_kinds[tid] = set()
            name = rec.text("name")
            keywords = rec.texts("keywords", required=False) or ()
            kinds: dict[str, Kind] = {}
            for kind_item, _kline, kind_index in rec.maps("kinds", required=True, non_empty=True):
                krec = self._record(
                    src,
                    f"{rec.where}.kinds[{self._name(kind_item, 'id', kind_index)}]",
                    kind_item,
                    ("id", "name", "keywords"),
                )
                kid = krec.ident("id", SNAKE_ID)
                kname = krec.text("name")
                kkeywords = krec.texts("keywords", required=False) or ()
                if kid is None:
                    continue
                if kid in kind_lines:
                    other_topic, other_line = kind_lines[kid]
                    krec.err(
                        "id", f"duplicate kind id '{kid}' (also in topic '{other_topic}', line {other_line})"
                    )
                    continue
                kind_lines[kid] = (tid or "?", krec.line("id"))
                if tid is not None:
                    self.topic_kinds[tid].add(kid)
                    kinds[kid] = Kind(id=kid, name=kname or kid, topic=tid, keywords=kkeywords)
            if tid is not None and self.error_count == before:
                self.result.topics[tid] = Topic(id=tid, name=name or tid, keywords=keywords, kinds=kinds)

    # -- partners.yml -------------------------------------------------------------------------

    def _partners(self, src: Source) -> None:
        if src.data is None:
            return
        self.partner_cover = {}
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
        for item, _line, index in self._top_list(src, "partners"):
            rec = self._record(src, f"partners[{self._name(item, 'id', index)}]", item, allowed)
            before = self.error_count
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
            territories = self._territory_refs(rec, "territories")
            topics = self._topic_refs(rec, "topics")
            default = rec.boolean("default", default=False)
            if default and pid is not None:
                defaults.append((pid, rec.line("default")))
            contacts = self._contacts(rec, "contacts")
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
                self.partner_cover[pid] = (set(topics or ()), set(territories or ()))
            if pid is not None and self.error_count == before:
                self.result.partners[pid] = Partner(
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
                self.report(
                    src,
                    src.data.line_of("partners"),
                    "partners",
                    "no default partner: exactly one partner needs 'default: true'",
                )
            for pid, line in defaults[1:]:
                self.report(
                    src,
                    line,
                    f"partners[{pid}].default",
                    f"more than one default partner ('{defaults[0][0]}' and '{pid}')",
                )

    def _contacts(self, rec: _Rec, key: str, required: bool = True) -> Contacts | None:
        crec = rec.mapping(key, required=required, allowed=CONTACT_KEYS)
        if crec is None:
            return None
        email = crec.text("email", required=False)
        phone = crec.text("phone", required=False)
        web = crec.text("web", required=False)
        if email is not None and not EMAIL_RE.match(email):
            crec.err("email", f"'{email}' is not an email address")
        if web is not None and not WEB_RE.match(web):
            crec.err("web", f"'{web}' is not a web address (write it with https://)")
        if not any(crec.data.get(k) is not None for k in CONTACT_KEYS):
            rec.err(key, "no contact: give at least one of email, phone, web")
        return Contacts(email=email, phone=phone, web=web)

    # -- references ---------------------------------------------------------------------------

    def _territory_refs(self, rec: _Rec, key: str, required: bool = True) -> tuple[str, ...] | None:
        items = rec.text_items(key, required=required, non_empty=required)
        for value, line in items:
            if self.territory_ids is not None and value not in self.territory_ids:
                rec.err(key, f"unknown territory '{value}'", line)
        return tuple(v for v, _ in items) if key in rec.data else None

    def _topic_refs(self, rec: _Rec, key: str) -> tuple[str, ...] | None:
        items = rec.text_items(key, required=True, non_empty=True)
        for value, line in items:
            if self.topic_kinds is not None and value not in self.topic_kinds:
                rec.err(key, f"unknown topic '{value}'", line)
        return tuple(v for v, _ in items) if key in rec.data else None

    def _partner_ref(self, rec: _Rec, key: str) -> str | None:
        pid = rec.text(key)
        if pid is not None and self.partner_cover is not None and pid not in self.partner_cover:
            rec.err(key, f"unknown partner '{pid}'")
        return pid

    # -- services/*.yml -----------------------------------------------------------------------

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

    def _services(self, src: Source) -> None:
        for item, _line, index in self._top_list(src, "services"):
            service = self._service(src, item, index)
            if service is not None:
                self.result.services.append(service)

    def _service(self, src: Source, item: LineDict, index: int) -> Service | None:
        rec = self._record(src, f"services[{self._name(item, 'id', index)}]", item, self.SERVICE_KEYS)
        before = self.error_count
        sid = rec.ident("id", DASHED_ID)
        if sid is not None:
            if sid in self.service_ids:
                rec.err("id", f"duplicate service id '{sid}' (also at {self.service_ids[sid]})")
            else:
                self.service_ids[sid] = f"{src.rel}:{rec.line('id')}"
        title = rec.text("title")
        topic = rec.text("topic")
        if topic is not None and self.topic_kinds is not None and topic not in self.topic_kinds:
            rec.err("topic", f"unknown topic '{topic}'")
        kind = rec.text("kind")
        if (
            kind is not None
            and topic is not None
            and self.topic_kinds is not None
            and topic in self.topic_kinds
            and kind not in self.topic_kinds[topic]
        ):
            rec.err("kind", f"unknown kind '{kind}' for topic '{topic}'")
        provider = self._partner_ref(rec, "provider")
        territories = self._territory_refs(rec, "territories") or ()
        towns = self._town_refs(rec, territories)
        open_to = rec.boolean("open_to_non_residents", required=False, default=None)
        ages = self._ages(rec)
        period = self._period(rec)
        schedule = self._schedule(rec)
        cost = rec.text("cost")
        cost_eur = self._cost(rec)
        enrolment = self._enrolment(rec)
        contacts = self._contacts(rec, "contacts")
        description = rec.text("description", required=False)
        sample = rec.boolean("sample", required=True)
        verify = rec.boolean("verify", default=False)
        reviewed = rec.date_field("last_reviewed")

        if provider is not None and self.partner_cover is not None and provider in self.partner_cover:
            covered_topics, covered_territories = self.partner_cover[provider]
            if topic is not None and topic not in covered_topics:
                rec.warn("provider", f"provider '{provider}' does not cover topic '{topic}'")
            for territory in territories:
                if territory not in covered_territories:
                    rec.warn("provider", f"provider '{provider}' does not cover territory '{territory}'")
        if period is not None and period.end < self.today:
            rec.warn("period", f"expired: the period ended on {period.end.isoformat()}", rec.line("period"))

        if (
            self.error_count > before
            or sid is None
            or period is None
            or schedule is None
            or enrolment is None
        ):
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

    def _town_refs(self, rec: _Rec, territories: tuple[str, ...]) -> tuple[str, ...]:
        items = rec.text_items("towns", required=False)
        names = []
        for value, line in items:
            names.append(value)
            if self.town_names is None:
                continue
            if value not in self.town_names:
                canonical = self.town_keys.get(normalise(value))
                hint = f" (did you mean '{canonical}'?)" if canonical else ""
                rec.err("towns", f"unknown town '{value}'{hint}", line)
            elif territories and self.town_names[value] not in territories:
                listed = ", ".join(territories)
                home = self.town_names[value]
                rec.err(
                    "towns", f"town '{value}' is in territory '{home}', not in the service's ({listed})", line
                )
        return tuple(names)

    def _ages(self, rec: _Rec) -> Ages | None:
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

    def _period(self, rec: _Rec) -> Period | None:
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

    def _schedule(self, rec: _Rec) -> Schedule | None:
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

    def _cost(self, rec: _Rec) -> Cost | None:
        crec = rec.mapping("cost_eur", required=False, allowed=("amount", "per"))
        if crec is None:
            return None
        amount = crec.number("amount", required=True, low=0)
        per = crec.enum("per", COST_PER)
        if amount is None or per is None:
            return None
        return Cost(amount=amount, per=per)

    def _enrolment(self, rec: _Rec) -> Enrolment | None:
        erec = rec.mapping("enrolment", required=True, allowed=("how", "opens", "deadline"))
        if erec is None:
            return None
        how = erec.text("how")
        opens = erec.date_field("opens", required=False)
        deadline = erec.date_field("deadline", required=False)
        if opens is not None and deadline is not None and opens > deadline:
            erec.err("opens", f"opens {opens.isoformat()} is after deadline {deadline.isoformat()}")
        return Enrolment(how=how or "", opens=opens, deadline=deadline)

    # -- calendar.yml -------------------------------------------------------------------------

    def _calendar(self, src: Source) -> None:
        if src.data is None:
            return
        data = src.data
        if "school_year" in data:
            value = data["school_year"]
            if not isinstance(value, LineDict):
                self.report(
                    src,
                    data.line_of("school_year"),
                    "school_year",
                    f"expected a mapping, got {_describe(value)}",
                )
            else:
                self._school_year(src, value)
        seen: dict[str, int] = {}
        for item, _line, index in self._top_list(src, "closures"):
            rec = self._record(
                src,
                f"closures[{self._name(item, 'id', index)}]",
                item,
                ("id", "name", "kind", "start", "end", "rite", "notes", "verify"),
            )
            before = self.error_count
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
            if self.error_count == before and cid and name and kind and start and end:
                self.result.closures.append(
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

    def _school_year(self, src: Source, data: LineDict) -> None:
        rec = self._record(
            src,
            "school_year",
            data,
            ("id", "region", "source", "start", "start_infanzia", "end", "end_infanzia", "verify"),
        )
        before = self.error_count
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
                rec.err(
                    last_key, f"{last_key} {last.isoformat()} is not after {first_key} {first.isoformat()}"
                )
        if (
            self.error_count == before
            and sy_id
            and region
            and source
            and start
            and start_inf
            and end
            and end_inf
        ):
            self.result.school_year = SchoolYear(
                id=sy_id,
                region=region,
                source=source,
                start=start,
                start_infanzia=start_inf,
                end=end,
                end_infanzia=end_inf,
                verify=bool(verify),
            )

    # -- welfare.yml --------------------------------------------------------------------------

    def _welfare(self, src: Source) -> None:
        if src.data is None or "welfare" not in src.data:
            return
        data = src.data["welfare"]
        if not isinstance(data, LineDict):
            self.report(
                src, src.data.line_of("welfare"), "welfare", f"expected a mapping, got {_describe(data)}"
            )
            return
        rec = self._record(src, "welfare", data, None)
        for key in ("thresholds", "benefits"):
            seen: dict[str, int] = {}
            for item, _line, index in rec.maps(key, required=True, non_empty=True):
                irec = self._record(src, f"welfare.{key}[{self._name(item, 'id', index)}]", item, None)
                iid = irec.text("id")
                irec.text("title")
                if iid is not None:
                    if iid in seen:
                        irec.err("id", f"duplicate id '{iid}' (also at line {seen[iid]})")
                    seen[iid] = irec.line("id")
        arec = rec.mapping("territorial_agreement", required=True, allowed=None)
        if arec is not None:
            self._partner_ref(arec, "contact_partner")
        for item, _line, index in rec.maps("faqs", required=True, non_empty=True):
            frec = self._record(src, f"welfare.faqs[{index}]", item, ("q", "a", "keywords"))
            frec.text("q")
            frec.text("a")
            frec.texts("keywords", required=False)
        self.result.welfare = plain(data)


class _Rec:
    """A mapping being checked: reads typed fields and reports problems at their line."""

    def __init__(
        self, checker: _Checker, src: Source, where: str, data: LineDict, allowed: Collection[str] | None
    ) -> None:
        self.checker = checker
        self.src = src
        self.where = where
        self.data = data
        for key, line in data.duplicate_keys:
            self.err(str(key), f"key '{key}' appears twice", line)
        if allowed is not None:
            for key in data:
                if key not in allowed:
                    self.warn(str(key), f"unknown key '{key}'")

    # -- reporting ----------------------------------------------------------------------------

    def line(self, key: str | None = None) -> int:
        return self.data.line if key is None else self.data.line_of(key)

    def field(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def err(self, key: str, message: str, line: int | None = None) -> None:
        self.checker.report(self.src, line or self.line(key), self.field(key), message)

    def warn(self, key: str, message: str, line: int | None = None) -> None:
        self.checker.report(self.src, line or self.line(key), self.field(key), message, "warning")

    def _get(self, key: str, required: bool) -> Any:
        """The value, or None (reporting it when required) when missing or null."""
        if key not in self.data:
            if required:
                self.err(key, "required field is missing")
            return None
        value = self.data[key]
        if value is None and required:
            self.err(key, "required field is empty")
        return value

    def _wrong(self, key: str, what: str, value: Any, line: int | None = None) -> None:
        hint = ""
        if what == "text" and isinstance(value, (int, float, date)) and not isinstance(value, bool):
            hint = " (put it in quotes)"
        self.err(key, f"expected {what}, got {_describe(value)}{hint}", line)

    # -- scalars ------------------------------------------------------------------------------

    def text(self, key: str, required: bool = True) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or isinstance(value, InvalidDate):
            self._wrong(key, "text", value)
            return None
        if not value.strip():
            if required:
                self.err(key, "must not be empty")
            return None
        return value.strip()

    def ident(self, key: str, pattern: re.Pattern[str]) -> str | None:
        value = self.text(key)
        if value is None:
            return None
        if not pattern.match(value):
            style = (
                "lower case, digits and dashes"
                if pattern is DASHED_ID
                else "lower case, digits and underscores"
            )
            self.err(key, f"'{value}' is not a valid id (use {style})")
            return None
        return value

    def boolean(self, key: str, required: bool = False, default: bool | None = False) -> bool | None:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, bool):
            self._wrong(key, "true or false", value)
            return default
        return value

    def integer(self, key: str, required: bool = True) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, "a whole number", value)
            return None
        return value

    def number(
        self, key: str, required: bool = False, low: float | None = None, high: float | None = None
    ) -> float | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._wrong(key, "a number", value)
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
            self.err(key, f"{value} is out of range (must be {bounds})")
            return None
        return value

    def enum(self, key: str, choices: tuple[str, ...], required: bool = True) -> str | None:
        value = self.text(key, required)
        if value is None:
            return None
        if value not in choices:
            self.err(key, f"'{value}' is not one of: {', '.join(choices)}")
            return None
        return value

    def _as_date(self, key: str, value: Any, line: int | None = None) -> date | None:
        if isinstance(value, datetime):
            self._wrong(key, "a date (YYYY-MM-DD)", value, line)
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                if re.match(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$", value):
                    self.err(key, f"'{value.strip()}' is not a valid date", line)
                    return None
        self._wrong(key, "a date (YYYY-MM-DD)", value, line)
        return None

    def date_field(self, key: str, required: bool = True) -> date | None:
        value = self._get(key, required)
        if value is None:
            return None
        return self._as_date(key, value)

    # -- collections --------------------------------------------------------------------------

    def _list(self, key: str, required: bool, non_empty: bool) -> LineList | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, LineList):
            self._wrong(key, "a list", value)
            return None
        if non_empty and not value:
            self.err(key, "must list at least one item")
        return value

    def text_items(self, key: str, required: bool = False, non_empty: bool = False) -> list[tuple[str, int]]:
        """(text, line) for each item of a list of texts; other items are reported."""
        items = self._list(key, required, non_empty)
        if items is None:
            return []
        found = []
        for index, value in enumerate(items):
            line = items.line_of(index)
            if not isinstance(value, str) or isinstance(value, InvalidDate) or not value.strip():
                self._wrong(key, "text", value, line)
                continue
            found.append((value.strip(), line))
        return found

    def texts(self, key: str, required: bool = False, non_empty: bool = False) -> tuple[str, ...] | None:
        if key not in self.data and not required:
            return None
        return tuple(v for v, _ in self.text_items(key, required, non_empty))

    def date_items(self, key: str, required: bool = False) -> list[tuple[date, int]]:
        items = self._list(key, required, non_empty=False)
        if items is None:
            return []
        found = []
        for index, value in enumerate(items):
            line = items.line_of(index)
            day = self._as_date(key, value, line)
            if day is not None:
                found.append((day, line))
        return found

    def dates(self, key: str, required: bool = False) -> tuple[date, ...] | None:
        if key not in self.data and not required:
            return None
        return tuple(sorted(d for d, _ in self.date_items(key, required)))

    def maps(
        self, key: str, required: bool = False, non_empty: bool = False
    ) -> Iterator[tuple[LineDict, int, int]]:
        """(mapping, line, index) for each item of a list of mappings; other items are reported."""
        items = self._list(key, required, non_empty)
        if items is None:
            return
        for index, value in enumerate(items):
            line = items.line_of(index)
            if not isinstance(value, LineDict):
                self._wrong(f"{key}[{index}]", "a mapping", value, line)
                continue
            yield value, line, index

    def mapping(
        self, key: str, required: bool, allowed: Collection[str] | None, unknown: str = "key"
    ) -> _Rec | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, LineDict):
            self._wrong(key, "a mapping", value)
            return None
        if unknown != "key" and allowed is not None:
            sub = _Rec(self.checker, self.src, self.field(key), value, None)
            for k in value:
                if k not in allowed:
                    sub.err(str(k), f"'{k}' is not a {unknown} (use {', '.join(allowed)})")
            return sub
        return _Rec(self.checker, self.src, self.field(key), value, allowed)

    def hours(self, key: str, required: bool, non_empty: bool) -> Hours | None:
        """A list of "HH:MM-HH:MM" ranges, sorted; None when missing or any range is wrong."""
        items = self._list(key, required, non_empty)
        if items is None:
            return None
        ranges: list[tuple[time, time]] = []
        ok = True
        for index, value in enumerate(items):
            line = items.line_of(index)
            if not isinstance(value, str):
                self._wrong(key, 'a time range "HH:MM-HH:MM"', value, line)
                ok = False
                continue
            parsed = parse_range(value)
            if isinstance(parsed, str):
                self.err(key, parsed, line)
                ok = False
                continue
            for other in ranges:
                if parsed[0] < other[1] and other[0] < parsed[1]:
                    self.err(key, f"'{value.strip()}' overlaps {other[0]:%H:%M}-{other[1]:%H:%M}", line)
                    ok = False
            ranges.append(parsed)
        return tuple(sorted(ranges)) if ok else None
