"""`syncsim probe`: the conformance suite live, against syncsim serve as it is and with one
rule broken on purpose (the whole mutation test is `make conformance`, run by CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SECRET, Served

from simulator.live import probe
from simulator.verdict import Verdict

SUITE = Path(__file__).resolve().parents[2] / "scenarios" / "conformance"


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCSIM_JWT_SECRET", SECRET)


@pytest.mark.parametrize("rule", ["broadcast", "auth"])
def test_a_probe_passes_against_serve_and_fails_against_its_rule_broken(
    rule: str, tmp_path: Path, secret: None
) -> None:
    path = SUITE / f"{rule}.yaml"
    clean = probe.mutation_case(path, tmp_path / "clean", "seq", None)
    assert clean.holds and clean.verdict is Verdict.PASS, clean.violations
    broken = probe.mutation_case(path, tmp_path / "broken", "seq", rule)
    assert broken.holds and broken.verdict is not Verdict.PASS
    assert broken.violations[rule] >= 1


def test_each_probe_runs_under_a_user_of_its_own(secret: None) -> None:
    from simulator.scenario.loader import load

    first = probe.own_user(load(SUITE / "welcome.yaml"), "welcome")
    second = probe.own_user(load(SUITE / "welcome.yaml"), "welcome")
    users = {d.user for d in first.scenario.devices}
    assert len(users) == 1 and users != {d.user for d in second.scenario.devices}
    assert next(iter(users)).startswith("syncsim-probe-welcome-")


def test_the_probe_command_against_an_endpoint(seq_served: Served, tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "simulator.cli", "probe", seq_served.ws_url]
    command += ["--rest", seq_served.rest_url, "--only", "welcome", "--only", "idempotent"]
    done = subprocess.run(
        [*command, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SYNCSIM_JWT_SECRET": SECRET},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "probe: 2 hold, 0 do not" in done.stdout
    table = (out / "probe.md").read_text()
    assert "| idempotent | follows the protocol | pass | 0 | - | holds |" in table
    assert (out / "welcome" / "report.html").is_file()


def test_probe_needs_an_endpoint_or_the_mutation_test(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "probe"],
        capture_output=True,
        text=True,
        env={**os.environ, "SYNCSIM_JWT_SECRET": SECRET},
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "syncsim: probe: give an ENDPOINT, or --mutation (which starts its own servers)"
    )
