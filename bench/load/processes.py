"""The processes under load: the Rasa stack and the gateway (harness/stack.py), wired through the
timing proxy (bench/load/timing_proxy.py) unless ``--no-proxy``."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import ROOT
from harness.stack import (
    RASA_LAUNCHER,
    Gateway,
    Proc,
    RasaStack,
    free_port,
    start,
    start_gateway,
    start_rasa_stack,
    wait_until,
)


@dataclass
class Stack:
    rasa: RasaStack
    gw: Gateway
    proxy: Proc | None
    proxy_url: str | None  # any port of the proxy answers /_proxy/...
    rasa_direct_url: str

    def procs(self) -> dict[str, Proc]:
        out = {
            "gateway": self.gw.process,
            "rasa": self.rasa.rasa,
            "actions": self.rasa.actions,
            "fake_telegram": self.gw.procs[0],
        }
        if self.proxy is not None:
            out["timing_proxy"] = self.proxy
        return out

    def stop(self) -> None:
        self.gw.stop()
        self.rasa.stop()
        if self.proxy is not None:
            self.proxy.stop()


def start_stack(
    logdir: Path, use_proxy: bool, launcher: Path | None = RASA_LAUNCHER
) -> tuple[Stack, dict[str, Any]]:
    action_port, rasa_port = free_port(), free_port()
    proxy = proxy_url = None
    action_endpoint = None
    rasa_url_for_gateway = f"http://127.0.0.1:{rasa_port}"
    if use_proxy:
        p_rasa, p_actions = free_port(), free_port()
        proxy = start(
            "timing-proxy",
            [
                sys.executable,
                str(ROOT / "bench" / "load" / "timing_proxy.py"),
                "--route",
                f"rasa={p_rasa}:http://127.0.0.1:{rasa_port}",
                "--route",
                f"actions={p_actions}:http://127.0.0.1:{action_port}",
            ],
            {**os.environ, "PYTHONPATH": str(ROOT)},
            logdir,
        )
        proxy_url = f"http://127.0.0.1:{p_rasa}"
        wait_until(
            lambda: httpx.get(f"{proxy_url}/_proxy/records", timeout=2).status_code == 200,
            30,
            "the timing proxy",
            [proxy],
        )
        action_endpoint = f"http://127.0.0.1:{p_actions}/webhook"
        rasa_url_for_gateway = proxy_url
    t0 = time.monotonic()
    try:
        rasa = start_rasa_stack(
            logdir,
            action_endpoint=action_endpoint,
            action_port=action_port,
            rasa_port=rasa_port,
            launcher=launcher,
        )
    except BaseException:
        if proxy is not None:
            proxy.stop()
        raise
    t1 = time.monotonic()
    try:
        # one machine plays many people: the web chat's overall limits out of the way (the API key, which
        # phases.direct_load uses, already skips the per-address ones)
        unlimited = {"WEB_MESSAGES_PER_MINUTE": "10000000", "WEB_SESSIONS_PER_HOUR": "10000000"}
        gw = start_gateway(rasa_url_for_gateway, rasa.token, logdir, logdir / "gateway.db", unlimited)
    except BaseException:
        rasa.stop()
        if proxy is not None:
            proxy.stop()
        raise
    t2 = time.monotonic()
    startup = {
        "action_server_ready_s": rasa.ready_seconds.get("actions"),
        "rasa_model_loaded_s": rasa.ready_seconds.get("rasa"),
        "gateway_ready_after_rasa_s": round(t2 - t1, 1),
        "start_to_ready_s": round(t2 - t0, 1),
        "note": "action server and Rasa start together; the gateway starts once Rasa has loaded the model, "
        "as scripts/run.sh does. Set-up and training are not included.",
    }
    return Stack(rasa, gw, proxy, proxy_url, rasa.rasa_url), startup
