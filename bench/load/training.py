"""How long a full ``rasa train`` takes on this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import ROOT
from harness.stack import (
    RASA_BIN,
)


def time_training(logdir: Path) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix="concilia-train-"))
    cmd = [
        str(RASA_BIN),
        "train",
        "--quiet",
        "--config",
        "config.yml",
        "--domain",
        "nlu/domain.yml",
        "--data",
        "nlu/data",
        "--out",
        str(out),
        "--fixed-model-name",
        "bench",
        "--num-threads",
        "2",
        "--force",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    t = time.monotonic()
    with (logdir / "train.log").open("w") as fh:
        rc = subprocess.run(
            cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=1800
        ).returncode
    seconds = round(time.monotonic() - t, 1)
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "exit_code": rc, "command": " ".join(cmd[1:]).replace(str(out), "<tmp>")}
