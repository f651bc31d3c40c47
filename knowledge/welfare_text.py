"""The company-welfare rules of the knowledge base (``data/welfare.yml``) as texts a person reads, one per
rule: the thresholds, the benefits, the productivity bonus and the territorial agreement, each with its
legal reference and the file's note on checking one's own case. The partners' console inserts them into
an operator's reply in one click; the standard library only, as the rest of ``knowledge``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from knowledge.model import KnowledgeBase

TOPIC = "company_welfare"  # the topic (data/topics.yml) these rules answer
UNSURE = "Da verificare: le fonti non sono d'accordo su questo punto."


@dataclass(frozen=True)
class WelfareRule:
    id: str
    title: str
    text: str


def _card(rule: Mapping[str, Any], body: str, note: str | None) -> str:
    lines = [str(rule.get("title", "")).strip(), body.strip()]
    if rule.get("reference"):
        lines.append(f"Riferimento: {rule['reference']}.")
    if rule.get("verify"):
        lines.append(UNSURE)
    if note:
        lines.append(str(note).strip())
    return "\n".join(line for line in lines if line)


def welfare_rules(kb: KnowledgeBase) -> list[WelfareRule]:
    """Every rule of the welfare file that has a title and a text, in the file's order; the ids are the
    file's (the productivity bonus and the territorial agreement, which have none, get theirs)."""
    welfare = kb.welfare or {}
    note = welfare.get("verify_note")
    rules = []
    for group in ("thresholds", "benefits"):
        for rule in welfare.get(group) or []:
            if isinstance(rule, Mapping) and rule.get("id") and rule.get("title") and rule.get("text"):
                rules.append(
                    WelfareRule(str(rule["id"]), str(rule["title"]), _card(rule, rule["text"], note))
                )
    bonus = welfare.get("productivity_bonus")
    if isinstance(bonus, Mapping) and bonus.get("title") and bonus.get("text"):
        rules.append(
            WelfareRule("premio-di-risultato", str(bonus["title"]), _card(bonus, bonus["text"], note))
        )
    agreement = welfare.get("territorial_agreement")
    if isinstance(agreement, Mapping) and agreement.get("title"):
        steps = "\n".join(f"{n}. {step}" for n, step in enumerate(agreement.get("steps") or [], 1))
        body = f"Chi può aderire: {str(agreement.get('who_can_join', '')).strip()}"
        if steps:
            body += f"\nCome si fa:\n{steps}"
        rules.append(
            WelfareRule("accordo-territoriale", str(agreement["title"]), _card(agreement, body, note))
        )
    return rules
