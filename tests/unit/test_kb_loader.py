"""Loading the knowledge base into the model, querying it, reloading it, and the `concilia kb` commands."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from datetime import date, time
from pathlib import Path

import pytest
import yaml
from kb_samples import TODAY, edit, write_tree

from knowledge import (
    DEFAULT_DATA_DIR,
    KnowledgeBase,
    KnowledgeBaseInvalid,
    KnowledgeHolder,
    load,
    normalise,
    write_lookups,
)
from knowledge import cli as kb_cli


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "data")


@pytest.fixture
def kb(tree: Path) -> KnowledgeBase:
    return load(tree, today=TODAY)


def ids(services: list) -> list[str]:
    return [s.id for s in services]


# -- normalise ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Corbetta", "corbetta"),
        ("  Nell'Abbiatense!! ", "nell abbiatense"),
        ("S. Vittore   Olona", "s vittore olona"),
        ("perché è già lì?", "perche e gia li"),
        ("Cassinetta di Lugagnano’s", "cassinetta di lugagnano s"),
        ("ZONA_LEGNANO", "zona legnano"),
        ("", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


# -- building the model ---------------------------------------------------------------------------


def test_load_builds_the_model(kb: KnowledgeBase) -> None:
    assert set(kb.territories) == {"magentino", "castanese", "legnanese", "abbiatense"}
    assert kb.territories["castanese"].area == "Alto Milanese"
    assert kb.territories["magentino"].towns == ("Corbetta", "Magenta")
    assert kb.territories["legnanese"].aliases == ("legnanese", "zona legnano")

    town = kb.towns["Vermezzo con Zelo"]
    assert (town.territory, town.rite, town.verify, town.aliases) == (
        "abbiatense",
        "roman",
        True,
        ("vermezzo", "zelo"),
    )
    assert (kb.towns["Corbetta"].lat, kb.towns["Corbetta"].lon) == (45.468, 8.919)
    assert kb.towns["Legnano"].lat == 45.596 and kb.towns["Abbiategrasso"].lat is None

    camp = kb.service("cre-corbetta-2027")
    assert camp is not None
    assert (camp.topic, camp.kind, camp.provider, camp.towns) == (
        "school_closure",
        "summer_camp",
        "coop-magentino",
        ("Corbetta",),
    )
    assert (camp.ages.min, camp.ages.max) == (6, 11)  # type: ignore[union-attr]
    assert camp.period.label == "estate 2027"
    assert (camp.period.start, camp.period.end) == (date(2027, 6, 14), date(2027, 7, 30))
    assert camp.period.closed_on == (date(2027, 6, 29),)
    assert camp.schedule.days == ("mon", "tue", "wed", "thu", "fri")
    assert camp.schedule.hours == ((time(8, 30), time(16, 30)),)
    assert camp.schedule.notes == "pre dalle 7:30 su richiesta"
    assert (camp.cost_eur.amount, camp.cost_eur.per) == (85, "week")  # type: ignore[union-attr]
    assert (camp.enrolment.opens, camp.enrolment.deadline) == (date(2027, 4, 1), date(2027, 5, 15))
    assert camp.contacts.email == "estate.corbetta@example.org" and camp.contacts.phone is None
    assert camp.open_to_non_residents is True and camp.sample is True and camp.verify is False
    assert camp.last_reviewed == date(2026, 11, 20)
    assert kb.service("campus-magentino-agosto-2027").towns == ()  # type: ignore[union-attr]
    assert kb.service("nope") is None

    partner = kb.partners["alleanza"]
    assert partner.office_hours == {
        "mon": ((time(9), time(13)), (time(14), time(17))),
        "fri": ((time(9), time(13)),),
    }
    assert partner.holidays == (date(2026, 12, 24), date(2026, 12, 31))
    assert kb.partners["coop-magentino"].contacts.phone == "000 000 0101"
    assert kb.default_partner.id == "alleanza"

    assert set(kb.topics["school_closure"].kinds) == {"summer_camp", "after_school"}
    assert kb.topics["school_closure"].kinds["summer_camp"].keywords == (
        "centro estivo",
        "centri estivi",
        "grest",
    )
    assert kb.topics["school_closure"].kinds["summer_camp"].topic == "school_closure"

    assert kb.school_year.id == "2026-27"
    assert (kb.school_year.start, kb.school_year.end_infanzia) == (date(2026, 9, 14), date(2027, 6, 30))
    assert [c.id for c in kb.closures] == [
        "natale-2026",
        "carnevale-romano-2027",
        "carnevale-ambrosiano-2027",
    ]

    assert kb.welfare["territorial_agreement"]["contact_partner"] == "alleanza"
    assert (
        type(kb.welfare) is dict and type(kb.welfare["faqs"]) is list and type(kb.welfare["faqs"][0]) is dict
    )
    assert kb.warnings == ()
    assert len(kb.digest) == 64


def test_model_is_immutable(kb: KnowledgeBase) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        kb.services[0].title = "altro"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        kb.towns["Corbetta"].territory = "legnanese"  # type: ignore[misc]
    hash(kb.partners["alleanza"])  # usable in sets despite the office_hours dict


def test_invalid_files_raise_with_every_problem(tree: Path) -> None:
    edit(tree / "services" / "school_closure.yml", "provider: coop-magentino", "provider: coop-x")
    edit(tree / "calendar.yml", "end: 2027-02-13", "end: 2027-02-30")
    with pytest.raises(KnowledgeBaseInvalid) as caught:
        load(tree, today=TODAY)
    messages = {p.message for p in caught.value.problems}
    assert messages == {"unknown partner 'coop-x'", "'2027-02-30' is not a valid date"}
    assert "2 error(s)" in str(caught.value)


def test_warnings_do_not_stop_loading(tree: Path) -> None:
    kb = load(tree, today=date(2027, 7, 31))
    assert {p.field for p in kb.warnings} == {
        "services[cre-corbetta-2027].period",
        "services[doposcuola-legnano-2026].period",
        "services[nido-sera-magenta].period",
    }
    assert kb.service("cre-corbetta-2027") is not None


def test_digest_changes_with_the_content(tree: Path) -> None:
    first = load(tree, today=TODAY).digest
    assert load(tree, today=TODAY).digest == first
    edit(tree / "services" / "school_closure.yml", "Giochi, laboratori e gite.", "Giochi e gite.")
    assert load(tree, today=TODAY).digest != first


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseInvalid, match="knowledge base folder not found"):
        load(tmp_path / "nowhere")


# -- queries --------------------------------------------------------------------------------------


def test_find_services_by_topic_kind_and_territory(kb: KnowledgeBase) -> None:
    assert ids(kb.find_services(topic="evening_nursery")) == ["nido-sera-magenta"]
    assert ids(kb.find_services(topic="school_closure", kinds=["after_school"])) == [
        "doposcuola-legnano-2026"
    ]
    assert ids(kb.find_services(kinds="summer_camp")) == ["cre-corbetta-2027", "campus-magentino-agosto-2027"]
    assert ids(kb.find_services(territory="legnanese")) == ["doposcuola-legnano-2026"]
    assert kb.find_services(territory="castanese") == []


def test_find_services_sorted_by_start_then_title(kb: KnowledgeBase) -> None:
    assert ids(kb.find_services()) == [
        "nido-sera-magenta",  # 2026-09-07
        "doposcuola-legnano-2026",  # 2026-09-14
        "cre-corbetta-2027",  # 2027-06-14
        "campus-magentino-agosto-2027",  # 2027-08-02
    ]


def test_find_services_in_a_town_includes_whole_territory_services(kb: KnowledgeBase) -> None:
    assert ids(kb.find_services(topic="school_closure", town="Corbetta")) == [
        "cre-corbetta-2027",
        "campus-magentino-agosto-2027",
    ]
    assert ids(kb.find_services(topic="school_closure", town="Magenta")) == ["campus-magentino-agosto-2027"]
    assert ids(kb.find_services(town=kb.towns["Legnano"])) == ["doposcuola-legnano-2026"]
    assert ids(kb.find_services(town="corbeta", kinds=["summer_camp"])) == [  # resolved like a typed name
        "cre-corbetta-2027",
        "campus-magentino-agosto-2027",
    ]
    assert kb.find_services(town="Milano") == []


def test_find_services_by_age(kb: KnowledgeBase) -> None:
    assert ids(kb.find_services(topic="school_closure", age=4)) == ["campus-magentino-agosto-2027"]
    assert ids(kb.find_services(topic="school_closure", age=11)) == [
        "doposcuola-legnano-2026",
        "cre-corbetta-2027",
    ]
    assert ids(kb.find_services(age=2)) == ["nido-sera-magenta"]


def test_services_without_ages_match_any_age(tree: Path) -> None:
    edit(tree / "services" / "evening_nursery.yml", "    ages: {min: 0, max: 3}\n", "")
    kb = load(tree, today=TODAY)
    assert kb.service("nido-sera-magenta").ages is None  # type: ignore[union-attr]
    assert "nido-sera-magenta" in ids(kb.find_services(age=40))


def test_find_services_by_month_and_dates(kb: KnowledgeBase) -> None:
    assert ids(kb.find_services(topic="school_closure", month=7)) == ["cre-corbetta-2027"]
    assert ids(kb.find_services(topic="school_closure", month=8)) == ["campus-magentino-agosto-2027"]
    assert ids(kb.find_services(topic="school_closure", month=1)) == ["doposcuola-legnano-2026"]
    window = (date(2027, 7, 25), date(2027, 8, 5))
    assert ids(kb.find_services(topic="school_closure", between=window)) == [
        "cre-corbetta-2027",
        "campus-magentino-agosto-2027",
    ]
    assert kb.find_services(topic="school_closure", between=(date(2027, 8, 28), date(2027, 9, 1))) == []
    with pytest.raises(ValueError):
        kb.find_services(month=13)


def test_find_services_on_a_day_respects_closed_days_and_weekdays(kb: KnowledgeBase) -> None:
    assert ids(kb.find_services(topic="school_closure", on=date(2027, 6, 28))) == [
        "cre-corbetta-2027"
    ]  # Monday
    assert kb.find_services(topic="school_closure", on=date(2027, 6, 29)) == []  # closed that day
    assert kb.find_services(topic="school_closure", on=date(2027, 7, 3)) == []  # Saturday
    assert ids(kb.find_services(on=date(2027, 7, 3))) == ["nido-sera-magenta"]  # open on Saturday


def test_partner_for_prefers_a_specific_partner(kb: KnowledgeBase) -> None:
    assert kb.partner_for("school_closure", "magentino").id == "coop-magentino"  # type: ignore[union-attr]
    assert kb.partner_for("school_closure", "legnanese").id == "alleanza"  # type: ignore[union-attr]
    assert kb.partner_for("evening_nursery", "magentino").id == "alleanza"  # type: ignore[union-attr]
    assert kb.partner_for("company_welfare", "magentino") is None


def test_closures_for_a_rite(kb: KnowledgeBase) -> None:
    assert [c.id for c in kb.closures_for(rite="ambrosian")] == ["natale-2026", "carnevale-ambrosiano-2027"]
    assert [c.id for c in kb.closures_for(rite="roman", kind="carnival")] == ["carnevale-romano-2027"]
    assert len(kb.closures_for()) == 3


# -- reloading ------------------------------------------------------------------------------------


def touch(path: Path) -> None:
    """Make sure the change is visible even on file systems with coarse modification times."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_holder_reads_nothing_until_asked(tmp_path: Path) -> None:
    holder = KnowledgeHolder(tmp_path / "not-yet")
    write_tree(tmp_path / "not-yet")
    assert holder.get().default_partner.id == "alleanza"


def test_holder_keeps_the_last_valid_version_and_picks_up_a_fixed_one(
    tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = KnowledgeHolder(tree, check_every=0)
    first = holder.get()
    assert holder.get() is first  # nothing changed: same object

    camps = tree / "services" / "school_closure.yml"
    edit(camps, "provider: coop-magentino", "provider: coop-x")
    edit(camps, '["08:30-16:30"]', '["25:00-26:00"]')
    touch(camps)
    with caplog.at_level(logging.WARNING, logger="knowledge"):
        assert holder.get() is first
        assert holder.get() is first  # the broken version is not retried until it changes again
    [record] = [r for r in caplog.records if r.name == "knowledge"]
    assert record.levelno == logging.WARNING
    assert "unknown partner 'coop-x'" in record.getMessage()
    assert "'25:00-26:00': 25:00 is not a valid time" in record.getMessage()
    assert "school_closure.yml:6: services[cre-corbetta-2027].provider" in record.getMessage()

    edit(camps, "provider: coop-x", "provider: coop-magentino")
    edit(camps, '["25:00-26:00"]', '["08:30-12:30"]')
    touch(camps)
    fixed = holder.get()
    assert fixed is not first
    assert fixed.service("cre-corbetta-2027").schedule.hours == ((time(8, 30), time(12, 30)),)  # type: ignore[union-attr]


def test_holder_checks_files_at_most_every_interval(tree: Path) -> None:
    holder = KnowledgeHolder(tree, check_every=3600)
    first = holder.get()
    edit(tree / "topics.yml", "name: Doposcuola", "name: Dopo la scuola")
    touch(tree / "topics.yml")
    assert holder.get() is first
    assert holder.reload() is True
    assert holder.get().topics["school_closure"].kinds["after_school"].name == "Dopo la scuola"


def test_holder_notices_a_new_file(tree: Path) -> None:
    holder = KnowledgeHolder(tree, check_every=0)
    holder.get()
    (tree / "services" / "more.yml").write_text("services: 3\n", encoding="utf-8")
    assert holder.reload() is False  # invalid: kept the previous one
    (tree / "services" / "more.yml").unlink()
    assert holder.reload() is True


def test_holder_raises_when_the_first_load_fails(tree: Path) -> None:
    edit(tree / "partners.yml", "    default: true\n", "")
    holder = KnowledgeHolder(tree)
    with pytest.raises(KnowledgeBaseInvalid, match="no default partner"):
        holder.get()
    edit(tree / "partners.yml", "    default: false\n", "    default: true\n")
    assert holder.get().default_partner.id == "coop-magentino"


def test_holder_is_safe_across_threads(tree: Path) -> None:
    holder = KnowledgeHolder(tree, check_every=0)
    seen: list[str] = []
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                seen.append(holder.get().digest)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(seen) == 80 and len(set(seen)) == 1


# -- lookups and the command line -----------------------------------------------------------------


def test_write_lookups(kb: KnowledgeBase, tmp_path: Path) -> None:
    out = write_lookups(kb, tmp_path / "nlu" / "generated_lookups.yml")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Generated from knowledge/data")
    document = yaml.safe_load(text)
    assert document["version"] == "3.1"
    tables = {entry["lookup"]: entry["examples"] for entry in document["nlu"]}
    assert set(tables) == {"town", "territory"}
    towns = [line[2:] for line in tables["town"].splitlines()]
    for name in (
        "Corbetta",
        "corbetta",
        "Vermezzo con Zelo",
        "vermezzo con zelo",
        "castano",
        "s. vittore olona",
    ):
        assert name in towns
    assert "s vittore olona" in towns  # normalised alias
    assert len(towns) == len(set(towns))
    territories = [line[2:] for line in tables["territory"].splitlines()]
    for name in ("Magentino", "magentino", "zona legnano", "Alto Milanese", "alto milanese", "altomilanese"):
        assert name in territories


def test_lookups_drop_accents(tree: Path, tmp_path: Path) -> None:
    edit(tree / "territories.yml", "name: Legnano", "name: Légnano")
    edit(tree / "services" / "school_closure.yml", "towns: [Legnano]", "towns: [Légnano]")
    kb = load(tree, today=TODAY)
    tables = yaml.safe_load(write_lookups(kb, tmp_path / "l.yml").read_text(encoding="utf-8"))["nlu"]
    towns = tables[0]["examples"].splitlines()
    assert "- Légnano" in towns and "- légnano" in towns and "- legnano" in towns


def test_cli_check_ok(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert kb_cli.check(tree) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("knowledge base OK: 4 services, 2 partners, 8 towns (")


def test_cli_check_reports_errors(
    tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree.parent)
    edit(tree / "partners.yml", "kind: cooperative", "kind: shop")
    edit(tree / "partners.yml", "    role: Gestisce", "    colour: red\n    role: Gestisce")
    assert kb_cli.check(tree) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "data/partners.yml:22: partners[coop-magentino].kind: "
        "'shop' is not one of: public_body, social_agency, cooperative, association, employers",
        "data/partners.yml:23: partners[coop-magentino].colour: unknown key 'colour' (warning)",
        "1 errors, 1 warnings",
    ]


def test_cli_write_lookups(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "lookups.yml"
    assert kb_cli.write_lookups(out, path=tree) == 0
    assert "- Corbetta" in out.read_text(encoding="utf-8")
    edit(tree / "partners.yml", "kind: cooperative", "kind: shop")
    out.unlink()
    assert kb_cli.write_lookups(out, path=tree) == 1
    assert not out.exists()
    assert capsys.readouterr().out.splitlines()[-1] == "1 errors: lookup tables not written"


# -- the bundled data -----------------------------------------------------------------------------


def test_bundled_knowledge_base_loads() -> None:
    kb = load(DEFAULT_DATA_DIR)
    assert kb.default_partner.id in kb.partners
    assert set(kb.territories) == {"castanese", "legnanese", "abbiatense", "magentino"}
    assert all(service.sample for service in kb.services)
