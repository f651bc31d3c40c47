"""scripts/find-python.sh where no Python 3.10 is installed: it offers the ways that work and, when asked,
installs one with uv. A stand-in `uv` on PATH records its arguments; a stand-in interpreter answers as
Python 3.10 once `uv python install 3.10` has "installed" it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "find-python.sh"

FAKE_UV = """#!/bin/sh
echo "$*" >> "$FAKE_UV_LOG"
case "$1 $2" in
  "python install") mkdir -p "$(dirname "$FAKE_PY")" && cp "$FAKE_PY_SOURCE" "$FAKE_PY" && exit 0 ;;
  "python find") [ -x "$FAKE_PY" ] && echo "$FAKE_PY" && exit 0; exit 2 ;;
esac
exit 1
"""
# answers the script's version check with success and prints itself as sys.executable
FAKE_PYTHON = """#!/bin/sh
case "$2" in *print*) echo "$0" ;; esac
exit 0
"""


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, str]:
    """A machine without Python 3.10: no pyenv, nothing on PATH but the system's tools and a fake uv."""
    bin_dir = tmp_path / "bin"
    _executable(bin_dir / "uv", FAKE_UV)
    source = _executable(tmp_path / "stand-in-python", FAKE_PYTHON)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYENV", "PYTHON", "CONCILIA", "UV_"))}
    env.pop("XDG_DATA_HOME", None)
    env.update(
        PATH=f"{bin_dir}:/usr/bin:/bin",
        HOME=str(tmp_path / "home"),
        CI="1",
        CONCILIA_GATEWAY_VENV=str(tmp_path / "no-venv"),
        FAKE_UV_LOG=str(tmp_path / "uv.log"),
        FAKE_PY=str(tmp_path / "uv-pythons" / "cpython-3.10" / "bin" / "python3.10"),
        FAKE_PY_SOURCE=str(source),
    )
    return env


def _run(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), "rasa"],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _uv_calls(env: dict[str, str]) -> list[str]:
    log = Path(env["FAKE_UV_LOG"])
    return log.read_text().splitlines() if log.exists() else []


def test_the_machine_has_no_python_310_of_its_own(machine: dict[str, str]) -> None:
    assert not Path("/usr/bin/python3.10").exists() and not Path("/usr/local/bin/python3.10").exists()
    found = subprocess.run(["bash", "-c", "command -v python3.10"], env=machine, capture_output=True)
    assert found.returncode != 0


def test_without_being_asked_it_offers_uv_and_docker_and_installs_nothing(machine: dict[str, str]) -> None:
    result = _run(machine)
    assert result.returncode == 1 and result.stdout == ""
    assert "make setup PYTHON310=uv" in result.stderr and "CONCILIA_USE_UV=1" in result.stderr
    assert "docker compose -f deploy/docker-compose.yml up -d --build" in result.stderr
    assert "python install 3.10" not in _uv_calls(machine)


@pytest.mark.parametrize("ask", [{"CONCILIA_USE_UV": "1"}, {"PYTHON310": "uv"}])
def test_when_asked_it_installs_python_310_with_uv_and_prints_it(
    machine: dict[str, str], ask: dict[str, str]
) -> None:
    result = _run(machine, **ask)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == machine["FAKE_PY"]
    assert "python install 3.10" in _uv_calls(machine)
    assert _uv_calls(machine)[-1] == "python find 3.10"

    # the next run finds the installed one without installing again
    Path(machine["FAKE_UV_LOG"]).unlink()
    again = _run(machine)
    assert again.returncode == 0 and again.stdout.strip() == machine["FAKE_PY"]
    assert _uv_calls(machine) == ["python find 3.10"]


def test_without_uv_and_without_the_gateway_environment_it_says_what_to_run_first(
    machine: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "bin" / "uv").unlink()
    result = _run(machine, CONCILIA_USE_UV="1")
    assert result.returncode == 1 and result.stdout == ""
    assert "make setup" in result.stderr and "does not exist yet" in result.stderr


def test_without_uv_it_installs_uv_from_pypi_into_the_gateway_environment(
    machine: dict[str, str], tmp_path: Path
) -> None:
    uv_source = tmp_path / "bin" / "uv"
    fake_uv = uv_source.read_text()
    uv_source.unlink()
    venv = tmp_path / "venv"
    # a gateway environment whose pip records what it installs and "installs" the stand-in uv
    pip_log = tmp_path / "pip.log"
    _executable(
        venv / "bin" / "python",
        f'#!/bin/sh\necho "$*" >> {pip_log}\ncp {tmp_path / "uv.txt"} {venv / "bin" / "uv"}\n'
        f'chmod +x {venv / "bin" / "uv"}\n',
    )
    (tmp_path / "uv.txt").write_text(fake_uv)
    result = _run(machine, CONCILIA_USE_UV="1", CONCILIA_GATEWAY_VENV=str(venv))
    assert result.returncode == 0, result.stderr
    assert pip_log.read_text().split() == ["-m", "pip", "install", "--disable-pip-version-check", "-q", "uv"]
    assert "python install 3.10" in _uv_calls(machine)
    assert result.stdout.strip() == machine["FAKE_PY"]
