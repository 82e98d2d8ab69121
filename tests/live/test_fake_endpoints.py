"""Endpoints that misbehave never pass: each run is inconclusive (exit 4) or unreachable (3)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import LINE, SECRET

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

SCENARIO = """
name: fake
seed: 3
duration: 6h
settle: 10m
profile: legacy
server:
  {{kind: live, url: "{ws}", rest_url: "{rest}", time_scale: 4000, timeout: 10s,
    quiesce_timeout: {quiesce}}}
devices:
  - {{name: phone, workload: {{entries_per_day: 48, pieces_per_day: 0, active_hours: [0, 24]}}}}
  - {{name: laptop, workload: {{entries_per_day: 0, pieces_per_day: 0}}}}
expect:
  lost_write: {{gte: 1}}
"""


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "fake_endpoint.py"), request.param],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    match = LINE.search(process.stdout.readline())
    assert match is not None
    yield match.group(1), match.group(2)
    process.kill()
    process.wait(timeout=20)


def _run(
    tmp_path: Path, ws: str, rest: str, quiesce: str = "30s", template: str = SCENARIO
) -> subprocess.CompletedProcess[str]:
    scenario = tmp_path / "fake.yaml"
    scenario.write_text(template.format(ws=ws, rest=rest, quiesce=quiesce))
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", str(scenario), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=300,
        env={"SYNCSIM_JWT_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize("fake", ["stores_nothing"], indirect=True)
def test_an_endpoint_that_stores_nothing_is_inconclusive_not_a_pass(
    fake: tuple[str, str], tmp_path: Path
) -> None:
    # The legacy gate `lost_write: {gte: 1}` would be met by losing everything.
    done = _run(tmp_path, *fake)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "INCONCLUSIVE: the endpoint holds nothing" in done.stdout
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["verdict"] == "inconclusive" and summary["doubts"]
    assert 'errors="1"' in (tmp_path / "o" / "junit.xml").read_text()


@pytest.mark.parametrize("fake", ["closes_at_once", "silent"], indirect=True)
def test_an_endpoint_that_closes_or_never_answers_never_passes(
    fake: tuple[str, str], tmp_path: Path
) -> None:
    # Neither endpoint ever lets the run settle (nothing reaches it; the closing one makes a
    # reconnect storm), so waiting the default 30 s for quiescence only prolonged the storm
    # (32 s of CPU): a 2 s deadline reaches the same verdict. An hour, not six: the storm is
    # the same every simulated minute (12 s of CPU for six hours).
    done = _run(tmp_path, *fake, quiesce="2s", template=SCENARIO.replace("6h", "1h"))
    assert done.returncode in (3, 4), done.stdout + done.stderr
    assert "Traceback" not in done.stderr


# 400 scenario seconds of floor: more than every backoff of the outbox (2 s doubling to 256 s,
# times a jitter up to 1.25), so each resend is spaced by the floor alone.
NEVER_ACKED = """
name: never_acked
seed: 3
duration: 3h
settle: 10m
profile: proposed
server:
  {{kind: live, url: "{ws}", rest_url: "{rest}", time_scale: 4000, timeout: 10s,
    quiesce_timeout: {quiesce}, answer_wait: 0.1s}}
devices:
  - {{name: phone, workload: {{entries_per_day: 48, pieces_per_day: 0, active_hours: [0, 24]}}}}
"""


@pytest.mark.parametrize("fake", ["never_acks"], indirect=True)
def test_resends_to_an_endpoint_that_never_answers_wait_the_answer_time_in_wall_time(
    fake: tuple[str, str], tmp_path: Path
) -> None:
    # Each change reached the endpoint and got no answer: its resend waits `answer_wait` of
    # wall time from then. Without that, the first seven resends would leave within 0.13 s
    # of wall time (254 s of backoff at 4000x). A late timer only widens a gap, so this holds
    # on any machine, however loaded.
    done = _run(tmp_path, *fake, quiesce="2s", template=NEVER_ACKED)
    assert done.returncode == 4, done.stdout + done.stderr  # never quiet: items stay unacked
    sends: dict[str, list[float]] = {}
    for line in (tmp_path / "o" / "history.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["kind"] == "frame_sent" and row.get("message_id"):
            sends.setdefault(row["message_id"], []).append(row["t"])
    resent = {m: times for m, times in sends.items() if len(times) > 1}
    assert resent, "no change was sent twice"
    floor = 0.1 * 4000
    for times in resent.values():
        assert all(b - a >= floor for a, b in pairwise(times)), times


SWALLOWED = """
name: swallowed
seed: 3
duration: 2h
settle: 10m
profile: proposed
server:
  {{kind: live, url: "{ws}", rest_url: "{rest}", time_scale: 4000, timeout: 10s,
    quiesce_timeout: {quiesce}, answer_wait: 60s}}
devices:
  - {{name: phone, workload: {{entries_per_day: 0, pieces_per_day: 0}}}}
faults:
  - {{kind: partition, devices: [phone], direction: up, from: 10m, to: 2h}}
steps:
  - {{at: 20m, device: phone, do: create, item: S1}}
"""


@pytest.mark.parametrize("fake", ["never_acks"], indirect=True)
def test_a_change_the_network_swallowed_is_resent_at_the_profiles_pace(
    fake: tuple[str, str], tmp_path: Path
) -> None:
    # The endpoint never got it, so nothing is waited for: the resends keep the backoff's
    # pace in scenario time (2 s, doubling), as simulated. Held for the minute of
    # `answer_wait`, the second send would come long after this run of a few seconds ended.
    done = _run(tmp_path, *fake, quiesce="2s", template=SWALLOWED)
    assert "Traceback" not in done.stderr
    sends = [
        row
        for row in map(json.loads, (tmp_path / "o" / "history.jsonl").read_text().splitlines())
        if row["kind"] == "frame_sent" and row.get("frame_type") == "ENTRY_CREATED"
    ]
    assert len(sends) >= 2, sends
    assert len({row["message_id"] for row in sends}) == 1
