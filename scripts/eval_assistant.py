"""Measure the whole assistant — Rasa's model, the custom actions and the meta they send — on data it
was never trained on.

Run with the Rasa environment (Python 3.10), from the project's root:
    .venv-rasa/bin/python scripts/eval_assistant.py [--model M] [--out results/assistant.json]

It starts the action server of this checkout (``rasa run actions``) on a free port, loads the model in
an Agent that calls it, and sends every message as the first message of a new conversation. What counts
is what a person would get: the reply's ``meta`` (topic, clarify, referral, handoff, fallback).

Data sets (each message labelled with what a helpful answer is):
  heldout   tests/nlu/heldout.yml: written apart from the training data (labels: intents)
  real      tests/nlu/real.yml: real messages copied from public pages (labels: topic, referral:<id>, ...)
  xsid      ../shared/external/xsid-0.7-it.valid.conll: everyday assistant commands, all out of scope
  negatives tests/nlu/negatives_kept.txt: the kept part of the general-sentences pool, all out of scope

For each set, overall and by length band (up to 5 words, 6-15, over 15):
  topic_accuracy      messages whose label is a topic: the reply's topic is that topic
  confidently_wrong   the reply names a topic that is not the right one (none is right for
                      out-of-scope, referral, person and privacy labels), over every message whose
                      right topic is known (not the held-out follow-ups and small talk, labelled by
                      intent only: their intent is checked instead)
  clarified           all messages: the reply asks which topic the person means (meta.clarify)
  rejection           out-of-scope labels: no topic, no clarification, no services, no handoff
  referral_accuracy   referral labels: the reply is that referral
  human / privacy     request_human labels get a handoff; privacy labels the privacy answer
The report (JSON) lists every error; ``--markdown`` writes a short table as well.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BANDS = (("1-5", 0, 5), ("6-15", 6, 15), (">15", 16, 10_000))
HUMAN, PRIVACY, OOS = "request_human", "privacy", "out_of_scope"
# heldout intents -> topic ids (the same table the actions use; copied here to keep this script
# independent of the checkout it measures, which may be an older one)
INTENT_TOPIC = {
    "ask_summer_camp": "school_closure",
    "ask_holiday_camp": "school_closure",
    "ask_after_school": "school_closure",
    "ask_pre_post_school": "school_closure",
    "ask_school_calendar": "school_closure",
    "ask_nursery": "evening_nursery",
    "ask_caregiver": "caregiver_support",
    "ask_time_saving": "time_policies",
    "ask_welfare_employee": "company_welfare",
    "ask_welfare_join": "company_welfare",
    "ask_project_info": "project_info",
}


# ---------------------------------------------------------------- data sets


def words(text: str) -> int:
    return len(text.split())


def band(text: str) -> str:
    n = words(text)
    return next(name for name, lo, hi in BANDS if lo <= n <= hi)


def read_heldout(path: Path) -> list[dict[str, Any]]:
    from rasa.shared.nlu.training_data.loading import load_data

    out = []
    for ex in load_data(str(path)).intent_examples:
        intent = ex.get("intent")
        label = INTENT_TOPIC.get(intent) or (
            intent if intent in (HUMAN, PRIVACY, OOS) else f"intent:{intent}"
        )
        ents = ex.get("entities") or []
        town = next((e["value"] for e in ents if e["entity"] == "town"), None)
        territory = next((e["value"] for e in ents if e["entity"] == "territory"), None)
        out.append({"text": ex.get("text"), "label": label, "town": town, "territory": territory})
    return out


def read_real(path: Path) -> list[dict[str, Any]]:
    import yaml

    data = yaml.safe_load(path.read_text("utf-8")) or {}
    return [
        {
            "text": str(m["text"]).strip(),
            "label": str(m["label"]),
            "alt": m.get("alt"),
            "town": m.get("town"),
            "source": m.get("source"),
        }
        for m in data.get("messages") or []
    ]


def read_lines(path: Path) -> list[dict[str, Any]]:
    lines = [ln.strip() for ln in path.read_text("utf-8").splitlines()]
    return [{"text": ln, "label": OOS} for ln in lines if ln and not ln.startswith("#")]


def read_xsid(path: Path) -> list[dict[str, Any]]:
    return [
        {"text": ln[len("# text =") :].strip(), "label": OOS}
        for ln in path.read_text("utf-8").splitlines()
        if ln.startswith("# text =")
    ]


# ---------------------------------------------------------------- judging one reply


def outcome(meta: dict[str, Any] | None) -> str:
    """What the person got, in one word: topic:<id>, clarify, referral:<id>, handoff, rejected, other."""
    meta = meta or {}
    if meta.get("clarify"):
        return "clarify"
    if meta.get("referral"):
        return f"referral:{meta['referral']}"
    if meta.get("topic"):
        return f"topic:{meta['topic']}"
    if meta.get("handoff"):
        return "handoff"
    if meta.get("service_ids"):
        return "services"
    if meta.get("fallback") or meta.get("intent") in (OOS, "nlu_fallback"):
        return "rejected"
    return "other"


def judge(item: dict[str, Any], meta: dict[str, Any] | None) -> dict[str, Any]:
    meta = meta or {}
    label, alt = item["label"], item.get("alt")
    got = outcome(meta)
    gold_topic = label if ":" not in label and label not in (HUMAN, PRIVACY, OOS) else None
    topic = meta.get("topic") if got.startswith("topic:") else None
    right = {label} | ({alt} if alt else set())
    return {
        "is_topic": gold_topic is not None,
        "topic_right": gold_topic is not None and topic in right,
        "confidently_wrong": topic is not None and topic not in right,
        "clarified": got == "clarify",
        "rejected": got in ("rejected", "other") or got.startswith("referral:"),
        "referral_right": label.startswith("referral:") and got == label,
        "referred": got.startswith("referral:"),
        "handoff": bool(meta.get("handoff")),
        "privacy": meta.get("intent") == PRIVACY,
        "intent_right": label.startswith("intent:") and meta.get("intent") == label[len("intent:") :],
        # None when the message names no town (or territory) to check
        "town_right": None if not item.get("town") else meta.get("comune") == item["town"],
        "territory_right": None if not item.get("territory") else meta.get("territory") == item["territory"],
    }


def rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def part(sel: list[dict[str, Any]]) -> dict[str, Any]:
        topic_rows = [r for r in sel if r["j"]["is_topic"]]
        oos = [r for r in sel if r["label"] == OOS]
        refs = [r for r in sel if r["label"].startswith("referral:")]
        human = [r for r in sel if r["label"] == HUMAN]
        privacy = [r for r in sel if r["label"] == PRIVACY]
        other = [r for r in sel if r["label"].startswith("intent:")]
        judged = [r for r in sel if not r["label"].startswith("intent:")]
        towns = [r for r in sel if r["j"]["town_right"] is not None]
        terrs = [r for r in sel if r["j"]["territory_right"] is not None]
        in_scope = [r for r in sel if r["label"] not in (HUMAN, OOS)]
        return {
            "n": len(sel),
            "topic_n": len(topic_rows),
            "topic_accuracy": rate(sum(r["j"]["topic_right"] for r in topic_rows), len(topic_rows)),
            # over the messages whose right topic is known: not the held-out follow-ups, small talk and
            # bare towns labelled by intent only ("e quanto costa?" may rightly name the topic in talk)
            "judged_n": len(judged),
            "confidently_wrong": rate(sum(r["j"]["confidently_wrong"] for r in judged), len(judged)),
            "confidently_wrong_on_topics": rate(
                sum(r["j"]["confidently_wrong"] for r in topic_rows), len(topic_rows)
            ),
            "clarified": rate(sum(r["j"]["clarified"] for r in sel), len(sel)),
            "oos_n": len(oos),
            "rejection": rate(sum(r["j"]["rejected"] for r in oos), len(oos)),
            "referral_n": len(refs),
            "referral_accuracy": rate(sum(r["j"]["referral_right"] for r in refs), len(refs)),
            "referred_any": rate(sum(r["j"]["referred"] for r in sel), len(sel)),
            "human_n": len(human),
            "human_handoff": rate(sum(r["j"]["handoff"] for r in human), len(human)),
            "privacy_n": len(privacy),
            "privacy_answered": rate(sum(r["j"]["privacy"] for r in privacy), len(privacy)),
            "town_n": len(towns),
            "town_accuracy": rate(sum(bool(r["j"]["town_right"]) for r in towns), len(towns)),
            "territory_n": len(terrs),
            "territory_accuracy": rate(sum(bool(r["j"]["territory_right"]) for r in terrs), len(terrs)),
            "false_handoff": rate(sum(r["j"]["handoff"] for r in in_scope), len(in_scope)),
            "other_intents_n": len(other),
            "other_intent_accuracy": rate(sum(r["j"]["intent_right"] for r in other), len(other)),
        }

    out = part(rows)
    out["by_length"] = {name: part([r for r in rows if r["band"] == name]) for name, _, _ in BANDS}
    out["outcomes"] = dict(Counter(r["got"] for r in rows).most_common())
    return out


def is_error(row: dict[str, Any]) -> bool:
    j = row["j"]
    if j["is_topic"]:
        return not j["topic_right"]
    if row["label"] == OOS:
        return not j["rejected"]
    if row["label"].startswith("referral:"):
        return not j["referral_right"]
    if row["label"] == HUMAN:
        return not j["handoff"]
    if row["label"] == PRIVACY:
        return not j["privacy"]
    return not j["intent_right"]


# ---------------------------------------------------------------- running the assistant


def quiet() -> None:
    """Rasa turns its debug logging back on while it loads a model."""
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.disable(logging.WARNING)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ActionServer:
    """``rasa run actions`` for the checkout at ``root``, on a free port, stopped on exit."""

    def __init__(self, root: Path, log: Path) -> None:
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=str(root))
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("w")
        rasa = Path(sys.executable).parent / "rasa"
        cmd = [str(rasa), "run", "actions", "--actions", "actions", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def wait(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the action server stopped (exit {self.proc.returncode}): see {self._log.name}"
                )
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2).read()
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the action server did not answer in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def turn_meta(messages: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    meta = None
    for m in messages or []:
        custom = m.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("meta"), dict):
            meta = custom["meta"]
    return meta


async def run_set(
    agent: Any, items: list[dict[str, Any]], concurrency: int = 1
) -> tuple[list[dict[str, Any]], list[float]]:
    """Each item as the first message of its own conversation, ``concurrency`` conversations at once
    (the times per message are the person's wait only with ``concurrency=1``)."""
    gate = asyncio.Semaphore(concurrency)
    times: list[float] = []

    async def one(item: dict[str, Any]) -> dict[str, Any]:
        async with gate:
            t0 = time.perf_counter()
            messages = await agent.handle_text(item["text"], sender_id=f"eval-{uuid.uuid4().hex}")
            times.append((time.perf_counter() - t0) * 1000)
        meta = turn_meta(messages)
        text = " ".join(m.get("text") or "" for m in messages or [])
        return {
            **item,
            "band": band(item["text"]),
            "got": outcome(meta),
            "j": judge(item, meta),
            "reply": text[:300],
            "intent": (meta or {}).get("intent"),
            "confidence": (meta or {}).get("confidence"),
        }

    rows = await asyncio.gather(*(one(item) for item in items))
    return list(rows), times


def datasets(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    sets: dict[str, list[dict[str, Any]]] = {}
    loaders = (
        ("heldout", args.heldout, read_heldout),
        ("real", args.real, read_real),
        ("xsid", args.xsid, read_xsid),
        ("negatives", args.negatives, read_lines),
    )
    for name, path, reader in loaders:
        if path and Path(path).exists():
            sets[name] = reader(Path(path))
            if args.limit:
                sets[name] = sets[name][: args.limit]
        else:
            print(f"(no {name} set at {path}: skipped)", file=sys.stderr)
    return sets


async def evaluate(
    model: str, root: Path, sets: dict[str, list[dict[str, Any]]], logdir: Path, concurrency: int = 4
) -> dict[str, Any]:
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    # the model's custom components (rasa_addons/) come from the checkout being measured
    sys.path.insert(0, str(root))
    server = ActionServer(root, logdir / "eval-actions.log")
    try:
        server.wait()
        agent = Agent.load(model, action_endpoint=EndpointConfig(url=server.url))
        quiet()
        report: dict[str, Any] = {"model": model, "code": str(root), "concurrency": concurrency, "sets": {}}
        all_times: list[float] = []
        for name, items in sets.items():
            rows, times = await run_set(agent, items, concurrency)
            all_times += times
            summary = summarise(rows)
            summary["median_ms"] = round(statistics.median(times), 1) if times else None
            summary["errors"] = [
                {k: r[k] for k in ("text", "label", "got", "intent", "confidence", "reply", "band")}
                for r in rows
                if is_error(r)
            ]
            summary["clarifications"] = [
                {k: r[k] for k in ("text", "label", "reply")} for r in rows if r["got"] == "clarify"
            ]
            report["sets"][name] = summary
        report["median_ms"] = round(statistics.median(all_times), 1) if all_times else None
        return report
    finally:
        server.stop()


HEADLINE = (
    ("topic_accuracy", "topic"),
    ("confidently_wrong", "conf. wrong"),
    ("clarified", "clarified"),
    ("rejection", "OOS rejected"),
    ("referral_accuracy", "referral"),
    ("human_handoff", "person"),
    ("privacy_answered", "privacy"),
)


def markdown(report: dict[str, Any], title: str = "") -> str:
    lines = [f"### {title or report['model']}", ""]
    lines.append("| set | band | n | " + " | ".join(h for _, h in HEADLINE) + " |")
    lines.append("|---|---|---|" + "---|" * len(HEADLINE))
    for name, s in report["sets"].items():
        for label, part in [("all", s)] + list(s["by_length"].items()):
            if not part["n"]:
                continue
            cells = " | ".join("" if part[k] is None else f"{part[k]:.3f}" for k, _ in HEADLINE)
            lines.append(f"| {name} | {label} | {part['n']} | {cells} |")
    lines.append("")
    lines.append(
        f"Median time per message (Rasa + actions, in process, {report.get('concurrency', 1)} at once): "
        f"{report['median_ms']} ms"
    )
    return "\n".join(lines)


def print_summary(report: dict[str, Any]) -> None:
    print(markdown(report))
    for name, s in report["sets"].items():
        print(f"{name}: outcomes {s['outcomes']}")


def main() -> int:
    logging.disable(logging.WARNING)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "models" / "concilia.tar.gz"))
    ap.add_argument("--root", default=str(ROOT), help="the checkout whose actions answer (default: this one)")
    ap.add_argument("--heldout", default=str(ROOT / "tests" / "nlu" / "heldout.yml"))
    ap.add_argument("--real", default=str(ROOT / "tests" / "nlu" / "real.yml"))
    ap.add_argument("--xsid", default=str(ROOT.parent / "shared" / "external" / "xsid-0.7-it.valid.conll"))
    ap.add_argument("--negatives", default=str(ROOT / "tests" / "nlu" / "negatives_kept.txt"))
    ap.add_argument("--only", nargs="*", help="only these sets (heldout real xsid negatives)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many messages per set")
    ap.add_argument("--concurrency", type=int, default=4, help="conversations at once (1: true wait times)")
    ap.add_argument("--out", default=str(ROOT / "results" / "assistant.json"))
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()
    sets = datasets(args)
    if args.only:
        sets = {k: v for k, v in sets.items() if k in args.only}
    out = Path(args.out)
    report = asyncio.run(evaluate(args.model, Path(args.root).resolve(), sets, out.parent, args.concurrency))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")
    print_summary(report)
    if args.markdown:
        Path(args.markdown).write_text(markdown(report) + "\n", "utf-8")
    print(f"report with every error: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
