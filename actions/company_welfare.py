"""Company welfare: what employees can get tax-free, and how a small firm joins the territorial
agreement. Rules, thresholds and FAQs come from knowledge/data/welfare.yml."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.context import Request, has_word
from actions.reply import Answer, button
from actions.services import contacts
from knowledge import KnowledgeBase, normalise
from knowledge import italian as fmt
from knowledge.contract import REQUEST_HUMAN_INTENT

TOPIC = "company_welfare"
JOIN_WORDS = ("aderire", "aderiamo", "aderisce", "adesione", "accordo territoriale", "accordo", "aderisco")


def faq_matches(kb: KnowledgeBase, text: str) -> list[dict]:
    """FAQs whose keywords appear in the text, best first."""
    scored = []
    for faq in kb.welfare.get("faqs", []):
        hits = sum(1 for k in faq.get("keywords", []) if has_word(text, [normalise(k)]))
        if hits:
            scored.append((hits, faq))
    scored.sort(key=lambda x: -x[0])
    return [f for _, f in scored]


def thresholds_line(kb: KnowledgeBase) -> str:
    lines = []
    for t in kb.welfare.get("thresholds", []):
        amount = t.get("amount_eur")
        with_children = t.get("amount_with_children_eur")
        years = fmt.join_and([str(y) for y in t.get("years", [])])
        if amount is None:
            continue
        line = f"{t['title']}: fino a {fmt.euro(amount)} l'anno"
        if with_children:
            line += f", {fmt.euro(with_children)} con figli a carico"
        if years:
            line += f" (anni {years}; {t.get('reference', '')})"
        lines.append(line)
    return "\n".join(lines)


def contact_line(kb: KnowledgeBase, req: Request) -> tuple[str, list[str]]:
    """Whom a firm should contact: the welfare consulting service of its territory, else the partner
    that follows the territorial agreement."""
    if req.territory:
        found = kb.find_services(topic=TOPIC, kinds=["welfare_consulting"], territory=req.territory)
        if found:
            s = found[0]
            return f"A chi rivolgerti: {s.title} — {contacts(s.contacts)}.", [s.id]
    partner_id = (kb.welfare.get("territorial_agreement") or {}).get("contact_partner")
    partner = kb.partners.get(partner_id) if partner_id else None
    if partner:
        return f"A chi rivolgerti: {partner.name} — {contacts(partner.contacts)}.", []
    return "", []


def answer(kb: KnowledgeBase, req: Request) -> Answer:
    join = "welfare_join" in req.kinds or has_word(req.text, JOIN_WORDS)
    faqs = faq_matches(kb, req.text)
    parts: list[str] = []
    agreement = kb.welfare.get("territorial_agreement") or {}
    used = set()
    for faq in faqs[:2]:
        parts.append(f"{faq['q']}\n{faq['a'].strip()}")
        used.add(faq["q"])
    if not faqs and "welfare_rules" in req.kinds:
        benefits = kb.welfare.get("benefits", [])
        parts.append(
            "Cosa può dare l'azienda senza tasse:\n"
            + "\n".join(f"- {b['title']} ({b.get('reference', '')})" for b in benefits if not b.get("verify"))
        )
    if join and not any("aderi" in normalise(q) for q in used):
        steps = "\n".join(f"{i}. {s}" for i, s in enumerate(agreement.get("steps", []), 1))
        parts.append(
            f"{agreement.get('title', 'Accordo territoriale')} ({agreement.get('reference', '')}).\n"
            f"Chi può aderire: {str(agreement.get('who_can_join', '')).strip()}\nCome si fa:\n{steps}"
        )
    parts.append("Le soglie:\n" + thresholds_line(kb))
    line, ids = contact_line(kb, req)
    if line:
        parts.append(line)
    note = kb.welfare.get("verify_note")
    if note:
        parts.append(note)
    buttons = [
        button("Come aderire all'accordo", "ask_welfare_join"),
        button("Parla con una persona", REQUEST_HUMAN_INTENT),
    ]
    return Answer(
        text="\n\n".join(parts),
        buttons=buttons,
        topic=TOPIC,
        service_ids=ids,
        events=[
            SlotSet("topic", TOPIC),
            SlotSet("kind", ",".join(req.kinds)),
            SlotSet("comune", req.comune),
            SlotSet("territory", req.territory),
            SlotSet("service_ids", ids),
            SlotSet("pending", None),
        ],
    )
