"""rasa_addons.linear_intents: the intent classifier in DIET's place trains on a small set, is stored and
loaded through Rasa's model storage, gives the right intent with a sorted ranking of probabilities,
builds by hand the same features as sklearn (the fast path is not a different model), and leaves an
empty message with no intent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_addons.linear_intents import LinearIntentClassifier
from tests.actions.test_out_of_domain import IN_DOMAIN

EXAMPLES = {**IN_DOMAIN, "greet": ["ciao", "buongiorno", "salve a tutti"]}


def _training_data() -> TrainingData:
    examples = [Message(data={"text": t, "intent": i}) for i, texts in EXAMPLES.items() for t in texts]
    return TrainingData(training_examples=examples)


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name="linear_intent_classifier")


@pytest.fixture()
def loaded(tmp_path: Path) -> LinearIntentClassifier:
    """Trained, persisted in a model storage, then loaded back as a new component."""
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("linear_intent_classifier")
    trained = LinearIntentClassifier.create({"char_min_df": 1}, storage, resource, _context())
    trained.train(_training_data())
    return LinearIntentClassifier.load({"char_min_df": 1}, storage, resource, _context())


def _parse(component: LinearIntentClassifier, text: str) -> dict:
    message = Message(data={"text": text})
    component.process([message])
    return message.as_dict_nlu()


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("centro estivo a luglio per il bambino", "ask_summer_camp"),
        ("nido aperto la sera? lavoro su turni", "ask_nursery"),
        ("mia madre e anziana, sono caregiver", "ask_caregiver"),  # no accent, as on a phone
        ("buongiorno!", "greet"),
    ],
)
def test_the_right_intent_first_with_a_sorted_ranking(
    loaded: LinearIntentClassifier, text: str, intent: str
) -> None:
    out = _parse(loaded, text)
    assert out["intent"]["name"] == intent
    confidences = [r["confidence"] for r in out["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    assert out["intent_ranking"][0] == out["intent"]
    assert {r["name"] for r in out["intent_ranking"]} == set(EXAMPLES)
    assert sum(confidences) == pytest.approx(1.0, abs=1e-3)


def test_hand_built_features_match_sklearn(loaded: LinearIntentClassifier) -> None:
    model = loaded.model
    assert model is not None
    texts = ["Centri estivi ad agosto? Grazie mille", "ciao", "parola sconosciuta xyz"]
    by_hand = np.stack([model.probabilities(t) for t in texts])
    assert by_hand == pytest.approx(model.probabilities_sklearn(texts), abs=1e-5)


def test_an_empty_message_has_no_intent(loaded: LinearIntentClassifier) -> None:
    out = _parse(loaded, "   ")
    assert out["intent"] == {"name": None, "confidence": 0.0}
    assert out["intent_ranking"] == []


def test_untrained_component_leaves_messages_alone(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    storage = LocalModelStorage(tmp_path / "s")
    component = LinearIntentClassifier.load({}, storage, Resource("never_trained"), _context())
    assert component.model is None
    assert "intent" not in _parse(component, "ciao")
