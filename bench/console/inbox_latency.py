"""How long the operators' inbox takes to show a new ticket.

    .venv/bin/python bench/console/inbox_latency.py            # 20 tickets
    .venv/bin/python bench/console/inbox_latency.py --reps 5

An operator of the Magentino's partner is signed in, in real headless Chromium, on her queue
(``/console/``), left open. Then, N times: a person asks for someone through the web chat API
(``POST /api/chat``, the gateway's web server, a scripted assistant in place of Rasa); the clock starts
when the gateway's answer ("ti metto in contatto...") arrives, i.e. when the ticket is in the database,
and stops when the page's count of open requests (``#count``, changed by bot/console/static/queue.js)
changes, seen by a MutationObserver in the page (the browser's clock and this script's are the same
machine's). Before each request a random pause of 0-15 s, so the requests fall anywhere in the page's
polling round. Prints the median and the max, and how long the page's fetches take (from the browser's
resource timings): its polls of the queue's version (``/console/coda/versione``) and its fetches of the
page itself when the version changed. Writes bench/out/console_inbox.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import OUT  # noqa: E402
from bench.console.site import API_KEY, CHROMIUM, CHROMIUM_ARGS, HUMAN, human_meta, sign_in, start_site  # noqa: E402

MAGENTINO = "azienda-consortile-magentino"
HUMAN_META = human_meta("school_closure", "magentino", "Magenta")
WATCH = """() => {
  window.__seen = [];
  const count = document.getElementById("count");
  new MutationObserver(() => window.__seen.push([Date.now(), count.textContent]))
    .observe(count, {childList: true, characterData: true, subtree: true});
}"""
POLLS = """() => performance.getEntriesByType("resource")
  .filter(e => e.initiatorType === "fetch")
  .map(e => [e.name.includes("/versione") ? "version" : "page", e.duration])"""


async def run(reps: int, seed: int) -> dict[str, object]:
    from playwright.async_api import async_playwright

    rnd = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        site = await start_site(Path(tmp) / "concilia.db")
        site.assistant.said[HUMAN] = ("Va bene, ti metto in contatto con una persona.", HUMAN_META)
        await site.operator_id(MAGENTINO, "lucia", "Lucia")
        latencies: list[float] = []
        async with async_playwright() as pw, aiohttp.ClientSession() as http:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = await sign_in(browser, site.url, "lucia")
            await page.evaluate(WATCH)
            for n in range(reps):
                await asyncio.sleep(rnd.uniform(0, 15))
                seen = await page.evaluate("() => window.__seen.length")
                async with http.post(
                    f"{site.url}api/chat",
                    json={"user": f"persona-{n}", "text": HUMAN},
                    headers={"Authorization": f"Bearer {API_KEY}"},
                ) as answer:
                    body = await answer.json()
                accepted = time.time() * 1000
                assert "contatto" in body["replies"][0]["text"] or "operator" in json.dumps(body), body
                while await page.evaluate("() => window.__seen.length") == seen:
                    await asyncio.sleep(0.05)
                shown_at, text = await page.evaluate(f"() => window.__seen[{seen}]")
                latencies.append((shown_at - accepted) / 1000)
                print(f"ticket {n + 1}: shown after {latencies[-1]:.2f} s ({text})", flush=True)
            fetches = await page.evaluate(POLLS)
            await browser.close()
        await site.close()
    polls = [d for kind, d in fetches if kind == "version"]
    pages = [d for kind, d in fetches if kind == "page"]
    return {
        "reps": reps,
        "median_s": statistics.median(latencies),
        "max_s": max(latencies),
        "min_s": min(latencies),
        "latencies_s": latencies,
        "poll_ms_median": statistics.median(polls) if polls else None,
        "poll_ms_max": max(polls) if polls else None,
        "polls": len(polls),
        "page_ms_median": statistics.median(pages) if pages else None,
        "page_ms_max": max(pages) if pages else None,
        "pages": len(pages),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    result = asyncio.run(run(args.reps, args.seed))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "console_inbox.json").write_text(json.dumps(result, indent=2))
    print(
        f"\n{result['reps']} tickets: median {result['median_s']:.2f} s, max {result['max_s']:.2f} s, "
        f"min {result['min_s']:.2f} s (the page asks for the queue's version every 2.5 s: queue.js)"
    )
    if result["polls"]:
        print(
            f"one poll of /console/coda/versione: median {result['poll_ms_median']:.0f} ms, "
            f"max {result['poll_ms_max']:.0f} ms, {result['polls']} polls"
        )
    if result["pages"]:
        print(
            f"one fetch of /console/ (version changed): median {result['page_ms_median']:.0f} ms, "
            f"max {result['page_ms_max']:.0f} ms, {result['pages']} fetches"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
