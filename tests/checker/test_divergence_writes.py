"""A divergence names the writes that clash and a time, not only the snapshots that differ.

Literal histories (see `histories.py`), then a real simulated run and its summary.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from histories import (
    applied,
    at,
    device_snapshot,
    holds,
    meta,
    queue,
    ref,
    run,
    sent,
    server_holds,
    write,
)
from tests_support import SMALL_YAML

from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.cli import main


def divergences(findings: tuple[Finding, ...]) -> list[Finding]:
    return [f for f in findings if f.anomaly is Anomaly.DIVERGENCE]


def test_a_different_value_lists_each_devices_write_and_the_held_ones() -> None:
    # The phone creates e1 and edits it; between the two the laptop edits it too. The tablet
    # got only the create and diverges: it holds the create, the server the phone's edit. The
    # clashing writes: the create the tablet holds and each device's last write of e1.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        write(15, "laptop", "laptop#1", "update", "e1", "fpL", device_time=14.5),  # 3
        sent(15, "laptop", "laptop#1", "e1", frame_type="ENTRY_UPDATED"),  # 4
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 5
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 6
        device_snapshot("phone"),  # 7
        holds("phone", "e1", "fpB", at(20)),  # 8
        device_snapshot("laptop"),  # 9
        holds("laptop", "e1", "fpB", at(20)),  # 10
        device_snapshot("tablet"),  # 11
        holds("tablet", "e1", "fpA", at(10)),  # 12
        server_holds("e1", "fpB", at(20)),  # 13
    ]
    (finding,) = divergences(run(rows).findings)
    assert finding.devices == ("tablet",) and finding.cause == "different value"
    assert finding.writes == (ref(1, rows[1]), ref(3, rows[3]), ref(5, rows[5]))
    assert {w.device for w in finding.writes} == {"phone", "laptop"}
    assert finding.writes[1].device_time == 14.5  # the device's own clock, beside true time
    assert finding.t == 20  # the item's last write: nothing a user did changed it after
    assert finding.rows == (12, 13)  # the snapshot rows stay the evidence rows


def test_a_device_keeping_what_an_older_delete_removed_names_both_writes() -> None:
    # The tablet deletes e1 offline; the phone edits it later and the tablet takes the edit
    # in; the tablet's stale delete then removes it on the server. The tablet keeps the edit.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA"),  # 3
        write(20, "tablet", "tablet#1", "delete", "e1"),  # 4
        queue(20, "tablet", "enqueue", "tablet#1", "e1", depth=1),  # 5
        write(30, "phone", "phone#2", "update", "e1", "fpB"),  # 6
        sent(30, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 7
        applied(30.05, "e1", "fpB"),  # 8
        sent(90, "tablet", "tablet#1", "e1", frame_type="ENTRY_DELETED"),  # 9
        applied(90.05, "e1", "fpB", op="delete"),  # 10
        device_snapshot("phone"),  # 11
        device_snapshot("tablet"),  # 12
        holds("tablet", "e1", "fpB", at(30)),  # 13
        server_holds("e1", "fpB", at(30), deleted=True),  # 14
    ]
    (finding,) = divergences(run(rows).findings)
    assert finding.cause == "deleted on server" and finding.devices == ("tablet",)
    assert finding.writes == (ref(4, rows[4]), ref(6, rows[6]))
    assert [w.op for w in finding.writes] == ["delete", "update"]
    assert finding.t == 30


def test_an_item_no_user_wrote_has_no_writes_and_no_time() -> None:
    # Preloaded history: the tablet holds an entry nobody wrote during the run.
    rows = [meta(), device_snapshot("tablet"), holds("tablet", "e9", "fpZ", at(5))]
    (finding,) = divergences(run(rows).findings)
    assert finding.writes == () and finding.t is None


def test_a_real_reports_divergences_carry_writes_and_a_time(tmp_path: Path) -> None:
    # The small scenario reloads the phone while it is offline: its queued writes are lost and
    # stay only on the phone, each a divergence.
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL_YAML)
    out = tmp_path / "out"
    main(["run", str(scenario), "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    found = [f for f in summary["findings"] if f["anomaly"] == "divergence"]
    assert found, "the small scenario diverges"
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    for finding in found:
        assert finding["writes"], finding
        assert finding["t"] == max(w["t"] for w in finding["writes"])
        for written in finding["writes"]:
            row = history[written["row"]]
            assert row["kind"] == "write" and row["entity_id"] == finding["entity_id"]
            assert (row["device"], row["t"]) == (written["device"], written["t"])
        devices = {w["device"] for w in finding["writes"]}
        every = {
            r["device"]
            for r in history
            if r["kind"] == "write" and r["entity_id"] == finding["entity_id"]
        }
        assert devices == every  # each device that wrote the item is named
