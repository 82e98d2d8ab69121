"""Scenarios played live against a real `syncsim serve` on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SECRET, Served, start_server, stop_server

from simulator import auth
from simulator.history import SERVER, History, Kind
from simulator.live.commands import play
from simulator.live.managed import ManagedServer
from simulator.protocol.kinds import ENTRY_MUTATIONS
from simulator.scenario.loader import load_text
from simulator.verdict import Run

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
name: live_small
seed: 3
duration: 1d
settle: 10m
profile: proposed
server: {{kind: live, url: "{ws}", rest_url: "{rest}", time_scale: 4000, timeout: 5s}}
devices:
  - name: phone
    offline: [{{from: 6h, to: 10h}}]
    reloads: [8h]
    link: {{up: {{loss: 0.05}}}}
    workload: {{entries_per_day: 20, pieces_per_day: 4}}
  - name: laptop
    clock: {{offset: 2m}}
    link: {{drops: {{at: [12h]}}}}
    workload: {{entries_per_day: 10}}
faults:
  - {{kind: partition, devices: [laptop], from: 14h, to: 15h}}
expect:
  lost_write: 0
  leak: 0
"""


def syncsim(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNCSIM_JWT_SECRET": SECRET}
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
        check=False,
    )


def rows(history: History, kind: Kind, **match: object) -> list[object]:
    return [
        r for r in history if r.kind is kind and all(getattr(r, k) == v for k, v in match.items())
    ]


def scenario_file(template: str, served: Served, tmp_path: Path) -> Path:
    scenario = tmp_path / "live.yaml"
    scenario.write_text(template.format(ws=served.ws_url, rest=served.rest_url))
    return scenario


def run_live(
    template: str, served: Served, tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], History]:
    """`syncsim run` of a scenario template against `served`: its outcome and its history."""
    done = syncsim(
        "run", str(scenario_file(template, served, tmp_path)), "--out", str(tmp_path / "out")
    )
    history = tmp_path / "out" / "history.jsonl"
    assert history.exists(), done.stdout + done.stderr
    return done, History.load(history)


def test_a_small_scenario_runs_live_with_faults(served: Served, tmp_path: Path) -> None:
    done, history = run_live(SMALL, served, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert history.meta["mode"] == "live"
    assert rows(history, Kind.DISCONNECT, device="laptop", reason="connection dropped")
    assert rows(history, Kind.CONNECT_FAILED, device="laptop", reason="partition")
    assert rows(history, Kind.DISCONNECT, device="phone", reason="network offline")
    assert rows(history, Kind.RELOAD, device="phone")
    assert rows(history, Kind.FRAME_SENT, device="phone") and rows(
        history, Kind.FRAME_RECV, device="laptop"
    )
    observed = [r for r in rows(history, Kind.SNAPSHOT, device=SERVER)]
    assert observed and all(r.detail and r.detail.get("observer") for r in observed)  # type: ignore[attr-defined]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["anomalies"]["lost_write"] == 0


PRELOADED = """
name: live_preload
seed: 4
duration: 6h
settle: 10m
profile: proposed
server: {{kind: live, url: "{ws}", rest_url: "{rest}", time_scale: 4000, timeout: 5s}}
preload:
  - {{user: alice, entries: 250, pieces: 12, over: 3d}}
devices:
  - name: phone
    workload: {{entries_per_day: 8}}
  - name: laptop
expect:
  lost_write: 0
  missing_history: 0
"""


def test_a_preload_is_pushed_over_rest_before_t0_and_observed(
    served: Served, tmp_path: Path
) -> None:
    done, history = run_live(PRELOADED, served, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (push,) = rows(history, Kind.REST, op="push")
    # 262 items in two requests of at most 200, before the plan's first step.
    assert (push.detail["items"], push.detail["requests"]) == (262, 2)  # type: ignore[attr-defined]
    assert push.t == 0.0 and push.reason is None  # type: ignore[attr-defined]
    (preload,) = rows(history, Kind.PRELOAD)
    assert preload.detail["pushed"] == 262 and preload.reason is None  # type: ignore[attr-defined]
    held = {r.entity_type for r in rows(history, Kind.SNAPSHOT, device=SERVER)}  # type: ignore[attr-defined]
    assert held == {"logbook_entry", "repertoire_piece"}
    on_server = rows(history, Kind.SNAPSHOT, device=SERVER)
    assert len(on_server) >= 262
    # Both devices caught up with all of it: the preload is observed like any other write.
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["anomalies"]["missing_history"] == 0


@pytest.mark.slow  # a week played live (about 50 s of wall time), then simulated
def test_offline_week_live_reaches_the_simulated_verdicts(tmp_path: Path) -> None:
    server = start_server(tmp_path / "serve.db", profile="legacy")
    try:
        live = syncsim(
            "run",
            "offline_week",
            "--endpoint",
            server.ws_url,
            "--rest",
            server.rest_url,
            "--time-scale",
            "15000",
            "--out",
            str(tmp_path / "live"),
        )
    finally:
        stop_server(server)
    simulated = syncsim("run", "offline_week", "--out", str(tmp_path / "sim"))
    assert live.returncode == simulated.returncode == 0, live.stdout + live.stderr
    live_summary = json.loads((tmp_path / "live" / "summary.json").read_text())
    sim_summary = json.loads((tmp_path / "sim" / "summary.json").read_text())
    verdicts = lambda s: [(e["text"], e["passed"]) for e in s["expectations"]]  # noqa: E731
    assert verdicts(live_summary) == verdicts(sim_summary)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_endpoint_exits_3(tmp_path: Path) -> None:
    port = free_port()
    done = syncsim(
        "run",
        "offline_week",
        "--endpoint",
        f"ws://127.0.0.1:{port}/sync/ws",
        "--out",
        str(tmp_path / "o"),
    )
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "cannot be reached" in done.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # two diffs, each a day played live and simulated; a small live run is not slow
def test_diff_compares_the_simulated_and_live_runs(served: Served, tmp_path: Path) -> None:
    scenario = scenario_file(SMALL, served, tmp_path)
    done = syncsim(
        "diff",
        str(scenario),
        "--endpoint",
        served.ws_url,
        "--rest",
        served.rest_url,
        "--out",
        str(tmp_path / "d"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Same verdict on every expectation" in done.stdout
    report = (tmp_path / "d" / "diff.md").read_text()
    assert "Server final state:" in report
    for side in ("sim", "live"):
        assert (tmp_path / "d" / side / "summary.json").exists()
    assert "warning" not in done.stderr
    # Again, against the server the first run left its data on: warned, in diff.md too.
    again = syncsim("diff", str(scenario), "--out", str(tmp_path / "d2"))
    assert "syncsim diff: warning: before the live run the endpoint already held" in again.stderr
    assert "leftovers of an earlier run" in (tmp_path / "d2" / "diff.md").read_text()


# Half an hour holds over a thousand 1009 closes: the phone reconnects every few scenario seconds.
BIG = """
name: live_big
duration: 30m
settle: 5m
profile: legacy
server:
  {{kind: live, url: "{ws}", rest_url: "{rest}", time_scale: 500, timeout: 5s, quiesce_timeout: 2s}}
devices:
  - name: phone
    link: {{max_message: 2KiB}}
    workload: {{entries_per_day: 0, pieces_per_day: 0}}
  - name: laptop
    workload: {{entries_per_day: 0, pieces_per_day: 0}}
"""


@pytest.mark.slow  # over a thousand 1009 closes live (8 s of CPU)
def test_the_proxy_closes_with_1009_on_an_oversized_frame(served: Served, tmp_path: Path) -> None:
    token = auth.mint(SECRET, "alice", time.time())
    entries = [
        {
            "id": f"big{i}",
            "timestamp": 0,
            "duration": 5,
            "type": "practice",
            "instrument": "piano",
            "pieces": [],
            "notes": "x" * 300,
        }
        for i in range(12)
    ]
    body = json.dumps(
        {"changes": [{"type": "ENTRY_CREATED", "entry": e} for e in entries]}
    ).encode()
    req = urllib.request.Request(
        f"{served.rest_url}/api/sync/push",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "X-User-Id": "alice"},
    )
    with urllib.request.urlopen(req, timeout=5) as answer:
        assert answer.status == 200
    done, history = run_live(BIG, served, tmp_path)
    # The phone's catch-up never fits, so it reconnects until the end: the run never goes
    # quiet, and the verdict says it cannot judge rather than pass.
    assert done.returncode == 4, done.stdout + done.stderr
    assert "INCONCLUSIVE: the run never went quiet" in done.stdout
    assert rows(history, Kind.DISCONNECT, device="phone", reason="1009 message too big")
    assert rows(
        history,
        Kind.FRAME_LOST,
        device="phone",
        frame_type="BULK_SYNC",
        reason="1009 message too big",
    )
    assert not rows(history, Kind.DISCONNECT, device="laptop", reason="1009 message too big")
    # The cap is judged where the frame lands, in due order: the WELCOME the endpoint sent
    # before the oversized catch-up arrives before the 1009 close, on every connection.
    welcomed: set[str] = set()
    for row in history:
        if row.kind is Kind.FRAME_RECV and row.frame_type == "WELCOME":
            welcomed.add(str(row.conn))
        if row.kind is Kind.DISCONNECT and row.reason == "1009 message too big":
            assert row.conn in welcomed, f"{row.conn} closed with 1009 before its WELCOME"


REFUSING = """
name: live_refusing
seed: 4
duration: 1d
settle: 10m
profile: proposed
server: {{kind: live, url: "{ws}", rest_url: "{rest}", time_scale: 4000, timeout: 5s}}
devices:
  - name: phone
    workload: {{entries_per_day: 40, pieces_per_day: 0, active_hours: [0, 24]}}
  - name: laptop
    workload: {{entries_per_day: 0, pieces_per_day: 0}}
faults:
  - {{kind: error_every, devices: [phone], every: 4, from: 0s, to: 1d}}
"""


def test_error_every_answers_in_the_servers_place_live(served: Served, tmp_path: Path) -> None:
    done, history = run_live(REFUSING, served, tmp_path)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    mutations = [
        r
        for r in rows(history, Kind.FRAME_SENT, device="phone")
        if r.frame_type in {t.value for t in ENTRY_MUTATIONS}  # type: ignore[attr-defined]
    ]
    errors = rows(history, Kind.FRAME_RECV, device="phone", frame_type="ERROR")
    assert len(mutations) > 8
    # The proxy counts a mutation when it leaves for the endpoint, and the window closes at
    # 1d of scenario time: how many of the last few sends fall inside it depends on the
    # machine's load, so the pattern is checked, not the total. In send order (reorder 0),
    # the refused frames are every fourth mutation, from the fourth on, with none skipped.
    refused = [r.message_id for r in errors]  # type: ignore[attr-defined]
    every_fourth = [r.message_id for r in mutations[3::4]]  # type: ignore[attr-defined]
    assert len(refused) >= 5
    assert refused == every_fourth[: len(refused)]
    assert not rows(history, Kind.FRAME_RECV, device="laptop", frame_type="ERROR")


CRASHING = """
name: live_crash
seed: 6
duration: 1d
settle: 10m
profile: legacy
server: {{kind: live, url: "{ws}", rest_url: "{rest}", time_scale: 4000, timeout: 5s}}
devices:
  - name: phone
    offline: [{{from: 1h, to: 12h}}]
    crashes: [11h]
    workload: {{entries_per_day: 60, pieces_per_day: 0, active_hours: [0, 24]}}
  - name: laptop
    workload: {{entries_per_day: 0, pieces_per_day: 0}}
"""


def test_a_live_crash_is_recorded_and_what_was_sent_before_it_arrives(
    served: Served, tmp_path: Path
) -> None:
    done, history = run_live(CRASHING, served, tmp_path)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    (crash,) = rows(history, Kind.RELOAD, device="phone", reason="crash")
    assert rows(history, Kind.FRAME_LOST, device="phone", reason="crash")
    before = {
        r.entity_id  # type: ignore[attr-defined]
        for r in rows(history, Kind.FRAME_SENT, device="phone")
        if r.t <= crash.t and r.entity_id  # type: ignore[attr-defined]
    }
    at_server = {r.entity_id for r in rows(history, Kind.SNAPSHOT, device=SERVER, op="live")}  # type: ignore[attr-defined]
    assert before and before <= at_server


OUTAGE = """
name: live_outage
seed: 5
duration: 4h
settle: 10m
profile: proposed
devices:
  - name: phone
    workload: {entries_per_day: 60}
  - name: laptop
    workload: {entries_per_day: 60}
faults:
  - {kind: server_outage, from: 1h, to: 1h30m}
expect:
  lost_write: 0
  duplicate: 0
"""


def outage_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_cmd: str | None = None
) -> tuple[ManagedServer, Run]:
    """OUTAGE against a managed `syncsim serve`, with its own commands or another start."""
    monkeypatch.setenv("SYNCSIM_JWT_SECRET", SECRET)
    server = ManagedServer.create(tmp_path / "server", "proposed")
    server.start()
    target = replace(server.target(2000), start_cmd=start_cmd or server.start_cmd)
    try:
        return server, play(load_text("outage.yaml", OUTAGE), target)
    finally:
        server.stop()


def test_a_server_outage_runs_live_through_the_users_stop_and_start_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, result = outage_run(tmp_path, monkeypatch)
    outages = rows(result.history, Kind.SERVER_OUTAGE)
    assert [(r.op, r.reason) for r in outages] == [("down", None), ("up", None)]  # type: ignore[attr-defined]
    assert outages[0].detail["command"] == server.stop_cmd  # type: ignore[attr-defined]
    # While it went down (the row is written once the stop command is done) the devices lost
    # their connections to the endpoint, and came back after the start.
    down, up = outages
    went_down = down.t - down.detail["took_s"] * 2000  # type: ignore[attr-defined]
    ends = [r for r in rows(result.history, Kind.DISCONNECT) if went_down <= r.t <= up.t]  # type: ignore[attr-defined]
    assert ends and all(r.detail["initiator"] == "endpoint" for r in ends)  # type: ignore[attr-defined]
    up_at = up.t  # type: ignore[attr-defined]
    assert [r for r in rows(result.history, Kind.CONNECT) if r.t > up_at]  # type: ignore[attr-defined]
    assert result.verdict.value == "pass", result.result.counts


def test_a_live_outage_whose_start_command_fails_is_inconclusive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, result = outage_run(tmp_path, monkeypatch, start_cmd="exit 7")
    up = rows(result.history, Kind.SERVER_OUTAGE, op="up")
    assert [r.reason for r in up] == ["start command: exit code 7"]  # type: ignore[attr-defined]
    assert result.verdict.value == "inconclusive"
    assert "a server outage could not be carried out: start command: exit code 7" in (
        result.result.doubts
    )


LATE_STEP = """
name: live_late_step
seed: 6
duration: 2h
settle: 10m
profile: proposed
server: {{kind: live, url: "{ws}", rest_url: "{rest}", time_scale: 3600, timeout: 5s}}
devices:
  - name: phone
    link: {{latency: 1s}}
    workload: {{entries_per_day: 0, pieces_per_day: 0}}
steps:
  - {{at: 1h, device: phone, do: create, item: E1}}
  - {{at: 1h1m, device: phone, do: disconnect}}
expect:
  lost_write: 0
"""


def test_a_step_the_event_loop_runs_late_keeps_the_simulations_order(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write is sent 1 s of latency before a cut planned a minute later; the loop stalls
    half a wall second (30 scenario minutes) before the write's step. The proxy dates the frame
    from the step's own time, so it is delivered before the cut, as in the simulation."""
    from simulator.live.driver import LiveRun

    sleep_until = LiveRun._sleep_until

    async def stalled(run: LiveRun, scenario_time: float) -> None:
        await sleep_until(run, scenario_time)
        if scenario_time == 3600:
            time.sleep(0.5)  # the whole loop is held, as under load

    monkeypatch.setattr(LiveRun, "_sleep_until", stalled)
    result = play(load_text("late.yaml", LATE_STEP.format(ws=served.ws_url, rest=served.rest_url)))
    history = result.history
    assert rows(history, Kind.DISCONNECT, device="phone", reason="connection dropped")
    assert not rows(history, Kind.FRAME_LOST, device="phone")
    assert result.result.counts["lost_write"] == 0
