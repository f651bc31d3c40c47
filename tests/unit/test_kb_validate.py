"""The knowledge base validator: every problem it reports, with its message, field and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from kb_samples import TODAY, edit, line_of, write_tree

from knowledge import DEFAULT_DATA_DIR, Problem, check


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "data")


def errors(root: Path, today: date = TODAY) -> list[Problem]:
    return [p for p in check(root, today=today) if p.severity == "error"]


def warnings(root: Path, today: date = TODAY) -> list[Problem]:
    return [p for p in check(root, today=today) if p.severity == "warning"]


def only_error(root: Path) -> Problem:
    found = errors(root)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def test_the_sample_tree_is_valid(tree: Path) -> None:
    assert check(tree, today=TODAY) == []


def test_problem_prints_as_file_line_field_message() -> None:
    problem = Problem("data/partners.yml", 12, "partners[x].kind", "'shop' is not one of: a, b")
    assert str(problem) == "data/partners.yml:12: partners[x].kind: 'shop' is not one of: a, b"
    assert problem.severity == "error"


# -- files and YAML -------------------------------------------------------------------------------


def test_yaml_syntax_error_reports_its_line(tree: Path) -> None:
    text = edit(tree / "topics.yml", "    name: Nidi serali e al sabato\n", "    name: [Nidi serali\n")
    problem = only_error(tree)
    assert problem.field == "yaml"
    assert problem.message.startswith("invalid YAML: ")
    assert problem.file.endswith("topics.yml")
    # the parser notices the unclosed bracket on the line after it
    assert problem.line in (line_of(text, "[Nidi serali"), line_of(text, "[Nidi serali") + 1)


def test_yaml_syntax_error_does_not_cascade_into_unknown_references(tree: Path) -> None:
    edit(tree / "territories.yml", "  - id: castanese\n", "  - id: castanese\n   oops: : :\n")
    found = errors(tree)
    assert [p.field for p in found] == ["yaml"]


def test_wrong_top_level_key(tree: Path) -> None:
    text = edit(tree / "partners.yml", "partners:\n", "partner:\n")
    found = errors(tree)
    messages = {(p.field, p.message, p.line) for p in found}
    assert (
        "partner",
        "wrong top-level key 'partner' (expected 'partners')",
        line_of(text, "partner:"),
    ) in messages
    assert ("partners", "missing top-level key", 1) in messages


def test_missing_file(tree: Path) -> None:
    (tree / "welfare.yml").unlink()
    problem = only_error(tree)
    assert problem.file.endswith("welfare.yml")
    assert problem.message == "missing file"


def test_empty_file(tree: Path) -> None:
    (tree / "calendar.yml").write_text("# nothing yet\n", encoding="utf-8")
    problem = only_error(tree)
    assert (problem.message, problem.line) == ("file is empty", 1)


def test_top_level_list_instead_of_mapping(tree: Path) -> None:
    (tree / "topics.yml").write_text("- id: school_closure\n", encoding="utf-8")
    assert [p.message for p in errors(tree)] == ["expected a mapping at the top level, got a list"]


def test_no_service_files(tree: Path) -> None:
    for path in (tree / "services").iterdir():
        path.unlink()
    assert [p.message for p in errors(tree)] == ["no service files"]


def test_unexpected_and_yaml_extension_files_are_warnings(tree: Path) -> None:
    (tree / "notes.yml").write_text("hello: world\n", encoding="utf-8")
    (tree / "services" / "extra.yaml").write_text("services: []\n", encoding="utf-8")
    found = {(Path(p.file).name, p.message) for p in warnings(tree)}
    assert found == {
        ("notes.yml", "not read: unexpected file"),
        ("extra.yaml", "not read: knowledge files end in .yml"),
    }
    assert errors(tree) == []


def test_key_given_twice(tree: Path) -> None:
    text = edit(
        tree / "services" / "evening_nursery.yml",
        "    title: Nido serale di Magenta\n",
        "    title: Nido serale di Magenta\n    title: Nido serale\n",
    )
    problem = only_error(tree)
    assert problem.field == "services[nido-sera-magenta].title"
    assert problem.message == "key 'title' appears twice"
    assert problem.line == line_of(text, "    title: Nido serale\n")


def test_unknown_key_is_a_warning(tree: Path) -> None:
    text = edit(tree / "partners.yml", "    kind: cooperative\n", "    kind: cooperative\n    colour: red\n")
    assert errors(tree) == []
    [problem] = warnings(tree)
    assert (problem.field, problem.message, problem.line) == (
        "partners[coop-magentino].colour",
        "unknown key 'colour'",
        line_of(text, "colour: red"),
    )


# -- types and required fields --------------------------------------------------------------------


def test_required_field_missing_points_at_the_record(tree: Path) -> None:
    text = edit(tree / "services" / "school_closure.yml", "    cost: 85 € a settimana, pasto incluso\n", "")
    problem = only_error(tree)
    assert (problem.field, problem.message) == (
        "services[cre-corbetta-2027].cost",
        "required field is missing",
    )
    assert problem.line == line_of(text, "- id: cre-corbetta-2027")


def test_required_field_empty(tree: Path) -> None:
    text = edit(tree / "partners.yml", "    role: Gestisce i centri estivi del Magentino.\n", "    role:\n")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "partners[coop-magentino].role",
        "required field is empty",
        line_of(text, "    role:\n"),
    )


def test_wrong_type_whole_number(tree: Path) -> None:
    text = edit(tree / "services" / "school_closure.yml", "{min: 6, max: 11}", "{min: six, max: 11}")
    problem = only_error(tree)
    assert problem.field == "services[cre-corbetta-2027].ages.min"
    assert problem.message == "expected a whole number, got 'six'"
    assert problem.line == line_of(text, "min: six")


def test_number_where_text_is_expected_suggests_quotes(tree: Path) -> None:
    text = edit(
        tree / "topics.yml", "keywords: [centro estivo, centri estivi, grest]", "keywords: [cre, 104]"
    )
    problem = only_error(tree)
    assert problem.field == "topics[school_closure].kinds[summer_camp].keywords"
    assert problem.message == "expected text, got the number 104 (put it in quotes)"
    assert problem.line == line_of(text, "[cre, 104]")


def test_sample_must_be_boolean(tree: Path) -> None:
    text = edit(tree / "services" / "evening_nursery.yml", "    sample: true\n", '    sample: "yes"\n')
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "services[nido-sera-magenta].sample",
        "expected true or false, got 'yes'",
        line_of(text, 'sample: "yes"'),
    )


def test_sample_is_required(tree: Path) -> None:
    edit(tree / "partners.yml", "    sample: true\n", "", after="id: coop-magentino")
    problem = only_error(tree)
    assert (problem.field, problem.message) == (
        "partners[coop-magentino].sample",
        "required field is missing",
    )


def test_invalid_id(tree: Path) -> None:
    text = edit(tree / "services" / "evening_nursery.yml", "id: nido-sera-magenta", "id: Nido Sera")
    problem = only_error(tree)
    assert problem.message == "'Nido Sera' is not a valid id (use lower case, digits and dashes)"
    assert problem.line == line_of(text, "id: Nido Sera")


def test_enum_value(tree: Path) -> None:
    text = edit(tree / "territories.yml", "        rite: roman\n", "        rite: latin\n")
    problem = only_error(tree)
    assert problem.field == "territories[abbiatense].towns[Vermezzo con Zelo].rite"
    assert problem.message == "'latin' is not one of: ambrosian, roman"
    assert problem.line == line_of(text, "rite: latin")


def test_list_expected(tree: Path) -> None:
    text = edit(tree / "partners.yml", "    topics: [school_closure]\n", "    topics: school_closure\n")
    problem = only_error(tree)
    assert (problem.message, problem.line) == (
        "expected a list, got 'school_closure'",
        line_of(text, "topics: school_closure"),
    )


# -- references -----------------------------------------------------------------------------------


def test_unknown_partner(tree: Path) -> None:
    text = edit(tree / "services" / "school_closure.yml", "provider: coop-magentino", "provider: coop-x")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "services[cre-corbetta-2027].provider",
        "unknown partner 'coop-x'",
        line_of(text, "provider: coop-x"),
    )


def test_unknown_territory_in_a_service(tree: Path) -> None:
    anchor = "id: campus-magentino-agosto-2027"
    text = edit(tree / "services" / "school_closure.yml", "[magentino]", "[magentino, ovest]", after=anchor)
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "services[campus-magentino-agosto-2027].territories",
        "unknown territory 'ovest'",
        line_of(text, "[magentino, ovest]"),
    )


def test_unknown_territory_in_a_block_list_points_at_its_item(tree: Path) -> None:
    text = edit(
        tree / "partners.yml",
        "    territories: [magentino]\n",
        "    territories:\n      - magentino\n      - brianza\n",
    )
    problem = only_error(tree)
    assert (problem.message, problem.line) == ("unknown territory 'brianza'", line_of(text, "- brianza"))


def test_unknown_topic_in_a_partner(tree: Path) -> None:
    edit(tree / "partners.yml", "topics: [school_closure]", "topics: [school_closure, sport]")
    assert [p.message for p in errors(tree)] == ["unknown topic 'sport'"]


def test_unknown_topic_in_a_service(tree: Path) -> None:
    text = edit(tree / "services" / "evening_nursery.yml", "topic: evening_nursery", "topic: nursery")
    problem = only_error(tree)
    assert (problem.message, problem.line) == ("unknown topic 'nursery'", line_of(text, "topic: nursery"))


def test_kind_of_another_topic(tree: Path) -> None:
    text = edit(tree / "services" / "evening_nursery.yml", "kind: evening_nursery", "kind: summer_camp")
    problem = only_error(tree)
    assert problem.field == "services[nido-sera-magenta].kind"
    assert problem.message == "unknown kind 'summer_camp' for topic 'evening_nursery'"
    assert problem.line == line_of(text, "kind: summer_camp")


def test_unknown_town(tree: Path) -> None:
    text = edit(tree / "services" / "school_closure.yml", "towns: [Corbetta]", "towns: [Corbeta]")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "services[cre-corbetta-2027].towns",
        "unknown town 'Corbeta'",
        line_of(text, "[Corbeta]"),
    )


def test_town_not_written_canonically_gets_a_hint(tree: Path) -> None:
    edit(tree / "services" / "school_closure.yml", "towns: [Corbetta]", "towns: [corbetta]")
    assert only_error(tree).message == "unknown town 'corbetta' (did you mean 'Corbetta'?)"


def test_town_outside_the_service_territories(tree: Path) -> None:
    text = edit(tree / "services" / "school_closure.yml", "towns: [Corbetta]", "towns: [Corbetta, Legnano]")
    problem = only_error(tree)
    assert problem.message == "town 'Legnano' is in territory 'legnanese', not in the service's (magentino)"
    assert problem.line == line_of(text, "[Corbetta, Legnano]")


def test_welfare_contact_partner_must_exist(tree: Path) -> None:
    text = edit(tree / "welfare.yml", "contact_partner: alleanza", "contact_partner: nobody")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "welfare.territorial_agreement.contact_partner",
        "unknown partner 'nobody'",
        line_of(text, "contact_partner: nobody"),
    )


def test_welfare_required_sections(tree: Path) -> None:
    (tree / "welfare.yml").write_text("welfare:\n  verify_note: x\n", encoding="utf-8")
    found = {(p.field, p.message, p.line) for p in errors(tree)}
    assert found == {
        ("welfare.thresholds", "required field is missing", 2),
        ("welfare.benefits", "required field is missing", 2),
        ("welfare.territorial_agreement", "required field is missing", 2),
        ("welfare.faqs", "required field is missing", 2),
    }


def test_welfare_faq_needs_an_answer(tree: Path) -> None:
    text = edit(tree / "welfare.yml", "      a: Sì, come servizio di istruzione per i figli.\n", "")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "welfare.faqs[0].a",
        "required field is missing",
        line_of(text, "- q: Posso"),
    )


# -- duplicates -----------------------------------------------------------------------------------


def test_duplicate_service_id_across_files(tree: Path) -> None:
    text = edit(tree / "services" / "evening_nursery.yml", "id: nido-sera-magenta", "id: cre-corbetta-2027")
    problem = only_error(tree)
    assert problem.file.endswith("evening_nursery.yml") or problem.file.endswith("school_closure.yml")
    assert problem.message.startswith("duplicate service id 'cre-corbetta-2027' (also at services/")
    if problem.file.endswith("school_closure.yml"):  # files are read in name order: evening_ first
        assert problem.message.endswith("evening_nursery.yml:2)")
    else:
        assert problem.line == line_of(text, "id: cre-corbetta-2027")


def test_duplicate_partner_id(tree: Path) -> None:
    text = edit(tree / "partners.yml", "id: coop-magentino", "id: alleanza")
    # (the services of the renamed partner now point at an unknown one, too)
    [problem] = [p for p in errors(tree) if p.file.endswith("partners.yml")]
    assert problem.message == "duplicate partner id 'alleanza' (also at line 2)"
    assert problem.line == line_of(text, "id: alleanza", after="default: true")


def test_duplicate_closure_id(tree: Path) -> None:
    text = edit(tree / "calendar.yml", "id: carnevale-romano-2027", "id: natale-2026")
    problem = only_error(tree)
    assert (
        problem.message
        == f"duplicate closure id 'natale-2026' (also at line {line_of(text, 'id: natale-2026')})"
    )
    assert problem.line == line_of(text, "id: natale-2026", after="rite: all")


def test_duplicate_town_across_territories(tree: Path) -> None:
    text = edit(
        tree / "territories.yml",
        "      - name: Legnano\n",
        "      - name: Corbetta\n        rite: ambrosian\n      - name: Legnano\n",
    )
    problem = only_error(tree)
    first = line_of(text, "name: Corbetta")
    assert problem.message == f"duplicate town 'Corbetta' (also at line {first} in territory 'magentino')"
    assert problem.line == line_of(text, "name: Corbetta", after="id: legnanese")


def test_alias_naming_another_town(tree: Path) -> None:
    text = edit(tree / "territories.yml", "aliases: [castano]", "aliases: [castano, corbetta]")
    problem = only_error(tree)
    assert (
        problem.message == f"'corbetta' also names town 'Corbetta' (line {line_of(text, 'name: Corbetta')})"
    )
    assert problem.line == line_of(text, "[castano, corbetta]")


def test_duplicate_territory_id(tree: Path) -> None:
    text = edit(tree / "territories.yml", "id: abbiatense", "id: castanese")
    found = [(p.message, p.line) for p in errors(tree) if p.file.endswith("territories.yml")]
    assert found == [
        (
            f"duplicate territory id 'castanese' (also at line {line_of(text, 'id: castanese')})",
            line_of(text, "id: castanese", after="id: legnanese"),
        )
    ]


def test_duplicate_kind_across_topics(tree: Path) -> None:
    text = edit(tree / "topics.yml", "      - id: evening_nursery\n", "      - id: after_school\n")
    found = [(p.message, p.line) for p in errors(tree) if p.file.endswith("topics.yml")]
    assert found == [
        (
            "duplicate kind id 'after_school' (also in topic 'school_closure', "
            f"line {line_of(text, 'id: after')})",
            line_of(text, "id: after_school", after="id: evening_nursery"),
        )
    ]


# -- dates ----------------------------------------------------------------------------------------


def test_date_that_does_not_exist(tree: Path) -> None:
    text = edit(tree / "calendar.yml", "end: 2027-02-13", "end: 2027-02-30")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "closures[carnevale-ambrosiano-2027].end",
        "'2027-02-30' is not a valid date",
        line_of(text, "end: 2027-02-30"),
    )


def test_date_that_does_not_exist_in_a_list(tree: Path) -> None:
    text = edit(tree / "partners.yml", "[2026-12-24, 2026-12-31]", "[2026-12-24, 2026-13-01]")
    problem = only_error(tree)
    assert (problem.message, problem.line) == (
        "'2026-13-01' is not a valid date",
        line_of(text, "2026-13-01"),
    )


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("2027-06-14 10:00:00", "the date and time 2027-06-14 10:00:00"),
        ("2027-06-14 10:00", "'2027-06-14 10:00'"),
    ],
)
def test_date_with_a_time(tree: Path, written: str, shown: str) -> None:
    edit(tree / "services" / "school_closure.yml", "start: 2027-06-14", f"start: {written}")
    assert only_error(tree).message == f"expected a date (YYYY-MM-DD), got {shown}"


def test_quoted_iso_date_is_accepted(tree: Path) -> None:
    edit(tree / "partners.yml", "last_reviewed: 2026-11-20", 'last_reviewed: "2026-11-20"')
    assert errors(tree) == []


def test_not_a_date(tree: Path) -> None:
    edit(tree / "partners.yml", "last_reviewed: 2026-11-20", "last_reviewed: ieri")
    assert only_error(tree).message == "expected a date (YYYY-MM-DD), got 'ieri'"


def test_end_before_start(tree: Path) -> None:
    text = edit(
        tree / "services" / "school_closure.yml",
        "      start: 2027-06-14\n      end: 2027-07-30\n      closed_on: [2027-06-29]\n",
        "      start: 2027-07-01\n      end: 2027-06-01\n",
    )
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "services[cre-corbetta-2027].period.end",
        "end 2027-06-01 is before start 2027-07-01",
        line_of(text, "end: 2027-06-01"),
    )


def test_closure_end_before_start(tree: Path) -> None:
    edit(tree / "calendar.yml", "end: 2027-01-06", "end: 2026-12-01")
    assert only_error(tree).message == "end 2026-12-01 is before start 2026-12-23"


def test_school_year_end_before_start(tree: Path) -> None:
    text = edit(tree / "calendar.yml", "  end: 2027-06-08\n", "  end: 2026-06-08\n")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "school_year.end",
        "end 2026-06-08 is not after start 2026-09-14",
        line_of(text, "  end: 2026-06-08"),
    )


def test_closed_day_outside_the_period(tree: Path) -> None:
    text = edit(
        tree / "services" / "school_closure.yml", "closed_on: [2027-06-29]", "closed_on: [2027-08-15]"
    )
    problem = only_error(tree)
    assert problem.message == "2027-08-15 is outside the period (2027-06-14 to 2027-07-30)"
    assert problem.line == line_of(text, "closed_on:")


def test_enrolment_opens_after_deadline(tree: Path) -> None:
    text = edit(tree / "services" / "school_closure.yml", "opens: 2027-04-01", "opens: 2027-05-20")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "services[cre-corbetta-2027].enrolment.opens",
        "opens 2027-05-20 is after deadline 2027-05-15",
        line_of(text, "opens: 2027-05-20"),
    )


def test_expired_service_is_a_warning(tree: Path) -> None:
    text = (tree / "services" / "school_closure.yml").read_text(encoding="utf-8")
    later = date(2027, 7, 31)
    assert errors(tree, today=later) == []
    found = {(p.field, p.message, p.line) for p in warnings(tree, today=later)}
    assert ("services[cre-corbetta-2027].period", "expired: the period ended on 2027-07-30",
            line_of(text, "    period:\n")) in found  # fmt: skip
    assert {f for f, _, _ in found} == {
        "services[cre-corbetta-2027].period",
        "services[doposcuola-legnano-2026].period",
        "services[nido-sera-magenta].period",
    }
    assert {p.field for p in warnings(tree, today=date(2027, 7, 30))} == {
        "services[doposcuola-legnano-2026].period"
    }


# -- hours, ages, contacts, partners --------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("25:00-26:00", "'25:00-26:00': 25:00 is not a valid time"),
        ("08:30-16:75", "'08:30-16:75': 16:75 is not a valid time"),
        ("16:30-08:30", "'16:30-08:30': start 16:30 is not before end 08:30"),
        ("09:00-09:00", "'09:00-09:00': start 09:00 is not before end 09:00"),
        ("8-12", "'8-12' is not a time range (use \"HH:MM-HH:MM\")"),
        ("dalle 8 alle 12", "'dalle 8 alle 12' is not a time range (use \"HH:MM-HH:MM\")"),
    ],
)
def test_malformed_hours(tree: Path, hours: str, message: str) -> None:
    text = edit(tree / "services" / "school_closure.yml", '["08:30-16:30"]', f'["{hours}"]')
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "services[cre-corbetta-2027].schedule.hours",
        message,
        line_of(text, hours),
    )


def test_overlapping_hours(tree: Path) -> None:
    edit(tree / "partners.yml", '"14:00-17:00"', '"12:00-17:00"')
    assert only_error(tree).message == "'12:00-17:00' overlaps 09:00-13:00"


def test_hours_must_be_text(tree: Path) -> None:
    edit(tree / "services" / "school_closure.yml", '["08:30-16:30"]', "[830]")
    assert only_error(tree).message == 'expected a time range "HH:MM-HH:MM", got the number 830'


def test_office_hours_day_names(tree: Path) -> None:
    text = edit(tree / "partners.yml", '      fri: ["09:00-13:00"]', '      friday: ["09:00-13:00"]')
    problem = only_error(tree)
    assert problem.field == "partners[alleanza].office_hours.friday"
    assert problem.message == "'friday' is not a day (use mon, tue, wed, thu, fri, sat, sun)"
    assert problem.line == line_of(text, "friday:")


def test_schedule_day_names(tree: Path) -> None:
    edit(tree / "services" / "evening_nursery.yml", "days: [mon, tue", "days: [lun, tue")
    assert only_error(tree).message == "'lun' is not a day (use mon, tue, wed, thu, fri, sat, sun)"


def test_ages_min_greater_than_max(tree: Path) -> None:
    text = edit(tree / "services" / "school_closure.yml", "{min: 6, max: 11}", "{min: 12, max: 6}")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "services[cre-corbetta-2027].ages.min",
        "min 12 is greater than max 6",
        line_of(text, "{min: 12"),
    )


def test_negative_age(tree: Path) -> None:
    edit(tree / "services" / "evening_nursery.yml", "{min: 0, max: 3}", "{min: -1, max: 3}")
    assert only_error(tree).message == "min -1 is negative"


def test_cost_eur(tree: Path) -> None:
    edit(tree / "services" / "evening_nursery.yml", "{amount: 5, per: hour}", "{amount: -5, per: minute}")
    assert sorted(p.message for p in errors(tree)) == [
        "'minute' is not one of: week, month, hour, day, period, year, once",
        "-5 is out of range (must be at least 0)",
    ]


def test_partner_with_no_contact(tree: Path) -> None:
    text = edit(tree / "partners.yml", '    contacts:\n      phone: "000 000 0101"\n', "    contacts: {}\n")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "partners[coop-magentino].contacts",
        "no contact: give at least one of email, phone, web",
        line_of(text, "contacts: {}"),
    )


def test_service_with_only_null_contacts(tree: Path) -> None:
    edit(
        tree / "services" / "evening_nursery.yml",
        'contacts: {phone: "000 000 0102"}',
        "contacts: {phone: null}",
    )
    assert only_error(tree).message == "no contact: give at least one of email, phone, web"


def test_malformed_email_and_web(tree: Path) -> None:
    edit(tree / "partners.yml", "email: info@example.org", "email: info-at-example")
    edit(tree / "partners.yml", "web: https://alleanza.example.org", "web: alleanza")
    assert sorted(p.message for p in errors(tree)) == [
        "'alleanza' is not a web address (write it with https://)",
        "'info-at-example' is not an email address",
    ]


def test_phone_must_be_quoted(tree: Path) -> None:
    edit(tree / "partners.yml", 'phone: "000 000 0101"', "phone: 3331234567")
    assert only_error(tree).message == "expected text, got the number 3331234567 (put it in quotes)"


def test_no_default_partner(tree: Path) -> None:
    edit(tree / "partners.yml", "    default: true\n", "")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "partners",
        "no default partner: exactly one partner needs 'default: true'",
        1,
    )


def test_two_default_partners(tree: Path) -> None:
    text = edit(tree / "partners.yml", "default: false", "default: true")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "partners[coop-magentino].default",
        "more than one default partner ('alleanza' and 'coop-magentino')",
        line_of(text, "default: true", after="id: coop-magentino"),
    )


def test_provider_not_covering_topic_or_territory_is_a_warning(tree: Path) -> None:
    nursery = edit(
        tree / "services" / "evening_nursery.yml", "provider: alleanza", "provider: coop-magentino"
    )
    camps = edit(
        tree / "services" / "school_closure.yml",
        "provider: alleanza",
        "provider: coop-magentino",
        after="id: doposcuola-legnano-2026",
    )
    assert errors(tree) == []
    found = {(Path(p.file).name, p.line, p.message) for p in warnings(tree)}
    assert found == {
        (
            "evening_nursery.yml",
            line_of(nursery, "provider: coop"),
            "provider 'coop-magentino' does not cover topic 'evening_nursery'",
        ),
        (
            "school_closure.yml",
            line_of(camps, "provider: coop", after="id: doposcuola"),
            "provider 'coop-magentino' does not cover territory 'legnanese'",
        ),
    }


# -- territories ----------------------------------------------------------------------------------


def test_lat_out_of_range_and_lat_without_lon(tree: Path) -> None:
    text = edit(tree / "territories.yml", "        lat: 45.468\n", "        lat: 145.468\n")
    edit(tree / "territories.yml", "        lon: 8.884\n", "")
    found = {(p.field, p.message, p.line) for p in errors(tree)}
    assert found == {
        (
            "territories[magentino].towns[Corbetta].lat",
            "145.468 is out of range (must be between -90 and 90)",
            line_of(text, "lat: 145.468"),
        ),  # fmt: skip
        (
            "territories[magentino].towns[Magenta].lon",
            "lat and lon go together: give both or neither",
            line_of(text, "- name: Magenta"),
        ),  # fmt: skip
    }


def test_territory_needs_towns(tree: Path) -> None:
    text = edit(
        tree / "territories.yml",
        "      - name: Abbiategrasso\n        aliases: [abbiate]\n        rite: ambrosian\n"
        "      - name: Vermezzo con Zelo\n        aliases: [vermezzo, zelo]\n        rite: roman\n"
        "        verify: true\n",
        "",
    )
    text = edit(tree / "territories.yml", "    towns:\n", "    towns: []\n", after="id: abbiatense")
    problem = only_error(tree)
    assert (problem.field, problem.message, problem.line) == (
        "territories[abbiatense].towns",
        "must list at least one item",
        line_of(text, "towns: []"),
    )


# -- the bundled data -----------------------------------------------------------------------------


def test_bundled_knowledge_base_has_no_errors() -> None:
    found = [str(p) for p in check(DEFAULT_DATA_DIR) if p.severity == "error"]
    assert found == []
