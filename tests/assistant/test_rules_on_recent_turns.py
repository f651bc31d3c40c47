"""scripts/rasa_server.py makes the RulePolicy read only a conversation's recent turns: on the trained model,
every prediction along long conversations of every intent (confident, unsure, not understood) must be the
one Rasa's own RulePolicy makes on the whole session."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from tests.support import rasa_launcher

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "concilia.tar.gz"


@pytest.fixture(scope="module")
def policy_and_domain() -> tuple[Any, Any]:
    if not MODEL.exists():
        pytest.skip("no trained model: `make train`")
    from rasa.core.agent import Agent
    from rasa.core.policies.rule_policy import RulePolicy

    agent = Agent.load(str(MODEL))
    nodes = agent.processor.graph_runner._instantiated_nodes  # type: ignore[union-attr]
    components = [getattr(node, "_component", None) for node in nodes.values()]
    policies = [c for c in components if isinstance(c, RulePolicy)]
    assert len(policies) == 1
    return policies[0], agent.domain


def _said(tracker: Any, intent: str, confidence: float) -> None:
    from rasa.shared.core.events import UserUttered

    parsed = {"name": intent, "confidence": confidence}
    text = f"messaggio {intent}"
    data = {"intent": parsed, "intent_ranking": [parsed], "entities": [], "text": text}
    tracker.update(UserUttered(text, intent=parsed, parse_data=data))


def test_long_conversations_get_rasas_own_predictions(policy_and_domain: tuple[Any, Any]) -> None:
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.events import ActionExecuted, SessionStarted
    from rasa.shared.core.trackers import DialogueStateTracker

    policy, domain = policy_and_domain
    stock = RulePolicy._prediction_states
    rule_only = policy._get_rule_only_data()
    intents = [i for i in domain.intents if not i.startswith("session_start") and i != "restart"]
    rng = random.Random(9)
    compared = 0
    try:
        rasa_launcher().rules_on_recent_turns()
        patched = RulePolicy._prediction_states
        assert patched is not stock
        for conversation in range(3):
            tracker = DialogueStateTracker.from_events(
                f"c{conversation}",
                [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")],
                slots=domain.slots,
            )
            for _ in range(60):
                _said(tracker, rng.choice(intents), rng.choice([0.95, 0.6, 0.25]))
                for _ in range(3):  # the answer, then listen (or whatever the rules say)
                    RulePolicy._prediction_states = stock  # type: ignore[method-assign]
                    want = policy.predict_action_probabilities(tracker, domain, rule_only_data=rule_only)
                    RulePolicy._prediction_states = patched  # type: ignore[method-assign]
                    got = policy.predict_action_probabilities(tracker, domain, rule_only_data=rule_only)
                    assert got.probabilities == want.probabilities
                    assert got.events == want.events and got.optional_events == want.optional_events
                    compared += 1
                    action = domain.action_names_or_texts[want.max_confidence_index]
                    tracker.update(ActionExecuted(action))
                    if action == "action_listen":
                        break
        assert policy.__dict__.get("_recent_turns", 0) > 0  # the window was in use
    finally:
        RulePolicy._prediction_states = stock  # type: ignore[method-assign]
    assert compared >= 3 * 60 * 2
