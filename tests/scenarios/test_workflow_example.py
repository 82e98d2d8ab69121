"""examples/github-actions-syncsim.yml does what it says: its gate command, run as written on
a scenarios/ folder, gives the same verdicts as `syncsim e2e` (one meaning of the gate), and
leaves the junit file and reports its later steps publish."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests_support import TINY_FAIL, TINY_PASS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "github-actions-syncsim.yml"
SYNCSIM = Path(sys.executable).parent / "syncsim"


def _steps() -> dict[str, dict[str, Any]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    return {step.get("name", step.get("uses", "")): step for step in job["steps"]}


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.mark.slow  # every library scenario through the workflow and e2e (18 s of CPU)
def test_the_workflow_gate_and_syncsim_e2e_give_the_same_verdicts(tmp_path: Path) -> None:
    steps = _steps()
    install = steps["Install syncsim"]["run"]
    assert "pytest" in install and "syncsim" in install  # the plugin comes with syncsim
    gate = shlex.split(steps["Scenario gate"]["run"])
    assert gate[:3] == ["python", "-m", "pytest"]
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "tiny_fail.yaml").write_text(TINY_FAIL)
    (scenarios / "tiny_pass.yaml").write_text(TINY_PASS)

    # The gate exactly as the workflow writes it, with this interpreter as `python`.
    done = _run([sys.executable, *gate[1:]], tmp_path)
    assert done.returncode == 1, done.stdout[-3000:]
    counts = re.search(r"(\d+) failed, (\d+) passed", done.stdout)
    assert counts, done.stdout[-2000:]
    assert (int(counts[1]), int(counts[2])) == (1, 5)

    # What the later steps publish: the junit file, one testcase per scenario and profile ...
    junit = [arg.split("=", 1)[1] for arg in gate if arg.startswith("--junitxml=")]
    assert junit == [steps["Test summary"]["with"]["report_paths"]]
    cases = list(ET.parse(tmp_path / junit[0]).getroot().iter("testcase"))
    assert len(cases) == 6
    # ... and the reports folder the artifact step uploads.
    uploaded = steps["Upload the reports"]["with"]["path"]
    assert (tmp_path / uploaded / "tiny_fail" / "latest" / "legacy" / "report.html").is_file()

    # `syncsim e2e scenarios`, which the workflow names as the same gate, agrees item by item.
    again = _run([str(SYNCSIM), "e2e", "scenarios"], tmp_path)
    assert again.returncode == 1
    assert "5 passed, 1 failed" in again.stdout
    assert "tiny_fail: FAIL (profile legacy, seed 1)" in again.stdout
