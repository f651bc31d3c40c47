"""The load benchmark's report: bench/out/load.json, load.md and the table it prints."""

from __future__ import annotations

import json
from typing import Any

from bench import OUT


def write_reports(report: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "load.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (OUT / "load.md").write_text(markdown(report))


def _fmt(v: Any) -> str:
    return "–" if v is None else str(v)


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Load benchmark",
        "",
        f"Run {r['date']} with `{r['command']}` on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
        f"load average at start {' '.join(m['loadavg_at_start'])}. Timing proxy: "
        f"{'yes' if r['proxy'] else 'no'}; Rasa started with `{r.get('rasa_launcher')}`. "
        "Other work on the machine took the share of CPU shown as 'others' below: "
        "the numbers are pessimistic when it is high.",
        "",
        "## Start-up",
        "",
        "| action server ready | Rasa model loaded | gateway ready after Rasa | start to ready |",
        "|---|---|---|---|",
        "| {action_server_ready_s} s | {rasa_model_loaded_s} s | {gateway_ready_after_rasa_s} s | "
        "{start_to_ready_s} s |".format(**r["startup"]),
        "",
        "## Through the gateway (fake Telegram -> gateway -> Rasa -> actions)",
        "",
        "| phase | offered msg/s | throughput | p50 ms | p95 ms | p99 ms | lost | dup | errors "
        "| CPU busy (others) | result |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in r["gateway_phases"]:
        errors = s["send_errors"] + s["unavailable_replies"] + s["rate_limited_replies"]
        lines.append(
            f"| {name} | {_fmt(s.get('offered_rate'))} | {_fmt(s.get('throughput'))} | {_fmt(s['p50_ms'])} "
            f"| {_fmt(s['p95_ms'])} | {_fmt(s['p99_ms'])} | {s['lost']} | {s['duplicated']} | {errors} "
            f"| {_fmt(s.get('machine_cpu_busy'))} ({_fmt(s.get('machine_cpu_busy_by_others'))}) "
            f"| {'pass' if s['passed'] else 'FAIL'} |"
        )
    lines += [
        "",
        f"Highest rate sustained through the gateway (p99 < 1 s, no error): "
        f"**{_fmt(r.get('ceiling_gateway'))} msg/s**.",
        "",
    ]
    chosen = [("steady phase", r["steady"])]
    best = next((ph for name, ph in reversed(r["gateway_phases"]) if ph.get("passed")), None)
    if best is not None and best is not r["steady"]:
        chosen.append((f"highest sustained rate, {best['rate']:g} msg/s", best))
    for title, phase in chosen:
        b = phase.get("breakdown")
        if b:
            lines += [
                f"## Where the time goes ({title}, per message)",
                "",
                "| part | p50 ms | p95 ms | mean ms |",
                "|---|---|---|---|",
            ]
            for key, label in (
                ("end_to_end", "end to end"),
                ("gateway_in", "gateway in (update queued -> Rasa call starts)"),
                ("rasa_total", "Rasa call (with actions)"),
                ("rasa_without_actions", "Rasa without actions"),
                ("actions", "action server calls"),
                ("gateway_out", "gateway out (Rasa answered -> reply at Telegram)"),
                ("gateway_total", "gateway and Telegram round trips (in + out)"),
            ):
                v = b.get(key) or {}
                p50, p95, mean = (_fmt(v.get(k)) for k in ("p50_ms", "p95_ms", "mean_ms"))
                lines.append(f"| {label} | {p50} | {p95} | {mean} |")
            lines += [
                "",
                f"{b['messages_matched']} messages matched to their Rasa call "
                f"({b['messages_not_matched']} not matched); "
                f"{b.get('action_calls_per_message')} action calls per message, "
                f"request body {b.get('action_request_kb_mean')} KB on average "
                "(the whole tracker; the domain too unless enable_selective_domain is set).",
                "",
            ]
        tc = phase.get("telegram_calls", {})
        lines += [
            f"CPU per message ({title}, ms of CPU time): "
            + ", ".join(f"{k} {v}" for k, v in phase.get("cpu_ms_per_message", {}).items())
            + f". Bot API calls: {tc.get('calls')}; busiest second: {tc.get('max_chat_calls_in_one_second')} "
            "calls with a chat_id.",
            "",
        ]
    for key, title, ceiling in (
        ("rasa_direct", "Rasa alone (REST channel, same messages, same machine)", "ceiling_rasa"),
        (
            "web_direct",
            "Gateway without Telegram (web chat API -> router, store -> Rasa -> actions)",
            "ceiling_web",
        ),
    ):
        if not r.get(key):
            continue
        lines += [
            f"## {title}",
            "",
            "| offered msg/s | throughput | p50 ms | p95 ms | p99 ms | errors | CPU ms per message "
            "| result |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in r[key]:
            cpu = ", ".join(f"{k} {v}" for k, v in s.get("cpu_ms_per_message", {}).items())
            lines.append(
                f"| {s['rate']} | {s['throughput']} | {_fmt(s['p50_ms'])} | {_fmt(s['p95_ms'])} "
                f"| {_fmt(s['p99_ms'])} | {s['errors']} | {cpu} | {'pass' if s['passed'] else 'FAIL'} |"
            )
        lines += ["", f"Highest rate sustained: **{_fmt(r.get(ceiling))} msg/s**.", ""]
    lines += ["## Peak memory (VmHWM)", "", "| process | MB |", "|---|---|"]
    for k, v in r["peak_rss_mb"].items():
        lines.append(f"| {k} | {_fmt(v)} |")
    lines += ["", "## Training", ""]
    t = r.get("training")
    lines.append(
        f"`rasa train` (full, forced): {t['seconds']} s (exit {t['exit_code']})."
        if t
        else "Not measured in this run (use `--train`)."
    )
    prof = r.get("profile")
    if prof:
        lines += [
            "",
            f"## Profile (py-spy, {prof['sampling_hz']} Hz, {prof['seconds']} s at {prof['rate']} msg/s)",
            "",
        ]
        for name in ("rasa", "gateway", "actions"):
            p = prof.get(name) or {}
            if "categories_pct_of_busy" not in p:
                lines.append(f"{name}: no profile ({p.get('error', 'py-spy failed')})")
                continue
            lines += [
                f"**{name}** ({p['busy_samples']} busy samples, {p['idle_samples']} idle ones left out): "
                "share of the busy samples that pass through each part (categories overlap):",
                "",
            ]
            lines += [f"- {label}: {pct} %" for label, pct in p["categories_pct_of_busy"].items()]
            lines += ["", "Heaviest frames (inclusive):", ""]
            lines += [f"- {pct} % `{frame}`" for frame, pct in p["top_inclusive_pct"][:12]]
            lines.append("")
    lines += [
        "",
        "Targets (issue 5): 30 msg/s with p99 < 500 ms, ceiling ≥ 60 msg/s, gateway overhead < 5 ms at "
        "the median, no lost or duplicated reply, gateway < 150 MB, training < 3 min, ready within 60 s.",
        "",
    ]
    return "\n".join(lines)


def print_table(r: dict[str, Any]) -> None:
    print()
    print(
        f"{'phase':<14}{'rate':>6}{'thru':>7}{'p50':>8}{'p95':>8}{'p99':>8}"
        f"{'lost':>6}{'dup':>5}{'err':>5}  result"
    )
    for name, s in r["gateway_phases"]:
        err = s["send_errors"] + s["unavailable_replies"] + s["rate_limited_replies"]
        print(
            f"{name:<14}{s.get('offered_rate') or 0:>6}{s.get('throughput') or 0:>7}{_fmt(s['p50_ms']):>8}"
            f"{_fmt(s['p95_ms']):>8}{_fmt(s['p99_ms']):>8}{s['lost']:>6}{s['duplicated']:>5}{err:>5}  "
            f"{'pass' if s['passed'] else 'FAIL'}"
        )
    for key, label in (("rasa_direct", "rasa alone"), ("web_direct", "web API")):
        for s in r.get(key) or []:
            print(
                f"{label:<14}{s['rate']:>6}{s['throughput']:>7}{_fmt(s['p50_ms']):>8}"
                f"{_fmt(s['p95_ms']):>8}{_fmt(s['p99_ms']):>8}{'':>6}{'':>5}{s['errors']:>5}  "
                f"{'pass' if s['passed'] else 'FAIL'}"
            )
    print(
        f"\nceiling through the gateway: {r.get('ceiling_gateway')} msg/s; "
        f"Rasa alone: {r.get('ceiling_rasa')} msg/s; web chat API: {r.get('ceiling_web')} msg/s"
    )
    print(f"start-up: {r['startup']}")
    print(f"peak RSS MB: {r['peak_rss_mb']}")
    b = r["steady"].get("breakdown")
    if b:
        print(
            "steady breakdown p50 ms: "
            + ", ".join(
                f"{k} {b[k]['p50_ms']}"
                for k in ("end_to_end", "gateway_in", "rasa_total", "actions", "gateway_out", "gateway_total")
                if isinstance(b.get(k), dict)
            )
        )
    print(f"training: {r.get('training')}")
    print(f"\nwritten: {OUT / 'load.json'}, {OUT / 'load.md'}")
