"""rasa_addons.out_of_domain: the separate out-of-domain classifier trains on a tiny set, is stored and
loaded through Rasa's model storage, turns a clearly unrelated message into out_of_scope (first in the
ranking, DIET's ranking kept after it), leaves an in-domain message and every button payload alone, and
retrains when the negatives file changes (its hash is part of the fingerprint)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_addons.out_of_domain import OutOfDomainClassifier, read_negatives

IN_DOMAIN = {
    "ask_summer_camp": [
        "ci sono centri estivi a Magenta per luglio?",
        "cerco un centro estivo per mio figlio di 8 anni",
        "quanto costa il centro estivo comunale?",
        "centri estivi ad agosto a Legnano",
        "il campo estivo di giugno ha ancora posti?",
    ],
    "ask_nursery": [
        "c'è un asilo nido aperto la sera?",
        "nido serale per la bimba di due anni",
        "lavoro su turni, mi serve il nido fino alle 21",
        "iscrizioni al nido serale di Abbiategrasso",
    ],
    "ask_caregiver": [
        "assisto mia madre anziana, che aiuti ci sono per i caregiver?",
        "sportello caregiver familiari vicino a me",
        "mio padre non è autosufficiente e io lavoro, a chi chiedo?",
    ],
    "ask_after_school": [
        "doposcuola per la primaria a Corbetta",
        "mia figlia esce da scuola alle 16, c'è un doposcuola?",
    ],
}
OUT_OF_SCOPE_EXAMPLES = ["chi ha vinto la partita ieri sera?", "raccontami una barzelletta"]
NEGATIVES = """# test negatives
che tempo fa domani a Roma?
metti un po' di musica jazz
imposta una sveglia alle sette
quanti abitanti ha la Francia?
chi ha scritto la Divina Commedia?
aggiungi il latte alla lista della spesa
Tom ha comprato una macchina nuova.
accendi la luce in cucina
quando è nato Napoleone?
Il treno per Torino è in ritardo.
dammi le ultime notizie sulla borsa
mi consigli un buon film da vedere stasera?
"""


def _training_data() -> TrainingData:
    examples = [Message(data={"text": t, "intent": i}) for i, texts in IN_DOMAIN.items() for t in texts]
    examples += [Message(data={"text": t, "intent": "out_of_scope"}) for t in OUT_OF_SCOPE_EXAMPLES]
    return TrainingData(training_examples=examples)


def _storage(folder: Path) -> LocalModelStorage:
    folder.mkdir()
    return LocalModelStorage(folder)


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name="out_of_domain_classifier")


@pytest.fixture()
def negatives(tmp_path: Path) -> Path:
    path = tmp_path / "negatives.txt"
    path.write_text(NEGATIVES, "utf-8")
    return path


@pytest.fixture()
def loaded(tmp_path: Path, negatives: Path) -> OutOfDomainClassifier:
    """Trained, persisted in a model storage, then loaded back as a new component."""
    storage = _storage(tmp_path / "storage")
    resource = Resource("out_of_domain_classifier")
    config = {"negatives": str(negatives), "threshold": 0.5, "short_threshold": 0.5}
    trained = OutOfDomainClassifier.create(config, storage, resource, _context())
    trained.train(_training_data())
    return OutOfDomainClassifier.load(config, storage, resource, _context())


def _parsed(text: str) -> Message:
    """A message as DIET leaves it: an in-domain intent first, a ranking."""
    ranking = [
        {"name": "ask_summer_camp", "confidence": 0.62},
        {"name": "out_of_scope", "confidence": 0.2},
        {"name": "ask_nursery", "confidence": 0.18},
    ]
    message = Message(data={"text": text})
    message.set("intent", dict(ranking[0]), add_to_output=True)
    message.set("intent_ranking", [dict(r) for r in ranking], add_to_output=True)
    return message


def test_negatives_file_skips_comments_and_blank_lines(negatives: Path) -> None:
    sentences = read_negatives(negatives)
    assert len(sentences) == 12
    assert sentences[0] == "che tempo fa domani a Roma?"


def test_a_clearly_out_of_domain_message_becomes_out_of_scope(loaded: OutOfDomainClassifier) -> None:
    message = loaded.process([_parsed("che tempo farà sabato a Roma? devo andare al mare")])[0]
    out = message.as_dict(only_output_properties=True)
    assert out["out_of_domain"] >= 0.5
    assert out["intent"] == {"name": "out_of_scope", "confidence": out["out_of_domain"]}
    names = [r["name"] for r in out["intent_ranking"]]
    assert names == ["out_of_scope", "ask_summer_camp", "ask_nursery"]  # DIET's ranking kept, once
    confidences = [r["confidence"] for r in out["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True)  # else FallbackClassifier sees ambiguity
    assert confidences[1] == pytest.approx(0.62 * (1 - out["out_of_domain"]))


def test_an_in_domain_message_is_left_alone(loaded: OutOfDomainClassifier) -> None:
    message = loaded.process([_parsed("c'è un centro estivo a luglio per mio figlio di 7 anni?")])[0]
    out = message.as_dict(only_output_properties=True)
    assert out["out_of_domain"] < 0.5
    assert out["intent"]["name"] == "ask_summer_camp"
    assert out["intent_ranking"][0]["name"] == "ask_summer_camp"


def test_a_button_payload_is_never_flipped(loaded: OutOfDomainClassifier) -> None:
    payload = _parsed('/show_service{"service_id": "che tempo fa domani a Roma"}')
    out = loaded.process([payload])[0].as_dict(only_output_properties=True)
    assert out["intent"]["name"] == "ask_summer_camp"
    assert "out_of_domain" not in out


def test_a_threshold_above_one_never_flips(tmp_path: Path, negatives: Path) -> None:
    storage = _storage(tmp_path / "storage2")
    config = {"negatives": str(negatives), "threshold": 1.01, "short_threshold": 1.01}
    never = OutOfDomainClassifier.create(config, storage, Resource("ood"), _context())
    never.train(_training_data())
    out = never.process([_parsed("metti un po' di musica rock")])[0].as_dict(only_output_properties=True)
    assert out["intent"]["name"] == "ask_summer_camp"
    assert 0.0 < out["out_of_domain"] < 1.0


def test_short_messages_need_the_short_threshold(loaded: OutOfDomainClassifier) -> None:
    loaded.config.update(threshold=0.5, short_words=3, short_threshold=1.01)
    short, long = loaded.process(
        [_parsed("metti musica jazz"), _parsed("che tempo farà sabato a Roma? devo andare al mare")]
    )
    assert short.get("out_of_domain") >= 0.5  # out of domain, but only three words
    assert short.get("intent")["name"] == "ask_summer_camp"
    assert long.get("intent")["name"] == "out_of_scope"


def test_long_messages_need_the_long_threshold(loaded: OutOfDomainClassifier) -> None:
    loaded.config.update(threshold=0.5, short_words=3, long_words=10, long_threshold=1.01)
    medium, long = loaded.process(
        [
            _parsed("che tempo farà sabato a Roma? devo andare al mare"),
            _parsed("che tempo farà sabato a Roma? devo andare al mare con gli amici e la macchina"),
        ]
    )
    assert medium.get("intent")["name"] == "out_of_scope"
    assert long.get("out_of_domain") >= 0.5  # out of domain, but over long_words words
    assert long.get("intent")["name"] == "ask_summer_camp"


def test_changing_the_negatives_file_changes_the_fingerprint(negatives: Path) -> None:
    """Rasa's training cache reuses a component whose fingerprint key is unchanged."""
    from rasa.engine.training.fingerprinting import calculate_fingerprint_key

    config = {"negatives": str(negatives)}
    before = calculate_fingerprint_key(OutOfDomainClassifier, config, {})
    assert calculate_fingerprint_key(OutOfDomainClassifier, config, {}) == before
    negatives.write_text(NEGATIVES + "quanto dista la Luna dalla Terra?\n", "utf-8")
    assert calculate_fingerprint_key(OutOfDomainClassifier, config, {}) != before


def test_a_missing_negatives_file_fails_training(tmp_path: Path) -> None:
    storage = _storage(tmp_path / "storage3")
    component = OutOfDomainClassifier.create(
        {"negatives": str(tmp_path / "missing.txt")}, storage, Resource("ood"), _context()
    )
    with pytest.raises(FileNotFoundError):
        component.train(_training_data())


def test_the_probability_reaches_the_trackers_latest_message(loaded: OutOfDomainClassifier) -> None:
    """Rasa's processor stores the whole parse data in UserUttered; the actions read latest_message."""
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    parsed = loaded.process([_parsed("che tempo farà sabato a Roma? devo andare al mare")])[0]
    data = parsed.as_dict(only_output_properties=True)
    event = UserUttered(data["text"], data["intent"], [], data)
    tracker = DialogueStateTracker.from_events("someone", [event])
    latest = tracker.current_state()["latest_message"]
    assert latest["out_of_domain"] == data["out_of_domain"]
    assert latest["intent"]["name"] == "out_of_scope"


def test_the_hand_written_scoring_matches_sklearn(loaded: OutOfDomainClassifier) -> None:
    texts = [
        "che tempo farà sabato a Roma?",
        "c'è un centro estivo a luglio per mio figlio di 7 anni?",
        "Perché?? nn so... qlc idea x il NIDO serale",
        "zzzz",
    ]
    fast = loaded.model.probability(texts)
    reference = loaded.model.probability_sklearn(texts)
    assert fast == pytest.approx(reference, abs=1e-5)
