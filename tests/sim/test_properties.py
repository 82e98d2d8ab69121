"""Properties of real simulated runs, checked over random small scenarios.

Each example is a scenario written as YAML text (what a user would write), loaded with
`load_text` and played by `simulator.runner.run`, so the simulator, the protocol core and the
checker are exercised together. Examples are kept small (one to two days, two or three
devices, at most about twenty writes a day each) so the file runs in well under a minute. On a
failure hypothesis prints the scenario YAML (via `note`), which can be saved and replayed with
`syncsim run`.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from simulator.history import Kind
from simulator.runner import run
from simulator.scenario.loader import load_text
from simulator.verdict import Run

HOUR = 3600
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ratios = st.integers(0, 100).map(lambda n: n / 100)
millis = st.integers(0, 300).map(lambda n: f"{n}ms")


def played(scenario: dict[str, Any]) -> Run:
    text = yaml.safe_dump(scenario, sort_keys=False)
    note(f"scenario YAML:\n{text}")
    return run(load_text("property.yaml", text))


# -- a. proposed, no faults: nothing to report -------------------------------------------------


@st.composite
def fault_free(draw: st.DrawFn) -> dict[str, Any]:
    """Two or three devices (one or two users) with random links and workloads, and no
    offline windows, reloads, late joins or clock offsets."""
    count = draw(st.integers(2, 3))
    devices = []
    for number in range(count):
        devices.append(
            {
                "name": f"d{number}",
                "user": draw(st.sampled_from(["alice", "alice", "bob"])),
                "link": {"latency": draw(millis), "jitter": draw(millis)},
                "workload": {
                    "entries_per_day": draw(st.integers(0, 20)),
                    "update_ratio": draw(ratios),
                    "delete_ratio": draw(ratios),
                    "pieces_per_day": draw(st.integers(0, 5)),
                    "piece_update_ratio": draw(ratios),
                    "piece_remove_ratio": draw(ratios),
                    "messy_spelling_ratio": draw(ratios),
                },
            }
        )
    return {
        "name": "fault_free",
        "seed": draw(st.integers(0, 2**31 - 1)),
        "duration": f"{draw(st.integers(24, 48))}h",
        "profile": "proposed",
        "devices": devices,
    }


@SETTINGS
@given(fault_free())
def test_proposed_without_faults_reports_nothing(scenario: dict[str, Any]) -> None:
    outcome = played(scenario)
    result = outcome.result
    assert result.findings == (), [f.summary for f in result.findings]
    assert result.counts == dict.fromkeys(result.counts, 0)
    assert result.metrics["unconverged_writes"] == 0


# -- b. legacy, a reload while offline: every lost write is the lost memory outbox -------------


@st.composite
def offline_reloads(draw: st.DrawFn) -> dict[str, Any]:
    """Devices that only create entries; the first (and maybe others) goes offline for less
    than 40 hours, within the retention of the memory queue (48 h), and reloads while offline."""
    duration = draw(st.integers(1, 2)) * 24 * HOUR
    count = draw(st.integers(2, 3))
    devices = []
    for number in range(count):
        device: dict[str, Any] = {
            "name": f"d{number}",
            "link": {"latency": draw(millis), "jitter": draw(millis)},
            "workload": {
                "entries_per_day": draw(st.integers(0, 20)),
                "update_ratio": 0,
                "delete_ratio": 0,
                "pieces_per_day": 0,
            },
        }
        if number == 0 or draw(st.booleans()):
            start = draw(st.integers(0, duration - 2 * HOUR))
            end = start + draw(st.integers(HOUR, 40 * HOUR - 1))
            reload = draw(st.integers(start + 1, min(end, duration) - 1))
            device["offline"] = [{"from": f"{start}s", "to": f"{end}s"}]
            device["reloads"] = [f"{reload}s"]
        devices.append(device)
    return {
        "name": "offline_reloads",
        "seed": draw(st.integers(0, 2**31 - 1)),
        "duration": f"{duration}s",
        "profile": "legacy",
        "devices": devices,
    }


@SETTINGS
@given(offline_reloads())
def test_legacy_lost_writes_are_the_outbox_lost_on_reload(scenario: dict[str, Any]) -> None:
    outcome = played(scenario)
    lost_items = [r for r in outcome.history if r.kind is Kind.QUEUE and r.op == "lost"]
    assert all(r.reason == "reload" for r in lost_items)
    lost_writes = [f for f in outcome.result.findings if f.anomaly == "lost_write"]
    assert outcome.result.counts["lost_write"] == len(lost_items)
    assert [f.cause for f in lost_writes] == ["outbox lost on reload"] * len(lost_items)
    # Creates only: each lost item is its own entry, so the lost writes are exactly those.
    assert sorted(f.writes[0].write_id for f in lost_writes) == sorted(
        str(r.write_id) for r in lost_items
    )
