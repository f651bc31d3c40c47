"""Finding towns, ambiti and areas in what people write, and the nearest town to a location."""

from __future__ import annotations

import pytest
from kb_samples import TODAY, write_tree

from knowledge import DEFAULT_DATA_DIR, KnowledgeBase, haversine_km, load, normalise


@pytest.fixture(scope="module")
def sample_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return load(write_tree(tmp_path_factory.mktemp("kb") / "data"), today=TODAY)


@pytest.fixture(scope="module")
def real_kb() -> KnowledgeBase:
    return load(DEFAULT_DATA_DIR)


# The ambiti and their towns, from the project's domain facts (shared/domain-facts.md).
AMBITI = {
    "castanese": [
        "Arconate", "Bernate Ticino", "Buscate", "Castano Primo", "Cuggiono", "Inveruno", "Magnago", "Nosate",
        "Robecchetto con Induno", "Turbigo", "Vanzaghello",
    ],
    "legnanese": [
        "Busto Garolfo", "Canegrate", "Cerro Maggiore", "Dairago", "Legnano", "Nerviano", "Parabiago",
        "Rescaldina", "San Giorgio su Legnano", "San Vittore Olona", "Villa Cortese",
    ],
    "abbiatense": [
        "Abbiategrasso", "Albairate", "Besate", "Bubbiano", "Calvignasco", "Cassinetta di Lugagnano",
        "Cisliano", "Gaggiano", "Gudo Visconti", "Morimondo", "Motta Visconti", "Ozzero", "Rosate",
        "Vermezzo con Zelo",
    ],
    "magentino": [
        "Arluno", "Bareggio", "Boffalora sopra Ticino", "Casorezzo", "Corbetta", "Magenta",
        "Marcallo con Casone", "Mesero", "Ossona", "Robecco sul Naviglio", "Santo Stefano Ticino", "Sedriano",
        "Vittuone",
    ],
}  # fmt: skip
ALL_TOWNS = [(ambito, town) for ambito, towns in AMBITI.items() for town in towns]

# Messages that name no place: none of them may be read as one.
NO_PLACE = [
    "ci sono centri estivi per luglio?",
    "quanto costa?",
    "mia figlia ha 7 anni",
    "grazie mille",
    "buongiorno",
    "che tempo fa domani",
    "il nido è aperto il sabato?",
    "vorrei parlare con un operatore",
    "ci sono posti per il centro estivo in inverno?",
    "spero che abbiate ancora posto",
    "certo, va bene",
    "mio cugino lavora all'estero",
    "lavoro con zelo tutto il giorno",
    "posso portare anche la merenda?",
    "a che ora finisce il doposcuola?",
    "quali documenti servono per l'iscrizione?",
    "mio marito fa i turni di notte",
    "come funziona il welfare aziendale?",
    "il bonus asilo nido si può rimborsare?",
    "mia madre è anziana e non autosufficiente",
    "ciao",
    "",
    "???",
]


def place_name(kb: KnowledgeBase, text: str) -> str | tuple[str, ...] | None:
    """What find_place saw: a town name, ('territory', id) or ('area', ids...)."""
    place = kb.find_place(text)
    if place is None:
        return None
    if place.town is not None:
        assert place.territory == place.town.territory and place.territories == (place.town.territory,)
        return place.town.name
    if place.territory is not None:
        assert place.territories == (place.territory,)
        return ("territory", place.territory)
    return ("area", *place.territories)


# -- on the sample tree ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "town"),
    [
        ("Corbetta", "Corbetta"),
        ("corbetta", "Corbetta"),
        ("  CORBETTA ", "Corbetta"),
        ("corbeta", "Corbetta"),
        ("abbiategrsso", "Abbiategrasso"),
        ("abiategrasso", "Abbiategrasso"),
        ("castano", "Castano Primo"),
        ("Castano Primo", "Castano Primo"),
        ("s. vittore", "San Vittore Olona"),
        ("S.Vittore Olona", "San Vittore Olona"),
        ("san vittore", "San Vittore Olona"),
        ("robecchetto", "Robecchetto con Induno"),
        ("abbiate", "Abbiategrasso"),
        ("a Corbetta", "Corbetta"),
        ("sono di Legnano", "Legnano"),
    ],
)
def test_resolve_town(sample_kb: KnowledgeBase, text: str, town: str) -> None:
    found = sample_kb.resolve_town(text)
    assert found is not None and found.name == town


@pytest.mark.parametrize(
    "text", ["Milano", "magentino", "alto milanese", "", "certo", "estero", "mese", "ciao"]
)
def test_resolve_town_finds_nothing(sample_kb: KnowledgeBase, text: str) -> None:
    assert sample_kb.resolve_town(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ci sono centri estivi a Corbetta per luglio?", "Corbetta"),
        ("centri estivi a corbeta a luglio", "Corbetta"),
        ("sono di robecchetto", "Robecchetto con Induno"),
        ("abito ad Abbiategrsso, ci sono nidi serali?", "Abbiategrasso"),
        ("e a s. vittore?", "San Vittore Olona"),
        ("sono di abbiate", "Abbiategrasso"),
        ("Zelo", "Vermezzo con Zelo"),
        ("nell'abbiatense", ("territory", "abbiatense")),
        ("Cosa c'è nell'Abbiatense?", ("territory", "abbiatense")),
        ("zona legnano", ("territory", "legnanese")),
        ("zona Magenta", ("territory", "magentino")),
        ("nel magentino", ("territory", "magentino")),
        ("legnanese", ("territory", "legnanese")),
        ("Alto Milanese", ("area", "castanese", "legnanese")),
        ("servizi nell'altomilanese", ("area", "castanese", "legnanese")),
        ("abito nell'alto milanese, a Legnano", "Legnano"),  # a town wins over an area
        ("zona magenta, sono di Corbetta", "Corbetta"),
        ("sono di corbeta nel magentino", "Corbetta"),
    ],
)
def test_find_place(sample_kb: KnowledgeBase, text: str, expected: object) -> None:
    assert place_name(sample_kb, text) == expected


@pytest.mark.parametrize("text", NO_PLACE)
def test_find_place_ignores_ordinary_words(sample_kb: KnowledgeBase, text: str) -> None:
    assert sample_kb.find_place(text) is None


def test_nearest_town(sample_kb: KnowledgeBase) -> None:
    near_corbetta = sample_kb.nearest_town(45.470, 8.921)
    assert near_corbetta is not None and near_corbetta.name == "Corbetta"
    near_legnano = sample_kb.nearest_town(45.60, 8.92)
    assert near_legnano is not None and near_legnano.name == "Legnano"
    assert sample_kb.nearest_town(45.4642, 9.19) is None  # Milan: more than 10 km from any town
    milan = sample_kb.nearest_town(45.4642, 9.19, max_km=30)
    assert milan is not None and milan.name == "Corbetta"


def test_haversine() -> None:
    assert haversine_km(45.0, 9.0, 45.0, 9.0) == 0
    assert haversine_km(45.0, 9.0, 46.0, 9.0) == pytest.approx(111.2, abs=0.2)


# -- on the bundled knowledge base ----------------------------------------------------------------


def test_bundled_towns_are_the_domain_facts_towns(real_kb: KnowledgeBase) -> None:
    assert {(t.territory, t.name) for t in real_kb.towns.values()} == set(ALL_TOWNS)
    assert real_kb.towns["Nerviano"].verify is True


@pytest.mark.parametrize(("ambito", "town"), ALL_TOWNS)
def test_every_town_resolves_to_its_ambito(real_kb: KnowledgeBase, ambito: str, town: str) -> None:
    for written in (town, town.lower(), normalise(town).upper()):
        found = real_kb.resolve_town(written)
        assert found is not None and (found.name, found.territory) == (town, ambito), written
    place = real_kb.find_place(f"ci sono servizi a {town.lower()}?")
    assert place is not None and place.town is not None and place.town.name == town
    assert place.territory == ambito


def _typo(name: str) -> str:
    """Drop the first doubled letter, or else the letter before last: "Corbetta" -> "Corbeta"."""
    for i in range(1, len(name)):
        if name[i] == name[i - 1] and name[i].isalpha():
            return name[:i] + name[i + 1 :]
    return name[:-2] + name[-1]


@pytest.mark.parametrize(("ambito", "town"), [(a, t) for a, t in ALL_TOWNS if len(t) >= 7])
def test_typos_resolve(real_kb: KnowledgeBase, ambito: str, town: str) -> None:
    typo = _typo(town).lower()
    found = real_kb.resolve_town(typo)
    assert found is not None and found.name == town, typo
    place = real_kb.find_place(f"abito a {typo}")
    assert place is not None and place.town is not None and place.town.name == town, typo


@pytest.mark.parametrize(
    ("text", "town"),
    [
        ("Abbiategrsso", "Abbiategrasso"),
        ("castano", "Castano Primo"),
        ("Robecchetto", "Robecchetto con Induno"),
        ("Cassinetta", "Cassinetta di Lugagnano"),
        ("S. Vittore Olona", "San Vittore Olona"),
        ("s.vittore", "San Vittore Olona"),
        ("Santo Stefano", "Santo Stefano Ticino"),
        ("s. stefano", "Santo Stefano Ticino"),
        ("San Giorgio", "San Giorgio su Legnano"),
        ("boffalora", "Boffalora sopra Ticino"),
        ("marcallo", "Marcallo con Casone"),
        ("robecco", "Robecco sul Naviglio"),
        ("bernate", "Bernate Ticino"),
        ("vermezzo", "Vermezzo con Zelo"),
        ("sangiorgio", "San Giorgio su Legnano"),
        ("Castanoprimo", "Castano Primo"),
        ("zelo surrigone", "Vermezzo con Zelo"),
    ],
)
def test_short_forms_people_use(real_kb: KnowledgeBase, text: str, town: str) -> None:
    found = real_kb.resolve_town(text)
    assert found is not None and found.name == town


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nell'abbiatense", ("territory", "abbiatense")),
        ("zona legnano", ("territory", "legnanese")),
        ("Alto Milanese", ("area", "castanese", "legnanese")),
        ("sono di robecchetto", "Robecchetto con Induno"),
        ("ci sono centri estivi a Corbetta per luglio?", "Corbetta"),
    ],
)
def test_find_place_on_the_bundled_data(real_kb: KnowledgeBase, text: str, expected: object) -> None:
    assert place_name(real_kb, text) == expected


@pytest.mark.parametrize("text", NO_PLACE)
def test_bundled_data_ignores_ordinary_words(real_kb: KnowledgeBase, text: str) -> None:
    assert real_kb.find_place(text) is None


def test_bundled_towns_have_coordinates_near_each_other(real_kb: KnowledgeBase) -> None:
    for town in real_kb.towns.values():
        assert town.lat is not None and town.lon is not None, town.name
        assert real_kb.nearest_town(town.lat, town.lon) == town
