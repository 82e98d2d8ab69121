"""The final value judged by the profile's own rule, and lost frames named by their reason."""

from __future__ import annotations

from histories import at, device_snapshot, holds, lost, meta, queue, run, sent, server_holds, write

from simulator.checker.names import Anomaly


def stale_edit_arrives_last(lww: str) -> list:  # type: ignore[type-arg]
    # Clocks are right. The tablet edits e1 offline at t=10; the phone edits it at t=20 and
    # delivers; the tablet's older edit arrives last and the server keeps it.
    return [
        meta(lww=lww),  # 0
        write(5, "phone", "phone#1", "create", "e1", "fp0"),  # 1
        sent(5, "phone", "phone#1", "e1"),  # 2
        write(10, "tablet", "tablet#1", "update", "e1", "fpA"),  # 3
        queue(10, "tablet", "enqueue", "tablet#1", "e1"),  # 4
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 5
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 6
        sent(100, "tablet", "tablet#1", "e1", frame_type="ENTRY_UPDATED"),  # 7
        device_snapshot("phone"),  # 8
        holds("phone", "e1", "fpA", at(10)),  # 9
        server_holds("e1", "fpA", at(10)),  # 10
    ]


def test_under_updated_at_a_stale_final_value_breaks_the_rule() -> None:
    counts = run(stale_edit_arrives_last("updated_at")).counts
    assert (counts["lww_violation"], counts["lost_write"]) == (1, 0)


def test_under_version_first_the_rule_holds_and_the_later_edit_is_lost() -> None:
    # The server numbers versions by arrival: its final value has the highest version, so
    # the rule was kept; the phone's later edit was still overwritten by an older one.
    result = run(stale_edit_arrives_last("version_first"))
    assert (result.counts["lww_violation"], result.counts["lost_write"]) == (0, 1)
    (finding,) = [f for f in result.findings if f.anomaly is Anomaly.LOST_WRITE]
    assert finding.cause == "overwritten by an older write that arrived later"
    assert finding.devices == ("phone", "tablet")


def lost_frame(reason: str) -> list:  # type: ignore[type-arg]
    return [
        meta(),  # 0
        write(5, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(5, "phone", "phone#1", "e1"),  # 2
        lost(5.1, "phone", "phone#1", "e1", reason=reason),  # 3
        device_snapshot("phone"),  # 4
        holds("phone", "e1", "fpA", at(5)),  # 5
    ]


def test_a_lost_frame_is_named_by_what_lost_it() -> None:
    causes = {
        reason: run(lost_frame(reason)).findings[0].cause
        for reason in (
            "partition",
            "crash",
            "connection closed in flight",
            "dropped by the network",
        )
    }
    assert causes == {
        "partition": "frame lost in flight: partition",
        "crash": "never sent: the page crashed before sending it",
        "connection closed in flight": "frame lost in flight when the connection dropped",
        "dropped by the network": "frame lost in flight: dropped by the network",
    }
