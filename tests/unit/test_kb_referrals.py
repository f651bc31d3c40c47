"""Referrals (knowledge/data/referrals.yml): loading, find_referral, and the validator's problems."""

from __future__ import annotations

from pathlib import Path

import pytest
from kb_samples import TODAY, write_tree

from knowledge import DEFAULT_DATA_DIR, KnowledgeHolder, Problem, check, load

IDS = {
    "bonus_nido",
    "assegno_unico",
    "parental_leave",
    "maternity",
    "law104_leave",
    "isee",
    "identity_card",
    "school_canteen",
    "school_enrolment",
    "public_transport",
    "jobs",
    "volunteering",
    "civil_invalidity",
}

GOOD = """\
referrals:
  - id: bonus_nido
    name: Bonus asilo nido
    keywords: [bonus nido, bonus asilo nido, contributo inps]
    exclusive: [bonus nido]
    office: all'INPS
    how: Fai la domanda sul sito dell'INPS.
    source: https://www.inps.it/bonus-nido
  - id: isee
    name: ISEE
    keywords: [isee, fare l'isee]
    office: a un CAF
    how: Compili la DSU in un CAF.
    source: https://www.inps.it/isee
    verify: true
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "data")


def with_referrals(tree: Path, text: str) -> Path:
    (tree / "referrals.yml").write_text(text, "utf-8")
    return tree


def problems(tree: Path) -> list[str]:
    return [f"{Path(p.file).name}:{p.line}: {p.field}: {p.message}" for p in check(tree, today=TODAY)]


# -- the bundled file -------------------------------------------------------------------------------


def test_bundled_referrals_load_with_every_required_id() -> None:
    kb = load()
    assert {r.id for r in kb.referrals} == IDS
    for ref in kb.referrals:
        assert ref.name and ref.office and ref.how and ref.keywords
        assert ref.source.startswith("https://")
        assert "example.org" not in ref.source
        assert set(ref.exclusive) <= set(ref.keywords)
    assert not [p for p in check(DEFAULT_DATA_DIR) if Path(p.file).name == "referrals.yml"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Come faccio a chiedere il BONUS NIDO?", "bonus_nido"),
        ("quando arriva l'assegno unico di marzo", "assegno_unico"),
        ("posso prendere il congedo parentale a ore?", "parental_leave"),
        ("come funziona la maternità obbligatoria", "maternity"),
        ("mi spettano i permessi 104 per mia mamma?", "law104_leave"),
        ("dove faccio l'isee", "isee"),
        ("devo rinnovare la carta d'identità di mio figlio", "identity_card"),
        ("come si paga la mensa scolastica?", "school_canteen"),
        ("c'è lo scuolabus per la frazione?", "school_canteen"),
        ("quando aprono le iscrizioni in prima elementare", "school_enrolment"),
        ("orari autobus per Magenta", "public_transport"),
        ("cerco lavoro come educatrice in un nido", "jobs"),
        ("vorrei fare volontariato con gli anziani", "volunteering"),
        ("come si fa la domanda di invalidità civile", "civil_invalidity"),
    ],
)
def test_find_referral_on_the_bundled_file(text: str, expected: str) -> None:
    found = load().find_referral(text)
    assert found is not None and found.id == expected


def test_find_referral_none_for_a_project_question() -> None:
    kb = load()
    assert kb.find_referral("centri estivi a Magenta per luglio") is None
    assert kb.find_referral("") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("le astensioni facoltative a chi le chiedo?", "parental_leave"),  # inflected
        ("vorrei iscrivere mio figlio alla scuola media", "school_enrolment"),  # words between
        ("permessi della 104 per mia madre", "law104_leave"),
        ("quando passa il pulman per Magenta?", "public_transport"),  # one letter missing
    ],
)
def test_loose_finds_a_keyword_in_another_wording(text: str, expected: str) -> None:
    kb = load()
    assert kb.find_referral(text) is None  # not as written
    found = kb.find_referral(text, loose=True)
    assert found is not None and found.id == expected


def test_loose_keeps_short_words_exact_and_needs_every_word() -> None:
    kb = load()
    assert kb.find_referral("i centri estivi di luglio", loose=True) is None
    assert kb.find_referral("ask me", loose=True) is None  # "asl" is short: no letter may differ
    # "congedo" alone is not "congedo parentale", nor any other phrase of the file
    found = kb.find_referral("il congedo", loose=True)
    assert found is None or found.id in {"parental_leave", "maternity", "law104_leave"}


def test_exclusive_only_ignores_the_plain_keywords() -> None:
    kb = load()
    text = "il centro estivo di Corbetta ha la mensa?"
    assert kb.find_referral(text).id == "school_canteen"  # "mensa" is a keyword
    assert kb.find_referral(text, exclusive_only=True) is None  # but not an exclusive one
    assert kb.find_referral("il nido serale accetta il bonus nido?", exclusive_only=True).id == "bonus_nido"


# -- loading a tree ---------------------------------------------------------------------------------


def test_a_tree_without_the_file_has_no_referrals_and_no_problem(tree: Path) -> None:
    assert load(tree, today=TODAY).referrals == ()
    assert check(tree, today=TODAY) == []


def test_a_tree_with_the_file_loads_it_without_warnings(tree: Path) -> None:
    kb = load(with_referrals(tree, GOOD), today=TODAY)
    assert [r.id for r in kb.referrals] == ["bonus_nido", "isee"]
    assert kb.warnings == ()
    isee = kb.referrals[1]
    assert isee.keywords == ("isee", "fare l isee") and isee.verify is True and isee.sample is False


def test_longest_phrase_wins(tree: Path) -> None:
    text = GOOD.replace(
        "keywords: [isee, fare l'isee]", "keywords: [isee, fare l'isee, contributo inps nido]"
    )
    kb = load(with_referrals(tree, text), today=TODAY)
    assert kb.find_referral("un contributo inps nido?").id == "isee"  # 3 words beat "contributo inps"
    assert kb.find_referral("un contributo inps?").id == "bonus_nido"


def test_the_file_changes_the_digest(tree: Path) -> None:
    before = load(tree, today=TODAY).digest
    assert load(with_referrals(tree, GOOD), today=TODAY).digest != before


# -- the validator ----------------------------------------------------------------------------------


def test_missing_fields_are_errors_at_their_line(tree: Path) -> None:
    text = GOOD.replace("    office: a un CAF\n", "").replace("    source: https://www.inps.it/isee\n", "")
    found = problems(with_referrals(tree, text))
    assert "referrals.yml:9: referrals[isee].office: required field is missing" in found
    assert "referrals.yml:9: referrals[isee].source: required field is missing" in found
    with pytest.raises(Exception, match="error"):
        load(tree, today=TODAY)


def test_source_must_be_a_web_address(tree: Path) -> None:
    text = GOOD.replace("source: https://www.inps.it/isee", "source: sito dell'INPS")
    assert problems(with_referrals(tree, text)) == [
        "referrals.yml:14: referrals[isee].source: 'sito dell'INPS' is not a web address (http:// or https://)"
    ]


def test_a_keyword_belongs_to_one_referral_only(tree: Path) -> None:
    text = GOOD.replace("keywords: [isee, fare l'isee]", "keywords: [isee, Bonus Nido, bonus  nido]")
    found = problems(with_referrals(tree, text))
    at = "referrals.yml:11: referrals[isee].keywords: "
    assert at + "'Bonus Nido' must be lower case without accents" in found
    assert at + "keyword 'bonus  nido' already belongs to 'bonus_nido' (line 4)" in found


def test_accents_and_duplicate_ids_and_bad_exclusive(tree: Path) -> None:
    text = (
        GOOD.replace("id: isee", "id: bonus_nido")
        .replace("[isee, fare l'isee]", "[isee, invalidità]")
        .replace("exclusive: [bonus nido]", "exclusive: [bonus nidi]")
    )
    found = problems(with_referrals(tree, text))
    assert (
        "referrals.yml:9: referrals[bonus_nido].id: duplicate referral id 'bonus_nido' (also at line 2)"
        in found
    )
    assert (
        "referrals.yml:11: referrals[bonus_nido].keywords: 'invalidità' must be lower case without accents"
        in found
    )
    assert (
        "referrals.yml:5: referrals[bonus_nido].exclusive: 'bonus nidi' is not one of the referral's keywords"
        in found
    )


def test_unknown_key_and_long_how_are_warnings(tree: Path) -> None:
    text = GOOD.replace(
        "    how: Compili la DSU in un CAF.\n",
        "    how: Uno. Due. Tre. Quattro.\n    phone: 000 000 0000\n",
    )
    found = [p for p in check(with_referrals(tree, text), today=TODAY)]
    assert {(p.field, p.message, p.severity) for p in found} == {
        ("referrals[isee].how", "more than 3 sentences", "warning"),
        ("referrals[isee].phone", "unknown key 'phone'", "warning"),
    }
    assert len(load(tree, today=TODAY).referrals) == 2  # warnings do not stop loading


def test_malformed_file_is_reported_not_raised(tree: Path) -> None:
    [found] = problems(with_referrals(tree, "referrals: [unclosed\n"))
    assert found.startswith("referrals.yml:2: yaml: invalid YAML: ")  # the wording depends on libyaml
    assert problems(with_referrals(tree, "services: []\n")) == [
        "referrals.yml:1: referrals: expected a top-level list 'referrals'"
    ]


def test_problem_strings_keep_the_common_format(tree: Path) -> None:
    with_referrals(tree, GOOD.replace("name: ISEE", "name: 12"))
    [problem] = check(tree, today=TODAY)
    assert isinstance(problem, Problem)
    assert str(problem).endswith("referrals.yml:10: referrals[isee].name: expected text, got the int 12")


def test_the_holder_reloads_referrals_and_keeps_the_last_valid_ones(tree: Path) -> None:
    holder = KnowledgeHolder(with_referrals(tree, GOOD), check_every=0)
    assert len(holder.get().referrals) == 2
    with_referrals(tree, GOOD.replace("  - id: isee\n", "  - id: isee\n    colour: red\n") + "  - {}\n")
    assert len(holder.get().referrals) == 2  # broken: still the previous version
    with_referrals(tree, GOOD.split("  - id: isee")[0])
    assert [r.id for r in holder.get().referrals] == ["bonus_nido"]
