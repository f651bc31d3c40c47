"""Checking ``referrals.yml`` and building its :class:`~knowledge.referrals.Referral` objects.

:func:`add_referrals` is called once by :func:`knowledge.validate.analyse`: it adds the file's problems
(``file:line: field: what is wrong``, like the rest of the knowledge base), its bytes to the digest, and
the referrals themselves, which :func:`referrals_of` gives to the loader. The file is optional: a
knowledge base without it has no referrals.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

import yaml

from knowledge.records import Problem, Severity
from knowledge.referrals import FILE, Referral
from knowledge.text import normalise, strip_accents
from knowledge.yamlio import InvalidDate, LineDict, LineList, parse

if TYPE_CHECKING:
    from knowledge.validate.context import Analysis

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
URL_RE = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
FIELDS = ("id", "name", "keywords", "exclusive", "office", "how", "source", "sample", "verify")
MAX_SENTENCES = 3
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_ATTR = "referrals"  # kept beside the Analysis's own fields, so that analyse() needs one line


def add_referrals(result: Analysis) -> None:
    """Check ``referrals.yml`` in ``result.root`` and attach its problems and referrals to ``result``."""
    path = result.root / FILE
    display = str(path)
    # The main checker does not know this file and warned that it was not read: it is read here.
    result.problems[:] = [
        p
        for p in result.problems
        if not (p.file == display and p.field == "file" and p.severity == "warning")
    ]
    if not path.is_file():
        vars(result)[_ATTR] = ()
        return
    raw = path.read_bytes()
    result.digest = hashlib.sha256((result.digest + FILE).encode() + b"\0" + raw).hexdigest()
    checker = _ReferralChecker(display)
    referrals = checker.run(raw)
    result.problems.extend(checker.problems)
    vars(result)[_ATTR] = () if checker.errors else tuple(referrals)


def referrals_of(result: Analysis) -> tuple[Referral, ...]:
    """The referrals :func:`add_referrals` built (none when the file is missing or has errors)."""
    found: tuple[Referral, ...] = vars(result).get(_ATTR, ())
    return found


def _sentences(text: str) -> int:
    return len(_SENTENCE_END.findall(text.strip() + " "))


class _ReferralChecker:
    def __init__(self, display: str) -> None:
        self.display = display
        self.problems: list[Problem] = []
        self.errors = 0
        self.owners: dict[str, tuple[str, int]] = {}  # normalised keyword -> (referral id, line)

    def report(self, line: int, where: str, message: str, severity: Severity = "error") -> None:
        self.errors += severity == "error"
        self.problems.append(Problem(self.display, line, where, message, severity))

    def at(self, item: LineDict, key: str, where: str, message: str, severity: Severity = "error") -> None:
        self.report(item.line_of(key), f"{where}.{key}", message, severity)

    def run(self, raw: bytes) -> list[Referral]:
        try:
            data = parse(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self.report(1, "file", "not valid UTF-8 text")
            return []
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            self.report(mark.line + 1 if mark else 1, "yaml", f"invalid YAML: {exc.problem or 'malformed'}")
            return []
        except yaml.YAMLError as exc:
            self.report(1, "yaml", f"invalid YAML: {exc}")
            return []
        if not isinstance(data, LineDict) or not isinstance(data.get("referrals"), LineList):
            self.report(getattr(data, "line", 1) or 1, "referrals", "expected a top-level list 'referrals'")
            return []
        for key in data:
            if key != "referrals":
                self.report(data.line_of(key), str(key), f"wrong top-level key '{key}' (expected referrals)")
        items: LineList = data["referrals"]
        found: list[Referral] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            if not isinstance(item, LineDict):
                self.report(items.line_of(index), f"referrals[{index}]", "expected a mapping")
                continue
            ref = self._referral(item, index, seen)
            if ref is not None:
                found.append(ref)
        return found

    def _referral(self, item: LineDict, index: int, seen: dict[str, int]) -> Referral | None:
        raw_id = item.get("id")
        where = f"referrals[{raw_id if isinstance(raw_id, str) and raw_id.strip() else index}]"
        before = self.errors
        for key, line in item.duplicate_keys:
            self.report(line, f"{where}.{key}", f"key '{key}' appears twice")
        for key in item:
            if key not in FIELDS:
                self.report(item.line_of(key), f"{where}.{key}", f"unknown key '{key}'", "warning")
        rid = self._text(item, "id", where)
        if rid is not None and not ID_RE.match(rid):
            self.at(item, "id", where, f"'{rid}' is not a valid id (use lower case, digits and underscores)")
        elif rid is not None and rid in seen:
            self.at(item, "id", where, f"duplicate referral id '{rid}' (also at line {seen[rid]})")
        elif rid is not None:
            seen[rid] = item.line_of("id")
        name, office, how = (self._text(item, key, where) for key in ("name", "office", "how"))
        if how is not None and _sentences(how) > MAX_SENTENCES:
            self.at(item, "how", where, f"more than {MAX_SENTENCES} sentences", "warning")
        source = self._text(item, "source", where)
        if source is not None and not URL_RE.match(source):
            self.at(item, "source", where, f"'{source}' is not a web address (http:// or https://)")
        keywords = self._phrases(item, "keywords", where, rid or where, required=True)
        exclusive = self._phrases(item, "exclusive", where, None, required=False)
        for phrase, line in exclusive:
            if phrase not in {k for k, _ in keywords}:
                self.report(line, f"{where}.exclusive", f"'{phrase}' is not one of the referral's keywords")
        sample, verify = (self._flag(item, key, where) for key in ("sample", "verify"))
        if self.errors > before or None in (rid, name, office, how, source):
            return None
        assert rid and name and office and how and source
        return Referral(
            id=rid,
            name=name,
            office=office,
            how=how,
            source=source,
            keywords=tuple(k for k, _ in keywords),
            exclusive=tuple(k for k, _ in exclusive),
            sample=sample,
            verify=verify,
        )

    def _text(self, item: LineDict, key: str, where: str) -> str | None:
        value = item.get(key)
        if value is None:
            what = "required field is missing" if key not in item else "required field is empty"
            self.report(item.line_of(key), f"{where}.{key}", what)
            return None
        if not isinstance(value, str) or isinstance(value, InvalidDate) or not value.strip():
            self.report(item.line_of(key), f"{where}.{key}", f"expected text, got {_shown(value)}")
            return None
        return value.strip()

    def _flag(self, item: LineDict, key: str, where: str) -> bool:
        value = item.get(key, False)
        if not isinstance(value, bool):
            self.report(item.line_of(key), f"{where}.{key}", f"expected true or false, got {_shown(value)}")
            return False
        return value

    def _phrases(
        self, item: LineDict, key: str, where: str, owner: str | None, required: bool
    ) -> list[tuple[str, int]]:
        """(normalised phrase, line) of each item; with ``owner``, unique across referrals."""
        value = item.get(key)
        if value is None:
            if required:
                self.report(item.line_of(key), f"{where}.{key}", "required field is missing")
            return []
        if not isinstance(value, LineList) or (required and not value):
            self.at(item, key, where, f"expected a non-empty list of phrases, got {_shown(value)}")
            return []
        out: list[tuple[str, int]] = []
        for index, phrase in enumerate(value):
            line = value.line_of(index)
            if not isinstance(phrase, str) or not normalise(phrase):
                self.report(line, f"{where}.{key}", f"expected a phrase, got {_shown(phrase)}")
                continue
            if phrase != strip_accents(phrase).lower():
                self.report(line, f"{where}.{key}", f"'{phrase}' must be lower case without accents")
                continue
            norm = normalise(phrase)
            if norm in {p for p, _ in out}:
                self.report(line, f"{where}.{key}", f"'{phrase}' appears twice")
                continue
            out.append((norm, line))
            if owner is None:
                continue
            if norm in self.owners:
                other, other_line = self.owners[norm]
                message = f"keyword '{phrase}' already belongs to '{other}' (line {other_line})"
                self.report(line, f"{where}.{key}", message)
            else:
                self.owners[norm] = (owner, line)
        return out


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"'{value[:37] + '...' if len(value) > 40 else value}'"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return f"the {type(value).__name__} {value}"
